/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock inside: one connection's state and what the device (vsock.c) and the host
 * side (vsock_conn.c) call on it. Everything here runs under the transport's lock.
 */
#ifndef ARROW_VIRTIO_VSOCK_CONN_H
#define ARROW_VIRTIO_VSOCK_CONN_H

#include "vsock.h"

/* epoll data: these, or EV_CONN | generation << 16 | slot */
enum { EV_KICK = 1, EV_STOP, EV_LISTEN };
#define EV_CONN (1ull << 63)

enum conn_state {
	CONN_HANDSHAKE,  /* host client: waiting for its "CONNECT <port>\n" */
	CONN_REQUESTING, /* host client: REQUEST owed or sent to the guest, no answer yet */
	CONN_OPEN,
};

struct vsock_conn {
	uint32_t gen; /* tells a stale epoll event from this slot's current connection */
	int fd;
	enum conn_state state;
	bool from_host;       /* a host client's (counts against max_from_host) */
	uint32_t local, peer; /* host-side and guest-side ports */
	bool readable, writable; /* edge-triggered readiness, cleared on EAGAIN */
	bool host_eof;           /* the host peer will send no more */
	bool shut_wr;            /* the host socket's sending side shut (guest sends no more) */
	uint32_t peer_shut;      /* VSOCK_SHUTDOWN_* the guest sent */
	/* owed to the guest */
	bool want_request, want_response, want_credit;
	/* toward the guest: its receive buffer */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* from the guest: bytes the host socket has not taken yet, a ring of VSOCK_CONN_BUF */
	uint8_t *buf;
	uint32_t head, used;
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
	uint64_t deadline_ns; /* handshake and REQUEST answer; 0 when open */
};

uint64_t vconn_now_ns(void);
/* What the guest may still receive on c: buf_alloc - (sent - fwd_cnt), never negative. */
uint32_t vconn_credit(const struct vsock_conn *c);
/* A reset owed to the guest for a connection that is (or never was) ours. */
void vconn_queue_rst(struct vsock *v, uint32_t local, uint32_t peer);
/* Drop resets still owed for (local, peer): a new connection has those ports now. */
void vconn_unqueue_rst(struct vsock *v, uint32_t local, uint32_t peer);
/* Whether fd leaves fewer than VSOCK_FD_HEADROOM descriptors free: refuse its connection. */
bool vconn_fd_low(const struct vsock *v, int fd);
/* A new connection on fd in the epoll set: its slot, or -errno (-ENOSPC at its direction's
 * cap). CONN_HANDSHAKE ones are host clients'. */
int vconn_new(struct vsock *v, int fd, enum conn_state state, uint32_t local, uint32_t peer);
/* Close slot; rst: the guest knows the connection and must hear that it is gone. */
void vconn_free(struct vsock *v, unsigned int slot, bool rst);
void vconn_close_all(struct vsock *v);
/* The open or opening connection (local, peer), or -1. */
int vconn_find(struct vsock *v, uint32_t local, uint32_t peer);
/* An RW packet's payload of len bytes for the host socket (room checked by the caller). */
void vconn_take(struct vsock *v, unsigned int slot, const struct iovec *pay, unsigned int n,
		uint32_t len);
/* The guest shut a direction down, or bytes went out: finish what waited for that. */
void vconn_settle(struct vsock *v, unsigned int slot);
/* The guest answered a host client's REQUEST: "OK <port>" to the client. */
void vconn_established(struct vsock *v, unsigned int slot);
/* Host-side events: new clients on the listener, readiness of a connection's socket. */
void vconn_accept(struct vsock *v);
void vconn_event(struct vsock *v, uint64_t data, uint32_t events);
/* Handshakes and REQUESTs past their time, the listener's pause: the next deadline or 0. */
uint64_t vconn_expire(struct vsock *v);

#endif
