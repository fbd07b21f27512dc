// SPDX-License-Identifier: MIT
/*
 * virtio-vsock driven by a fake guest driver over real unix sockets: the host handshake
 * ("CONNECT <port>\n" / "OK <port>\n") and guest connects, bytes both ways, credit in
 * both directions, and a hostile guest (bad CIDs, lengths, ops, rings, a connection
 * flood, a host peer that never reads), and the transport reset of a restore. Caps per
 * direction, the descriptor headroom, stale resets, the supervisor's path checks and a
 * broker that does not answer.
 */
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

static int connect_cb(void *opaque, uint32_t port)
{
	int fd = vsock_connect_path(opaque, port);

	if (fd >= 0 && small_sndbuf)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ 4096 }, sizeof(int));
	return fd;
}

static void post_rx(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint16_t slot = d.next_desc[RXQ] % d.qnum;

		fd_post(&d, RXQ, RXBUF + slot * RXSTRIDE, RXLEN, VIRTQ_DESC_F_WRITE);
	}
	fd_wr(&d, 0x050, RXQ);
}

static void pump(void)
{
	for (int i = 0; i < 4; i++)
		vsock_poll(&v, 0);
}

static int setup(void **state)
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

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	vsock_stop(&v);
	free(d.mem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The guest sends one packet (header fields from h, payload data) and kicks. */
static void guest_send(const struct vsock_hdr *h, const void *data, uint32_t len)
{
	uint16_t slot = d.next_desc[TXQ] % d.qnum;
	uint64_t at = TXBUF + slot * TXSTRIDE;

	memcpy(d.mem + at, h, VSOCK_HDR_LEN);
	if (len)
		memcpy(d.mem + at + VSOCK_HDR_LEN, data, len);
	fd_post(&d, TXQ, at, VSOCK_HDR_LEN + len, 0);
	fd_wr(&d, 0x050, TXQ);
}

static struct vsock_hdr ghdr(uint32_t gport, uint32_t hport, uint16_t op, uint32_t len)
{
	struct vsock_hdr h = { .src_cid = 3, .dst_cid = 2, .src_port = gport, .dst_port = hport,
			       .len = len, .type = VSOCK_TYPE_STREAM, .op = op,
			       .buf_alloc = 256 << 10 };
	return h;
}

/* The device's next packet to the guest: true and its header and payload, or false. */
static bool guest_recv(struct vsock_hdr *h, uint8_t *data)
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

static void expect_op(uint16_t op, uint32_t gport, uint32_t hport)
{
	struct vsock_hdr h;

	pump();
	assert_true(guest_recv(&h, NULL));
	assert_int_equal(h.op, op);
	assert_int_equal(h.dst_port, gport);
	assert_int_equal(h.src_port, hport);
}

static void expect_nothing(void)
{
	struct vsock_hdr h;

	pump();
	assert_false(guest_recv(&h, NULL));
}

static int client_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", base);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int host_listen(uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", base, port);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

/* Whether fd was closed by the other side (EOF now, nothing else pending). */
static bool peer_closed(int fd)
{
	char c;
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, 100) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

/* Host-initiated: CONNECT, REQUEST, RESPONSE, OK. Returns the client; *hport its host port. */
static int open_from_host(uint32_t gport, uint32_t *hport)
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
static int open_from_guest(int lfd, uint32_t gport, uint32_t port, uint32_t buf_alloc)
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

static void test_identity_and_config(void **state)
{
	uint32_t lo, hi;

	(void)state;
	assert_int_equal(fd_rd(&d, 0x008), 19);
	virtio_mmio_read(&t, 0x100, &lo, 4);
	virtio_mmio_read(&t, 0x104, &hi, 4);
	assert_int_equal(lo, 3);
	assert_int_equal(hi, 0);
}

