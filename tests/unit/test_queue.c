// SPDX-License-Identifier: MIT
/* Virtqueue handling against well-formed and hostile rings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "vmm/virtio/queue.h"

#define MEM (64 * 1024)
#define QNUM 8
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define DATA 0x4000

struct fixture {
	uint8_t *mem;
	struct guest_mem gm;
	struct virtq q;
};

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->mem = calloc(1, MEM);
	gm_layout(&f->gm, f->mem, MEM);
	f->q = (struct virtq){ .num = QNUM, .ready = 1, .desc_gpa = DESC, .avail_gpa = AVAIL,
			       .used_gpa = USED };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->mem);
	free(f);
	return 0;
}

static void set_desc(struct fixture *f, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct desc d = { addr, len, flags, next };

	memcpy(f->mem + DESC + 16 * i, &d, sizeof(d));
}

static void make_avail(struct fixture *f, uint16_t head)
{
	uint16_t idx;

	memcpy(&idx, f->mem + AVAIL + 2, 2);
	memcpy(f->mem + AVAIL + 4 + 2 * (idx % QNUM), &head, 2);
	idx++;
	memcpy(f->mem + AVAIL + 2, &idx, 2);
}

static void test_layout(void **state)
{
	struct fixture *f = *state;
	struct virtq bad = f->q;

	assert_int_equal(virtq_validate_layout(&f->q, &f->gm), 0);
	bad.num = 3;
	assert_int_equal(virtq_validate_layout(&bad, &f->gm), -EINVAL);
	bad = f->q;
	bad.num = 512;
	assert_int_equal(virtq_validate_layout(&bad, &f->gm), -EINVAL);
	bad = f->q;
	bad.desc_gpa = MEM - 16;
	assert_int_equal(virtq_validate_layout(&bad, &f->gm), -EINVAL);
	bad = f->q;
	bad.used_gpa = USED + 2;
	assert_int_equal(virtq_validate_layout(&bad, &f->gm), -EINVAL);
}

static void test_chain(void **state)
{
	struct fixture *f = *state;
	struct virtq_elem e;
	uint16_t used_idx;
	uint32_t used[2];

	set_desc(f, 0, DATA, 100, VIRTQ_DESC_F_NEXT, 3);
	set_desc(f, 3, DATA + 100, 50, VIRTQ_DESC_F_NEXT, 5);
	set_desc(f, 5, DATA + 200, 200, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_true(virtq_has_avail(&f->q, &f->gm));
	assert_int_equal(virtq_pop(&f->q, &f->gm, &e), 1);
	assert_int_equal(e.head, 0);
	assert_int_equal(e.nr_out, 2);
	assert_int_equal(e.nr_in, 1);
	assert_int_equal(e.out_len, 150);
	assert_int_equal(e.in_len, 200);
	assert_ptr_equal(e.iov[2].iov_base, f->mem + DATA + 200);
	assert_int_equal(virtq_pop(&f->q, &f->gm, &e), 0);
	assert_false(virtq_has_avail(&f->q, &f->gm));

	assert_int_equal(virtq_push(&f->q, &f->gm, 0, 42), 0);
	memcpy(&used_idx, f->mem + USED + 2, 2);
	memcpy(used, f->mem + USED + 4, 8);
	assert_int_equal(used_idx, 1);
	assert_int_equal(used[0], 0);
	assert_int_equal(used[1], 42);
}

static void expect_broken(struct fixture *f)
{
	struct virtq_elem e;

	assert_int_equal(virtq_pop(&f->q, &f->gm, &e), -EINVAL);
	assert_true(f->q.broken);
	/* A broken queue stays stopped. */
	assert_int_equal(virtq_pop(&f->q, &f->gm, &e), 0);
}

static void test_loop(void **state)
{
	struct fixture *f = *state;

	set_desc(f, 1, DATA, 10, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, 2, DATA, 10, VIRTQ_DESC_F_NEXT, 1);
	make_avail(f, 1);
	expect_broken(f);
}

static void test_head_out_of_range(void **state)
{
	struct fixture *f = *state;

	make_avail(f, QNUM);
	expect_broken(f);
}

static void test_next_out_of_range(void **state)
{
	struct fixture *f = *state;

	set_desc(f, 0, DATA, 10, VIRTQ_DESC_F_NEXT, 0xffff);
	make_avail(f, 0);
	expect_broken(f);
}

static void test_addr_outside_memory(void **state)
{
	struct fixture *f = *state;

	set_desc(f, 0, MEM - 8, 16, 0, 0);
	make_avail(f, 0);
	expect_broken(f);
}

static void test_addr_wraps(void **state)
{
	struct fixture *f = *state;

	set_desc(f, 0, UINT64_MAX - 8, 0x100, 0, 0);
	make_avail(f, 0);
	expect_broken(f);
}

static void test_readable_after_writable(void **state)
{
	struct fixture *f = *state;

	set_desc(f, 0, DATA, 10, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, DATA, 10, 0, 0);
	make_avail(f, 0);
	expect_broken(f);
}

static void test_indirect_refused(void **state)
{
	struct fixture *f = *state;

	set_desc(f, 0, DATA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	expect_broken(f);
}

static void test_avail_idx_jump(void **state)
{
	struct fixture *f = *state;
	uint16_t idx = QNUM + 1;

	memcpy(f->mem + AVAIL + 2, &idx, 2);
	expect_broken(f);
}

static void test_not_ready(void **state)
{
	struct fixture *f = *state;
	struct virtq_elem e;

	f->q.ready = 0;
	set_desc(f, 0, DATA, 10, 0, 0);
	make_avail(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->gm, &e), 0);
}

