// SPDX-License-Identifier: MIT
/* Resource bounds on images (lib/image/imglimit.h): sizes from the environment, layers that
 * decompress past their bound (a gzip bomb in miniature), too many entries, JSON caps. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/image/imglimit.h"
#include "lib/image/layer.h"
#include "unit.h"

static char tmpdir[] = "/tmp/arrow-imglimit-XXXXXX";

static void test_parse(void **state)
{
	static const char *const bad[] = { "", "0", "0K", "G", "12X", "1.5G", "8GB", "8 G", "-1",
					   " 8G", "8G ", "0x10", "99999999999999999999",
					   "16777216T", "18446744073709551616" };
	uint64_t v = 0;

	(void)state;
	assert_int_equal(imglimit_parse("8G", &v), 0);
	assert_true(v == 8ull << 30);
	assert_int_equal(imglimit_parse("512m", &v), 0);
	assert_true(v == 512ull << 20);
	assert_int_equal(imglimit_parse("1k", &v), 0);
	assert_true(v == 1024);
	assert_int_equal(imglimit_parse("2T", &v), 0);
	assert_true(v == 2ull << 40);
	assert_int_equal(imglimit_parse("1048577", &v), 0);
	assert_true(v == 1048577);
	assert_int_equal(imglimit_parse("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		assert_int_equal(imglimit_parse(bad[i], &v), -EINVAL);
		assert_true(v == 42);
	}
	assert_int_equal(imglimit_parse(NULL, &v), -EINVAL);
}

static void test_env_and_format(void **state)
{
	struct img_limits l;
	char why[256] = "", buf[32];

	(void)state;
	unsetenv("ARROW_MAX_LAYER_SIZE");
	unsetenv("ARROW_MAX_IMAGE_SIZE");
	unsetenv("ARROW_MAX_LAYER_ENTRIES");
	assert_int_equal(imglimit_load(&l, why, sizeof(why)), 0);
	assert_true(l.image_bytes == IMGLIMIT_IMAGE_DEFAULT && l.layer_bytes == IMGLIMIT_LAYER_DEFAULT &&
		    l.layer_entries == IMGLIMIT_ENTRIES_DEFAULT);
	setenv("ARROW_MAX_IMAGE_SIZE", "64M", 1);
	setenv("ARROW_MAX_LAYER_ENTRIES", "100", 1);
	assert_int_equal(imglimit_load(&l, why, sizeof(why)), 0);
	assert_true(l.image_bytes == 64ull << 20 && l.layer_entries == 100);
	setenv("ARROW_MAX_LAYER_SIZE", "lots", 1);
	assert_int_equal(imglimit_load(&l, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "ARROW_MAX_LAYER_SIZE='lots' is not a limit"));
	unsetenv("ARROW_MAX_LAYER_SIZE");
	setenv("ARROW_MAX_IMAGE_SIZE", "0", 1);
	assert_int_equal(imglimit_load(&l, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "ARROW_MAX_IMAGE_SIZE"));
	unsetenv("ARROW_MAX_IMAGE_SIZE");
	unsetenv("ARROW_MAX_LAYER_ENTRIES");
	assert_string_equal(imglimit_format(8ull << 30, buf, sizeof(buf)), "8 GiB");
	assert_string_equal(imglimit_format(3ull << 20, buf, sizeof(buf)), "3 MiB");
	assert_string_equal(imglimit_format(1536, buf, sizeof(buf)), "1536 bytes");
	assert_string_equal(imglimit_format(2048, buf, sizeof(buf)), "2 KiB");
}

/* A tar of n files, the first holding big zero bytes; gzip-compressed if gz. */
static void make_layer(const char *path, size_t n, size_t big, int gz)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	static char zeros[65536];

	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		char name[32];
		size_t size = i ? 0 : big;

		snprintf(name, sizeof(name), "f%zu", i);
		archive_entry_clear(e);
		archive_entry_set_pathname(e, name);
		archive_entry_set_mode(e, S_IFREG | 0644);
		archive_entry_set_mtime(e, 1, 0);
		archive_entry_set_size(e, (la_int64_t)size);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		for (size_t done = 0; done < size; done += sizeof(zeros))
			archive_write_data(a, zeros, size - done < sizeof(zeros) ? size - done
										   : sizeof(zeros));
	}
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
}

