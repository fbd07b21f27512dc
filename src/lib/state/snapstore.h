/* SPDX-License-Identifier: MIT */
/*
 * The snapshot store (docs/snapshots.md): one directory per snapshot or template,
 * DIR/NAME/{meta.json,state,memory}. New ones are written into a hidden temporary
 * directory and renamed into place once whole, so a failed or interrupted
 * snapshot leaves nothing that looks like one.
 */
#ifndef ARROW_SNAPSTORE_H
#define ARROW_SNAPSTORE_H

#include <jansson.h>
#include <stddef.h>

#define SNAP_META_FILE "meta.json"
#define SNAP_MEMORY_NAME "memory" /* guest RAM, mapped by every clone (arrowh's snap/format.h) */

/* $ARROW_SNAPSHOTS, /var/lib/arrow/snapshots as root, else $XDG_DATA_HOME (or
 * ~/.local/share)/arrow/snapshots. */
const char *snapstore_dir(void);
/* DIR/NAME into out. 0, or -ENAMETOOLONG. */
int snapstore_path(const char *name, char *out, size_t len);
/* A fresh hidden directory for NAME with meta written into it. 0 or -errno
 * (-EEXIST: NAME is taken). */
int snapstore_begin(const char *name, json_t *meta, char *tmp, size_t len);
/* Seal tmp's memory file (snapstore_seal), then rename tmp to NAME (never over an existing
 * one). 0 or -errno. */
int snapstore_commit(const char *tmp, const char *name);
/*
 * Protect a memory file that clones map: mode 0400 and, where the file system has the flag
 * and we may set it (CAP_LINUX_IMMUTABLE), FS_IMMUTABLE_FL, so that not even root can
 * write, truncate, rename or remove it until the flag is cleared. 0 when immutable, 1 when
 * only read-only, -errno when not even that.
 */
int snapstore_seal(const char *path);
/* Clear the immutable flag if it is set (a missing file is fine). 0 or -errno (-EPERM:
 * only root may). */
int snapstore_unseal(const char *path);
/* Remove a snapshot directory (or a temporary one) and its files, unsealing a sealed
 * memory file first. 0 or -errno. */
int snapstore_remove_dir(const char *dir);
/* NAME's meta.json, or NULL (-errno in *err). */
json_t *snapstore_meta(const char *name, int *err);
/* Names in the store, sorted; returns the count (array and names malloc'ed) or -errno. */
int snapstore_list(char ***names);

#endif
