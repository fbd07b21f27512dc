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
#include "hw/serial8250.h"
#include "virtio/console.h"
#include "virtio/mmio.h"
#include "vm.h"

#define MMIO_DEVICES_GPA 0xd0000000ull
#define FIRST_DEVICE_IRQ 5
#define KLOG_SIZE 8192

struct fd_sink {
	int fd;
	bool broken; /* the reader went away: drop further output */
};

struct session {
	const struct arrowh_config *cfg;
	struct vm vm;
	struct virtio_mmio console_mmio;
	struct vconsole console;
	struct serial8250 uart;
	unsigned int port_stdin, port_stdout, port_stderr, port_control;
	struct fd_sink out, err;
	struct ctl_stream ctl;
	int wake_fd;

	/* the last kernel messages from hvc0, shown when the guest dies */
	char klog[KLOG_SIZE];
	int klog_fd; /* --console-log, or -1 */
	uint64_t klog_total;

	/* what ainit told us */
	bool app_started;
	bool app_exited;
	int app_status;

	/* timing marks, CLOCK_MONOTONIC ns on the host */
	uint64_t t_arrowh, t_hello, t_exec, t_exit, t_stop;
	uint64_t guest_hello_ns; /* ainit's own clock at HELLO: kernel boot to ainit */
};

/* Block the forwarded signals in every thread; call before any thread starts. */
void session_block_signals(void);
/* Build the VM: memory, kernel, initramfs, devices, boot structures. 0 or exit code. */
int session_setup(struct session *s, const struct arrowh_config *cfg);
/* Run until the guest stops; returns the exit status for arrowh. */
int session_run(struct session *s);
void session_print_timing(const struct session *s);
void session_destroy(struct session *s);

#endif
