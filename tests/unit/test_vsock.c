// SPDX-License-Identifier: MIT
/*
 * virtio-vsock driven by a fake guest driver over real unix sockets (tests/unit/vsocktest.h):
 * the host handshake ("CONNECT <port>\n" / "OK <port>\n") and guest connects, bytes both
 * ways, credit in both directions. A hostile guest, caps, descriptors, stale resets, path
 * checks, a silent broker and the transport reset: test_vsockhostile.c.
 */
#include "vsocktest.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_and_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_refused_by_guest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_handshakes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_with_the_connect_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_handshakes_time_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect_bulk_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_request_and_zero_credit, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
