// SPDX-License-Identifier: MIT
/* Initramfs pieces (cpio newc via libarchive) and ELF classification. */
#include <archive.h>
#include <archive_entry.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/image/elfinfo.h"
#include "lib/image/piece.h"
#include "unit.h"

static const struct piece_file files[] = {
	{ "app", S_IFDIR | 0755 },
	{ "app/hello", S_IFREG | 0755, "\x7f" "ELFxyz", 7 },
	{ "dev/console", S_IFCHR | 0600, .rdev_major = 5, .rdev_minor = 1 },
	{ "link", S_IFLNK | 0777, "app/hello", 9 },
};

static void check_archive(const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char data[16];
	int n = 0;

	archive_read_support_format_cpio(a);
	assert_int_equal(archive_read_open_filename(a, path, 4096), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		assert_string_equal(archive_entry_pathname(e), files[n].guest_path);
		assert_int_equal(archive_entry_mode(e), files[n].mode);
		assert_int_equal(archive_format(a), ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);
		if (n == 1) {
			assert_int_equal(archive_read_data(a, data, sizeof(data)), 7);
			assert_memory_equal(data, "\x7f" "ELFxyz", 7);
		}
		if (n == 2)
			assert_int_equal(archive_entry_rdevmajor(e), 5);
		if (n == 3)
			assert_string_equal(archive_entry_symlink(e), "app/hello");
		n++;
	}
	assert_int_equal(n, 4);
	archive_read_free(a);
}

static void test_piece_cache(void **state)
{
	char dir[] = "/tmp/arrow-test-cache.XXXXXX";
	char *p1, *p2, cmd[128];
	struct stat st1, st2;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(piece_cached(dir, files, 4, &p1), 0);
	assert_non_null(strstr(p1, "/pieces/"));
	check_archive(p1);
	assert_int_equal(stat(p1, &st1), 0);
	/* second call: same content, same file, not rebuilt */
	assert_int_equal(piece_cached(dir, files, 4, &p2), 0);
	assert_string_equal(p1, p2);
	assert_int_equal(stat(p2, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st1.st_size % 4, 0);
	free(p1);
	free(p2);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_piece_digest_changes(void **state)
{
	struct piece_file f[4];
	char d1[65], d2[65];

	(void)state;
	memcpy(f, files, sizeof(f));
	assert_int_equal(piece_digest(f, 4, d1), 0);
	f[1].mode = S_IFREG | 0700;
	assert_int_equal(piece_digest(f, 4, d2), 0);
	assert_string_not_equal(d1, d2);
	f[1].mode = files[1].mode;
	f[1].data = "\x7f" "ELFxyZ";
	assert_int_equal(piece_digest(f, 4, d2), 0);
	assert_string_not_equal(d1, d2);
}

static void test_piece_memfd_fallback(void **state)
{
	char *path;

	(void)state;
	/* an unusable cache directory still yields a piece, in memory */
	assert_int_equal(piece_cached("/proc/arrow-no-such-dir", files, 4, &path), 0);
	assert_non_null(strstr(path, "/proc/self/fd/"));
	check_archive(path);
	close(atoi(strrchr(path, '/') + 1));
	free(path);
}

static void test_elf_kinds(void **state)
{
	unsigned char buf[512] = { 0 };
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph = { 0 };
	struct elf_info info;

	(void)state;
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	ph.p_type = PT_LOAD;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
	assert_int_equal(elfinfo_classify(buf, sizeof(buf), &info), 0);
	assert_int_equal(info.kind, ELF_STATIC);

	ph.p_type = PT_INTERP;
	ph.p_offset = 300;
	ph.p_filesz = 11;
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
	memcpy(buf + 300, "/lib/ld.so", 11);
	assert_int_equal(elfinfo_classify(buf, sizeof(buf), &info), 0);
	assert_int_equal(info.kind, ELF_DYNAMIC);
	assert_string_equal(info.interp, "/lib/ld.so");

	/* program headers beyond the buffer: refused, never read */
	eh.e_phoff = 100000;
	memcpy(buf, &eh, sizeof(eh));
	assert_int_equal(elfinfo_classify(buf, sizeof(buf), &info), -EINVAL);

	eh.e_machine = EM_AARCH64;
	memcpy(buf, &eh, sizeof(eh));
	assert_int_equal(elfinfo_classify(buf, sizeof(buf), &info), 0);
	assert_int_equal(info.kind, ELF_WRONG_ARCH);

	assert_int_equal(elfinfo_classify((const unsigned char *)"#!/bin/sh\n", 10, &info), 0);
	assert_int_equal(info.kind, ELF_SCRIPT);
	assert_int_equal(elfinfo_classify((const unsigned char *)"hello", 5, &info), 0);
	assert_int_equal(info.kind, ELF_NOT_ELF);
}

static void test_elf_host_files(void **state)
{
	struct elf_info info;

	(void)state;
	assert_int_equal(elfinfo_file("/bin/ls", &info), 0);
	assert_int_equal(info.kind, ELF_DYNAMIC);
	assert_non_null(strstr(info.interp, "ld-linux"));
	assert_int_equal(elfinfo_file("/bin/busybox", &info), 0);
	assert_int_equal(info.kind, ELF_STATIC);
	assert_int_equal(elfinfo_file("/nonexistent", &info), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_piece_cache),      cmocka_unit_test(test_piece_digest_changes),
		cmocka_unit_test(test_piece_memfd_fallback), cmocka_unit_test(test_elf_kinds),
		cmocka_unit_test(test_elf_host_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
