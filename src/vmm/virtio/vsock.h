/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock (virtio 1.x, section 5.10), stream sockets only, with a host side in the
 * manner of Firecracker's "hybrid vsock" (docs/vsock.md):
 *
 *  - a host process connects to arrowh's unix socket, writes "CONNECT <port>\n", and,
 *    once the guest accepted, reads "OK <host port>\n" and then talks to the guest
 *    program listening on that vsock port;
 *  - a guest program connecting to CID 2 port P reaches whatever listens on the unix
 *    socket "<path>_P" on the host.
 *
 * Everything runs in one device thread (epoll on the listener, the host sockets and a
 * kick eventfd) under the transport's lock: a vCPU's queue notification only kicks it.
 * Host sockets are non-blocking; what the guest sends waits in a bounded buffer per
 * connection, whose size is the credit the guest gets, so a host peer that never reads
 * stalls only its own connection.
 */
#ifndef ARROW_VIRTIO_VSOCK_H
#define ARROW_VIRTIO_VSOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mmio.h"

#define VSOCK_HOST_CID 2
#define VSOCK_GUEST_CID 3
#define VSOCK_MAX_CONNS 1024      /* connection slots per Arrow, both directions together */
#define VSOCK_MAX_GUEST_CONNS 768 /* of which guest-initiated at most */
#define VSOCK_MAX_HOST_CONNS 256  /* and host-initiated (host clients) at most */
#define VSOCK_FD_HEADROOM 64      /* descriptors left free: a connection whose fd would eat
				     into them is refused (vsock_set_fd_budget) */
#define VSOCK_CONN_BUF (64 << 10) /* guest-to-host bytes buffered per connection: its credit */
#define VSOCK_HANDSHAKE_MAX 32    /* "CONNECT <u32>\n" fits well within */
#define VSOCK_HANDSHAKE_MS 5000   /* for the line, and for the guest to answer a REQUEST */
#define VSOCK_RST_QUEUE 64        /* resets owed to the guest for connections already gone */
#define VSOCK_HOST_PORT_BASE 0x40000000u /* host-side ports of host-initiated connections */

/* struct virtio_vsock_hdr, little-endian (the only byte order arrowh runs on) */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

#define VSOCK_HDR_LEN 44
#define VSOCK_TYPE_STREAM 1
enum {
	VSOCK_OP_INVALID,
	VSOCK_OP_REQUEST,
	VSOCK_OP_RESPONSE,
	VSOCK_OP_RST,
	VSOCK_OP_SHUTDOWN,
	VSOCK_OP_RW,
	VSOCK_OP_CREDIT_UPDATE,
	VSOCK_OP_CREDIT_REQUEST,
};
#define VSOCK_SHUTDOWN_RCV 1
#define VSOCK_SHUTDOWN_SEND 2

/*
 * Open a connection to the host service on port: a connected non-blocking unix stream
 * socket, or -errno (the guest then gets a reset). Jailed, the supervisor does it.
 */
typedef int (*vsock_connect_fn)(void *opaque, uint32_t port);

struct vsock_conn;

struct vsock_stats {
	uint64_t rx_pkts, tx_pkts, rx_bytes, tx_bytes;
	uint64_t dropped;   /* packets from the guest with a bad header or CID */
	uint64_t resets;    /* RSTs sent */
	uint64_t refused;   /* connections refused at a cap or for want of descriptors */
};

struct vsock {
	struct virtio_mmio *t;
	uint64_t guest_cid;
	int listen_fd;  /* host-initiated connections, or -1 */
	vsock_connect_fn connect;
	void *connect_opaque;
	int ep, kick_fd, stop_fd;
	bool thread_started;
	pthread_t thread;
	/* below: guarded by t->lock */
	struct vsock_conn *conns[VSOCK_MAX_CONNS];
	unsigned int nr_conns;
	unsigned int nr_from_host, nr_from_guest; /* nr_conns by who opened them */
	unsigned int max_from_host, max_from_guest; /* their caps (vsock_set_fd_budget) */
	unsigned int fd_limit;    /* the soft RLIMIT_NOFILE at vsock_init */
	unsigned int rr;          /* where the next round of delivery to the guest starts */
	uint32_t next_host_port;
	struct { uint32_t local, peer; } rst[VSOCK_RST_QUEUE];
	unsigned int nr_rst;
	bool reset_event;         /* a TRANSPORT_RESET waits for an event buffer */
	uint32_t gen;             /* of the last connection made */
	uint64_t listen_paused_ns; /* out of descriptors: accepting again then (CLOCK_MONOTONIC) */
	struct virtq_elem rx_elem, tx_elem; /* scratch, used under the lock */
	struct vsock_stats stats;
};

extern const struct virtio_device_ops vsock_ops;

/* listen_fd (taken over, may be -1) and connect (may be NULL: every guest connect is reset). */
int vsock_init(struct vsock *v, struct virtio_mmio *t, uint64_t guest_cid, int listen_fd,
	       vsock_connect_fn connect, void *opaque);
/*
 * At most fds descriptors for connections (each holds one): the caps become
 * min(VSOCK_MAX_CONNS, fds), three quarters for guest connects, a quarter for host
 * clients. vsock_init starts with VSOCK_MAX_CONNS.
 */
void vsock_set_fd_budget(struct vsock *v, unsigned int fds);
int vsock_start(struct vsock *v);
/* Stop the thread and close every socket. */
void vsock_stop(struct vsock *v);
/* One round of the device thread: wait up to timeout_ms for events, then work (tests). */
void vsock_poll(struct vsock *v, int timeout_ms);
/*
 * After a restore: every connection is gone (they were the snapshotted process's), so the
 * guest is told with VIRTIO_VSOCK_EVENT_TRANSPORT_RESET as soon as it has an event buffer.
 */
void vsock_transport_reset(struct vsock *v);
void vsock_report(struct vsock *v, FILE *out);

/* The host side, usable before the jail: a listening socket at path (replacing a stale one). */
int vsock_listen(const char *path);
/*
 * Connect (non-blocking) to "<base>_<port>": fd or -errno. The entry must be a socket (not
 * a symlink: -ELOOP; anything else: -ECONNREFUSED) owned by root or by the owner of its
 * directory (-EPERM): the supervisor calls it as root (docs/security.md).
 */
int vsock_connect_path(const char *base, uint32_t port);

#endif
