// SPDX-License-Identifier: MIT
/* Parsing a KVM binary stats blob (KVM_GET_STATS_FD): well-formed, and every way it can lie. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "unit.h"
#include "vmm/kvmstats.h"

#define NAME_SIZE 48
#define DESC_SIZE (16 + NAME_SIZE)
#define MAX_DESCS 16

struct fake_desc {
	const char *name;
	uint32_t flags;
	uint16_t size;
	uint32_t offset; /* in the data block */
};

/* A blob as the kernel lays it out: header, id, descriptors, data. Returns its length. */
static size_t make_blob(uint8_t *blob, size_t cap, const struct fake_desc *d, unsigned int n,
			const uint64_t *data, unsigned int nr_data)
{
	struct kvm_stats_header h = {
		.name_size = NAME_SIZE,
		.num_desc = n,
		.id_offset = sizeof(h),
		.desc_offset = sizeof(h) + NAME_SIZE,
	};
	size_t len;

	h.data_offset = h.desc_offset + n * DESC_SIZE;
	len = h.data_offset + nr_data * sizeof(uint64_t);
	assert_true(len <= cap);
	memset(blob, 0, len);
	memcpy(blob, &h, sizeof(h));
	strcpy((char *)blob + h.id_offset, "kvm-1234/vcpu-0");
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *p = blob + h.desc_offset + i * DESC_SIZE;
		struct kvm_stats_desc k = { .flags = d[i].flags, .size = d[i].size,
					    .offset = d[i].offset };

		memcpy(p, &k, 16);
		strncpy((char *)p + 16, d[i].name, NAME_SIZE);
	}
	memcpy(blob + h.data_offset, data, nr_data * sizeof(uint64_t));
	return len;
}

static const struct fake_desc x86_like[] = {
	{ "halt_successful_poll", KVM_STATS_TYPE_CUMULATIVE, 1, 0 },
	{ "halt_poll_success_hist", KVM_STATS_TYPE_LOG_HIST, 4, 8 },
	{ "exits", KVM_STATS_TYPE_CUMULATIVE, 1, 40 },
	{ "io_exits", KVM_STATS_TYPE_CUMULATIVE, 1, 48 },
	{ "mmio_exits", KVM_STATS_TYPE_CUMULATIVE, 1, 56 },
	{ "guest_mode", KVM_STATS_TYPE_INSTANT, 1, 64 },
	{ "halt_exits", KVM_STATS_TYPE_CUMULATIVE, 1, 72 },
	{ "hypercalls", KVM_STATS_TYPE_CUMULATIVE, 1, 80 },
};
#define X86_LIKE_N (sizeof(x86_like) / sizeof(x86_like[0]))
static const uint64_t x86_data[11] = { 1, 2, 3, 4, 5, 1000, 300, 200, 1, 250, 7 };

static void test_kvmstats_parse_good(void **state)
{
	uint8_t blob[4096];
	size_t len = make_blob(blob, sizeof(blob), x86_like, X86_LIKE_N, x86_data, 11);
	struct kvm_stats_header h;
	struct kvmstats_layout lay;
	uint64_t v[KVMSTATS_NR];

	(void)state;
	memcpy(&h, blob, sizeof(h));
	assert_int_equal(kvmstats_parse(blob, len, &lay), 0);
	/* one read from "exits" (offset 40) to the end of "hypercalls" (88) */
	assert_int_equal(lay.read_offset, h.data_offset + 40);
	assert_int_equal(lay.read_size, 48);
	assert_int_equal(lay.at[KVMSTATS_EXITS], 0);
	assert_int_equal(lay.at[KVMSTATS_HYPERCALLS], 40);
	assert_int_equal(lay.at[KVMSTATS_IRQ_EXITS], -1); /* not offered */
	kvmstats_extract(&lay, blob + lay.read_offset, v);
	assert_int_equal(v[KVMSTATS_EXITS], 1000);
	assert_int_equal(v[KVMSTATS_IO_EXITS], 300);
	assert_int_equal(v[KVMSTATS_MMIO_EXITS], 200);
	assert_int_equal(v[KVMSTATS_HALT_EXITS], 250);
	assert_int_equal(v[KVMSTATS_HYPERCALLS], 7);
	assert_int_equal(v[KVMSTATS_IRQ_EXITS], 0);
	/* only the descriptors are needed: a blob cut right after them parses the same */
	assert_int_equal(kvmstats_parse(blob, h.data_offset, &lay), 0);
}

/* Patch one header field of a good blob and expect the parse to refuse it. */
static void expect_header_refused(size_t field_offset, uint32_t value)
{
	uint8_t blob[4096];
	size_t len = make_blob(blob, sizeof(blob), x86_like, X86_LIKE_N, x86_data, 11);
	struct kvmstats_layout lay;

	memcpy(blob + field_offset, &value, sizeof(value));
	assert_int_equal(kvmstats_parse(blob, len, &lay), -EINVAL);
}

