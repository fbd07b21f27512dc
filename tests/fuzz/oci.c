// SPDX-License-Identifier: MIT
/*
 * OCI image documents as the image store reads them (src/lib/image/imgstore.c, registry.c,
 * and the CLI's checks in src/lib/image/imgcheck.c): an image config, a manifest naming it,
 * and an index.json naming the manifest, stored in a scratch store ($ARROW_IMAGES) and
 * loaded back: the index, the reference lookup (name or id prefix), the image load
 * (manifest, config, diff ids), the layer check, and the reference parsers.
 * Input: CONFIG \0 MANIFEST \0 INDEX \0 REF. In MANIFEST, "@C" becomes the config's
 * digest; in INDEX, "@M" the manifest's, so the fuzzer reaches past the digest checks.
 */
#include <errno.h>

#include "fuzz.h"
#include "lib/image/imgcheck.h"
#include "lib/image/imglimit.h"
#include "lib/image/imgstore.h"
#include "lib/image/registry.h"

static char dir[128], index_path[200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_mkdtemp(dir, sizeof(dir), "oci");
	setenv("ARROW_IMAGES", dir, 1);
	if (imgstore_init())
		abort();
	snprintf(index_path, sizeof(index_path), "%s/index.json", dir);
	return 0;
}

/* The next NUL-terminated part of the input (malloc'ed, exact size plus the NUL). */
static char *part(struct fz *f, size_t *len)
{
	const uint8_t *p = f->p + f->off, *end = memchr(p, 0, fz_left(f));
	size_t n = end ? (size_t)(end - p) : fz_left(f);
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	f->off += end ? n + 1 : n;
	*len = n;
	return s;
}

/* s with every "@X" replaced by with (malloc'ed). */
static char *subst(const char *s, const char *at, const char *with)
{
	size_t n = 1;
	char *out, *o;

	for (const char *p = s; *p; p++)
		n += strncmp(p, at, 2) ? 1 : strlen(with);
	out = o = malloc(n);
	if (!out)
		abort();
	for (const char *p = s; *p;) {
		if (!strncmp(p, at, 2)) {
			o = stpcpy(o, with);
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	size_t lc, lm, li, lr;
	char *config = part(&f, &lc), *mtext = part(&f, &lm), *itext = part(&f, &li);
	char *ref = part(&f, &lr), *manifest, *index;
	char cd[DIGEST_LEN + 1], md[DIGEST_LEN + 1], why[1024], norm[REF_MAX];
	struct registry_ref rr;
	struct image img;
	struct img_limits lim;
	json_t *ix, *desc;
	bool ambiguous;

	if (imgstore_put_mem(config, lc, cd))
		abort();
	manifest = subst(mtext, "@C", cd);
	if (imgstore_put_mem(manifest, strlen(manifest), md))
		abort();
	index = subst(itext, "@M", md);
	fz_write_file(index_path, index, strlen(index));

	(void)imgstore_ref_normalize(ref, norm, sizeof(norm));
	(void)registry_parse_ref(ref, &rr, why, sizeof(why));
	ix = imgstore_index_load(why, sizeof(why));
	if (ix) {
		desc = imgstore_index_find(ix, ref[0] ? ref : "fuzz", &ambiguous);
		if (!desc)
			desc = imgstore_index_find(ix, cd + 7, &ambiguous);
		if (desc && imgstore_image_load(desc, &img, why, sizeof(why)) == 0) {
			if (imglimit_load(&lim, why, sizeof(why)))
				abort();
			(void)image_check_layers(img.manifest, img.config, &lim, why, sizeof(why));
			imgstore_image_free(&img);
		}
		if (desc)
			(void)imgstore_desc_id(desc, norm, sizeof(norm));
		json_decref(ix);
	}
	/* keep the scratch store small: drop the two blobs again */
	if (!imgstore_blob_path(cd, why, sizeof(why)))
		unlink(why);
	if (!imgstore_blob_path(md, why, sizeof(why)))
		unlink(why);
	free(config);
	free(mtext);
	free(itext);
	free(ref);
	free(manifest);
	free(index);
	return 0;
}
