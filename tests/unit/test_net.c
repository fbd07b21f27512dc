// SPDX-License-Identifier: MIT
/*
 * virtio-net driven by a fake guest driver, with a datagram socket pair in
 * place of the tap (one datagram = one frame with its virtio_net_hdr): frames
 * both ways, frames spread over mergeable buffers, no room, and hostile rings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakedrv.h"
#include "unit.h"
#include "common/macaddr.h"
#include "vmm/virtio/net.h"

#define MEM (1 << 20)
#define QNUM 16
#define RX 0
#define TX 1
#define DATA 0x40000
#define MRG_RXBUF (1ull << 15)

static struct fakedrv d;
static struct virtio_mmio t;
static struct vnet n;
static int peer; /* the host side of the "tap" */

static int start_q(uint64_t features, uint16_t qnum)
{
	int sv[2];
	static const uint8_t mac[6] = { 2, 0, 10, 88, 0, 5 };

	fd_alloc(&d, MEM, qnum);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	peer = sv[1];
	/* room for a few hundred queued frames, as a tap has (sends must not block the test) */
	setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &(int){ 4 << 20 }, sizeof(int));
	virtio_mmio_init(&t, 0xd0001000, 6, -1, &d.gm, &vnet_ops, &n);
	assert_int_equal(vnet_init(&n, &t, sv[0], mac), 0);
	assert_int_equal(fd_start(&d, &t, features | (1ull << 5), 2) & 0x48, 0x08);
	return 0;
}

static int start(uint64_t features)
{
	return start_q(features, QNUM);
}

static int setup_mrg(void **state)
{
	(void)state;
	return start(MRG_RXBUF);
}

static int setup_big_ring(void **state)
{
	(void)state;
	return start_q(MRG_RXBUF, 256);
}

static int setup_event_idx(void **state)
{
	(void)state;
	return start(MRG_RXBUF | (1ull << 29));
}

static int setup_plain(void **state)
{
	(void)state;
	return start(0);
}

static int teardown(void **state)
{
	(void)state;
	vnet_stop(&n);
	close(n.tap_fd);
	close(peer);
	free(d.mem);
	return 0;
}

static void test_config_mac(void **state)
{
	uint8_t mac[6];

	(void)state;
	assert_int_equal(fd_rd(&d, 0x008), 1); /* device id: network */
	for (int i = 0; i < 6; i++)
		virtio_mmio_read(&t, 0x100 + (uint64_t)i, &mac[i], 1);
	assert_memory_equal(mac, ((uint8_t[]){ 2, 0, 10, 88, 0, 5 }), 6);
}

static void test_transmit(void **state)
{
	uint8_t got[256];
	uint16_t head;

	(void)state;
	/* header and frame in two descriptors, as Linux sends them */
	memset(d.mem + DATA, 0, 12);
	memcpy(d.mem + DATA + 0x100, "ethernet frame", 14);
	head = fd_desc(&d, TX, DATA, 12, 1 /* NEXT */, 1);
	fd_desc(&d, TX, DATA + 0x100, 14, 0, 0);
	fd_avail(&d, TX, head);
	fd_wr(&d, 0x050, TX);
	assert_int_equal(fd_used_idx(&d, TX), 1);
	assert_int_equal(recv(peer, got, sizeof(got), MSG_DONTWAIT), 26);
	assert_memory_equal(got + 12, "ethernet frame", 14);
	assert_int_equal(n.stats.tx_frames, 1);

	/* shorter than the header: dropped, but the buffer still comes back */
	fd_post(&d, TX, DATA, 4, 0);
	fd_wr(&d, 0x050, TX);
	assert_int_equal(fd_used_idx(&d, TX), 2);
	assert_int_equal(recv(peer, got, sizeof(got), MSG_DONTWAIT), -1);
	assert_int_equal(n.stats.tx_dropped, 1);
}

/* EVENT_IDX: after draining, the device asks for the next kick through avail_event. */
static void test_transmit_event_idx(void **state)
{
	uint16_t ev;

	test_transmit(state);
	memcpy(&ev, d.mem + fd_qbase(TX) + 0x2000 + 4 + 8 * QNUM, 2);
	assert_int_equal(ev, 2);
	assert_int_equal(d.mem[fd_qbase(TX) + 0x2000], 0); /* no flag games */
}

/* A kick through the transmit eventfd (KVM_IOEVENTFD in arrowh) sends like an MMIO kick. */
static void test_transmit_by_eventfd(void **state)
{
	uint8_t got[64];
	uint64_t one = 1;

	(void)state;
	memset(d.mem + DATA, 0, 12);
	memcpy(d.mem + DATA + 12, "frame by eventfd", 16);
	fd_post(&d, TX, DATA, 28, 0);
	assert_int_equal(write(n.tx_kick_fd, &one, sizeof(one)), 8);
	vnet_tx_kicked(&n);
	assert_int_equal(fd_used_idx(&d, TX), 1);
	assert_int_equal(recv(peer, got, sizeof(got), MSG_DONTWAIT), 28);
	assert_memory_equal(got + 12, "frame by eventfd", 16);
	/* a spurious wake-up with nothing queued does nothing */
	vnet_tx_kicked(&n);
	assert_int_equal(fd_used_idx(&d, TX), 1);
}

static void send_frame(size_t len, uint8_t fill)
{
	uint8_t *f = calloc(1, len);

	memset(f + 12, fill, len - 12);
	assert_int_equal(send(peer, f, len, MSG_DONTWAIT), (ssize_t)len);
	free(f);
}

