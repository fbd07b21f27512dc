/* SPDX-License-Identifier: MIT */
/*
 * Image layers: writing one from host files (arrow build), and turning one
 * (a tar, possibly gzip- or zstd-compressed) into an initramfs piece.
 */
#ifndef ARROW_LAYER_H
#define ARROW_LAYER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct layer_entry {
	char *path;   /* inside the image, without leading slash: "usr/bin/redis-server" */
	mode_t mode;  /* type and permissions */
	char *host;   /* regular file: the host file to copy; symlink: its target; dir: NULL */
	int64_t mtime;
};

struct layer_list {
	struct layer_entry *v;
	size_t n, cap;
};

/*
 * Add an entry (copies the strings). path may have a leading slash; it must
 * not contain empty, "." or ".." components. Later entries for the same path
 * replace earlier ones. 0, -EINVAL or -ENOMEM.
 */
int layer_add(struct layer_list *l, const char *path, mode_t mode, const char *host, int64_t mtime);
/*
 * Add a host file or directory tree at path: regular files, directories and
 * symlinks (kept as symlinks); anything else is refused. 0 or -errno, why set.
 */
int layer_add_host(struct layer_list *l, const char *host, const char *path, char *why,
		   size_t whylen);
void layer_list_free(struct layer_list *l);

/*
 * Write the entries as an uncompressed tar (pax) to fd: sorted by path, every
 * parent directory present, owner root, so that the same files give the same
 * bytes (and the same digest) every time. 0 or -errno, why set.
 */
int layer_write_tar(struct layer_list *l, int fd, char *why, size_t whylen);

/*
 * Convert the layer at layer_path (tar, optionally compressed) into a newc cpio
 * piece on fd. Paths are normalised and checked (no "..", no absolute hard
 * links out of the layer), missing parent directories are added, hard links
 * become cpio hard links. Whiteouts (.wh.*) are refused: pieces can add files
 * but not delete those of a lower layer. lim (NULL: the defaults) bounds the entries and
 * the decompressed bytes (-E2BIG, -EFBIG). 0 or -errno, why set.
 */
struct img_limits;
int layer_to_piece(const char *layer_path, int fd, const struct img_limits *lim, char *why,
		   size_t whylen);

/* What one pass over a layer found. */
struct layer_info {
	char diff_id[72]; /* SHA-256 of the uncompressed tar stream, "sha256:hex" */
	uint64_t bytes;   /* the uncompressed stream's length */
	uint64_t entries; /* tar entries */
};
/*
 * Decompress a layer once: its diff id, size and entry count, refusing (and never
 * decompressing further) past max_bytes (-EFBIG) or max_entries (-E2BIG); a stream that
 * is not a tar archive is -EINVAL. why set on errors.
 */
int layer_scan(const char *layer_path, uint64_t max_bytes, uint64_t max_entries,
	       struct layer_info *info, char *why, size_t whylen);
/* layer_scan without bounds, only the diff id. */
int layer_diff_id(const char *layer_path, char digest[72], char *why, size_t whylen);

/* Normalise a path from an archive into out (no leading "/" or "./"). 0 or -EINVAL. */
int layer_clean_path(const char *in, char *out, size_t len);

#endif
