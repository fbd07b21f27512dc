// SPDX-License-Identifier: MIT
/*
 * virtio-mmio + virtio-console driven through the register file by a fake guest
 * driver: the multiport handshake, data to a port's sink, and a hostile driver.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "vmm/virtio/console.h"

#define MEM (1 << 20)
#define QNUM 8
#define NQ 6 /* port 0, control, port 1 */

static uint8_t *mem;
static struct guest_mem gm;
static struct virtio_mmio t;
static struct vconsole con;
static char sunk[256];
static size_t sunk_len;

static void sink(void *opaque, const struct iovec *iov, unsigned int n, size_t len)
{
	(void)opaque;
	(void)len;
	sunk_len += iov_to_buf(iov, n, sunk + sunk_len, sizeof(sunk) - sunk_len);
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_write(&t, off, &v, 4);
}

static uint32_t rd(uint64_t off)
{
	uint32_t v;

	virtio_mmio_read(&t, off, &v, 4);
	return v;
}

/* Queue q lives at 0x10000 * (q + 1): descriptors, then avail at +0x1000, used at +0x2000. */
static uint64_t qbase(unsigned int q)
{
	return 0x10000ull * (q + 1);
}

static void post(unsigned int q, uint16_t slot, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint8_t *d = mem + qbase(q) + 16 * slot;
	uint16_t idx;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memset(d + 14, 0, 2);
	memcpy(&idx, mem + qbase(q) + 0x1000 + 2, 2);
	memcpy(mem + qbase(q) + 0x1000 + 4 + 2 * (idx % QNUM), &slot, 2);
	idx++;
	memcpy(mem + qbase(q) + 0x1000 + 2, &idx, 2);
}

static uint16_t used_idx(unsigned int q)
{
	uint16_t v;

	memcpy(&v, mem + qbase(q) + 0x2000 + 2, 2);
	return v;
}

static int setup(void **state)
{
	(void)state;
	mem = calloc(1, MEM);
	gm_layout(&gm, mem, MEM);
	virtio_mmio_init(&t, 0xd0000000, 5, -1, &gm, &vconsole_ops, &con);
	vconsole_init(&con, &t, -1);
	vconsole_add_port(&con, "console", true, NULL, NULL);
	vconsole_add_port(&con, "arrow.test", false, sink, NULL);
	sunk_len = 0;

	assert_int_equal(rd(0x000), 0x74726976);
	assert_int_equal(rd(0x004), 2);
	assert_int_equal(rd(0x008), 3);
	wr(0x070, 1 | 2);
	wr(0x014, 0);
	assert_true(rd(0x010) & 2); /* MULTIPORT */
	assert_true(rd(0x010) & 1); /* SIZE: without it Linux ignores RESIZE */
	wr(0x024, 0);
	wr(0x020, 2);
	wr(0x024, 1);
	wr(0x020, 1); /* VERSION_1 */
	wr(0x070, 1 | 2 | 8);
	assert_true(rd(0x070) & 8);
	for (unsigned int q = 0; q < NQ; q++) {
		wr(0x030, q);
		assert_int_equal(rd(0x034), 32);
		wr(0x038, QNUM);
		wr(0x080, (uint32_t)qbase(q));
		wr(0x090, (uint32_t)qbase(q) + 0x1000);
		wr(0x0a0, (uint32_t)qbase(q) + 0x2000);
		wr(0x044, 1);
		assert_int_equal(rd(0x044), 1);
	}
	wr(0x070, 1 | 2 | 8 | 4);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(mem);
	return 0;
}

