// SPDX-License-Identifier: MIT
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/cpu.h"

#define KVM_TSS_GPA 0xfffbd000
#define KVM_IDENTITY_MAP_GPA 0xfffbc000

uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int check_extension(int kvm_fd, int cap)
{
	return ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap) > 0;
}

int vm_create(struct vm *vm, uint64_t mem_bytes, unsigned int nr_vcpus, int mem_fd)
{
	struct kvm_pit_config pit = { .flags = 0 };
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = -1;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	for (unsigned int i = 0; i < VM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	if (nr_vcpus == 0 || nr_vcpus > VM_MAX_VCPUS)
		return -EINVAL;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return -ENOTSUP;
	if (!check_extension(vm->kvm_fd, KVM_CAP_IRQCHIP) ||
	    !check_extension(vm->kvm_fd, KVM_CAP_IRQFD) ||
	    !check_extension(vm->kvm_fd, KVM_CAP_USER_MEMORY) ||
	    !check_extension(vm->kvm_fd, KVM_CAP_IMMEDIATE_EXIT))
		return -ENOTSUP;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return -errno;
	fcntl(vm->vm_fd, F_SETFD, FD_CLOEXEC);
	vm->run_size = (size_t)ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_GPA) < 0)
		return -errno;
	{
		uint64_t idmap = KVM_IDENTITY_MAP_GPA;

		if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
			return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return -errno;
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return -errno;

	ret = gm_init(&vm->gm, mem_bytes, mem_fd);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < vm->gm.nr_regions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.guest_phys_addr = vm->gm.regions[i].gpa,
			.memory_size = vm->gm.regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)vm->gm.regions[i].host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return -errno;
	}

	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return -errno;

	vm->nr_vcpus = nr_vcpus;
	for (unsigned int i = 0; i < nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->id = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
		if (v->fd < 0)
			return -errno;
		fcntl(v->fd, F_SETFD, FD_CLOEXEC);
		v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			return -errno;
		}
	}
	return 0;
}

int vm_irqfd(struct vm *vm, unsigned int gsi)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct kvm_irqfd irqfd = { .gsi = gsi };

	if (fd < 0)
		return -errno;
	irqfd.fd = (uint32_t)fd;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int vm_ioeventfd(struct vm *vm, uint64_t gpa, uint32_t datamatch, int fd)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = gpa,
		.len = 4,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return -errno;
	return 0;
}

int vm_setup_vcpus(struct vm *vm, uint64_t entry)
{
	struct kvm_cpuid2 *cpuid = cpuid_supported(vm->kvm_fd);
	int ret = 0;

	if (!cpuid)
		return -errno ? -errno : -ENOMEM;
	for (unsigned int i = 0; i < vm->nr_vcpus && !ret; i++) {
		ret = cpu_set_cpuid(vm->vcpus[i].fd, cpuid, i, vm->nr_vcpus);
		if (!ret)
			ret = cpu_setup_fpu_lapic(vm->vcpus[i].fd);
	}
	/* Application processors wait for INIT/SIPI in the in-kernel LAPIC. */
	vm->entry_rip = entry;
	if (!ret)
		ret = cpu_setup_boot_regs(vm->vcpus[0].fd, entry);
	free(cpuid);
	return ret;
}

#ifndef KVM_CAP_PRE_FAULT_MEMORY /* Linux 6.10 (Debian 12's headers are 6.1) */
#define KVM_CAP_PRE_FAULT_MEMORY 236
struct kvm_pre_fault_memory {
	__u64 gpa;
	__u64 size;
	__u64 flags;
	__u64 padding[5];
};
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

static bool prefault_supported(struct vm *vm)
{
	return vm->nr_vcpus && check_extension(vm->kvm_fd, KVM_CAP_PRE_FAULT_MEMORY);
}

/* One run of pages into the stage-2 tables; 0 or -errno. */
static int prefault_range(int vcpu_fd, uint64_t gpa, uint64_t size)
{
	struct kvm_pre_fault_memory r = { .gpa = gpa, .size = size };

	while (r.size) {
		uint64_t before = r.size;

		if (ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY, &r) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (r.size >= before)
			return -EIO; /* no progress: never loop on it */
	}
	return 0;
}

