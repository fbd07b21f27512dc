/* SPDX-License-Identifier: MIT */
/*
 * One running Arrow inside arrowh: the VM, its devices wired to the host's
 * stdio, the control channel to ainit and what we learned from it.
 */
#ifndef ARROW_SESSION_H
#define ARROW_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "control.h"
#include "hub.h"
#include "kvmstats.h"
#include "hw/serial8250.h"
#include "logfile.h"
#include "statefile.h"
#include "virtio/console.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/p9.h"
#include "virtio/vsock.h"
#include "vm.h"

#define MMIO_DEVICES_GPA 0xd0000000ull
#define FIRST_DEVICE_IRQ 5
#define KLOG_SIZE 8192

struct fd_sink {
	int fd;
	bool broken; /* the reader went away: drop further output */
};

/* Where one of the app's output streams goes: arrowh's own fd, the log, attach clients. */
struct app_stream {
	struct session *s;
	int stream; /* STREAM_STDOUT or STREAM_STDERR */
	struct fd_sink fd;
};

struct session {
	const struct arrowh_config *cfg;
	struct vm vm;
	struct virtio_mmio console_mmio;
	struct vconsole console;
	struct serial8250 uart;
	/* --tap-fd / --tap: the Arrow's NIC */
	bool has_net;
	int tap_fd;
	struct virtio_mmio net_mmio;
	struct vnet net;
	/* --volume: host directories over virtio-9p */
	struct virtio_mmio vol_mmio[ARROWH_MAX_VOLUMES];
	struct vp9 vol[ARROWH_MAX_VOLUMES];
	/* --root-share: the rootfs over virtio-9p, served by a sidecar (p9/sidecar.h), on the
	 * slot after vsock's */
	int root_sock;   /* arrowh's end of the sidecar's socket, until the device takes it */
	pid_t root_pid;
	struct virtio_mmio root_mmio;
	struct vp9 root;
	/* --vsock-uds: virtio-vsock, on the slot after the last volume's */
	bool has_vsock;
	struct virtio_mmio vsock_mmio;
	struct vsock vsock;
	unsigned int port_stdin, port_stdout, port_stderr, port_control;
	unsigned int port_tty;   /* --tty: console port hvc1, the app's terminal */
	unsigned int port_input; /* where host input goes: port_tty or port_stdin */
	struct app_stream out, err;
	/* managed Arrows (--state-dir) */
	bool managed;
	struct statefile sf;
	struct logfile log;
	struct hub hub;
	struct ctl_stream ctl;
	int wake_fd;

	/* the last kernel messages from hvc0, shown when the guest dies */
	char klog[KLOG_SIZE];
	int klog_fd; /* --console-log, or -1 */
	uint64_t klog_total;

	/* vm_prefault_resident before the first KVM_RUN: pages mapped, or -errno */
	uint64_t prefaulted, prefaulted_kernel;
	int prefault_err;

	/* snapshots */
	bool restored;       /* started from --restore */
	bool template_ready; /* ainit waits at the template point (set on a vCPU thread) */
	bool template_taken;
	bool gate_ready;  /* --hold: ainit waits at the start gate (set on a vCPU thread) */
	bool gate_told;   /* --ready-fd written for it */
	bool gate_opened; /* ARROW_CTL_START sent */
	int template_dir_fd;  /* --template-out, opened before the jail */

	/* what ainit told us */
	bool app_started;
	bool app_exited;
	int app_status;

	/* timing marks, CLOCK_MONOTONIC ns on the host */
	uint64_t t_arrowh, t_hello, t_exec, t_exit, t_stop;
	uint64_t guest_hello_ns; /* ainit's own clock at HELLO: kernel boot to ainit */
	struct kvmstats stats;   /* --timing: KVM's exit counters at the same marks */
};

/* Before anything else: the fields that mean "nothing open", and the state directory's
 * liveness lock (--state-dir), which the supervisor and the VMM then share. 0 or exit code. */
int session_claim(struct session *s, const struct arrowh_config *cfg);
/* Block the forwarded signals in every thread; call before any thread starts. */
void session_block_signals(void);
/* Build the VM: memory, kernel, initramfs, devices, boot structures (or restore it from a
 * snapshot). s must be zeroed (arrowh's static session). 0 or exit code. */
int session_setup(struct session *s, const struct arrowh_config *cfg);
/* Run until the guest stops; returns the exit status for arrowh. */
int session_run(struct session *s);
void session_print_timing(const struct session *s);
void session_destroy(struct session *s);
/* Managed Arrows: write the final state (or delete the directory for --rm). */
void session_record_exit(struct session *s, int status);
/* --exit-hook: run the hook command and wait for it. */
void session_run_exit_hook(const struct arrowh_config *cfg);

#endif
