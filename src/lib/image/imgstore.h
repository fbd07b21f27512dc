/* SPDX-License-Identifier: MIT */
/*
 * The image store (docs/images.md): an OCI image layout (image-spec v1
 * image-layout) holding every image's manifest, config and layers as
 * content-addressed blobs under blobs/sha256/, and index.json naming the
 * images ("name:tag" in org.opencontainers.image.ref.name). Beside the layout,
 * pieces/ caches each layer converted to an initramfs piece, by diff id.
 *
 * Blobs are written to a temporary file, checked against their digest and
 * renamed into place; index.json is replaced by rename under the store lock. An
 * interrupted or failed write therefore leaves the store as it was (at worst an
 * unreferenced blob, which the next garbage collection removes).
 */
#ifndef ARROW_IMGSTORE_H
#define ARROW_IMGSTORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN 71 /* "sha256:" + 64 hex */
#define REF_MAX 256

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define ANN_REF_NAME "org.opencontainers.image.ref.name"

/* $ARROW_IMAGES; /var/lib/arrow/images as root; else $XDG_DATA_HOME/arrow/images. */
const char *imgstore_dir(void);
/* Create the layout if it is not there yet. 0 or -errno. */
int imgstore_init(void);
/* The store lock (exclusive flock), for index changes and garbage collection. fd or -errno. */
int imgstore_lock(void);
void imgstore_unlock(int fd);

/* "sha256:" and 64 lowercase hex digits? */
bool imgstore_digest_ok(const char *digest);
/* Path of a blob (which may not exist). 0, -EINVAL for a bad digest, -ENAMETOOLONG. */
int imgstore_blob_path(const char *digest, char *out, size_t len);
/* Path of the cached initramfs piece of a layer with this diff id. */
int imgstore_piece_path(const char *diff_id, char *out, size_t len);

/*
 * A temporary file inside the store, on the same file system as the blobs:
 * fd, with its path in tmp. imgstore_commit_tmp hashes it, checks the digest
 * against expect (if not NULL) and renames it into blobs/ (or drops it if the
 * blob is there already). Either way tmp is gone afterwards.
 */
int imgstore_tmpfile(char *tmp, size_t len);
int imgstore_commit_tmp(const char *tmp, const char *expect, char digest[DIGEST_LEN + 1],
			uint64_t *size, char *why, size_t whylen);
/* A blob from memory (manifests, configs). */
int imgstore_put_mem(const void *buf, size_t len, char digest[DIGEST_LEN + 1]);
/* SHA-256 of a file's bytes as "sha256:hex". 0 or -errno. */
int imgstore_hash_fd(int fd, char digest[DIGEST_LEN + 1], uint64_t *size);
/* Parse a JSON blob, checking it against its digest; NULL with why. */
json_t *imgstore_read_json(const char *digest, char *why, size_t whylen);

/*
 * Normalise a reference: "redis" -> "redis:latest"; names are lowercase
 * [a-z0-9] components joined by '.', '_', '__', '-' or '/', tags
 * [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. 0 or -EINVAL.
 */
int imgstore_ref_normalize(const char *in, char *out, size_t len);

/* index.json (a new reference); NULL with why. */
json_t *imgstore_index_load(char *why, size_t whylen);
/* Replace index.json atomically. Caller holds the lock. 0 or -errno. */
int imgstore_index_save(json_t *index);
/*
 * The index entry (borrowed) that ref names: "name[:tag]", or an image id
 * prefix (at least 4 hex digits of the config digest, unique). NULL if none;
 * *ambiguous set when an id prefix matches several images.
 */
json_t *imgstore_index_find(json_t *index, const char *ref, bool *ambiguous);
/* The image id (config digest) of an index entry. 0, or -EINVAL if its manifest is unusable. */
int imgstore_desc_id(json_t *desc, char *out, size_t len);
/* Point ref at a manifest descriptor (copied), replacing what it named. Lock held. */
int imgstore_index_set(json_t *index, const char *ref, json_t *desc);

/*
 * An image, loaded: its manifest and config (new references), and the
 * config digest (the image id). NULL with why when a blob is missing,
 * damaged, or not an image this store can run.
 */
struct image {
	json_t *manifest, *config;
	char id[DIGEST_LEN + 1];
	char ref[REF_MAX];
};
int imgstore_image_load(json_t *desc, struct image *img, char *why, size_t whylen);
void imgstore_image_free(struct image *img);

/*
 * Delete blobs and pieces that no image in index refers to, and whatever an interrupted
 * writer left in tmp/. Lock held. Returns the number of blobs and pieces removed.
 */
int imgstore_gc(json_t *index);
/*
 * After a failed build, import or pull (lock held): collect against index.json as it is
 * on disk, which the failure left alone, so the blobs it had written go again.
 */
void imgstore_collect(void);

#endif
