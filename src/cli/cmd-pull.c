// SPDX-License-Identifier: MIT
/* arrow pull, arrow push: images from and to an OCI distribution registry (docs/images.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "lib/image/imgcheck.h"
#include "lib/image/imglimit.h"
#include "lib/image/imgstore.h"
#include "lib/image/registry.h"

#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MANIFEST_MAX IMGLIMIT_JSON_MAX

static const char pull_usage[] =
	"Usage: arrow pull [-q] HOST[:PORT]/NAME[:TAG]\n"
	"Fetch an image from an OCI distribution registry into the image store: its manifest\n"
	"(the linux/amd64 one of an index), config and layers, each checked against its\n"
	"digest and every layer against its diff id; on any error nothing is added.\n"
	"Loopback registries are spoken to in HTTP, others in HTTPS.\n";

static const char push_usage[] =
	"Usage: arrow push IMAGE [HOST[:PORT]/NAME[:TAG]]\n"
	"Upload an image to an OCI distribution registry: the layers and config it does not\n"
	"have yet, then the manifest. Without a destination, IMAGE's own name must begin\n"
	"with the registry.\n";

static const char *const accept_manifests =
	MT_MANIFEST ", " MT_INDEX ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST;

/*
 * GET a manifest or blob into the store, checked against expect (NULL for a tag): at most
 * max bytes are read (a longer reply is refused as it comes); with exact, it must be
 * exactly max bytes long (the size its descriptor declares).
 */
static int fetch(const struct registry_ref *r, const char *kind, const char *ref,
		 const char *expect, uint64_t max, bool exact, char digest[DIGEST_LEN + 1],
		 char *mt, size_t mtlen, char *why, size_t whylen)
{
	char tmp[4200], path[600];
	struct registry_reply rep;
	uint64_t got = 0;
	int fd = imgstore_tmpfile(tmp, sizeof(tmp)), ret;

	if (fd < 0) {
		snprintf(why, whylen, "cannot write to the image store: %s", strerror(-fd));
		return fd;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", r->repo, kind, ref);
	ret = registry_request(r, "GET", path, !strcmp(kind, "manifests") ? accept_manifests : NULL,
			       NULL, -1, 0, fd, max, &rep, why, whylen);
	close(fd);
	if (!ret && rep.status != 200) {
		snprintf(why, whylen, "%s/%s: %s (HTTP %ld)", r->host, path,
			 rep.status == 404 ? "not found in the registry" :
			 rep.status == 401 ? "the registry wants a login (not supported yet)" :
					     "refused by the registry", rep.status);
		ret = -ENOENT;
	}
	if (ret) {
		unlink(tmp);
		return ret;
	}
	if (mt)
		snprintf(mt, mtlen, "%.*s", (int)strcspn(rep.content_type, ";"), rep.content_type);
	/* a manifest fetched by tag is checked against the digest the registry says it has */
	if (!expect && imgstore_digest_ok(rep.digest))
		expect = rep.digest;
	if (exact) { /* before hashing: a short blob is refused for what it is */
		struct stat st;

		got = stat(tmp, &st) ? 0 : (uint64_t)st.st_size;
		if (got != max) {
			snprintf(why, whylen, "%s/%s: the registry sent %llu bytes, the manifest "
				 "declares %llu", r->host, path, (unsigned long long)got,
				 (unsigned long long)max);
			unlink(tmp);
			return -EBADMSG;
		}
	}
	return imgstore_commit_tmp(tmp, expect, digest, NULL, why, whylen);
}

/*
 * A descriptor's declared size: a positive integer no larger than max. 0, or -EINVAL /
 * -EFBIG with why.
 */
static int declared_size(json_t *desc, const char *what, uint64_t max, const char *limit,
			 uint64_t *size, char *why, size_t whylen)
{
	json_t *v = json_object_get(desc, "size");
	char a[32];

	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		snprintf(why, whylen, "the manifest declares no valid size for %s", what);
		return -EINVAL;
	}
	*size = (uint64_t)json_integer_value(v);
	if (*size > max) {
		snprintf(why, whylen, "%s is %llu bytes, more than %s, the limit%s", what,
			 (unsigned long long)*size, imglimit_format(max, a, sizeof(a)), limit);
		return -EFBIG;
	}
	return 0;
}

