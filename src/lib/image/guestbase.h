/* SPDX-License-Identifier: MIT */
/*
 * The base initramfs piece every Arrow boots with: the directory skeleton, /dev/console,
 * minimal /etc files and ainit as /init. Pieces unpacked after it (a program, image
 * layers, an OCI rootfs, the per-run configuration) add to it or replace its files.
 */
#ifndef ARROW_GUESTBASE_H
#define ARROW_GUESTBASE_H

#include <stddef.h>

/* The cached piece for this ainit (built if absent; a memfd if cache is NULL or unusable):
 * its path in *path (malloc'ed). 0 or -errno. */
int guestbase_piece(const char *cache, const void *ainit, size_t ainit_len, char **path);

#endif
