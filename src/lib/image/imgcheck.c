// SPDX-License-Identifier: MIT
/* An image's layers against its config (lib/image/imgcheck.h): used by import and pull. */
#include "imgcheck.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/image/imglimit.h"
#include "lib/image/imgstore.h"
#include "lib/image/layer.h"

/* Does every layer (already in the store) decompress to the config's diff id, within bounds? */
int image_check_layers(json_t *manifest, json_t *config, const struct img_limits *lim, char *why,
		       size_t whylen)
{
	uint64_t total = 0;
	json_t *layers = json_object_get(manifest, "layers"), *l;
	json_t *diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	const char *os = json_string_value(json_object_get(config, "os"));
	const char *arch = json_string_value(json_object_get(config, "architecture"));
	size_t i;

	if ((os && strcmp(os, "linux")) || (arch && strcmp(arch, "amd64"))) {
		snprintf(why, whylen, "the image is for %s/%s; Arrows run linux/amd64",
			 os ? os : "?", arch ? arch : "?");
		return -EINVAL;
	}
	if (!json_is_array(layers) || !json_is_array(diffs) ||
	    json_array_size(layers) != json_array_size(diffs) ||
	    json_array_size(layers) > IMAGE_MAX_LAYERS) {
		snprintf(why, whylen, "the config does not list one diff id per layer "
			 "(or there are more than %d layers)", IMAGE_MAX_LAYERS);
		return -EINVAL;
	}
	json_array_foreach(layers, i, l) {
		const char *want = json_string_value(json_array_get(diffs, i));
		const char *digest = json_string_value(json_object_get(l, "digest"));
		/* the image's budget left, or the layer's own bound if that is smaller */
		bool image_bound = lim->image_bytes - total < lim->layer_bytes;
		uint64_t max = image_bound ? lim->image_bytes - total : lim->layer_bytes;
		struct layer_info info;
		char path[4200], a[32];
		int ret;

		if (imgstore_blob_path(digest, path, sizeof(path))) {
			snprintf(why, whylen, "layer %zu has a bad digest", i + 1);
			return -EINVAL;
		}
		ret = layer_scan(path, max, lim->layer_entries, &info, why, whylen);
		if (ret == -EFBIG && image_bound)
			snprintf(why, whylen, "layer %zu (%.19s) is refused: the image's layers "
				 "decompress to more than %s, the limit per image (ARROW_MAX_IMAGE_SIZE)",
				 i + 1, digest, imglimit_format(lim->image_bytes, a, sizeof(a)));
		else if (ret == -EFBIG)
			snprintf(why, whylen, "layer %zu (%.19s) decompresses to more than %s, the "
				 "limit per layer (ARROW_MAX_LAYER_SIZE)", i + 1, digest,
				 imglimit_format(lim->layer_bytes, a, sizeof(a)));
		else if (ret == -E2BIG)
			snprintf(why, whylen, "layer %zu (%.19s) has more than %llu entries, the "
				 "limit per layer (ARROW_MAX_LAYER_ENTRIES)", i + 1, digest,
				 (unsigned long long)lim->layer_entries);
		if (ret)
			return ret;
		total += info.bytes;
		if (!want || strcmp(want, info.diff_id)) {
			snprintf(why, whylen, "layer %zu decompresses to %s, but the config "
				 "says %s", i + 1, info.diff_id, want ? want : "(none)");
			return -EBADMSG;
		}
	}
	return 0;
}
