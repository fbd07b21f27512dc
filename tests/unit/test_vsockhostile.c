// SPDX-License-Identifier: MIT
/*
 * virtio-vsock against a hostile guest and at its limits, with the fake driver of
 * tests/unit/vsocktest.h: bad CIDs, lengths, ops and rings, a connection flood, a host peer
 * that never reads, caps per direction, the descriptor headroom and budget, stale resets,
 * the supervisor's path checks, a broker that does not answer, and the transport reset of
 * a restore.
 */
#include "vsocktest.h"

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
		cmocka_unit_test_setup_teardown(test_bad_cids_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_packets_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_peer_never_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_cap_leaves_host_clients, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fd_headroom, setup_nofile_1024, teardown),
		cmocka_unit_test_setup_teardown(test_fd_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_rst_dropped_for_new_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_connect_path_checks_the_entry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_silent_broker_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_reset, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
