/* SPDX-License-Identifier: MIT */
/*
 * virtio-console with named ports (VIRTIO_CONSOLE_F_MULTIPORT, virtio 1.x
 * section 5.3). Port 0 may be the kernel console (hvc0); other ports are
 * plain byte streams the guest finds by name. Output from the guest goes to a
 * per-port sink; input to the guest is pulled from a per-port source when the
 * guest has both opened the port and posted buffers.
 */
#ifndef ARROW_VIRTIO_CONSOLE_H
#define ARROW_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "mmio.h"

#define VCON_MAX_PORTS 7 /* 2 * (ports + 1) queues must fit VIRTIO_MMIO_MAX_QUEUES */
#define VCON_NAME_MAX 32
#define VCON_PENDING_MAX 4096

/* Guest output for one port; must consume everything (or drop it). */
typedef void vcon_sink_fn(void *opaque, const struct iovec *iov, unsigned int n, size_t len);
/* Fill guest buffers: >0 bytes written, 0 end of input, -EAGAIN nothing now, <0 error. */
typedef ssize_t vcon_source_fn(void *opaque, const struct iovec *iov, unsigned int n);

/* Bumped whenever the saved part of struct vconsole changes layout. */
#define VCONSOLE_STATE_VERSION 1

struct vcon_port {
	char name[VCON_NAME_MAX];
	uint8_t is_console;
	uint8_t host_connected;
	uint8_t guest_connected;
	uint8_t ready; /* guest acknowledged PORT_ADD */
	uint8_t close_when_flushed; /* host closed the port with bytes still pending */
	uint16_t rows, cols; /* console ports: terminal size, 0 if unknown */
	vcon_sink_fn *sink;
	void *sink_opaque;
	/* bytes queued for the guest until it posts receive buffers */
	uint32_t pending_len;
	uint8_t pending[VCON_PENDING_MAX];
};

struct vconsole {
	uint32_t version; /* VCONSOLE_STATE_VERSION */
	struct virtio_mmio *t;
	unsigned int nr_ports;
	uint8_t device_ready;
	int wake_fd; /* eventfd written when input may now flow (buffers, open) */
	struct vcon_port ports[VCON_MAX_PORTS];
	/* control messages waiting for control receive buffers */
	unsigned int ctrl_count;
	struct {
		uint32_t len;
		uint8_t data[8 + VCON_NAME_MAX];
	} ctrl[4 * VCON_MAX_PORTS + 8];
};

/* The console as a snapshot keeps it: plain fields, no host pointers or fds. */
struct vcon_port_state {
	char name[VCON_NAME_MAX];
	uint8_t is_console, host_connected, guest_connected, ready, close_when_flushed;
	uint8_t reserved[3];
	uint16_t rows, cols;
	uint32_t pending_len;
	uint8_t pending[VCON_PENDING_MAX];
};

struct vconsole_state {
	uint32_t version; /* VCONSOLE_STATE_VERSION */
	uint32_t nr_ports;
	uint32_t device_ready;
	uint32_t ctrl_count;
	struct vcon_port_state ports[VCON_MAX_PORTS];
	struct {
		uint32_t len;
		uint8_t data[8 + VCON_NAME_MAX];
	} ctrl[4 * VCON_MAX_PORTS + 8];
};

extern const struct virtio_device_ops vconsole_ops;

/* Copy the state out; the caller holds the transport lock. */
void vconsole_save(struct vconsole *c, struct vconsole_state *st);
/* Into a console with the same ports (names, order): 0, or -EINVAL (another layout). */
int vconsole_restore(struct vconsole *c, const struct vconsole_state *st);

void vconsole_init(struct vconsole *c, struct virtio_mmio *t, int wake_fd);
/* Returns the port id, or -ENOSPC. */
int vconsole_add_port(struct vconsole *c, const char *name, bool is_console, vcon_sink_fn *sink,
		      void *opaque);

/*
 * The following take the transport lock themselves.
 */
/* Pull input for a port from source (which must not block: the lock is held).
 * Returns what source returned, or -ENOBUFS when the guest has not opened the
 * port or has no buffers posted. */
ssize_t vconsole_port_fill(struct vconsole *c, unsigned int port, vcon_source_fn *source,
			   void *opaque);
/* Queue bytes for the guest on a port (small messages; -ENOBUFS when full). */
int vconsole_port_send(struct vconsole *c, unsigned int port, const void *buf, size_t len);
/* Tell the guest the host side of a port opened or closed (close = EOF for readers). */
/* Tell the guest a console port's terminal size (sent again once the port is ready). */
void vconsole_port_resize(struct vconsole *c, unsigned int port, uint16_t cols, uint16_t rows);
/* Bytes vconsole_port_send can take for port now. */
size_t vconsole_port_room(struct vconsole *c, unsigned int port);
void vconsole_port_set_host_connected(struct vconsole *c, unsigned int port, bool connected);
bool vconsole_port_guest_connected(struct vconsole *c, unsigned int port);

#endif
