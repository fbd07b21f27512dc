// SPDX-License-Identifier: MIT
/* Snapshot files: the state file's checks and the sparse memory file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "common/runcfg.h"
#include "vmm/snap/format.h"
#include "vmm/snap/memory.h"
#include "vmm/virtio/console.h"

static char dir[] = "/tmp/arrow-snap-XXXXXX";

static void path(char *out, const char *name)
{
	snprintf(out, 256, "%s/%s", dir, name);
}

/* A state file with a meta section and a 5-byte section, read back whole. */
static void write_sample(const char *file)
{
	struct snap_writer w;
	struct snap_meta m = { .memory_bytes = 128 << 20, .nr_vcpus = 2 };

	snapw_init(&w);
	snapw_add(&w, SNAP_META, 0, &m, sizeof(m));
	snapw_add(&w, SNAP_VCPU, 1, "hello", 5);
	assert_int_equal(snapw_write_file(&w, file), 0);
	snapw_free(&w);
}

static void test_round_trip(void **state)
{
	char file[256];
	struct snap_image img;
	const struct snap_meta *m;
	const char *why = NULL;
	uint64_t len;

	(void)state;
	path(file, "state");
	write_sample(file);
	assert_int_equal(snap_read_file(file, &img, &why), 0);
	m = snap_find(&img, SNAP_META, 0, sizeof(*m));
	assert_non_null(m);
	assert_int_equal(m->nr_vcpus, 2);
	assert_memory_equal(snap_find_any(&img, SNAP_VCPU, 1, &len), "hello", 5);
	assert_int_equal(len, 5);
	/* wrong length, index or tag: not found */
	assert_null(snap_find(&img, SNAP_VCPU, 1, 4));
	assert_null(snap_find(&img, SNAP_VCPU, 0, 5));
	assert_null(snap_find(&img, 99, 0, 5));
	snap_image_free(&img);
}

/* Rewrite one byte of the file at off (or cut it to off when cut). */
static void damage(const char *file, off_t off, uint8_t value, int cut)
{
	int fd = open(file, O_RDWR);

	assert_true(fd >= 0);
	if (cut)
		assert_int_equal(ftruncate(fd, off), 0);
	else
		assert_int_equal(pwrite(fd, &value, 1, off), 1);
	close(fd);
}

static void expect_refused(const char *file, int err, const char *words)
{
	struct snap_image img;
	const char *why = NULL;

	assert_int_equal(snap_read_file(file, &img, &why), err);
	assert_non_null(why);
	if (!strstr(why, words))
		fail_msg("reason '%s' does not say '%s'", why, words);
	assert_null(img.buf);
}

static void test_damaged_files_are_refused(void **state)
{
	char file[256];
	uint32_t version = SNAP_FORMAT_VERSION + 1;
	int fd;

	(void)state;
	path(file, "state");
	write_sample(file);
	damage(file, sizeof(struct snap_header) + 20, 0x5a, 0); /* a body byte */
	expect_refused(file, -EBADMSG, "checksum");

	write_sample(file);
	damage(file, sizeof(struct snap_header) + 8, 0, 1); /* truncated body */
	expect_refused(file, -EINVAL, "truncated");

	write_sample(file);
	damage(file, 10, 0, 1); /* truncated header */
	expect_refused(file, -EINVAL, "truncated");

	write_sample(file);
	damage(file, 0, 'X', 0);
	expect_refused(file, -EINVAL, "magic");

	write_sample(file);
	fd = open(file, O_RDWR);
	assert_int_equal(pwrite(fd, &version, sizeof(version), 8), sizeof(version));
	close(fd);
	expect_refused(file, -EPROTO, "format version");

	path(file, "missing");
	expect_refused(file, -ENOENT, "cannot open");
}

/* A section whose length runs past the body is refused even with a right checksum. */
static void test_malformed_section_is_refused(void **state)
{
	struct snap_writer w;
	struct snap_section bad = { .tag = SNAP_META, .index = 0, .len = 1u << 30 };
	struct snap_image img;
	char file[256];
	const char *why;

	(void)state;
	path(file, "bad");
	snapw_init(&w);
	snapw_add(&w, SNAP_VCPU, 0, "ok", 2);
	/* a raw section header with a length that lies */
	snapw_add(&w, 0, 0, NULL, 0);
	memcpy(w.buf + w.len - sizeof(bad), &bad, sizeof(bad));
	assert_int_equal(snapw_write_file(&w, file), 0);
	snapw_free(&w);
	assert_int_equal(snap_read_file(file, &img, &why), -EINVAL);
	assert_non_null(strstr(why, "malformed"));
}