static uint16_t rd16(struct fixture *f, uint64_t off)
{
	uint16_t v;

	memcpy(&v, f->mem + off, 2);
	return v;
}

static void wr16(struct fixture *f, uint64_t off, uint16_t v)
{
	memcpy(f->mem + off, &v, 2);
}

/* Without EVENT_IDX: the driver's NO_INTERRUPT flag decides; the device's flag asks for kicks. */
static void test_notify_flags(void **state)
{
	struct fixture *f = *state;

	assert_true(virtq_should_notify(&f->q, &f->gm, false));
	wr16(f, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(virtq_should_notify(&f->q, &f->gm, false));
	virtq_set_notify(&f->q, &f->gm, false, false);
	assert_int_equal(rd16(f, USED), VIRTQ_USED_F_NO_NOTIFY);
	virtq_set_notify(&f->q, &f->gm, true, false);
	assert_int_equal(rd16(f, USED), 0);
}

/* With EVENT_IDX: interrupt only when used_event lies in (last signalled, new]. */
static void test_event_idx_interrupts(void **state)
{
	struct fixture *f = *state;
	uint64_t used_event = AVAIL + 4 + 2 * QNUM;

	wr16(f, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT); /* ignored with EVENT_IDX */
	virtq_push(&f->q, &f->gm, 0, 1);
	assert_true(virtq_should_notify(&f->q, &f->gm, true)); /* the first decision always */
	wr16(f, used_event, 3); /* the driver wants to hear when entry 3 is used */
	virtq_push(&f->q, &f->gm, 0, 1); /* used 2: entries 1 */
	assert_false(virtq_should_notify(&f->q, &f->gm, true));
	virtq_push(&f->q, &f->gm, 0, 1);
	virtq_push(&f->q, &f->gm, 0, 1); /* used 4: entry 3 is in (2, 4] */
	assert_true(virtq_should_notify(&f->q, &f->gm, true));
	virtq_push(&f->q, &f->gm, 0, 1);
	assert_false(virtq_should_notify(&f->q, &f->gm, true)); /* already told */
	/* across the 16-bit wrap */
	f->q.used_idx = 0xfffe;
	f->q.signalled_used = 0xfffe;
	wr16(f, used_event, 0xffff);
	virtq_push(&f->q, &f->gm, 0, 1);
	virtq_push(&f->q, &f->gm, 0, 1); /* used 0x0000 */
	assert_true(virtq_should_notify(&f->q, &f->gm, true));
	/* a restore forgets what was signalled: interrupt at the next decision */
	f->q.signalled_valid = 0;
	assert_true(virtq_should_notify(&f->q, &f->gm, true));
}

/* With EVENT_IDX the device asks for kicks by writing avail_event; disabling leaves it. */
static void test_event_idx_kicks(void **state)
{
	struct fixture *f = *state;
	struct virtq_elem e;
	uint64_t avail_event = USED + 4 + 8 * QNUM;

	set_desc(f, 0, DATA, 10, 0, 0);
	make_avail(f, 0);
	make_avail(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->gm, &e), 1);
	virtq_set_notify(&f->q, &f->gm, true, true);
	assert_int_equal(rd16(f, avail_event), 1);
	assert_int_equal(rd16(f, USED), 0); /* the flag is not used */
	assert_int_equal(virtq_pop(&f->q, &f->gm, &e), 1);
	virtq_set_notify(&f->q, &f->gm, false, true);
	assert_int_equal(rd16(f, avail_event), 1);
	virtq_set_notify(&f->q, &f->gm, true, true);
	assert_int_equal(rd16(f, avail_event), 2);
}

/* The stall report: with EVENT_IDX it shows the indices that decide interrupts and kicks. */
static void test_report(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	wr16(f, AVAIL + 2, 5);			/* avail 5 */
	wr16(f, AVAIL + 4 + 2 * QNUM, 2);	/* used_event 2 */
	wr16(f, USED + 4 + 8 * QNUM, 4);	/* avail_event 4 */
	f->q.last_avail = 4;
	f->q.used_idx = 3;
	f->q.signalled_used = 3;
	f->q.signalled_valid = 1;
	out = open_memstream(&text, &len);
	assert_non_null(out);
	virtq_report(&f->q, &f->gm, 1, true, out);
	fclose(out);
	assert_non_null(strstr(text, "queue 1: size 8, avail 5, consumed 4, used 3\n"));
	assert_non_null(strstr(text, "used_event 2 (used is 1 past it), avail_event 4, "
				     "interrupts decided up to used 3\n"));
	free(text);
	/* without EVENT_IDX the flags speak, and no event-index line */
	wr16(f, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	virtq_report(&f->q, &f->gm, 0, false, out);
	fclose(out);
	assert_non_null(strstr(text, ", no interrupts wanted\n"));
	assert_null(strstr(text, "used_event"));
	free(text);
}

static void test_iov_copy(void **state)
{
	char a[3], b[5], out[8];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };

	(void)state;
	assert_int_equal(iov_from_buf(iov, 2, "abcdefgh", 8), 8);
	assert_memory_equal(a, "abc", 3);
	assert_memory_equal(b, "defgh", 5);
	assert_int_equal(iov_to_buf(iov, 2, out, 6), 6);
	assert_memory_equal(out, "abcdef", 6);
	assert_int_equal(iov_from_buf(iov, 2, "xy", 2), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addr_outside_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addr_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_idx_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_interrupts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_kicks, setup, teardown),
		cmocka_unit_test(test_iov_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
