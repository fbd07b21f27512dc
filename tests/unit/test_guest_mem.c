// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "unit.h"
#include "vmm/guest_mem.h"

static void test_bounds(void **state)
{
	struct guest_mem gm;
	uint8_t *buf = calloc(1, 1 << 20);

	(void)state;
	gm_layout(&gm, buf, 1 << 20);
	assert_ptr_equal(gm_ptr(&gm, 0, 16), buf);
	assert_ptr_equal(gm_ptr(&gm, (1 << 20) - 16, 16), buf + (1 << 20) - 16);
	assert_null(gm_ptr(&gm, (1 << 20) - 15, 16)); /* runs past the end */
	assert_null(gm_ptr(&gm, 1 << 20, 1));
	assert_null(gm_ptr(&gm, UINT64_MAX - 4, 8)); /* wraps around */
	assert_null(gm_ptr(&gm, 8, UINT64_MAX));      /* huge length */
	assert_int_equal(gm_low_end(&gm), 1 << 20);
	free(buf);
}

static void test_high_region(void **state)
{
	struct guest_mem gm;
	uint64_t size = GM_LOW_LIMIT + 0x200000;
	/* Not touched: only the layout arithmetic is checked. */
	uint8_t *fake = (uint8_t *)0x100000000000ull;

	(void)state;
	gm_layout(&gm, fake, size);
	assert_int_equal(gm.nr_regions, 2);
	assert_int_equal(gm_low_end(&gm), GM_LOW_LIMIT);
	assert_ptr_equal(gm_ptr(&gm, GM_HIGH_BASE, 4096), fake + GM_LOW_LIMIT);
	assert_null(gm_ptr(&gm, GM_LOW_LIMIT, 1)); /* the MMIO hole */
	assert_null(gm_ptr(&gm, GM_LOW_LIMIT - 8, 16)); /* crosses into the hole */
	assert_null(gm_ptr(&gm, GM_HIGH_BASE + 0x200000, 1));
}

static void test_copy(void **state)
{
	struct guest_mem gm;
	uint8_t buf[4096] = { 0 }, out[4];

	(void)state;
	gm_layout(&gm, buf, sizeof(buf));
	assert_int_equal(gm_write(&gm, 100, "abcd", 4), 0);
	assert_int_equal(gm_read(&gm, out, 100, 4), 0);
	assert_memory_equal(out, "abcd", 4);
	assert_int_equal(gm_write(&gm, 4094, "abcd", 4), -EFAULT);
	assert_int_equal(gm_read(&gm, out, 4093, 4), -EFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_high_region),
		cmocka_unit_test(test_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