int vm_prefault_resident(struct vm *vm, uint64_t *pages)
{
	const long psz = sysconf(_SC_PAGESIZE);
	unsigned char *vec = NULL;
	int ret = 0;

	*pages = 0;
	if (psz <= 0 || !prefault_supported(vm))
		return -EOPNOTSUPP;
	for (unsigned int i = 0; i < vm->gm.nr_regions && !ret; i++) {
		const struct gm_region *g = &vm->gm.regions[i];
		uint64_t n = g->size / (uint64_t)psz, run = 0;

		free(vec);
		vec = malloc(n ? n : 1);
		if (!vec)
			return -ENOMEM;
		if (mincore(g->host, g->size, vec) < 0) {
			ret = -errno;
			break;
		}
		for (uint64_t p = 0; p <= n && !ret; p++) {
			if (p < n && (vec[p] & 1)) {
				run++;
				continue;
			}
			if (run) {
				ret = prefault_range(vm->vcpus[0].fd, g->gpa + (p - run) * (uint64_t)psz,
						     run * (uint64_t)psz);
				*pages += run;
			}
			run = 0;
		}
	}
	free(vec);
	return ret;
}

int vm_prefault(struct vm *vm, uint64_t gpa, uint64_t size)
{
	if (!prefault_supported(vm))
		return -EOPNOTSUPP;
	if (!size)
		return 0;
	if (!gm_ptr(&vm->gm, gpa, size))
		return -EFAULT;
	return prefault_range(vm->vcpus[0].fd, gpa, size);
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason)
{
	uint64_t one = 1;
	int first;

	pthread_mutex_lock(&vm->stop_lock);
	first = vm->stop_reason == VM_RUNNING;
	if (first) {
		__atomic_store_n(&vm->stop_reason, reason, __ATOMIC_SEQ_CST);
		pthread_cond_broadcast(&vm->pause_cond); /* parked vCPUs end, vm_pause gives up */
		for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
			struct vcpu *v = &vm->vcpus[i];

			if (!v->started)
				continue;
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
			if (!pthread_equal(v->thread, pthread_self()))
				pthread_kill(v->thread, SIGRTMIN);
		}
	}
	pthread_mutex_unlock(&vm->stop_lock);
	if (!first)
		return;
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		perror("arrowh: stop");
}

void vm_join(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = 0;
	}
}

/* Highest vector set in a 256-bit LAPIC register (IRR/ISR), or -1. */
static int lapic_top_vector(const struct kvm_lapic_state *l, unsigned int reg)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w;

		memcpy(&w, l->regs + reg + 0x10 * i, sizeof(w));
		if (w)
			return i * 32 + 31 - __builtin_clz(w);
	}
	return -1;
}

void vm_report_vcpus(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct kvm_regs regs;
		struct kvm_mp_state mp = { 0 };
		struct kvm_lapic_state lapic;
		int irr = -1, isr = -1;

		if (ioctl(vm->vcpus[i].fd, KVM_GET_REGS, &regs))
			continue;
		ioctl(vm->vcpus[i].fd, KVM_GET_MP_STATE, &mp);
		if (ioctl(vm->vcpus[i].fd, KVM_GET_LAPIC, &lapic) == 0) {
			irr = lapic_top_vector(&lapic, 0x200);
			isr = lapic_top_vector(&lapic, 0x100);
		}
		fprintf(stderr,
			"arrowh: vCPU %u stopped at rip %#llx (%s, interrupts %s, "
			"pending vector %d, in service %d)%s\n",
			i, (unsigned long long)regs.rip,
			mp.mp_state == KVM_MP_STATE_HALTED ? "halted" : "running",
			regs.rflags & (1u << 9) ? "on" : "off", irr, isr,
			i == 0 && regs.rip == vm->entry_rip ? "; it never ran guest code" : "");
		fprintf(stderr, "arrowh: vCPU %u exits to arrowh: %llu port I/O, %llu MMIO (last at %#llx), "
			"%llu signal\n", i, (unsigned long long)vm->vcpus[i].exits_io,
			(unsigned long long)vm->vcpus[i].exits_mmio,
			(unsigned long long)vm->vcpus[i].last_exit_addr,
			(unsigned long long)vm->vcpus[i].exits_intr);
	}
}

void vm_destroy(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, vm->run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	gm_destroy(&vm->gm);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}
