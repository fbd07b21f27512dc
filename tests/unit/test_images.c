// SPDX-License-Identifier: MIT
/* Images: ELF dependency parsing, layers (tar <-> cpio), the OCI store. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/image/elfdeps.h"
#include "lib/image/imgstore.h"
#include "lib/image/layer.h"
#include "unit.h"

static void test_clean_path(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(layer_clean_path("./usr//bin/./x", out, sizeof(out)), 0);
	assert_string_equal(out, "usr/bin/x");
	assert_int_equal(layer_clean_path("/etc/", out, sizeof(out)), 0);
	assert_string_equal(out, "etc");
	assert_int_equal(layer_clean_path("./", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(layer_clean_path("a/../../etc/passwd", out, sizeof(out)), -EINVAL);
	assert_int_equal(layer_clean_path("..", out, sizeof(out)), -EINVAL);
	assert_int_equal(layer_clean_path("a/..b/c", out, sizeof(out)), 0); /* a name, not a step up */
	assert_int_equal(layer_clean_path("0123456789/0123456789/0123456789/0123456789/0123456789/"
					  "0123456789/0123456789", out, sizeof(out)), -EINVAL);
}

static void test_ref_normalize(void **state)
{
	char out[REF_MAX];

	(void)state;
	assert_int_equal(imgstore_ref_normalize("redis", out, sizeof(out)), 0);
	assert_string_equal(out, "redis:latest");
	assert_int_equal(imgstore_ref_normalize("my/app_x:v1.2-rc", out, sizeof(out)), 0);
	assert_string_equal(out, "my/app_x:v1.2-rc");
	assert_int_equal(imgstore_ref_normalize("localhost:5000/app", out, sizeof(out)), 0);
	assert_string_equal(out, "localhost:5000/app:latest");
	assert_int_equal(imgstore_ref_normalize("127.0.0.1:5077/demo/app:1", out, sizeof(out)), 0);
	assert_string_equal(out, "127.0.0.1:5077/demo/app:1");
	assert_int_equal(imgstore_ref_normalize("reg.example.org/Demo:1", out, sizeof(out)), -EINVAL);
	assert_int_equal(imgstore_ref_normalize("host:x/app", out, sizeof(out)), -EINVAL);
	assert_int_equal(imgstore_ref_normalize("a/b:1/c", out, sizeof(out)), -EINVAL);
	assert_int_equal(imgstore_ref_normalize("Redis", out, sizeof(out)), -EINVAL);
	assert_int_equal(imgstore_ref_normalize("a:", out, sizeof(out)), -EINVAL);
	assert_int_equal(imgstore_ref_normalize("a:.x", out, sizeof(out)), -EINVAL);
	assert_int_equal(imgstore_ref_normalize("-a", out, sizeof(out)), -EINVAL);
	assert_int_equal(imgstore_ref_normalize("a/../b", out, sizeof(out)), -EINVAL);
	assert_int_equal(imgstore_ref_normalize("", out, sizeof(out)), -EINVAL);
	assert_true(imgstore_digest_ok("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(imgstore_digest_ok("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(imgstore_digest_ok("sha256:../../../../etc/passwd"));
}

/* A minimal dynamic ELF: header, PT_LOAD over the file, PT_INTERP, PT_DYNAMIC, strings. */
struct fake_elf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[3];
	Elf64_Dyn dyn[6];
	char interp[32];
	char strtab[64];
};

static void make_elf(struct fake_elf *f)
{
	static const char strs[] = "\0libfoo.so.1\0libbar.so.2\0$ORIGIN/../lib";

	memset(f, 0, sizeof(*f));
	memcpy(f->eh.e_ident, ELFMAG, SELFMAG);
	f->eh.e_ident[EI_CLASS] = ELFCLASS64;
	f->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	f->eh.e_type = ET_DYN;
	f->eh.e_machine = EM_X86_64;
	f->eh.e_phoff = offsetof(struct fake_elf, ph);
	f->eh.e_phentsize = sizeof(Elf64_Phdr);
	f->eh.e_phnum = 3;
	f->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0, .p_vaddr = 0x400000,
				 .p_filesz = sizeof(*f), .p_memsz = sizeof(*f) };
	f->ph[1] = (Elf64_Phdr){ .p_type = PT_INTERP, .p_offset = offsetof(struct fake_elf, interp),
				 .p_filesz = sizeof("/lib64/ld.so") };
	f->ph[2] = (Elf64_Phdr){ .p_type = PT_DYNAMIC, .p_offset = offsetof(struct fake_elf, dyn),
				 .p_filesz = sizeof(f->dyn) };
	strcpy(f->interp, "/lib64/ld.so");
	memcpy(f->strtab, strs, sizeof(strs));
	f->dyn[0] = (Elf64_Dyn){ DT_STRTAB, { 0x400000 + offsetof(struct fake_elf, strtab) } };
	f->dyn[1] = (Elf64_Dyn){ DT_STRSZ, { sizeof(f->strtab) } };
	f->dyn[2] = (Elf64_Dyn){ DT_NEEDED, { 1 } };
	f->dyn[3] = (Elf64_Dyn){ DT_NEEDED, { 13 } };
	f->dyn[4] = (Elf64_Dyn){ DT_RUNPATH, { 25 } };
	f->dyn[5] = (Elf64_Dyn){ DT_NULL, { 0 } };
}