/* The manifest of ref (following an index to its linux/amd64 entry): digest and type. */
static int fetch_manifest(const struct registry_ref *r, char digest[DIGEST_LEN + 1], char *mt,
			  size_t mtlen, char *why, size_t whylen)
{
	json_t *m, *sub, *pick = NULL;
	size_t i;
	int ret;

	ret = fetch(r, "manifests", r->tag, NULL, MANIFEST_MAX, false, digest, mt, mtlen, why,
		    whylen);
	if (ret)
		return ret;
	m = imgstore_read_json(digest, why, whylen);
	if (!m)
		return -EINVAL;
	if (json_string_value(json_object_get(m, "mediaType")))
		snprintf(mt, mtlen, "%s", json_string_value(json_object_get(m, "mediaType")));
	if (strcmp(mt, MT_INDEX) && strcmp(mt, MT_DOCKER_LIST)) {
		json_decref(m);
		return 0;
	}
	json_array_foreach(json_object_get(m, "manifests"), i, sub) {
		json_t *p = json_object_get(sub, "platform");

		if (!pick && !strcmp(json_string_value(json_object_get(p, "os")) ?: "", "linux") &&
		    !strcmp(json_string_value(json_object_get(p, "architecture")) ?: "", "amd64"))
			pick = sub;
	}
	if (!pick || !imgstore_digest_ok(json_string_value(json_object_get(pick, "digest")))) {
		snprintf(why, whylen, "%s has no linux/amd64 image", r->full);
		json_decref(m);
		return -ENOENT;
	}
	snprintf(mt, mtlen, "%s", json_string_value(json_object_get(pick, "mediaType")) ?: MT_MANIFEST);
	ret = fetch(r, "manifests", json_string_value(json_object_get(pick, "digest")),
		    json_string_value(json_object_get(pick, "digest")), MANIFEST_MAX, false, digest,
		    NULL, 0, why, whylen);
	json_decref(m);
	return ret;
}

static int pull(const struct registry_ref *r, json_t *index, const struct img_limits *lim,
		bool quiet, char *why, size_t whylen)
{
	char mdigest[DIGEST_LEN + 1], d[DIGEST_LEN + 1], mt[128] = MT_MANIFEST;
	json_t *manifest, *config = NULL, *l, *desc;
	uint64_t size, total = 0;
	const char *cd;
	size_t i;
	int ret;

	ret = fetch_manifest(r, mdigest, mt, sizeof(mt), why, whylen);
	manifest = ret ? NULL : imgstore_read_json(mdigest, why, whylen);
	if (!manifest)
		return -EINVAL;
	cd = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
	ret = imgstore_digest_ok(cd) ? 0 : -EINVAL;
	if (ret)
		snprintf(why, whylen, "the manifest of %s names no config", r->full);
	if (!ret)
		ret = declared_size(json_object_get(manifest, "config"), "the config",
				    IMGLIMIT_CONFIG_MAX, " for a config", &size, why, whylen);
	if (!ret)
		ret = fetch(r, "blobs", cd, cd, size, true, d, NULL, 0, why, whylen);
	config = ret ? NULL : imgstore_read_json(cd, why, whylen);
	if (!config)
		ret = ret ? ret : -EINVAL;
	json_array_foreach(json_object_get(manifest, "layers"), i, l) {
		const char *ld = json_string_value(json_object_get(l, "digest"));

		if (ret)
			break;
		if (!imgstore_digest_ok(ld)) {
			snprintf(why, whylen, "the manifest of %s has a bad layer digest", r->full);
			ret = -EINVAL;
			break;
		}
		/* a compressed layer is never larger than the bounds on what it decompresses to */
		snprintf(d, sizeof(d), "layer %zu (%.19s)", i + 1, ld);
		ret = declared_size(l, d, lim->layer_bytes, " per layer (ARROW_MAX_LAYER_SIZE)",
				    &size, why, whylen);
		if (!ret && size > lim->image_bytes - total) {
			char a[32];

			snprintf(why, whylen, "layer %zu (%.19s) is refused: the image's layers are "
				 "more than %s, the limit per image (ARROW_MAX_IMAGE_SIZE)", i + 1, ld,
				 imglimit_format(lim->image_bytes, a, sizeof(a)));
			ret = -EFBIG;
		}
		if (ret)
			break;
		total += size;
		if (!quiet)
			fprintf(stderr, "%.19s: pulling\n", ld + 7);
		ret = fetch(r, "blobs", ld, ld, size, true, d, NULL, 0, why, whylen);
	}
	if (!ret)
		ret = image_check_layers(manifest, config, lim, why, whylen);
	if (!ret) {
		char blob[4200];
		struct stat st;

		imgstore_blob_path(mdigest, blob, sizeof(blob));
		desc = stat(blob, &st) ? NULL : json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest",
							   mdigest, "size", (json_int_t)st.st_size);
		ret = desc ? imgstore_index_set(index, r->full, desc) : -ENOMEM;
		json_decref(desc);
	}
	json_decref(config);
	json_decref(manifest);
	return ret;
}

