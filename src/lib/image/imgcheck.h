/* SPDX-License-Identifier: MIT */
#ifndef ARROW_IMGCHECK_H
#define ARROW_IMGCHECK_H

#include <jansson.h>
#include <stddef.h>

/*
 * An image's layers (already in the store) against its config: platform linux/amd64, one
 * diff id per layer, each layer's decompressed stream hashing to its diff id, within the
 * bounds of lim (lib/image/imglimit.h: bytes per layer and per image, entries per layer). 0 or
 * -errno with why (`arrow import` and `arrow pull`).
 */
struct img_limits;
int image_check_layers(json_t *manifest, json_t *config, const struct img_limits *lim, char *why,
		       size_t whylen);

#endif