static void test_host_connect_and_data(void **state)
{
	uint8_t buf[4096];
	struct vsock_hdr h, w;
	uint32_t hport;
	int c = open_from_host(0, &hport);

	(void)state;
	assert_int_equal(write(c, "hello", 5), 5);
	pump();
	assert_true(guest_recv(&h, buf));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 5);
	assert_memory_equal(buf, "hello", 5);
	w = ghdr(1234, hport, VSOCK_OP_RW, 5);
	guest_send(&w, "world", 5);
	pump();
	assert_int_equal(read(c, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "world", 5);
	/* the host closes its side: the guest hears SHUTDOWN(SEND), not a reset */
	shutdown(c, SHUT_WR);
	pump();
	assert_true(guest_recv(&h, NULL));
	assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
	/* the guest closes: both ways shut, it gets the RST it waits for, the client EOF */
	w = ghdr(1234, hport, VSOCK_OP_SHUTDOWN, 0);
	w.flags = 3;
	guest_send(&w, NULL, 0);
	expect_op(VSOCK_OP_RST, 1234, hport);
	assert_true(peer_closed(c));
	assert_int_equal(v.nr_conns, 0);
	close(c);
}

static void test_host_connect_refused_by_guest(void **state)
{
	int c = client_connect();
	struct vsock_hdr h, r;

	(void)state;
	assert_int_equal(write(c, "CONNECT 99\n", 11), 11);
	pump();
	assert_true(guest_recv(&h, NULL));
	r = ghdr(99, h.src_port, VSOCK_OP_RST, 0);
	guest_send(&r, NULL, 0);
	pump();
	assert_true(peer_closed(c));
	assert_int_equal(v.nr_conns, 0);
	close(c);
}

static void test_bad_handshakes(void **state)
{
	static const char *const lines[] = {
		"HELLO\n", "CONNECT\n", "CONNECT x\n", "CONNECT 4294967296\n", "CONNECT -1\n",
		"CONNECT 12 \n", "connect 12\n", "CONNECT 1234567890123456789012345678901\n",
		"CONNECT 12345678901234567890123456789", /* 32 bytes, no newline */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int c = client_connect();

		assert_true(write(c, lines[i], strlen(lines[i])) > 0);
		pump();
		assert_true(peer_closed(c));
		close(c);
	}
	expect_nothing();
	assert_int_equal(v.nr_conns, 0);
}

static void test_data_with_the_connect_line(void **state)
{
	int c = client_connect();
	uint8_t buf[64];
	struct vsock_hdr h, r;

	(void)state;
	/* what follows the line in the same write is the stream's first bytes */
	assert_int_equal(write(c, "CONNECT 7\nearly", 15), 15);
	pump();
	assert_true(guest_recv(&h, NULL));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	r = ghdr(7, h.src_port, VSOCK_OP_RESPONSE, 0);
	guest_send(&r, NULL, 0);
	pump();
	assert_true(guest_recv(&h, buf));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 5);
	assert_memory_equal(buf, "early", 5);
	close(c);
}

/* A line that never ends and a REQUEST the guest never answers: both closed after
 * VSOCK_HANDSHAKE_MS, the second with an RST for the guest. */
static void test_slow_handshakes_time_out(void **state)
{
	int slow = client_connect(), unanswered = client_connect();
	struct vsock_hdr h;
	uint32_t hport;
	uint64_t t0 = vconn_now_ns();

	(void)state;
	assert_int_equal(write(slow, "CONN", 4), 4);
	assert_int_equal(write(unanswered, "CONNECT 42\n", 11), 11);
	pump();
	assert_true(guest_recv(&h, NULL));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	hport = h.src_port;
	assert_int_equal(v.nr_conns, 2);
	while (v.nr_conns && vconn_now_ns() - t0 < (VSOCK_HANDSHAKE_MS + 2000) * 1000000ull)
		vsock_poll(&v, 100);
	assert_int_equal(v.nr_conns, 0);
	assert_true(vconn_now_ns() - t0 >= VSOCK_HANDSHAKE_MS * 1000000ull);
	assert_true(peer_closed(slow));
	assert_true(peer_closed(unanswered));
	expect_op(VSOCK_OP_RST, 42, hport);
	close(slow);
	close(unanswered);
}

static void test_guest_connect_refused(void **state)
{
	struct vsock_hdr h = ghdr(GPORT, 5999, VSOCK_OP_REQUEST, 0);

	(void)state;
	guest_send(&h, NULL, 0);
	expect_op(VSOCK_OP_RST, GPORT, 5999);
	assert_int_equal(v.nr_conns, 0);
}