static void test_kvmstats_parse_bad_header(void **state)
{
	uint8_t blob[4096];
	size_t len = make_blob(blob, sizeof(blob), x86_like, X86_LIKE_N, x86_data, 11);
	struct kvmstats_layout lay;

	(void)state;
	/* shorter than a header, and descriptors cut off */
	assert_int_equal(kvmstats_parse(blob, 0, &lay), -EINVAL);
	assert_int_equal(kvmstats_parse(blob, sizeof(struct kvm_stats_header) - 1, &lay), -EINVAL);
	assert_int_equal(kvmstats_parse(blob, sizeof(struct kvm_stats_header) + NAME_SIZE + 10, &lay),
			 -EINVAL);
	assert_true(len > 0);
	expect_header_refused(offsetof(struct kvm_stats_header, name_size), 0);
	expect_header_refused(offsetof(struct kvm_stats_header, name_size), 0xffffffffu);
	expect_header_refused(offsetof(struct kvm_stats_header, name_size), NAME_SIZE + 1000);
	expect_header_refused(offsetof(struct kvm_stats_header, num_desc), 0xffffffffu);
	expect_header_refused(offsetof(struct kvm_stats_header, num_desc), X86_LIKE_N + 60);
	expect_header_refused(offsetof(struct kvm_stats_header, desc_offset), 0xfffffff0u);
	expect_header_refused(offsetof(struct kvm_stats_header, desc_offset), 4); /* in the header */
	expect_header_refused(offsetof(struct kvm_stats_header, data_offset), 0);
	expect_header_refused(offsetof(struct kvm_stats_header, data_offset), 0x7ffffff0u);
}

static void expect_descs(const struct fake_desc *d, unsigned int n, int want)
{
	uint8_t blob[4096];
	uint64_t data[16] = { 0 };
	size_t len = make_blob(blob, sizeof(blob), d, n, data, 16);
	struct kvmstats_layout lay;

	assert_int_equal(kvmstats_parse(blob, len, &lay), want);
}

static void test_kvmstats_parse_bad_descs(void **state)
{
	(void)state;
	/* none of ours */
	expect_descs((struct fake_desc[]){ { "pf_fixed", 0, 1, 0 } }, 1, -ENOENT);
	expect_descs(NULL, 0, -ENOENT);
	/* ours, but not a single cumulative u64, or misaligned */
	expect_descs((struct fake_desc[]){ { "exits", KVM_STATS_TYPE_PEAK, 1, 0 } }, 1, -EINVAL);
	expect_descs((struct fake_desc[]){ { "exits", 0, 2, 0 } }, 1, -EINVAL);
	expect_descs((struct fake_desc[]){ { "exits", 0, 0, 0 } }, 1, -EINVAL);
	expect_descs((struct fake_desc[]){ { "exits", 0, 1, 3 } }, 1, -EINVAL);
	/* the same counter twice */
	expect_descs((struct fake_desc[]){ { "exits", 0, 1, 0 }, { "exits", 0, 1, 8 } }, 2, -EINVAL);
	/* an empty name */
	expect_descs((struct fake_desc[]){ { "", 0, 1, 0 }, { "exits", 0, 1, 8 } }, 2, -EINVAL);
	/* counters so far apart that one sample would be too big */
	expect_descs((struct fake_desc[]){ { "exits", 0, 1, 0 },
					   { "io_exits", 0, 1, KVMSTATS_READ_MAX } }, 2, -E2BIG);
	/* an offset that would put the sample beyond any sane file offset */
	expect_descs((struct fake_desc[]){ { "exits", 0, 1, 0xfffffff8u } }, 1, -EINVAL);
}

static void test_kvmstats_parse_unterminated_name(void **state)
{
	uint8_t blob[4096];
	uint64_t data[4] = { 0 };
	size_t len = make_blob(blob, sizeof(blob), (struct fake_desc[]){ { "exits", 0, 1, 0 } }, 1,
			       data, 4);
	struct kvm_stats_header h;
	struct kvmstats_layout lay;

	(void)state;
	memcpy(&h, blob, sizeof(h));
	memset(blob + h.desc_offset + 16, 'x', NAME_SIZE); /* no NUL within name_size */
	assert_int_equal(kvmstats_parse(blob, len, &lay), -EINVAL);
	/* and a NUL only just inside is fine: "exits" followed by padding */
	len = make_blob(blob, sizeof(blob), (struct fake_desc[]){ { "exits", 0, 1, 0 } }, 1, data, 4);
	memset(blob + h.desc_offset + 16 + 6, 'x', NAME_SIZE - 7);
	assert_int_equal(kvmstats_parse(blob, len, &lay), 0);
}

/* Random bytes must never crash the parser or yield a layout that reads out of bounds. */
static void test_kvmstats_parse_fuzz(void **state)
{
	uint8_t blob[2048];
	uint32_t x = 12345;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		struct kvmstats_layout lay;
		size_t len = (size_t)(x % sizeof(blob));

		for (size_t i = 0; i < sizeof(blob); i++) {
			x = x * 1103515245u + 12345u;
			blob[i] = (uint8_t)(x >> 16);
		}
		/* half the time a plausible header, so that the descriptor checks are reached */
		if (round & 1) {
			struct kvm_stats_header h = { .name_size = 8 + (x % 48), .num_desc = x % 20,
						      .id_offset = 24, .desc_offset = 24 + (x % 32),
						      .data_offset = 24 + (x % 1500) };

			memcpy(blob, &h, sizeof(h));
		}
		/* an exact-size copy: a sanitizer build catches any read past len */
		uint8_t *exact = test_malloc(len ? len : 1);

		memcpy(exact, blob, len);
		if (kvmstats_parse(exact, len, &lay) == 0) {
			assert_true(lay.read_size > 0 && lay.read_size <= KVMSTATS_READ_MAX);
			for (int c = 0; c < KVMSTATS_NR; c++)
				assert_true(lay.at[c] < 0 ||
					    (uint32_t)lay.at[c] + 8 <= lay.read_size);
		}
		test_free(exact);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kvmstats_parse_good),
		cmocka_unit_test(test_kvmstats_parse_bad_header),
		cmocka_unit_test(test_kvmstats_parse_bad_descs),
		cmocka_unit_test(test_kvmstats_parse_unterminated_name),
		cmocka_unit_test(test_kvmstats_parse_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