int cmd_pull(int argc, char *argv[])
{
	struct registry_ref r;
	struct img_limits lim;
	char why[1024] = "";
	bool quiet = false;
	const char *ref = NULL;
	json_t *index;
	int lock, ret;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-q") || !strcmp(argv[a], "--quiet"))
			quiet = true;
		else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help"))
			return fputs(pull_usage, stdout), 0;
		else if (argv[a][0] == '-' || ref)
			return bad_option("pull", argv[a]);
		else
			ref = argv[a];
	}
	if (!ref) {
		fputs(pull_usage, stderr);
		return EXIT_ARROW_ERROR;
	}
	if (registry_parse_ref(ref, &r, why, sizeof(why)) || imglimit_load(&lim, why, sizeof(why))) {
		fprintf(stderr, "arrow pull: %s\n", why);
		return EXIT_ARROW_ERROR;
	}
	if (imgstore_init() || (lock = imgstore_lock()) < 0) {
		fprintf(stderr, "arrow pull: cannot use the image store %s\n", imgstore_dir());
		return EXIT_ARROW_ERROR;
	}
	index = imgstore_index_load(why, sizeof(why));
	if (index)
		imgstore_gc(index); /* what an interrupted writer left goes first */
	ret = index ? pull(&r, index, &lim, quiet, why, sizeof(why)) : -EINVAL;
	if (!ret && imgstore_index_save(index)) {
		snprintf(why, sizeof(why), "cannot write %s/index.json", imgstore_dir());
		ret = -EIO;
	}
	if (ret) {
		imgstore_collect(); /* all or nothing: what this pull stored goes again */
		fprintf(stderr, "arrow pull: %s\n", why[0] ? why : strerror(-ret));
	} else {
		printf("%s\n", r.full);
	}
	json_decref(index);
	imgstore_unlock(lock);
	return ret ? EXIT_ARROW_ERROR : 0;
}

