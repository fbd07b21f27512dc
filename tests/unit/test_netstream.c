// SPDX-License-Identifier: MIT
/*
 * virtio-net's stream backend (passt's qemu protocol: a 4-byte big-endian
 * length, then the frame, no virtio_net_hdr) driven by a fake guest driver
 * over a unix stream socket pair: the offered features, frames both ways,
 * frames split anywhere and several in one read, empty and oversized lengths,
 * a peer closing mid-frame, slow and stopped readers on transmit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fakedrv.h"
#include "unit.h"
#include "vmm/virtio/net.h"

#define MEM (1 << 20)
#define QNUM 64
#define RX 0
#define TX 1
#define DATA 0x40000
#define TXDATA 0x80000
#define MRG_RXBUF (1ull << 15)

static struct fakedrv d;
static struct virtio_mmio t;
static struct vnet n;
static int peer; /* passt's side */
static const uint8_t mac[6] = { 2, 0, 10, 88, 0, 5 };

static int setup(void **state)
{
	int sv[2];

	(void)state;
	fd_alloc(&d, MEM, QNUM);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer = sv[1];
	virtio_mmio_init(&t, 0xd0001000, 6, -1, &d.gm, &vnet_ops, &n);
	assert_int_equal(vnet_init_stream(&n, &t, sv[0], mac), 0);
	assert_int_equal(fd_start(&d, &t, MRG_RXBUF | (1ull << 5), 2) & 0x48, 0x08);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vnet_stop(&n);
	close(n.tap_fd);
	if (peer >= 0)
		close(peer);
	free(d.mem);
	return 0;
}

static void put(const void *buf, size_t len)
{
	assert_int_equal(send(peer, buf, len, MSG_DONTWAIT), (ssize_t)len);
}

static void put_len(uint32_t len)
{
	uint8_t p[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			 (uint8_t)len };

	put(p, 4);
}

static void put_frame(uint32_t len, uint8_t fill)
{
	uint8_t *f = malloc(len);

	memset(f, fill, len);
	put_len(len);
	put(f, len);
	free(f);
}

static void post_rx(unsigned int count, uint32_t size)
{
	for (unsigned int i = 0; i < count; i++)
		fd_post(&d, RX, DATA + (uint64_t)size * i, size, 2 /* WRITE */);
}

static void test_no_offloads_and_socket_checks(void **state)
{
	uint64_t f;
	struct vnet other;
	struct virtio_mmio t2;
	int sv[2], p[2];

	(void)state;
	fd_wr(&d, 0x014, 0);
	f = fd_rd(&d, 0x010);
	fd_wr(&d, 0x014, 1);
	f |= (uint64_t)fd_rd(&d, 0x010) << 32;
	assert_int_equal(f & 0x3f83, 0); /* CSUM, GUEST_CSUM, GUEST_TSO4/6/ECN, HOST_TSO4/6/ECN */
	assert_true(f & (1ull << 5));    /* MAC */
	assert_true(f & MRG_RXBUF);
	assert_true(f & (1ull << 32));   /* VERSION_1 */

	/* a datagram socket or a pipe is no stream to passt */
	virtio_mmio_init(&t2, 0xd0002000, 7, -1, &d.gm, &vnet_ops, &other);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(vnet_init_stream(&other, &t2, sv[0], mac), -EPROTOTYPE);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vnet_init_stream(&other, &t2, p[0], mac), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
}

