/* SPDX-License-Identifier: MIT */
/*
 * Resource bounds on images (docs/images.md, "Limits"): how many bytes one layer and
 * one whole image may decompress to, how many entries one layer may hold, and how large
 * a JSON document (manifest, config, index) may be before it is read into memory. A
 * gzip layer of zeros compresses about 1000:1, so the size of what is downloaded or
 * imported says nothing about what it becomes: every consumer counts as it decompresses
 * and stops at the bound.
 */
#ifndef ARROW_IMGLIMIT_H
#define ARROW_IMGLIMIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define IMGLIMIT_IMAGE_DEFAULT (8ull << 30)  /* ARROW_MAX_IMAGE_SIZE */
#define IMGLIMIT_LAYER_DEFAULT (8ull << 30)  /* ARROW_MAX_LAYER_SIZE */
#define IMGLIMIT_ENTRIES_DEFAULT 1000000ull  /* ARROW_MAX_LAYER_ENTRIES */
#define IMGLIMIT_JSON_MAX (4u << 20)         /* a manifest, an index, a docker manifest.json */
#define IMGLIMIT_CONFIG_MAX (1u << 20)       /* an image config fetched from a registry */
/* layers an image may have: arrowh takes 64 initramfs pieces, base and config besides */
#define IMAGE_MAX_LAYERS 60

struct img_limits {
	uint64_t layer_bytes;   /* decompressed bytes of one layer */
	uint64_t image_bytes;   /* decompressed bytes of all the layers of one image */
	uint64_t layer_entries; /* tar entries (files, directories, links...) of one layer */
};

/*
 * A size: decimal digits with an optional K, M, G or T suffix (either case; powers of
 * 1024), at least 1, no overflow, nothing else ("8G", "512M", "1048576"). 0 or -EINVAL.
 */
int imglimit_parse(const char *s, uint64_t *out);
/* The defaults, overridden by the environment. 0, or -EINVAL with why naming the variable. */
int imglimit_load(struct img_limits *l, char *why, size_t whylen);
/* "8 GiB", "64 MiB", "3000 bytes": exact, for messages. */
const char *imglimit_format(uint64_t n, char *buf, size_t len);

/*
 * Read a regular file of at most max bytes into memory and parse it as JSON (duplicate
 * keys refused). A larger file, or one that grows past max while it is read, a FIFO or a
 * device is refused without reading more than max + 1 bytes. NULL with why.
 */
json_t *imglimit_load_json(const char *path, size_t max, char *why, size_t whylen);
/* The same for an open file; *buf (malloc'ed, NUL-terminated) and *len get its bytes. */
int imglimit_read_fd(int fd, size_t max, char **buf, size_t *len);

#endif
