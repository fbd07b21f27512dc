/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the libFuzzer targets in tests/fuzz (docs/fuzzing.md): a byte
 * reader over the fuzzer's input, scratch directories, and tree removal.
 */
#ifndef ARROW_FUZZ_H
#define ARROW_FUZZ_H

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input, consumed from the front; reads past the end give zeros. */
struct fz {
	const uint8_t *p;
	size_t len, off;
};

static inline size_t fz_left(const struct fz *f)
{
	return f->len - f->off;
}

static inline uint64_t fz_int(struct fz *f, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && f->off < f->len; i++)
		v |= (uint64_t)f->p[f->off++] << (8 * i);
	return v;
}

/* Up to n bytes of the input (fewer at its end); *got says how many. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t n, size_t *got)
{
	const uint8_t *at = f->p + f->off;

	if (n > fz_left(f))
		n = fz_left(f);
	f->off += n;
	*got = n;
	return at;
}

/* A fresh directory under /dev/shm (or /tmp); aborts if none can be made. */
static inline void fz_mkdtemp(char *out, size_t len, const char *what)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(out, len, "%s/arrow-fuzz-%s.XXXXXX", base, what);
	if (!mkdtemp(out)) {
		perror("mkdtemp");
		abort();
	}
}

/* rm -rf below dirfd/name, whatever modes the target gave the files. */
static inline void fz_rm_at(int at, const char *name)
{
	struct stat st;
	int fd;
	DIR *d;
	struct dirent *e;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlinkat(at, name, 0);
		return;
	}
	fchmodat(at, name, 0700, 0);
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (d = fdopendir(fd))) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				fz_rm_at(dirfd(d), e->d_name);
		closedir(d);
	} else if (fd >= 0) {
		close(fd);
	}
	unlinkat(at, name, AT_REMOVEDIR);
}

static inline void fz_rm_tree(const char *path)
{
	fz_rm_at(AT_FDCWD, path);
}

static inline void fz_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f)) {
		perror(path);
		abort();
	}
}

#endif