static void test_elf_parse(void **state)
{
	struct fake_elf f;
	struct elf_dyn d;

	(void)state;
	make_elf(&f);
	assert_int_equal(elfdeps_parse((void *)&f, sizeof(f), &d), 0);
	assert_true(d.is_elf64_x86);
	assert_string_equal(d.interp, "/lib64/ld.so");
	assert_int_equal(d.nr_needed, 2);
	assert_string_equal(d.needed[0], "libfoo.so.1");
	assert_string_equal(d.needed[1], "libbar.so.2");
	assert_string_equal(d.runpath, "$ORIGIN/../lib");
	assert_null(d.rpath);
	elfdeps_dyn_free(&d);

	/* every truncation is refused or parsed safely, never read past the end */
	for (size_t len = 0; len < sizeof(f); len++) {
		int r = elfdeps_parse((void *)&f, len, &d);

		assert_true(r == 0 || r == -ENOEXEC);
		elfdeps_dyn_free(&d);
	}
	make_elf(&f);
	f.dyn[2].d_un.d_val = 5000; /* DT_NEEDED past the string table */
	assert_int_equal(elfdeps_parse((void *)&f, sizeof(f), &d), -ENOEXEC);
	make_elf(&f);
	f.dyn[1].d_un.d_val = 4096; /* string table larger than the file */
	assert_int_equal(elfdeps_parse((void *)&f, sizeof(f), &d), -ENOEXEC);
	make_elf(&f);
	memset(f.strtab + 25, 'x', sizeof(f.strtab) - 25); /* unterminated runpath */
	assert_int_equal(elfdeps_parse((void *)&f, sizeof(f), &d), -ENOEXEC);
	make_elf(&f);
	f.ph[2].p_offset = 1ull << 40; /* dynamic section outside the file */
	assert_int_equal(elfdeps_parse((void *)&f, sizeof(f), &d), -ENOEXEC);
	make_elf(&f);
	f.eh.e_phnum = 60000;
	assert_int_equal(elfdeps_parse((void *)&f, sizeof(f), &d), -ENOEXEC);
	make_elf(&f);
	f.ph[1].p_filesz = 4; /* interpreter not NUL-terminated where it says */
	assert_int_equal(elfdeps_parse((void *)&f, sizeof(f), &d), -ENOEXEC);
	make_elf(&f);
	f.eh.e_machine = EM_AARCH64; /* another architecture: not ours, skipped */
	assert_int_equal(elfdeps_parse((void *)&f, sizeof(f), &d), 0);
	assert_false(d.is_elf64_x86);
}

static void test_elf_collect_host_program(void **state)
{
	struct elfdeps d;
	char why[512];
	bool libc = false;

	(void)state;
	/* Debian's own env(1): dynamically linked against libc */
	assert_int_equal(elfdeps_collect("/usr/bin/env", &d, why, sizeof(why)), 0);
	assert_true(d.n >= 2);
	assert_string_equal(d.v[0].guest, "/lib64/ld-linux-x86-64.so.2");
	for (size_t i = 0; i < d.n; i++) {
		assert_int_equal(access(d.v[i].host, R_OK), 0);
		libc = libc || strstr(d.v[i].guest, "/libc.so.6");
	}
	assert_true(libc);
	elfdeps_free(&d);
	assert_int_equal(elfdeps_collect("/etc/passwd", &d, why, sizeof(why)), -ENOEXEC);
	assert_non_null(strstr(why, "not a well-formed"));
	assert_int_equal(elfdeps_collect("/nonexistent", &d, why, sizeof(why)), -ENOENT);
}