/* Upload one blob unless the registry has it. */
static int push_blob(const struct registry_ref *r, const char *digest, char *why, size_t whylen)
{
	struct registry_reply rep;
	char path[600], src[4200], put[2200];
	struct stat st;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/blobs/%s", r->repo, digest);
	ret = registry_request(r, "HEAD", path, NULL, NULL, -1, 0, -1, 0, &rep, why, whylen);
	if (ret || rep.status == 200)
		return ret;
	snprintf(path, sizeof(path), "%s/blobs/uploads/", r->repo);
	ret = registry_request(r, "POST", path, NULL, NULL, -1, 0, -1, 4096, &rep, why, whylen);
	if (!ret && (rep.status != 202 || !rep.location[0])) {
		snprintf(why, whylen, "%s: the registry refused an upload (HTTP %ld)", r->full,
			 rep.status);
		ret = -EIO;
	}
	if (ret)
		return ret;
	snprintf(put, sizeof(put), "%s%sdigest=sha256%%3A%s", rep.location,
		 strchr(rep.location, '?') ? "&" : "?", digest + 7);
	imgstore_blob_path(digest, src, sizeof(src));
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, whylen, "blob %s is missing from the store", digest);
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	ret = registry_request(r, "PUT", put, NULL, "application/octet-stream", fd,
			       (uint64_t)st.st_size, -1, 4096, &rep, why, whylen);
	close(fd);
	if (!ret && rep.status != 201) {
		snprintf(why, whylen, "%s: the registry did not take blob %.19s (HTTP %ld)", r->full,
			 digest, rep.status);
		ret = -EIO;
	}
	return ret;
}

int cmd_push(int argc, char *argv[])
{
	struct registry_ref r;
	struct registry_reply rep;
	struct image img;
	char why[1024] = "", path[600], src[4200];
	const char *mt, *mdigest;
	bool ambiguous;
	json_t *index, *desc, *l;
	struct stat st;
	size_t i;
	int lock, ret = 0, fd;

	if (argc < 2 || argc > 3 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(push_usage, argc < 2 || argc > 3 ? stderr : stdout);
		return argc < 2 || argc > 3 ? EXIT_ARROW_ERROR : 0;
	}
	if (registry_parse_ref(argv[argc - 1], &r, why, sizeof(why))) {
		fprintf(stderr, "arrow push: %s\n", why);
		return EXIT_ARROW_ERROR;
	}
	if ((lock = imgstore_lock()) < 0 || !(index = imgstore_index_load(why, sizeof(why)))) {
		fprintf(stderr, "arrow push: %s\n", why[0] ? why : "cannot lock the image store");
		return EXIT_ARROW_ERROR;
	}
	desc = imgstore_index_find(index, argv[1], &ambiguous);
	if (!desc || imgstore_image_load(desc, &img, why, sizeof(why))) {
		fprintf(stderr, "arrow push: %s: %s\n", argv[1], desc ? why : "no such image");
		json_decref(index);
		imgstore_unlock(lock);
		return EXIT_ARROW_ERROR;
	}
	json_array_foreach(json_object_get(img.manifest, "layers"), i, l) {
		ret = push_blob(&r, json_string_value(json_object_get(l, "digest")), why, sizeof(why));
		if (ret)
			break;
	}
	if (!ret)
		ret = push_blob(&r, img.id, why, sizeof(why));
	mdigest = json_string_value(json_object_get(desc, "digest"));
	mt = json_string_value(json_object_get(img.manifest, "mediaType"));
	if (!mt)
		mt = json_string_value(json_object_get(desc, "mediaType")) ?: MT_MANIFEST;
	imgstore_blob_path(mdigest, src, sizeof(src));
	snprintf(path, sizeof(path), "%s/manifests/%s", r.repo, r.tag);
	if (!ret && ((fd = open(src, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)) {
		snprintf(why, sizeof(why), "the manifest blob is missing from the store");
		ret = -ENOENT;
	} else if (!ret) {
		ret = registry_request(&r, "PUT", path, NULL, mt, fd, (uint64_t)st.st_size, -1, 4096,
				       &rep, why, sizeof(why));
		close(fd);
		if (!ret && rep.status != 201) {
			snprintf(why, sizeof(why), "%s: the registry refused the manifest (HTTP %ld)",
				 r.full, rep.status);
			ret = -EIO;
		}
	}
	if (ret)
		fprintf(stderr, "arrow push: %s\n", why);
	else
		printf("%s: digest %s\n", r.full, mdigest);
	imgstore_image_free(&img);
	json_decref(index);
	imgstore_unlock(lock);
	return ret ? EXIT_ARROW_ERROR : 0;
}