static void test_layer_bomb(void **state)
{
	char gz[128], raw[128], cpio[128], why[512];
	struct layer_info gi, ri;
	struct img_limits lim = { 1 << 20, 1 << 20, 100 };
	struct stat st;
	int fd;

	(void)state;
	snprintf(gz, sizeof(gz), "%s/bomb.tar.gz", tmpdir);
	snprintf(raw, sizeof(raw), "%s/bomb.tar", tmpdir);
	snprintf(cpio, sizeof(cpio), "%s/bomb.cpio", tmpdir);
	make_layer(gz, 3, 16 << 20, 1); /* 16 MiB of zeros: some 16 KiB of gzip */
	make_layer(raw, 3, 16 << 20, 0);
	assert_int_equal(stat(gz, &st), 0);
	assert_true(st.st_size < (1 << 20));
	/* unbounded: the diff id is the uncompressed stream's, whatever the compression */
	assert_int_equal(layer_scan(gz, UINT64_MAX, UINT64_MAX, &gi, why, sizeof(why)), 0);
	assert_int_equal(layer_scan(raw, UINT64_MAX, UINT64_MAX, &ri, why, sizeof(why)), 0);
	assert_string_equal(gi.diff_id, ri.diff_id);
	assert_int_equal(stat(raw, &st), 0);
	assert_true(gi.bytes == (uint64_t)st.st_size && gi.entries == 3);
	/* 1 MiB allowed: refused, and nothing past the bound was decompressed */
	assert_int_equal(layer_scan(gz, 1 << 20, UINT64_MAX, &gi, why, sizeof(why)), -EFBIG);
	assert_true(gi.bytes <= 1 << 20);
	assert_int_equal(layer_scan(gz, UINT64_MAX, 2, &gi, why, sizeof(why)), -E2BIG);
	assert_int_equal(layer_scan(gz, UINT64_MAX, 3, &gi, why, sizeof(why)), 0);
	/* the conversion into a piece is bounded the same way */
	fd = open(cpio, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(layer_to_piece(gz, fd, &lim, why, sizeof(why)), -EFBIG);
	assert_non_null(strstr(why, "ARROW_MAX_LAYER_SIZE"));
	lim.layer_bytes = 64 << 20;
	lim.layer_entries = 2;
	assert_int_equal(layer_to_piece(gz, fd, &lim, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "ARROW_MAX_LAYER_ENTRIES"));
	lim.layer_entries = 3;
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(layer_to_piece(gz, fd, &lim, why, sizeof(why)), 0);
	close(fd);
}

static void test_not_a_tar(void **state)
{
	char path[128], why[512];
	struct layer_info info;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/notar", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	for (int i = 0; i < 100; i++)
		assert_int_equal(write(fd, "this is not a tar archive at all\n", 33), 33);
	close(fd);
	assert_int_not_equal(layer_scan(path, UINT64_MAX, UINT64_MAX, &info, why, sizeof(why)), 0);
	/* nor is an empty file (an empty layer is still a tar: its two end blocks) */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	close(fd);
	assert_int_not_equal(layer_scan(path, UINT64_MAX, UINT64_MAX, &info, why, sizeof(why)), 0);
}

static void test_json_caps(void **state)
{
	char path[128], fifo[128], why[512];
	json_t *j;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/doc.json", tmpdir);
	f = fopen(path, "w");
	fputs("{\"a\": [1, 2, 3]}", f);
	fclose(f);
	j = imglimit_load_json(path, 64, why, sizeof(why));
	assert_non_null(j);
	json_decref(j);
	assert_null(imglimit_load_json(path, 10, why, sizeof(why)));
	assert_non_null(strstr(why, "too large for a JSON document"));
	f = fopen(path, "w");
	fputs("{\"a\": 1, \"a\": 2}", f);
	fclose(f);
	assert_null(imglimit_load_json(path, 64, why, sizeof(why)));
	/* a FIFO would never end: refused without reading */
	snprintf(fifo, sizeof(fifo), "%s/fifo.json", tmpdir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_null(imglimit_load_json(fifo, 64, why, sizeof(why)));
	assert_non_null(strstr(why, "not a regular file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_env_and_format),
		cmocka_unit_test(test_layer_bomb),
		cmocka_unit_test(test_not_a_tar),
		cmocka_unit_test(test_json_caps),
	};
	char cmd[128];
	int failed;

	if (!mkdtemp(tmpdir))
		return 1;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failed;
}