static char tmpdir[64];

static void put(const char *rel, const char *text)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Read a cpio piece: "path mode nlink ino size|" for each entry, concatenated. */
static void list_cpio(const char *path, char *out, size_t len, char *data, size_t dlen)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	size_t o = 0;

	archive_read_support_format_cpio(a);
	assert_int_equal(archive_read_open_filename(a, path, 4096), ARCHIVE_OK);
	out[0] = data[0] = '\0';
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		o += (size_t)snprintf(out + o, len - o, "%s %o %u %lld|", archive_entry_pathname(e),
				      archive_entry_mode(e), archive_entry_nlink(e),
				      (long long)archive_entry_size(e));
		if (archive_entry_size(e) > 0 && S_ISREG(archive_entry_mode(e))) {
			size_t off = strlen(data);
			ssize_t n = archive_read_data(a, data + off, dlen - off - 1);

			assert_true(n > 0);
			data[off + (size_t)n] = '\0';
		}
	}
	archive_read_free(a);
}

static void test_layer_roundtrip(void **state)
{
	struct layer_list l = { 0 };
	char why[512], tar[128], cpio[128], list[2048], data[256], d1[72], d2[72];
	int fd;

	(void)state;
	strcpy(tmpdir, "/tmp/arrow-unit-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	put("a.conf", "alpha");
	snprintf(tar, sizeof(tar), "%s/sub", tmpdir);
	mkdir(tar, 0750);
	put("sub/b.txt", "beta");
	snprintf(tar, sizeof(tar), "%s/sub/link", tmpdir);
	assert_int_equal(symlink("/etc/b.txt", tar), 0);

	snprintf(tar, sizeof(tar), "%s/a.conf", tmpdir);
	assert_int_equal(layer_add_host(&l, tar, "/etc/app/a.conf", why, sizeof(why)), 0);
	snprintf(tar, sizeof(tar), "%s/sub", tmpdir);
	assert_int_equal(layer_add_host(&l, tar, "/srv", why, sizeof(why)), 0);
	assert_int_equal(layer_add(&l, "/../x", S_IFREG | 0644, tar, 0), -EINVAL);

	snprintf(tar, sizeof(tar), "%s/layer.tar", tmpdir);
	fd = open(tar, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(layer_write_tar(&l, fd, why, sizeof(why)), 0);
	close(fd);
	assert_int_equal(layer_diff_id(tar, d1, why, sizeof(why)), 0);
	/* the same files give the same bytes */
	fd = open(tar, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(layer_write_tar(&l, fd, why, sizeof(why)), 0);
	close(fd);
	assert_int_equal(layer_diff_id(tar, d2, why, sizeof(why)), 0);
	assert_string_equal(d1, d2);
	layer_list_free(&l);

	snprintf(cpio, sizeof(cpio), "%s/piece.cpio", tmpdir);
	fd = open(cpio, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(layer_to_piece(tar, fd, NULL, why, sizeof(why)), 0);
	close(fd);
	list_cpio(cpio, list, sizeof(list), data, sizeof(data));
	assert_string_equal(list, "etc 40755 2 0|etc/app 40755 2 0|etc/app/a.conf 100644 1 5|"
				  "srv 40750 2 0|srv/b.txt 100644 1 4|srv/link 120777 1 10|");
	assert_string_equal(data, "alphabeta");
}

/* Write a tar with libarchive: entries "name" (file with text), "name>target" (hard link),
 * "name@target" (symlink). */
static void make_tar(const char *path, const char *const *entries, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		char name[128];
		const char *hl = strchr(entries[i], '>'), *sl = strchr(entries[i], '@');
		const char *sep = hl ? hl : sl;

		snprintf(name, sizeof(name), "%.*s", sep ? (int)(sep - entries[i]) : 64, entries[i]);
		archive_entry_clear(e);
		archive_entry_set_pathname(e, name);
		archive_entry_set_mode(e, sl ? S_IFLNK | 0777 : S_IFREG | 0644);
		if (hl) {
			archive_entry_set_hardlink(e, hl + 1);
		} else if (sl) {
			archive_entry_set_symlink(e, sl + 1);
		} else {
			archive_entry_set_size(e, (la_int64_t)strlen(name));
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (!hl && !sl)
			archive_write_data(a, name, strlen(name));
	}
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
}

static int convert_tar(const char *const *entries, size_t n, char *why, char *list, size_t len)
{
	char tar[128], cpio[128], data[256];
	int fd, ret;

	snprintf(tar, sizeof(tar), "%s/t.tar", tmpdir);
	snprintf(cpio, sizeof(cpio), "%s/t.cpio", tmpdir);
	make_tar(tar, entries, n);
	fd = open(cpio, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ret = layer_to_piece(tar, fd, NULL, why, 512);
	close(fd);
	if (!ret && list)
		list_cpio(cpio, list, len, data, sizeof(data));
	return ret;
}

static void test_layer_links_and_refusals(void **state)
{
	static const char *const ok[] = { "bin/busybox", "bin/sh>bin/busybox", "usr/sh@/bin/busybox" };
	static const char *const up[] = { "../../etc/evil" };
	static const char *const wh[] = { "etc/.wh.passwd" };
	static const char *const dangling[] = { "bin/sh>bin/busybox", "bin/busybox" };
	char why[512], list[1024];

	(void)state;
	assert_int_equal(convert_tar(ok, 3, why, list, sizeof(list)), 0);
	/* the link target carries the data, with nlink 2; the link shares it */
	assert_string_equal(list, "bin 40755 2 0|bin/busybox 100644 2 11|bin/sh 100644 2 0|"
				  "usr 40755 2 0|usr/sh 120777 1 12|");
	assert_int_equal(convert_tar(up, 1, why, NULL, 0), -EINVAL);
	assert_non_null(strstr(why, "outside the image"));
	assert_int_equal(convert_tar(wh, 1, why, NULL, 0), -ENOTSUP);
	assert_non_null(strstr(why, "whiteout"));
	assert_int_equal(convert_tar(dangling, 2, why, NULL, 0), -EINVAL);
	assert_non_null(strstr(why, "not a file earlier"));
}

static void test_layer_damaged(void **state)
{
	char tar[128], cpio[128], why[512];
	int fd;

	(void)state;
	snprintf(tar, sizeof(tar), "%s/bad.tar", tmpdir);
	snprintf(cpio, sizeof(cpio), "%s/bad.cpio", tmpdir);
	fd = open(tar, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, "\x1f\x8b\x08\x00garbage-that-is-no-gzip-stream", 34), 34);
	close(fd);
	fd = open(cpio, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_not_equal(layer_to_piece(tar, fd, NULL, why, sizeof(why)), 0);
	close(fd);
	assert_int_not_equal(layer_diff_id(tar, cpio, why, sizeof(why)), 0);
}

/* Damaged layers: every truncation point and random byte flips give an error or a piece,
 * never a crash or a path outside the image (run under the unit tests' sanitizers too). */
static void test_layer_fuzzed(void **state)
{
	static const char *const ok[] = { "bin/busybox", "bin/sh>bin/busybox", "usr/sh@/bin/busybox",
					  "etc/deep/er/file" };
	char tar[128], bad[128], cpio[128], why[512];
	unsigned char *data;
	size_t len;
	int fd;
	FILE *f;

	(void)state;
	snprintf(tar, sizeof(tar), "%s/fuzz.tar", tmpdir);
	snprintf(bad, sizeof(bad), "%s/fuzz-bad.tar", tmpdir);
	snprintf(cpio, sizeof(cpio), "%s/fuzz.cpio", tmpdir);
	make_tar(tar, ok, 4);
	f = fopen(tar, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = (size_t)ftell(f);
	rewind(f);
	data = malloc(len);
	assert_int_equal(fread(data, 1, len, f), len);
	fclose(f);
	srand(7);
	for (int round = 0; round < 400; round++) {
		unsigned char *copy = malloc(len);
		size_t cut = round < 100 ? (size_t)rand() % len : len;

		memcpy(copy, data, len);
		for (int k = 0; round >= 100 && k < 1 + round % 4; k++)
			copy[(size_t)rand() % 2048 % len] ^= (unsigned char)(1 + rand() % 255);
		f = fopen(bad, "wb");
		fwrite(copy, 1, cut, f);
		fclose(f);
		fd = open(cpio, O_RDWR | O_CREAT | O_TRUNC, 0644);
		(void)layer_to_piece(bad, fd, NULL, why, sizeof(why));
		close(fd);
		free(copy);
	}
	free(data);
}

static int count_blobs(void)
{
	char p[256];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(p, sizeof(p), "%s/blobs/sha256", imgstore_dir());
	d = opendir(p);
	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_store(void **state)
{
	char store[128], tmp[4200], why[512], digest[DIGEST_LEN + 1], man[DIGEST_LEN + 1], *text;
	json_t *index, *desc, *m;
	bool amb;
	int fd;

	(void)state;
	snprintf(store, sizeof(store), "%s/store", tmpdir);
	setenv("ARROW_IMAGES", store, 1);
	assert_int_equal(imgstore_init(), 0);
	assert_int_equal(count_blobs(), 0);

	/* a blob whose content does not match its digest is refused and not kept */
	fd = imgstore_tmpfile(tmp, sizeof(tmp));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "layer", 5), 5);
	close(fd);
	assert_int_equal(imgstore_commit_tmp(tmp, "sha256:0000000000000000000000000000000000000000"
						  "000000000000000000000000", digest, NULL, why,
					     sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "digest mismatch"));
	assert_int_equal(count_blobs(), 0);
	assert_int_equal(access(tmp, F_OK), -1);

	/* a config and a manifest; the same content twice is one blob */
	assert_int_equal(imgstore_put_mem("{\"rootfs\":{\"diff_ids\":[]}}", 26, digest), 0);
	assert_int_equal(imgstore_put_mem("{\"rootfs\":{\"diff_ids\":[]}}", 26, digest), 0);
	assert_int_equal(count_blobs(), 1);
	m = json_pack("{s:i, s:{s:s, s:s, s:i}, s:[]}", "schemaVersion", 2, "config", "mediaType",
		      MT_CONFIG, "digest", digest, "size", 26, "layers");
	text = json_dumps(m, JSON_COMPACT);
	assert_int_equal(imgstore_put_mem(text, strlen(text), man), 0);
	desc = json_pack("{s:s, s:s, s:I}", "mediaType", MT_MANIFEST, "digest", man, "size",
			 (json_int_t)strlen(text));
	index = imgstore_index_load(why, sizeof(why));
	assert_non_null(index);
	assert_int_equal(imgstore_index_set(index, "app:latest", desc), 0);
	assert_int_equal(imgstore_index_set(index, "app:v1", desc), 0);
	assert_int_equal(imgstore_index_save(index), 0);
	assert_non_null(imgstore_index_find(index, "app", &amb));
	assert_non_null(imgstore_index_find(index, digest + 7, &amb)); /* full id */
	assert_null(imgstore_index_find(index, "other", &amb));
	assert_null(imgstore_index_find(index, "abc", &amb)); /* too short to be an id */

	/* an unreferenced blob goes at garbage collection; referenced ones stay */
	assert_int_equal(imgstore_put_mem("orphan", 6, why), 0);
	assert_int_equal(count_blobs(), 3);
	assert_int_equal(imgstore_gc(index), 1);
	assert_int_equal(count_blobs(), 2);
	json_array_clear(json_object_get(index, "manifests"));
	assert_int_equal(imgstore_gc(index), 2);
	assert_int_equal(count_blobs(), 0);
	json_decref(index);
	json_decref(desc);
	json_decref(m);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_path),
		cmocka_unit_test(test_ref_normalize),
		cmocka_unit_test(test_elf_parse),
		cmocka_unit_test(test_elf_collect_host_program),
		cmocka_unit_test(test_layer_roundtrip),
		cmocka_unit_test(test_layer_links_and_refusals),
		cmocka_unit_test(test_layer_damaged),
		cmocka_unit_test(test_layer_fuzzed),
		cmocka_unit_test(test_store),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (tmpdir[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failed;
}
