/* SPDX-License-Identifier: MIT */
/*
 * The fake guest driver that test_vsock.c and test_vsockhostile.c drive arrowh's
 * virtio-vsock with: an 8 MiB guest, rings, receive buffers, a state directory with the
 * unix sockets, and the host's and the guest's ends of a connection. One test binary
 * includes it once.
 */
#ifndef ARROW_TESTS_VSOCKTEST_H
#define ARROW_TESTS_VSOCKTEST_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fakedrv.h"
#include "unit.h"
#include "vmm/fdlimit.h"
#include "vmm/jail.h"
#include "vmm/virtio/vsock_conn.h"

#define MEM (8 << 20)
#define QNUM 64
#define RXQ 0
#define TXQ 1
#define EVQ 2
#define RXBUF 0x40000ull   /* receive buffer of descriptor slot s at RXBUF + s * RXSTRIDE */
#define RXSTRIDE 0x1100ull
#define RXLEN (4096 + VSOCK_HDR_LEN)
#define EVBUF 0x90000ull
#define TXBUF 0x100000ull /* transmit packet of slot s at TXBUF + s * TXSTRIDE */
#define TXSTRIDE 0x10100ull
#define GPORT 777 /* the guest's port in guest-initiated tests */

static struct fakedrv d;
static struct virtio_mmio t;
static struct vsock v;
static char dir[64], base[96];
static uint16_t rx_seen;
static int repost = 1;   /* guest_recv gives the buffer back, as a driver does */
static rlim_t nofile = 8192; /* the soft descriptor limit at vsock_init */
static int small_sndbuf; /* the next guest connect gets a host socket with a tiny send buffer */

static inline int connect_cb(void *opaque, uint32_t port)
{
	int fd = vsock_connect_path(opaque, port);

	if (fd >= 0 && small_sndbuf)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ 4096 }, sizeof(int));
	return fd;
}

static inline void post_rx(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint16_t slot = d.next_desc[RXQ] % d.qnum;

		fd_post(&d, RXQ, RXBUF + slot * RXSTRIDE, RXLEN, VIRTQ_DESC_F_WRITE);
	}
	fd_wr(&d, 0x050, RXQ);
}

static inline void pump(void)
{
	for (int i = 0; i < 4; i++)
		vsock_poll(&v, 0);
}

static inline int setup(void **state)
{
	struct rlimit rl = { nofile, 8192 };

	(void)state;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	snprintf(dir, sizeof(dir), "/tmp/vsockXXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(base, sizeof(base), "%s/v.sock", dir);
	fd_alloc(&d, MEM, QNUM);
	virtio_mmio_init(&t, 0xd000a000, 15, -1, &d.gm, &vsock_ops, &v);
	assert_int_equal(vsock_init(&v, &t, 3, vsock_listen(base), connect_cb, base), 0);
	assert_true(v.listen_fd >= 0);
	assert_int_equal(fd_start(&d, &t, 0, 3) & 0x48, 0x08);
	rx_seen = 0;
	repost = 1;
	small_sndbuf = 0;
	post_rx(32);
	pump();
	return 0;
}

static inline int teardown(void **state)
{
	char cmd[128];

	(void)state;
	vsock_stop(&v);
	free(d.mem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The guest sends one packet (header fields from h, payload data) and kicks. */
static inline void guest_send(const struct vsock_hdr *h, const void *data, uint32_t len)
{
	uint16_t slot = d.next_desc[TXQ] % d.qnum;
	uint64_t at = TXBUF + slot * TXSTRIDE;

	memcpy(d.mem + at, h, VSOCK_HDR_LEN);
	if (len)
		memcpy(d.mem + at + VSOCK_HDR_LEN, data, len);
	fd_post(&d, TXQ, at, VSOCK_HDR_LEN + len, 0);
	fd_wr(&d, 0x050, TXQ);
}

static inline struct vsock_hdr ghdr(uint32_t gport, uint32_t hport, uint16_t op, uint32_t len)
{
	struct vsock_hdr h = { .src_cid = 3, .dst_cid = 2, .src_port = gport, .dst_port = hport,
			       .len = len, .type = VSOCK_TYPE_STREAM, .op = op,
			       .buf_alloc = 256 << 10 };
	return h;
}

/* The device's next packet to the guest: true and its header and payload, or false. */
static inline bool guest_recv(struct vsock_hdr *h, uint8_t *data)
{
	uint32_t id, len;
	uint64_t addr;

	if (fd_used_idx(&d, RXQ) == rx_seen)
		return false;
	fd_used(&d, RXQ, rx_seen++, &id, &len);
	memcpy(&addr, d.mem + fd_qbase(RXQ) + 16 * id, 8);
	assert_true(len >= VSOCK_HDR_LEN && len <= RXLEN);
	memcpy(h, d.mem + addr, VSOCK_HDR_LEN);
	assert_int_equal(h->len, len - VSOCK_HDR_LEN);
	assert_int_equal(h->src_cid, 2);
	assert_int_equal(h->dst_cid, 3);
	assert_int_equal(h->type, VSOCK_TYPE_STREAM);
	if (data)
		memcpy(data, d.mem + addr + VSOCK_HDR_LEN, h->len);
	if (repost)
		post_rx(1); /* the buffer goes back, as a driver does */
	return true;
}

static inline void expect_op(uint16_t op, uint32_t gport, uint32_t hport)
{
	struct vsock_hdr h;

	pump();
	assert_true(guest_recv(&h, NULL));
	assert_int_equal(h.op, op);
	assert_int_equal(h.dst_port, gport);
	assert_int_equal(h.src_port, hport);
}

static inline void expect_nothing(void)
{
	struct vsock_hdr h;

	pump();
	assert_false(guest_recv(&h, NULL));
}

static inline int client_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", base);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static inline int host_listen(uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", base, port);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

/* Whether fd was closed by the other side (EOF now, nothing else pending). */
static inline bool peer_closed(int fd)
{
	char c;
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, 100) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

/* Host-initiated: CONNECT, REQUEST, RESPONSE, OK. Returns the client; *hport its host port. */
static inline int open_from_host(uint32_t gport, uint32_t *hport)
{
	int c = client_connect();
	struct vsock_hdr h, r;
	char line[64] = "";
	char want[64];

	assert_int_equal(write(c, "CONNECT 1234\n", 13), 13);
	(void)gport;
	pump();
	assert_true(guest_recv(&h, NULL));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, 1234);
	assert_true(h.src_port >= VSOCK_HOST_PORT_BASE);
	assert_int_equal(h.buf_alloc, VSOCK_CONN_BUF);
	r = ghdr(1234, h.src_port, VSOCK_OP_RESPONSE, 0);
	guest_send(&r, NULL, 0);
	pump();
	assert_true(read(c, line, sizeof(line) - 1) > 0);
	snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	assert_string_equal(line, want);
	*hport = h.src_port;
	return c;
}

/* Guest-initiated to port: the accepted host socket. */
static inline int open_from_guest(int lfd, uint32_t gport, uint32_t port, uint32_t buf_alloc)
{
	struct vsock_hdr h = ghdr(gport, port, VSOCK_OP_REQUEST, 0);
	int s;

	h.buf_alloc = buf_alloc;
	guest_send(&h, NULL, 0);
	expect_op(VSOCK_OP_RESPONSE, gport, port);
	s = accept(lfd, NULL, NULL);
	assert_true(s >= 0);
	return s;
}

#endif
