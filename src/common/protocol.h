/* SPDX-License-Identifier: MIT */
/*
 * The contract between arrowh (host) and ainit (guest PID 1).
 *
 * Channels are virtio-console ports, found by name in the guest under
 * /sys/class/virtio-ports/ (see docs/design.md):
 *   arrow.stdin   host -> guest: the app's standard input; the host closing the
 *                 port (VIRTIO_CONSOLE_PORT_OPEN 0) is end-of-file
 *   arrow.stdout  guest -> host: the app's standard output, byte-exact
 *   arrow.stderr  guest -> host: the app's standard error, byte-exact
 *   arrow.control both ways: fixed-size struct arrow_ctl_msg records
 *
 * The run configuration (argv, env, cwd, ids) travels in the initramfs as
 * ARROW_CONFIG_PATH in the format of runcfg.h.
 */
#ifndef ARROW_PROTOCOL_H
#define ARROW_PROTOCOL_H

#include <stdint.h>

#define ARROW_PORT_STDIN "arrow.stdin"
#define ARROW_PORT_STDOUT "arrow.stdout"
#define ARROW_PORT_STDERR "arrow.stderr"
#define ARROW_PORT_CONTROL "arrow.control"
/* With a terminal (arrow run -t) a second console port, hvc1 in the guest, is the
 * app's stdin, stdout and stderr; arrow.stdin/stdout/stderr stay unused. */
#define ARROW_PORT_TTY "arrow.tty"
#define ARROW_TTY_DEVICE "/dev/hvc1"

#define ARROW_CONFIG_PATH "/.arrow/config"

#define ARROW_CTL_MAGIC 0x41525257u /* "WRRA" little-endian: "ARRW" */

enum arrow_ctl_type {
	/* guest -> host */
	ARROW_CTL_HELLO = 1, /* ainit runs; value = guest CLOCK_MONOTONIC ns */
	ARROW_CTL_EXEC = 2,  /* app started; arg = guest pid; value = time */
	ARROW_CTL_EXIT = 3,  /* app ended; arg = status (0-255, 128+signal) */
	ARROW_CTL_TEMPLATE = 4, /* ainit waits at the template point: snapshot now */
	ARROW_CTL_READY = 5,    /* ainit waits at the start gate (RUNCFG_HOLD) for ARROW_CTL_START */
	/* host -> guest */
	ARROW_CTL_SIGNAL = 16, /* deliver signal number arg to the app */
	ARROW_CTL_HOSTS = 17,  /* arg bytes follow: the network's peers, "IP\tNAME\n" lines */
	/*
	 * A clone starts: arg bytes of runcfg records follow (hostname, address, gateway,
	 * DNS, hosts, MAC, RNG seed); value = the host's CLOCK_REALTIME in ns.
	 */
	ARROW_CTL_IDENTITY = 18,
	ARROW_CTL_START = 19, /* the Arrow was held at the start gate: run the app now */
};

/* Largest ARROW_CTL_HOSTS or ARROW_CTL_IDENTITY payload (it must fit the control
 * port's host-side buffer). */
#define ARROW_HOSTS_MAX 3072

/* All fields little-endian; every record is exactly this size. */
struct arrow_ctl_msg {
	uint32_t magic;
	uint16_t type;
	uint16_t reserved;
	uint32_t arg;
	uint32_t reserved2;
	uint64_t value;
};

_Static_assert(sizeof(struct arrow_ctl_msg) == 24, "control record is 24 bytes");

#endif