static void test_partial_frames(void **state)
{
	uint8_t frame[100];
	uint16_t nbuf;
	uint32_t id, len;

	(void)state;
	post_rx(4, 2048);
	for (int i = 0; i < 100; i++)
		frame[i] = (uint8_t)i;
	/* the length prefix in two pieces, the frame in three: nothing until it is whole */
	put("\0\0", 2);
	assert_int_equal(vnet_rx_pump(&n), 0);
	put("\0\x64", 2);
	assert_int_equal(vnet_rx_pump(&n), 0);
	put(frame, 1);
	assert_int_equal(vnet_rx_pump(&n), 0);
	put(frame + 1, 60);
	assert_int_equal(vnet_rx_pump(&n), 0);
	assert_int_equal(fd_used_idx(&d, RX), 0);
	assert_true(n.tap_polled); /* still waiting for the rest */
	put(frame + 61, 39);
	assert_int_equal(vnet_rx_pump(&n), 1);
	fd_used(&d, RX, 0, &id, &len);
	assert_int_equal(len, 12 + 100);
	/* a zero virtio_net_hdr but for num_buffers */
	memcpy(&nbuf, d.mem + DATA + 10, 2);
	assert_int_equal(nbuf, 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(d.mem[DATA + i], 0);
	assert_memory_equal(d.mem + DATA + 12, frame, 100);

	/* two frames and the start of a third in one write */
	{
		uint8_t buf[4 + 50 + 4 + 60 + 3];

		memset(buf, 0, sizeof(buf));
		buf[3] = 50;
		memset(buf + 4, 0xaa, 50);
		buf[4 + 50 + 3] = 60;
		memset(buf + 4 + 50 + 4, 0xbb, 60);
		buf[4 + 50 + 4 + 60 + 2] = 1; /* the third's prefix: 0x00 0x00 0x01 ... */
		put(buf, sizeof(buf));
	}
	assert_int_equal(vnet_rx_pump(&n), 2);
	assert_int_equal(d.mem[DATA + 2048 + 12], 0xaa);
	assert_int_equal(d.mem[DATA + 2 * 2048 + 12], 0xbb);
	/* the third's last prefix byte (0x12c = 300) and 4 bytes of it */
	put("\x2c\0\0\0\0", 5);
	assert_int_equal(vnet_rx_pump(&n), 0);
	assert_int_equal(n.srx.frame_len, 300);
	assert_int_equal(n.srx.frame_got, 4);
	{
		uint8_t rest[296];

		memset(rest, 0xcc, sizeof(rest));
		put(rest, sizeof(rest));
	}
	assert_int_equal(vnet_rx_pump(&n), 1);
	fd_used(&d, RX, 3, &id, &len);
	assert_int_equal(len, 12 + 300);
	assert_int_equal(d.mem[DATA + 3 * 2048 + 12 + 299], 0xcc);
	assert_int_equal(n.stats.rx_frames, 4);
	assert_int_equal(n.stats.rx_dropped, 0);
}

static void test_big_frame_over_mergeable_buffers(void **state)
{
	uint32_t id, len;
	uint16_t nbuf;

	(void)state;
	post_rx(40, 2048);
	put_frame(VNET_FRAME_MAX, 0x5a); /* the largest allowed: 65550 bytes over 33 buffers */
	assert_int_equal(vnet_rx_pump(&n), 1);
	memcpy(&nbuf, d.mem + DATA + 10, 2);
	assert_int_equal(nbuf, (12 + VNET_FRAME_MAX + 2047) / 2048);
	fd_used(&d, RX, (uint16_t)(nbuf - 1), &id, &len);
	assert_int_equal(len, (12 + VNET_FRAME_MAX) % 2048);
	assert_int_equal(d.mem[DATA + 12 + VNET_FRAME_MAX - 1], 0x5a);
}

static void test_oversized_and_zero_lengths(void **state)
{
	uint8_t *junk = calloc(1, VNET_FRAME_MAX + 1);

	(void)state;
	post_rx(8, 2048);
	/* one byte over the bound: read and thrown away, the next frame is intact */
	put_len(VNET_FRAME_MAX + 1);
	memset(junk, 0xee, VNET_FRAME_MAX + 1);
	put(junk, 1000);
	assert_int_equal(vnet_rx_pump(&n), 0);
	assert_int_equal(n.stats.rx_dropped, 1);
	put(junk + 1000, VNET_FRAME_MAX + 1 - 1000);
	put_len(0); /* an empty frame: dropped too */
	put_frame(64, 0x11);
	assert_int_equal(vnet_rx_pump(&n), 1);
	assert_int_equal(n.stats.rx_dropped, 2);
	assert_int_equal(fd_used_idx(&d, RX), 1);
	assert_int_equal(d.mem[DATA + 12], 0x11);
	assert_int_equal(d.mem[DATA + 12 + 64], 0);

	/* 4 GiB announced: nothing is allocated, the bytes are skipped as they come */
	put_len(0xffffffffu);
	put(junk, 5000);
	assert_int_equal(vnet_rx_pump(&n), 0);
	assert_int_equal(n.srx.skip, 0xffffffffu - 5000);
	assert_int_equal(n.stats.rx_dropped, 3);
	assert_int_equal(fd_used_idx(&d, RX), 1);
	free(junk);
}

static void test_peer_closes_mid_frame(void **state)
{
	(void)state;
	post_rx(4, 2048);
	put_frame(40, 1);
	put_len(500);
	put("half", 4);
	close(peer);
	peer = -1;
	assert_int_equal(vnet_rx_pump(&n), 1); /* the whole frame before it still arrives */
	assert_true(n.srx.closed);
	assert_int_equal(n.stats.rx_dropped, 1);
	assert_false(n.tap_polled); /* nothing polls a closed stream */
	assert_int_equal(vnet_rx_pump(&n), 0);
	assert_int_equal(fd_used_idx(&d, RX), 1);
	/* transmit into a closed stream: dropped, no SIGPIPE, the chain comes back */
	memset(d.mem + TXDATA, 0, 12);
	fd_post(&d, TX, TXDATA, 12 + 60, 0);
	fd_wr(&d, 0x050, TX);
	assert_int_equal(fd_used_idx(&d, TX), 1);
	assert_int_equal(n.stats.tx_dropped, 1);
	assert_true(n.srx.tx_cut);
}

static void tx_chain(uint32_t len, uint8_t fill, uint8_t hdr_flags, uint8_t gso)
{
	uint16_t head;

	memset(d.mem + TXDATA, 0, 12);
	d.mem[TXDATA] = hdr_flags;
	d.mem[TXDATA + 1] = gso;
	memset(d.mem + TXDATA + 0x100, fill, len);
	head = fd_desc(&d, TX, TXDATA, 12, 1 /* NEXT */, (uint16_t)((d.next_desc[TX] + 1) % QNUM));
	fd_desc(&d, TX, TXDATA + 0x100, len, 0, 0);
	fd_avail(&d, TX, head);
	fd_wr(&d, 0x050, TX);
}

static size_t take(uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = recv(peer, buf + got, len - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void test_transmit(void **state)
{
	uint8_t got[200];

	(void)state;
	tx_chain(60, 0x42, 0, 0);
	assert_int_equal(fd_used_idx(&d, TX), 1);
	assert_int_equal(take(got, 64), 64);
	assert_memory_equal(got, "\0\0\0\x3c", 4); /* 60, big-endian; no virtio_net_hdr */
	assert_int_equal(got[4], 0x42);
	assert_int_equal(got[63], 0x42);
	assert_int_equal(n.stats.tx_frames, 1);
	/* a frame that asks for a checksum or GSO the device never offered: dropped */
	tx_chain(60, 1, 1 /* NEEDS_CSUM */, 0);
	tx_chain(60, 2, 0, 1 /* GSO_TCPV4 */);
	assert_int_equal(fd_used_idx(&d, TX), 3);
	assert_int_equal(n.stats.tx_dropped, 2);
	assert_int_equal(recv(peer, got, sizeof(got), MSG_DONTWAIT), -1);
}

static void *slow_reader(void *arg)
{
	uint8_t *buf = arg;
	size_t got = 0;

	while (got < 4 + 60000) { /* small reads with pauses: the sender sees short writes */
		ssize_t r;

		usleep(2000);
		r = recv(peer, buf + got, 4 + 60000 - got < 4096 ? 4 + 60000 - got : 4096, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return (void *)got;
}

static void test_transmit_short_writes(void **state)
{
	uint8_t *buf = calloc(1, 4 + 60000);
	pthread_t th;
	void *got;

	(void)state;
	setsockopt(n.tap_fd, SOL_SOCKET, SO_SNDBUF, &(int){ 4096 }, sizeof(int));
	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &(int){ 4096 }, sizeof(int));
	assert_int_equal(pthread_create(&th, NULL, slow_reader, buf), 0);
	tx_chain(60000, 0x77, 0, 0);
	pthread_join(th, &got);
	assert_int_equal((size_t)got, 4 + 60000);
	assert_memory_equal(buf, "\0\0\xea\x60", 4);
	assert_int_equal(buf[4 + 59999], 0x77);
	assert_int_equal(n.stats.tx_frames, 1);
	assert_false(n.srx.tx_cut);
	free(buf);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_transmit_stopped_reader(void **state)
{
	double t0;
	unsigned int sent = 0;

	(void)state;
	setsockopt(n.tap_fd, SOL_SOCKET, SO_SNDBUF, &(int){ 4096 }, sizeof(int));
	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &(int){ 4096 }, sizeof(int));
	/* passt reads nothing: the vCPU is held a bounded time, then the link is cut */
	t0 = now_s();
	while (!n.srx.tx_cut && sent < 64 && now_s() - t0 < 30) {
		tx_chain(60000, (uint8_t)sent, 0, 0);
		sent++;
	}
	assert_true(n.srx.tx_cut);
	assert_true(now_s() - t0 < 20);
	assert_int_equal(fd_used_idx(&d, TX), sent); /* every chain came back */
	assert_true(n.stats.tx_dropped >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_offloads_and_socket_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_frame_over_mergeable_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_and_zero_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closes_mid_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit_short_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit_stopped_reader, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