/* 1 MiB each way through a guest-initiated connection, credit checked at every packet. */
static void test_guest_connect_bulk_both_ways(void **state)
{
	enum { TOTAL = 1 << 20, GBUF = 32 << 10 };
	uint8_t *src = malloc(TOTAL), *got = malloc(TOTAL), pkt[4096];
	int lfd = host_listen(5000), s = open_from_guest(lfd, GPORT, 5000, GBUF);
	uint32_t sent = 0, recvd = 0, host_fwd = 0, host_buf = VSOCK_CONN_BUF, gfwd = 0;
	size_t hw = 0, hr = 0;

	(void)state;
	for (size_t i = 0; i < TOTAL; i++)
		src[i] = (uint8_t)(i * 7 + (i >> 12));
	fcntl(s, F_SETFL, O_NONBLOCK);
	/* host to guest: the guest consumes and says so in its credit updates */
	while (recvd < TOTAL) {
		struct vsock_hdr h;
		ssize_t n = hw < TOTAL ? write(s, src + hw, TOTAL - hw) : 0;

		hw += n > 0 ? (size_t)n : 0;
		pump();
		while (guest_recv(&h, pkt)) {
			assert_int_equal(h.op, VSOCK_OP_RW);
			assert_true(recvd + h.len - gfwd <= GBUF); /* never beyond its credit */
			memcpy(got + recvd, pkt, h.len);
			recvd += h.len;
		}
		if (recvd - gfwd >= GBUF / 2 || recvd == TOTAL) {
			struct vsock_hdr u = ghdr(GPORT, 5000, VSOCK_OP_CREDIT_UPDATE, 0);

			gfwd = recvd;
			u.buf_alloc = GBUF;
			u.fwd_cnt = gfwd;
			guest_send(&u, NULL, 0);
		}
	}
	assert_memory_equal(got, src, TOTAL);
	/* guest to host: within the host's advertised credit */
	memset(got, 0, TOTAL);
	while (hr < TOTAL) {
		struct vsock_hdr h;
		ssize_t n;

		while (sent < TOTAL && host_buf - (sent - host_fwd) >= sizeof(pkt)) {
			struct vsock_hdr w = ghdr(GPORT, 5000, VSOCK_OP_RW, sizeof(pkt));

			w.buf_alloc = GBUF;
			w.fwd_cnt = gfwd;
			guest_send(&w, src + sent, sizeof(pkt));
			sent += sizeof(pkt);
		}
		pump();
		while ((n = read(s, got + hr, TOTAL - hr)) > 0)
			hr += (size_t)n;
		pump();
		while (guest_recv(&h, NULL)) {
			assert_int_equal(h.op, VSOCK_OP_CREDIT_UPDATE);
			host_fwd = h.fwd_cnt;
			host_buf = h.buf_alloc;
		}
	}
	assert_memory_equal(got, src, TOTAL);
	assert_int_equal(v.nr_conns, 1);
	close(s);
	close(lfd);
	free(src);
	free(got);
}

static void test_credit_request_and_zero_credit(void **state)
{
	int lfd = host_listen(5001);
	int a = open_from_guest(lfd, 1000, 5001, 0); /* no receive buffer at all */
	int b = open_from_guest(lfd, 1001, 5001, 4096);
	struct vsock_hdr h = ghdr(1000, 5001, VSOCK_OP_CREDIT_REQUEST, 0);
	uint8_t buf[4096];

	(void)state;
	h.buf_alloc = 0; /* every header carries the guest's credit: still none */
	guest_send(&h, NULL, 0);
	expect_op(VSOCK_OP_CREDIT_UPDATE, 1000, 5001);
	/* a has no credit: its bytes wait; b's flow */
	assert_int_equal(write(a, "aaaa", 4), 4);
	assert_int_equal(write(b, "bbbb", 4), 4);
	pump();
	assert_true(guest_recv(&h, buf));
	assert_int_equal(h.dst_port, 1001);
	assert_memory_equal(buf, "bbbb", 4);
	expect_nothing();
	/* credit for a: now they come */
	h = ghdr(1000, 5001, VSOCK_OP_CREDIT_UPDATE, 0);
	h.buf_alloc = 2;
	guest_send(&h, NULL, 0);
	pump();
	assert_true(guest_recv(&h, buf));
	assert_int_equal(h.dst_port, 1000);
	assert_int_equal(h.len, 2); /* exactly its credit */
	expect_nothing();
	close(a);
	close(b);
	close(lfd);
}