static void test_handshake_and_data(void **state)
{
	struct { uint32_t id; uint16_t event, value; } msg = { 0xffffffff, 0, 1 }, got;
	uint8_t *ctl_out = mem + 0x80000, *ctl_in = mem + 0x90000;

	(void)state;
	/* receive buffers for control messages */
	for (uint16_t i = 0; i < QNUM; i++)
		post(2, i, 0x90000 + 64 * i, 64, 2 /* WRITE */);
	wr(0x050, 2);
	/* DEVICE_READY */
	memcpy(ctl_out, &msg, sizeof(msg));
	post(3, 0, 0x80000, sizeof(msg), 0);
	wr(0x050, 3);
	assert_int_equal(used_idx(3), 1);
	assert_int_equal(used_idx(2), 2); /* PORT_ADD for ports 0 and 1 */
	memcpy(&got, ctl_in, sizeof(got));
	assert_int_equal(got.event, 1);
	assert_int_equal(got.id, 0);

	/* PORT_READY for port 1: the host names it and opens it */
	msg = (typeof(msg)){ 1, 3, 1 };
	memcpy(ctl_out + 64, &msg, sizeof(msg));
	post(3, 1, 0x80000 + 64, sizeof(msg), 0);
	wr(0x050, 3);
	assert_int_equal(used_idx(2), 4);
	memcpy(&got, ctl_in + 2 * 64, sizeof(got));
	assert_int_equal(got.event, 7); /* PORT_NAME */
	assert_memory_equal(ctl_in + 2 * 64 + 8, "arrow.test", 10);
	memcpy(&got, ctl_in + 3 * 64, sizeof(got));
	assert_int_equal(got.event, 6); /* PORT_OPEN */
	assert_int_equal(got.value, 1);

	/* data on port 1's transmit queue (index 5) reaches its sink */
	memcpy(mem + 0xa0000, "hello ", 6);
	memcpy(mem + 0xa0100, "world", 5);
	post(5, 0, 0xa0000, 6, 1 /* NEXT */);
	{
		uint16_t next = 1;

		memcpy(mem + qbase(5) + 14, &next, 2);
		memcpy(mem + qbase(5) + 16, &(uint64_t){ 0xa0100 }, 8);
		memcpy(mem + qbase(5) + 24, &(uint32_t){ 5 }, 4);
		memset(mem + qbase(5) + 28, 0, 4);
	}
	wr(0x050, 5);
	assert_int_equal(sunk_len, 11);
	assert_memory_equal(sunk, "hello world", 11);
	assert_false(rd(0x070) & 64);

	/* Input queued before the guest opens the port, then end of input: the guest must get
	 * the bytes first and the close (PORT_OPEN 0) only after them. */
	assert_int_equal(vconsole_port_send(&con, 1, "abc", 3), 0);
	vconsole_port_set_host_connected(&con, 1, false);
	assert_int_equal(used_idx(2), 4); /* no close yet: bytes are pending */
	post(4, 0, 0xb0000, 64, 2 /* WRITE */);
	msg = (typeof(msg)){ 1, 6, 1 }; /* the guest opens port 1 */
	memcpy(ctl_out + 128, &msg, sizeof(msg));
	post(3, 2, 0x80000 + 128, sizeof(msg), 0);
	wr(0x050, 3);
	assert_int_equal(used_idx(4), 1);
	assert_memory_equal(mem + 0xb0000, "abc", 3);
	assert_int_equal(used_idx(2), 5);
	memcpy(&got, ctl_in + 4 * 64, sizeof(got));
	assert_int_equal(got.event, 6); /* PORT_OPEN 0: end of input, after the data */
	assert_int_equal(got.value, 0);
	assert_int_equal(got.id, 1);
}

static void test_hostile_chain_stops_only_the_device(void **state)
{
	(void)state;
	/* a descriptor that points at itself */
	post(5, 3, 0xa0000, 16, 1 /* NEXT */);
	memcpy(mem + qbase(5) + 16 * 3 + 14, &(uint16_t){ 3 }, 2);
	wr(0x050, 5);
	assert_true(rd(0x070) & 64); /* DEVICE_NEEDS_RESET */
	assert_true(rd(0x060) & 2);  /* config-change interrupt raised */
	assert_int_equal(sunk_len, 0);
	/* further kicks are ignored, no crash, no output */
	post(5, 4, 0xa0000, 16, 0);
	wr(0x050, 5);
	assert_int_equal(sunk_len, 0);
	/* a reset brings the device back */
	wr(0x070, 0);
	assert_int_equal(rd(0x070), 0);
}

static void test_hostile_registers(void **state)
{
	uint8_t b = 0xff;
	uint64_t v8;

	(void)state;
	/* odd sizes and unknown offsets are ignored */
	virtio_mmio_write(&t, 0x070, &b, 1);
	assert_int_equal(rd(0x070), 1 | 2 | 8 | 4);
	assert_int_equal(rd(0x0fe), 0);
	assert_int_equal(rd(0xff8), 0);
	virtio_mmio_read(&t, 0x100, &v8, 8);
	/* queue selectors out of range */
	wr(0x030, 999);
	assert_int_equal(rd(0x034), 0);
	wr(0x044, 1);
	wr(0x050, 999);
	wr(0x050, 0xffffffff);
	/* a live queue's layout cannot change */
	wr(0x030, 5);
	wr(0x080, 0xdead0000);
	wr(0x030, 5);
	assert_int_equal(t.s.queues[5].desc_gpa, qbase(5));
}

static void test_rings_outside_memory_refused(void **state)
{
	(void)state;
	wr(0x070, 0);
	wr(0x070, 1 | 2);
	wr(0x030, 1);
	wr(0x038, QNUM);
	wr(0x080, 0xfffff000);
	wr(0x084, 0x7);
	wr(0x044, 1);
	assert_int_equal(rd(0x044), 0);
	assert_true(rd(0x070) & 64);
}

static void test_features_without_version_1_refused(void **state)
{
	(void)state;
	wr(0x070, 0);
	wr(0x070, 1 | 2);
	wr(0x024, 0);
	wr(0x020, 2);
	wr(0x024, 1);
	wr(0x020, 0);
	wr(0x070, 1 | 2 | 8);
	assert_false(rd(0x070) & 8);
	/* features the device never offered */
	wr(0x024, 1);
	wr(0x020, 1 | (1u << 20));
	wr(0x070, 1 | 2 | 8);
	assert_false(rd(0x070) & 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_and_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_chain_stops_only_the_device, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rings_outside_memory_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features_without_version_1_refused, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
