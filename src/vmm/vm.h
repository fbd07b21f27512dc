/* SPDX-License-Identifier: MIT */
/*
 * One KVM virtual machine: guest memory, in-kernel irqchip and PIT, the
 * device buses and one thread per vCPU.
 */
#ifndef ARROW_VM_H
#define ARROW_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "guest_mem.h"

#define VM_MAX_VCPUS 32

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_APP_EXIT,   /* ainit reported the app's exit status */
	VM_STOP_GUEST_RESET, /* the guest rebooted, powered off or triple-faulted */
	VM_STOP_HOST,       /* the host asked (signal, error in a device) */
	VM_STOP_KVM_ERROR,  /* KVM could not run the guest */
	VM_STOP_TEMPLATE,   /* --template-out: the snapshot at the template point is taken */
};

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int started;
	/* for the report of a guest stopped by the host: exits to arrowh and the last address */
	uint64_t exits_io, exits_mmio, exits_intr;
	uint64_t last_exit_addr;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	struct guest_mem gm;
	unsigned int nr_vcpus;
	struct vcpu vcpus[VM_MAX_VCPUS];
	struct bus mmio;
	struct bus pio;
	int stop_fd; /* eventfd: written once when the VM stops */
	pthread_mutex_t stop_lock;
	enum vm_stop_reason stop_reason;
	const char *reset_kind; /* VM_STOP_GUEST_RESET: "triple fault", "reset request"... */
	uint64_t reset_rip;     /* where the vCPU that reset was, if known */
	uint64_t t_first_run_ns; /* CLOCK_MONOTONIC of the boot vCPU's first KVM_RUN */
	uint64_t entry_rip;      /* where the boot vCPU starts */
	/* vm_pause: vCPUs park outside KVM_RUN, their pending I/O completed (stop_lock) */
	pthread_cond_t pause_cond;
	bool pause_requested;
	unsigned int nr_parked;
};

/*
 * Before the first KVM_RUN: map into KVM's stage-2 tables (NPT/EPT) every guest page the
 * host already holds — the kernel, initramfs and boot structures arrowh wrote, or a
 * snapshot's pages in the page cache — so the guest's first touch of each is not an exit
 * (KVM_PRE_FAULT_MEMORY, Linux 6.10, mincore() for which pages). *pages: how many.
 * -EOPNOTSUPP without the capability (older kernels, shadow paging): nothing changes.
 */
int vm_prefault_resident(struct vm *vm, uint64_t *pages);
/* The same for [gpa, gpa+size) (page-aligned, inside one RAM region): 0 or -errno. */
int vm_prefault(struct vm *vm, uint64_t gpa, uint64_t size);
/* mem_fd: -1 for fresh memory, or a snapshot's memory file mapped copy-on-write. */
int vm_create(struct vm *vm, uint64_t mem_bytes, unsigned int nr_vcpus, int mem_fd)
	__attribute__((warn_unused_result));
/* An eventfd bound to a guest interrupt line (edge-triggered); or -errno. */
int vm_irqfd(struct vm *vm, unsigned int gsi);
/*
 * Let KVM complete a 4-byte guest write of datamatch at gpa by signalling fd, with no
 * exit to arrowh (KVM_IOEVENTFD). 0 or -errno.
 */
int vm_ioeventfd(struct vm *vm, uint64_t gpa, uint32_t datamatch, int fd);
/* Set up registers of all vCPUs for a 64-bit boot at entry. */
int vm_setup_vcpus(struct vm *vm, uint64_t entry) __attribute__((warn_unused_result));
int vm_start(struct vm *vm) __attribute__((warn_unused_result));
/* Ask every vCPU to stop; the first reason given wins. Safe from any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason);
void vm_join(struct vm *vm);
/*
 * Park every running vCPU outside KVM_RUN with its last exit completed, so that its
 * state and guest memory are consistent (for a snapshot). Not from a vCPU thread.
 * 0, -ECANCELED when the VM stopped instead, or -ETIMEDOUT when a vCPU did not park
 * within VM_PAUSE_TIMEOUT_S (then nothing stays paused).
 */
#define VM_PAUSE_TIMEOUT_S 10
int vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* One line per vCPU on stderr: its instruction pointer (after vm_join). */
void vm_report_vcpus(struct vm *vm);
void vm_destroy(struct vm *vm);

uint64_t monotonic_ns(void);

#endif
