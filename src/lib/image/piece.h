/* SPDX-License-Identifier: MIT */
/*
 * Initramfs pieces: uncompressed newc cpio archives that the kernel unpacks
 * one after another. The base piece (ainit, the directory skeleton, /etc
 * basics) and program pieces are cached by content hash; the per-run
 * configuration piece lives in a memfd.
 */
#ifndef ARROW_PIECE_H
#define ARROW_PIECE_H

#include <stddef.h>
#include <sys/types.h>

struct piece_file {
	const char *guest_path; /* without leading slash: "app/hello" */
	mode_t mode;            /* including the file type bits */
	const void *data;       /* regular files and symlink targets */
	size_t size;
	unsigned int rdev_major, rdev_minor; /* device nodes */
};

struct archive;
struct archive_lib;
/* A libarchive writer of a newc cpio piece on fd, as the kernel reads it; NULL on failure. */
struct archive *piece_writer(const struct archive_lib *L, int fd);

/* Write a cpio newc archive of files to fd. Returns 0 or -EIO. */
int piece_write(int fd, const struct piece_file *files, size_t n);

/*
 * Return the path of a cached piece for files in *path (malloc'ed), building
 * it if absent. key_material identifies the content (it is hashed with
 * the files). If cache_dir cannot be used, the piece goes to a memfd and
 * *path is /proc/self/fd/N. Returns 0 or -errno.
 */
int piece_cached(const char *cache_dir, const struct piece_file *files, size_t n, char **path);

/* A memfd holding a piece, returned as /proc/self/fd/N in *path (fd inheritable). */
int piece_memfd(const struct piece_file *files, size_t n, char **path);

/* Hex SHA-256 of the files' names, modes and contents (65 bytes with NUL). 0 or -errno
 * (-ELIBACC: libcrypto is missing, said on stderr). */
int piece_digest(const struct piece_file *files, size_t n, char out[65]);

#endif