static void test_receive_mergeable(void **state)
{
	uint32_t id, len;
	uint16_t nbuf;

	(void)state;
	for (unsigned int i = 0; i < 4; i++)
		fd_post(&d, RX, DATA + 0x1000 * i, 2048, 2 /* WRITE */);
	send_frame(12 + 3000, 0xab);
	assert_int_equal(vnet_rx_pump(&n), 1);
	assert_int_equal(fd_used_idx(&d, RX), 2);
	fd_used(&d, RX, 0, &id, &len);
	assert_int_equal(len, 2048);
	fd_used(&d, RX, 1, &id, &len);
	assert_int_equal(len, 12 + 3000 - 2048);
	memcpy(&nbuf, d.mem + DATA + 10, 2);
	assert_int_equal(nbuf, 2);
	assert_int_equal(d.mem[DATA + 12], 0xab);
	assert_int_equal(d.mem[DATA + 0x1000 + 12 + 3000 - 2048 - 1], 0xab);
	assert_int_equal(n.stats.rx_frames, 1);
}

static void test_receive_waits_for_room(void **state)
{
	(void)state;
	send_frame(12 + 1500, 1);
	send_frame(12 + 1500, 2);
	/* no buffers: the frame waits, nothing is lost, the device asks for a kick */
	assert_int_equal(vnet_rx_pump(&n), 0);
	assert_int_equal(n.pending_len, 12 + 1500);
	assert_int_equal(fd_used_idx(&d, RX), 0);
	fd_post(&d, RX, DATA, 2048, 2);
	fd_wr(&d, 0x050, RX);
	assert_int_equal(vnet_rx_pump(&n), 1);
	assert_int_equal(d.mem[DATA + 12], 1);
	fd_post(&d, RX, DATA + 0x1000, 2048, 2);
	assert_int_equal(vnet_rx_pump(&n), 1);
	assert_int_equal(d.mem[DATA + 0x1000 + 12], 2);
	assert_int_equal(n.stats.rx_dropped, 0);
}

static void test_resumed_receive_keeps_polling_past_its_budget(void **state)
{
	(void)state;
	/* more frames than one pump moves, arriving while the guest has no buffers */
	for (int i = 0; i < 300; i++)
		send_frame(12 + 100, (uint8_t)i);
	assert_int_equal(vnet_rx_pump(&n), 0);
	assert_false(n.tap_polled); /* waiting for a kick */
	for (unsigned int i = 0; i < 256; i++)
		fd_post(&d, RX, DATA + 256 * i, 256, 2);
	fd_wr(&d, 0x050, RX);
	assert_int_equal(vnet_rx_pump(&n), 256);
	/* frames are left: the tap must be watched again, else nothing ever wakes the pump */
	assert_true(n.tap_polled);
}

static void test_receive_without_mergeable(void **state)
{
	(void)state;
	/* one buffer per frame: a frame that does not fit is dropped, the buffer kept */
	fd_post(&d, RX, DATA, 1024, 2);
	send_frame(12 + 1500, 1);
	send_frame(12 + 500, 2);
	assert_int_equal(vnet_rx_pump(&n), 1);
	assert_int_equal(n.stats.rx_dropped, 1);
	assert_int_equal(fd_used_idx(&d, RX), 1);
	assert_int_equal(d.mem[DATA + 12], 2);
}

static void test_hostile_receive_buffer(void **state)
{
	(void)state;
	/* a device-readable "receive" buffer: the device stops, arrowh does not */
	fd_post(&d, RX, DATA, 2048, 0);
	send_frame(12 + 100, 1);
	vnet_rx_pump(&n);
	assert_int_equal(fd_used_idx(&d, RX), 0);
	assert_true(fd_rd(&d, 0x070) & 64); /* NEEDS_RESET */
}

static void test_hostile_chain_outside_memory(void **state)
{
	(void)state;
	fd_post(&d, TX, MEM - 8, 4096, 0);
	fd_wr(&d, 0x050, TX);
	assert_int_equal(fd_used_idx(&d, TX), 0);
	assert_true(fd_rd(&d, 0x070) & 64);
}

static void test_tiny_buffers_drop_big_frame(void **state)
{
	(void)state;
	/* more buffers than a frame may span: dropped, and the buffers stay posted */
	for (unsigned int i = 0; i < QNUM; i++)
		fd_post(&d, RX, DATA + 64 * i, 64, 2);
	send_frame(12 + 4000, 1);
	send_frame(12 + 20, 2);
	assert_int_equal(vnet_rx_pump(&n), 1);
	assert_int_equal(fd_used_idx(&d, RX), 1);
	assert_int_equal(d.mem[DATA + 12], 2);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_mac, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_transmit, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_receive_mergeable, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_receive_waits_for_room, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_resumed_receive_keeps_polling_past_its_budget,
						setup_big_ring, teardown),
		cmocka_unit_test_setup_teardown(test_receive_without_mergeable, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_transmit_event_idx, setup_event_idx, teardown),
		cmocka_unit_test_setup_teardown(test_transmit_by_eventfd, setup_event_idx, teardown),
		cmocka_unit_test_setup_teardown(test_receive_mergeable, setup_event_idx, teardown),
		cmocka_unit_test_setup_teardown(test_receive_waits_for_room, setup_event_idx,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile_receive_buffer, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_chain_outside_memory, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tiny_buffers_drop_big_frame, setup_mrg, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