static void test_bad_cids_dropped(void **state)
{
	int lfd = host_listen(5002);
	struct vsock_hdr h = ghdr(GPORT, 5002, VSOCK_OP_REQUEST, 0);

	(void)state;
	h.src_cid = 4; /* not the guest's */
	guest_send(&h, NULL, 0);
	h = ghdr(GPORT, 5002, VSOCK_OP_REQUEST, 0);
	h.dst_cid = 5;
	guest_send(&h, NULL, 0);
	h = ghdr(GPORT, 5002, VSOCK_OP_REQUEST, 0);
	h.src_cid = 3 | (1ull << 32);
	guest_send(&h, NULL, 0);
	expect_nothing();
	assert_int_equal(v.stats.dropped, 3);
	assert_int_equal(v.nr_conns, 0);
	assert_true(accept(lfd, NULL, NULL) < 0);
	close(lfd);
}

static void test_bad_packets_reset(void **state)
{
	int lfd = host_listen(5003), s;
	struct vsock_hdr h;
	uint8_t junk[64] = { 0 };

	(void)state;
	/* unknown op, an op past the last, a SEQPACKET, a length past the packet */
	h = ghdr(GPORT, 5003, 42, 0);
	guest_send(&h, NULL, 0);
	expect_op(VSOCK_OP_RST, GPORT, 5003);
	h = ghdr(GPORT, 5003, VSOCK_OP_INVALID, 0);
	guest_send(&h, NULL, 0);
	expect_op(VSOCK_OP_RST, GPORT, 5003);
	h = ghdr(GPORT, 5003, VSOCK_OP_REQUEST, 0);
	h.type = 2;
	guest_send(&h, NULL, 0);
	expect_op(VSOCK_OP_RST, GPORT, 5003);
	/* on a live connection: a len beyond the descriptor resets it */
	s = open_from_guest(lfd, GPORT, 5003, 4096);
	h = ghdr(GPORT, 5003, VSOCK_OP_RW, 1000);
	guest_send(&h, junk, sizeof(junk));
	expect_op(VSOCK_OP_RST, GPORT, 5003);
	assert_true(peer_closed(s));
	close(s);
	/* a len beyond any buffer we have */
	s = open_from_guest(lfd, GPORT, 5003, 4096);
	h = ghdr(GPORT, 5003, VSOCK_OP_RW, VSOCK_CONN_BUF + 1);
	guest_send(&h, junk, sizeof(junk));
	expect_op(VSOCK_OP_RST, GPORT, 5003);
	close(s);
	/* a payload on a control op; data on an unknown connection */
	s = open_from_guest(lfd, GPORT, 5003, 4096);
	h = ghdr(GPORT, 5003, VSOCK_OP_CREDIT_UPDATE, 8);
	guest_send(&h, junk, 8);
	expect_op(VSOCK_OP_RST, GPORT, 5003);
	close(s);
	h = ghdr(GPORT + 1, 5003, VSOCK_OP_RW, 4);
	guest_send(&h, junk, 4);
	expect_op(VSOCK_OP_RST, GPORT + 1, 5003);
	/* a header cut short is dropped; an RST is never answered */
	guest_send(&h, NULL, 0);
	{
		uint16_t slot = d.next_desc[TXQ] % d.qnum;

		fd_post(&d, TXQ, TXBUF + slot * TXSTRIDE, 20, 0);
		fd_wr(&d, 0x050, TXQ);
	}
	pump();
	while (guest_recv(&h, NULL))
		assert_int_equal(h.op, VSOCK_OP_RST);
	h = ghdr(GPORT + 2, 5003, VSOCK_OP_RST, 0);
	guest_send(&h, NULL, 0);
	expect_nothing();
	assert_int_equal(v.nr_conns, 0);
	close(lfd);
}

/* A host peer that never reads: the guest fills our buffer, then one byte more is reset;
 * meanwhile another connection works. */
