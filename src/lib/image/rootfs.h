/* SPDX-License-Identifier: MIT */
/*
 * A host directory tree (an OCI bundle's root.path) as one initramfs piece: a newc cpio
 * archive streamed to a file descriptor, the way the kernel unpacks it over the base piece.
 * The tree is read without following symlinks; only directories, regular files and
 * symlinks are kept (device nodes, fifos and sockets are skipped: ainit mounts /dev).
 */
#ifndef ARROW_ROOTFS_H
#define ARROW_ROOTFS_H

#include <stddef.h>
#include <stdint.h>

struct rootfs_limits {
	uint64_t max_bytes;   /* file data, in total */
	uint64_t max_entries; /* entries written */
	unsigned int max_depth;
};

struct rootfs_stats {
	uint64_t bytes, entries, skipped;
};

/*
 * Write the tree under dir to fd as a newc cpio archive (with its trailer). Top-level
 * "init" and ".arrow" are left out: they are ainit and its configuration. Owners, modes
 * and mtimes are kept; a hard link becomes a copy. 0, or -errno with why set: -EFBIG
 * (max_bytes), -E2BIG (max_entries), -ELOOP (max_depth), -ENAMETOOLONG, or an I/O error.
 */
int rootfs_write_cpio(const char *dir, int fd, const struct rootfs_limits *lim,
		      struct rootfs_stats *st, char *why, size_t whylen);

/* The same into a new memfd (inherited across exec on purpose); its /proc/self/fd path
 * goes to *path (malloc'ed) and the descriptor is returned, or -errno. */
int rootfs_piece_memfd(const char *dir, const struct rootfs_limits *lim, struct rootfs_stats *st,
		       char **path, char *why, size_t whylen);

#endif