static void test_memory_file_is_sparse_and_exact(void **state)
{
	const uint64_t size = 64 * SNAP_PAGE;
	uint8_t *mem = calloc(1, size), *back;
	char file[256];
	struct stat st;
	uint64_t stored;
	int fd;

	(void)state;
	memset(mem + 3 * SNAP_PAGE, 0xab, SNAP_PAGE);      /* one page */
	memset(mem + 10 * SNAP_PAGE + 7, 0xcd, 2 * SNAP_PAGE); /* a run of three */
	mem[size - 1] = 1;                                /* the last page */
	path(file, "memory");
	assert_int_equal(snap_memory_write(file, mem, size, &stored), 0);
	assert_int_equal(stored, 5 * SNAP_PAGE);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_size, size);
	fd = snap_memory_open(file, size);
	assert_true(fd >= 0);
	back = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	assert_true(back != MAP_FAILED);
	assert_memory_equal(back, mem, size);
	/* a clone's write stays in the clone */
	back[0] = 9;
	munmap(back, size);
	close(fd);
	fd = snap_memory_open(file, size);
	back = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_int_equal(back[0], 0);
	munmap(back, size);
	close(fd);
	/* another size than the state file says: refused */
	assert_int_equal(snap_memory_open(file, size + SNAP_PAGE), -EINVAL);
	free(mem);
}

static void test_console_restore_checks_the_layout(void **state)
{
	static struct vconsole a, b;
	static struct vconsole_state st;
	struct virtio_mmio t;

	(void)state;
	vconsole_init(&a, &t, -1);
	vconsole_add_port(&a, "console", true, NULL, NULL);
	vconsole_add_port(&a, "arrow.control", false, NULL, NULL);
	a.ports[1].guest_connected = 1;
	a.ports[1].pending_len = 3;
	memcpy(a.ports[1].pending, "abc", 3);
	vconsole_save(&a, &st);

	vconsole_init(&b, &t, -1);
	vconsole_add_port(&b, "console", true, NULL, NULL);
	vconsole_add_port(&b, "arrow.control", false, NULL, NULL);
	assert_int_equal(vconsole_restore(&b, &st), 0);
	assert_int_equal(b.ports[1].guest_connected, 1);
	assert_memory_equal(b.ports[1].pending, "abc", 3);

	/* other port names, or a pending length past the buffer: refused */
	vconsole_init(&b, &t, -1);
	vconsole_add_port(&b, "console", true, NULL, NULL);
	vconsole_add_port(&b, "arrow.stdin", false, NULL, NULL);
	assert_int_equal(vconsole_restore(&b, &st), -EINVAL);
	snprintf(b.ports[1].name, VCON_NAME_MAX, "arrow.control");
	st.ports[1].pending_len = VCON_PENDING_MAX + 1;
	assert_int_equal(vconsole_restore(&b, &st), -EINVAL);
}

static void test_identity_records(void **state)
{
	char base[] = "p/app/x\0a" "x\0h" "old\0i" "10.0.0.2/16\0d" "1.1.1.1\0H" "10.0.0.9 peer\0";
	char ident[] = "h" "new\0i" "10.0.0.3/16\0m" "02:00:00:00:00:01\0s" "00ff\0d" "9.9.9.9\0";
	char bad[] = "p/app/y\0";
	char seed_in_config[] = "p/app/x\0a" "x\0s" "00\0";
	struct runcfg *cfg = calloc(1, sizeof(*cfg));

	(void)state;
	assert_int_equal(runcfg_parse(base, sizeof(base) - 1, cfg), 0);
	assert_int_equal(runcfg_parse_identity(ident, sizeof(ident) - 1, cfg), 0);
	assert_string_equal(cfg->hostname, "new");
	assert_string_equal(cfg->address, "10.0.0.3/16");
	assert_string_equal(cfg->mac, "02:00:00:00:00:01");
	assert_string_equal(cfg->seed, "00ff");
	assert_int_equal(cfg->nr_dns, 1); /* replaced, not appended */
	assert_string_equal(cfg->dns[0], "9.9.9.9");
	assert_int_equal(cfg->nr_hosts, 1); /* not in the identity: kept */
	assert_string_equal(cfg->program, "/app/x");
	/* an identity cannot change the program; a run configuration carries no seed */
	assert_int_equal(runcfg_parse_identity(bad, sizeof(bad) - 1, cfg), -EINVAL);
	assert_int_equal(runcfg_parse(seed_in_config, sizeof(seed_in_config) - 1, cfg), -EINVAL);
	free(cfg);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_damaged_files_are_refused),
		cmocka_unit_test(test_malformed_section_is_refused),
		cmocka_unit_test(test_memory_file_is_sparse_and_exact),
		cmocka_unit_test(test_console_restore_checks_the_layout),
		cmocka_unit_test(test_identity_records),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