static void test_host_peer_never_reads(void **state)
{
	int lfd = host_listen(5004), stuck, other;
	uint8_t pkt[4096] = { 1 }, buf[16];
	struct vsock_hdr h;
	uint32_t sent = 0;

	(void)state;
	small_sndbuf = 1;
	stuck = open_from_guest(lfd, 2000, 5004, 4096);
	small_sndbuf = 0;
	other = open_from_guest(lfd, 2001, 5004, 4096);
	while (sent < VSOCK_CONN_BUF + 64 * 1024) {
		h = ghdr(2000, 5004, VSOCK_OP_RW, sizeof(pkt));
		guest_send(&h, pkt, sizeof(pkt));
		sent += sizeof(pkt);
		pump();
		while (guest_recv(&h, NULL)) {
			if (h.op == VSOCK_OP_RST)
				goto reset;
			assert_int_equal(h.op, VSOCK_OP_CREDIT_UPDATE);
		}
		h = ghdr(2001, 5004, VSOCK_OP_RW, 2);
		guest_send(&h, "ok", 2);
		pump();
		assert_int_equal(read(other, buf, sizeof(buf)), 2);
	}
	fail_msg("a guest beyond its credit was not reset");
reset:
	/* the socket's buffer and ours, no more */
	assert_true(sent > VSOCK_CONN_BUF);
	assert_true(sent <= VSOCK_CONN_BUF + 64 * 1024);
	assert_int_equal(v.nr_conns, 1);
	close(stuck);
	close(other);
	close(lfd);
}

/* A listener with a backlog for a guest's whole share, that never accepts. */
static int host_listen_deep(uint32_t port)
{
	int fd = host_listen(port);

	assert_int_equal(listen(fd, 4096), 0);
	return fd;
}

/* n guest connects to port from guest ports gport..: how many were answered RESPONSE. */
static unsigned int guest_flood(uint32_t gport, uint32_t port, unsigned int n)
{
	unsigned int ok = 0;
	struct vsock_hdr h;

	for (unsigned int i = 0; i < n; i++) {
		h = ghdr(gport + i, port, VSOCK_OP_REQUEST, 0);
		guest_send(&h, NULL, 0);
		if (i % 16 == 15 || i == n - 1) {
			pump();
			while (guest_recv(&h, NULL))
				ok += h.op == VSOCK_OP_RESPONSE;
		}
	}
	return ok;
}

/* Host clients have a cap of their own: at it, they are accepted and closed, and the
 * guest can still connect to the host. */
static void test_connection_cap(void **state)
{
	int *c = calloc(VSOCK_MAX_HOST_CONNS + 8, sizeof(int)), lfd = host_listen(5005), s;
	unsigned int closed = 0;
	struct vsock_hdr h;

	(void)state;
	assert_int_equal(v.max_from_host, VSOCK_MAX_HOST_CONNS);
	assert_int_equal(v.max_from_guest, VSOCK_MAX_GUEST_CONNS);
	for (unsigned int i = 0; i < VSOCK_MAX_HOST_CONNS + 8; i++) {
		c[i] = client_connect();
		if (i % 64 == 63)
			pump();
	}
	pump();
	assert_int_equal(v.nr_conns, VSOCK_MAX_HOST_CONNS);
	for (unsigned int i = 0; i < VSOCK_MAX_HOST_CONNS + 8; i++) {
		struct pollfd p = { c[i], POLLIN, 0 };

		closed += poll(&p, 1, 0) == 1;
	}
	assert_int_equal(closed, 8);
	assert_int_equal(v.stats.refused, 8);
	/* host clients at their cap do not starve the guest */
	s = open_from_guest(lfd, GPORT, 5005, 4096);
	assert_int_equal(v.nr_from_guest, 1);
	close(s);
	h = ghdr(GPORT, 5005, VSOCK_OP_RST, 0);
	guest_send(&h, NULL, 0);
	for (unsigned int i = 0; i < VSOCK_MAX_HOST_CONNS + 8; i++)
		close(c[i]);
	for (int i = 0; i < 100 && v.nr_conns; i++) {
		pump();
		while (guest_recv(&h, NULL))
			;
	}
	assert_int_equal(v.nr_conns, 0);
	assert_int_equal(v.nr_from_host + v.nr_from_guest, 0);
	free(c);
	close(lfd);
}

/* A guest holding all its connections leaves host clients (arrow exec) theirs. */
static void test_guest_cap_leaves_host_clients(void **state)
{
	int lfd = host_listen_deep(5006), cl;
	struct vsock_hdr h;
	uint32_t hport;

	(void)state;
	assert_int_equal(guest_flood(20000, 5006, VSOCK_MAX_GUEST_CONNS + 4), VSOCK_MAX_GUEST_CONNS);
	assert_int_equal(v.nr_from_guest, VSOCK_MAX_GUEST_CONNS);
	assert_int_equal(v.stats.refused, 4);
	/* one more guest connect: reset */
	h = ghdr(GPORT, 5006, VSOCK_OP_REQUEST, 0);
	guest_send(&h, NULL, 0);
	expect_op(VSOCK_OP_RST, GPORT, 5006);
	/* a host client still gets through to the guest */
	cl = open_from_host(0, &hport);
	assert_int_equal(v.nr_from_host, 1);
	close(cl);
	vconn_close_all(&v);
	assert_int_equal(v.nr_from_host + v.nr_from_guest, 0);
	close(lfd);
}

/* Descriptors still free, counted by taking them (and giving them back). */
static unsigned int free_fds(void)
{
	int fds[256];
	unsigned int n = 0;

	while (n < 256 && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
	return n;
}

/* With a soft limit of 1024 and arrowh holding other descriptors, guest connects stop
 * VSOCK_FD_HEADROOM descriptors short of the limit, not at EMFILE; so do host clients. */
static void test_fd_headroom(void **state)
{
	int lfd = host_listen_deep(5007), held[200], cl;
	unsigned int ok;

	(void)state;
	assert_int_equal(v.fd_limit, 1024);
	for (unsigned int i = 0; i < 200; i++) /* what the rest of arrowh holds */
		held[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ok = guest_flood(30000, 5007, VSOCK_MAX_GUEST_CONNS);
	assert_true(ok > 600 && ok < VSOCK_MAX_GUEST_CONNS);
	assert_true(v.stats.refused > 0);
	assert_true(free_fds() >= VSOCK_FD_HEADROOM / 2);
	/* a host client now: accepted and closed, no EMFILE pause of the listener */
	cl = client_connect();
	pump();
	assert_true(peer_closed(cl));
	assert_int_equal(v.listen_paused_ns, 0);
	assert_true(free_fds() >= VSOCK_FD_HEADROOM / 2);
	close(cl);
	vconn_close_all(&v);
	for (unsigned int i = 0; i < 200; i++)
		close(held[i]);
	close(lfd);
}

static int setup_nofile_1024(void **state)
{
	nofile = 1024;
	setup(state);
	nofile = 8192;
	return 0;
}

/* The budget: the soft limit raised to the hard one; vsock and volumes share what is left
 * after arrowh's reserve. */
static void test_fd_budget(void **state)
{
	struct rlimit rl = { 1024, 8192 };
	struct fdlimit_plan p;

	(void)state;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(fdlimit_raise(), 8192);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(rl.rlim_cur, 8192);
	/* plenty: the full cap, volumes after vsock's reserve */
	p = fdlimit_plan(1 << 20, 2, true);
	assert_int_equal(p.vsock_fds, VSOCK_MAX_CONNS);
	assert_int_equal(p.fids_per_volume, 4096);
	p = fdlimit_plan(8192, 1, true);
	assert_int_equal(p.fids_per_volume,
			 (8192 - HOST_FDS_RESERVED - VSOCK_MAX_CONNS - VSOCK_FD_HEADROOM) / 2);
	assert_int_equal(p.vsock_fds, VSOCK_MAX_CONNS);
	/* a hard limit of 1024: vsock gets what the reserve and the headroom leave */
	p = fdlimit_plan(1024, 0, true);
	assert_int_equal(p.vsock_fds, 1024 - HOST_FDS_RESERVED - VSOCK_FD_HEADROOM);
	p = fdlimit_plan(1024, 4, true);
	assert_int_equal(p.fids_per_volume, 64);
	assert_int_equal(p.vsock_fds, 1024 - HOST_FDS_RESERVED - VSOCK_FD_HEADROOM - 4 * 2 * 64);
	p = fdlimit_plan(300, 0, true);
	assert_int_equal(p.vsock_fds, 0);
	p = fdlimit_plan(1 << 20, 0, false);
	assert_int_equal(p.vsock_fds, 0);
	/* the caps follow the budget, a quarter for host clients */
	vsock_set_fd_budget(&v, 704);
	assert_int_equal(v.max_from_host, 176);
	assert_int_equal(v.max_from_guest, 528);
	vsock_set_fd_budget(&v, 1 << 20);
	assert_int_equal(v.max_from_host + v.max_from_guest, VSOCK_MAX_CONNS);
}

/* A reset owed for an old connection must not reach a new one on the same ports. */
static void test_stale_rst_dropped_for_new_connection(void **state)
{
	int lfd = host_listen(6000), s;
	struct vsock_hdr h;
	uint8_t junk[4] = "abcd";

	(void)state;
	s = open_from_guest(lfd, 3000, 6000, 4096);
	close(s); /* the host service goes away */
	/* the guest gives no receive buffers back: use up what it posted */
	repost = 0;
	for (int i = 0; i < 40; i++) {
		h = ghdr(3000, 6000, VSOCK_OP_CREDIT_REQUEST, 0);
		guest_send(&h, NULL, 0);
		pump();
		while (guest_recv(&h, NULL))
			;
	}
	/* the guest sends: EPIPE on the host socket, the connection goes, an RST is owed */
	h = ghdr(3000, 6000, VSOCK_OP_RW, 4);
	guest_send(&h, junk, 4);
	pump();
	assert_int_equal(v.nr_conns, 0);
	assert_int_equal(v.nr_rst, 1);
	/* the guest closes its socket itself and connects again from the same port */
	h = ghdr(3000, 6000, VSOCK_OP_RST, 0);
	guest_send(&h, NULL, 0);
	h = ghdr(3000, 6000, VSOCK_OP_REQUEST, 0);
	h.buf_alloc = 4096;
	guest_send(&h, NULL, 0);
	pump();
	assert_int_equal(v.nr_conns, 1);
	assert_int_equal(v.nr_rst, 0);
	s = accept(lfd, NULL, NULL);
	assert_true(s >= 0);
	/* buffers again: the guest hears RESPONSE, and no reset after it */
	repost = 1;
	post_rx(4);
	expect_op(VSOCK_OP_RESPONSE, 3000, 6000);
	expect_nothing();
	assert_int_equal(v.nr_conns, 1);
	close(s);
	close(lfd);
}

/* The supervisor connects as root: it follows no symlink and takes only a socket of root's
 * or of the directory owner's. */
static void test_connect_path_checks_the_entry(void **state)
{
	char other[100], link[128], file[128];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int elsewhere = socket(AF_UNIX, SOCK_STREAM, 0), lfd, fd;
	struct vsock_hdr h;

	(void)state;
	snprintf(other, sizeof(other), "%s/elsewhere.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", other);
	assert_int_equal(bind(elsewhere, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(elsewhere, 4), 0);
	snprintf(link, sizeof(link), "%s_7000", base);
	assert_int_equal(symlink(other, link), 0);
	assert_int_equal(vsock_connect_path(base, 7000), -ELOOP);
	h = ghdr(GPORT, 7000, VSOCK_OP_REQUEST, 0);
	guest_send(&h, NULL, 0);
	expect_op(VSOCK_OP_RST, GPORT, 7000);
	assert_int_equal(v.nr_conns, 0);
	/* not a socket */
	snprintf(file, sizeof(file), "%s_7001", base);
	close(open(file, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(vsock_connect_path(base, 7001), -ECONNREFUSED);
	/* a socket of another user's in the directory */
	lfd = host_listen(7002);
	snprintf(file, sizeof(file), "%s_7002", base);
	fd = vsock_connect_path(base, 7002);
	assert_true(fd >= 0);
	close(fd);
	if (geteuid() == 0) {
		assert_int_equal(lchown(file, 4242, 4242), 0);
		assert_int_equal(vsock_connect_path(base, 7002), -EPERM);
	}
	close(lfd);
	close(elsewhere);
}

/* Jailed, a guest connect is a broker request: a supervisor that does not answer costs
 * the guest a reset after JAIL_BROKER_TIMEOUT_MS, not a device thread blocked for ever
 * under its lock. */
static int broker_connect(void *opaque, uint32_t port)
{
	int fd = -1, ret = jail_request(JAIL_REQ_VSOCK_CONNECT, port, &fd);

	(void)opaque;
	if (ret || fd < 0) {
		if (fd >= 0)
			close(fd);
		return ret ? ret : -EPROTO;
	}
	return fd;
}

static void test_silent_broker_resets(void **state)
{
	int sv[2];
	struct vsock_hdr h;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(jail_broker_attach(sv[1], 200), 0);
	v.connect = broker_connect;
	h = ghdr(GPORT, 5010, VSOCK_OP_REQUEST, 0);
	guest_send(&h, NULL, 0);
	expect_op(VSOCK_OP_RST, GPORT, 5010);
	assert_int_equal(v.nr_conns, 0);
	jail_broker_fd = -1;
	close(sv[0]);
	close(sv[1]);
}

static void test_hostile_rings(void **state)
{
	struct vsock_hdr h = ghdr(GPORT, 1, VSOCK_OP_REQUEST, 0);

	(void)state;
	/* a transmit descriptor outside guest memory stops the device, not arrowh */
	fd_post(&d, TXQ, MEM - 8, VSOCK_HDR_LEN, 0);
	fd_wr(&d, 0x050, TXQ);
	pump();
	assert_true(fd_rd(&d, 0x070) & VIRTIO_STATUS_NEEDS_RESET);
	/* later kicks are ignored; a reset and a fresh start work again */
	guest_send(&h, NULL, 0);
	pump();
	fd_wr(&d, 0x070, 0);
	memset(d.next_desc, 0, sizeof(d.next_desc));
	memset(d.mem, 0, 0x40000);
	rx_seen = 0;
	assert_int_equal(fd_start(&d, &t, 0, 3) & 0x48, 0x08);
	post_rx(4);
	guest_send(&h, NULL, 0);
	expect_op(VSOCK_OP_RST, GPORT, 1);
	/* a receive buffer the device may not write */
	fd_wr(&d, 0x070, 0);
	memset(d.next_desc, 0, sizeof(d.next_desc));
	memset(d.mem, 0, 0x40000);
	rx_seen = 0;
	assert_int_equal(fd_start(&d, &t, 0, 3) & 0x48, 0x08);
	fd_post(&d, RXQ, RXBUF, RXLEN, 0);
	fd_wr(&d, 0x050, RXQ);
	guest_send(&h, NULL, 0);
	pump();
	assert_true(fd_rd(&d, 0x070) & VIRTIO_STATUS_NEEDS_RESET);
	/* a receive buffer with no room after the header */
	fd_wr(&d, 0x070, 0);
	memset(d.next_desc, 0, sizeof(d.next_desc));
	memset(d.mem, 0, 0x40000);
	assert_int_equal(fd_start(&d, &t, 0, 3) & 0x48, 0x08);
	fd_post(&d, RXQ, RXBUF, VSOCK_HDR_LEN, VIRTQ_DESC_F_WRITE);
	fd_wr(&d, 0x050, RXQ);
	guest_send(&h, NULL, 0);
	pump();
	assert_true(fd_rd(&d, 0x070) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_transport_reset(void **state)
{
	uint32_t hport, id = 0xffffffff;
	int c = open_from_host(0, &hport);
	uint32_t used_id, len;

	(void)state;
	fd_post(&d, EVQ, EVBUF, 4, VIRTQ_DESC_F_WRITE);
	memcpy(d.mem + EVBUF, &id, 4);
	vsock_transport_reset(&v);
	pump();
	assert_true(peer_closed(c));
	assert_int_equal(v.nr_conns, 0);
	assert_int_equal(fd_used_idx(&d, EVQ), 1);
	fd_used(&d, EVQ, 0, &used_id, &len);
	assert_int_equal(len, 4);
	memcpy(&id, d.mem + EVBUF, 4);
	assert_int_equal(id, 0); /* VIRTIO_VSOCK_EVENT_TRANSPORT_RESET */
	close(c);
	/* the listener is still there */
	c = open_from_host(0, &hport);
	close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_and_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_refused_by_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_handshakes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_with_the_connect_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_handshakes_time_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect_bulk_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_request_and_zero_credit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_cids_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_packets_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_peer_never_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_cap_leaves_host_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_headroom, setup_nofile_1024, teardown),
		cmocka_unit_test_setup_teardown(test_fd_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_rst_dropped_for_new_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_connect_path_checks_the_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_broker_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_reset, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
