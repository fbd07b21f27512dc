// SPDX-License-Identifier: MIT
/*
 * arrow import: OCI image layouts (umoci, skopeo oci:, buildah) and docker archives
 * (docker save, skopeo docker-archive:) into the image store, all or nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "lib/image/imgcheck.h"
#include "lib/image/imglimit.h"
#include "lib/image/imgstore.h"
#include "lib/image/layer.h"
#include "lib/image/lazylib.h"

#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

static const char usage[] =
	"Usage: arrow import [-t NAME[:TAG]] [-q] SOURCE[:NAME]\n"
	"Import images into the image store. SOURCE is an OCI image layout (a directory\n"
	"with oci-layout and index.json, as umoci, skopeo and buildah write them), or a tar\n"
	"of one, or a docker archive (docker save, skopeo copy ... docker-archive:FILE).\n"
	"Every blob is checked against its digest and every layer against the config's diff\n"
	"id; on any error nothing is added to the store. SOURCE:NAME takes only the image\n"
	"an OCI layout names NAME (org.opencontainers.image.ref.name).\n"
	"  -t, --tag NAME[:TAG]  the name to give the image (needed when SOURCE names it\n"
	"                        only by a tag, as skopeo's oci: layouts do)\n"
	"  -q, --quiet           print only the image ids\n";

struct import {
	json_t *index;    /* the store's, being added to */
	const char *dir;  /* the source, unpacked */
	const char *tag;  /* -t */
	const char *select; /* SOURCE:NAME: the one image of an OCI layout to take */
	bool quiet;
	struct img_limits lim;
	char why[1024];
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* A path inside the source; NULL (with why) if rel is absolute or climbs out. */
static char *source_path(struct import *im, const char *rel)
{
	char clean[4096], *out = NULL;

	if (!rel || rel[0] == '/' || layer_clean_path(rel, clean, sizeof(clean)) || !clean[0] ||
	    asprintf(&out, "%s/%s", im->dir, clean) < 0) {
		snprintf(im->why, sizeof(im->why), "the source names a path outside itself: '%s'",
			 rel ? rel : "(none)");
		return NULL;
	}
	return out;
}

/* Copy a source file into the store as a blob; checked against expect when given. */
static int copy_blob(struct import *im, const char *src, const char *expect,
		     char digest[DIGEST_LEN + 1], uint64_t *size)
{
	char tmp[4200], buf[65536], a[32];
	uint64_t total = 0;
	int in, out, ret = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(im->why, sizeof(im->why), "%s is missing from the source (%s)",
			 expect ? expect : src, strerror(errno));
		return -ENOENT;
	}
	out = imgstore_tmpfile(tmp, sizeof(tmp));
	if (out < 0) {
		close(in);
		snprintf(im->why, sizeof(im->why), "cannot write to the store: %s", strerror(-out));
		return out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		total += (uint64_t)n;
		if (total > im->lim.image_bytes) { /* no blob of an image is larger than it */
			ret = -EFBIG;
			break;
		}
		if (write(out, buf, (size_t)n) != n) {
			ret = -EIO;
			break;
		}
	}
	if (n < 0)
		ret = -errno;
	close(in);
	close(out);
	if (ret) {
		unlink(tmp);
		if (ret == -EFBIG)
			snprintf(im->why, sizeof(im->why), "%s is larger than %s, the limit per image "
				 "(ARROW_MAX_IMAGE_SIZE)", src,
				 imglimit_format(im->lim.image_bytes, a, sizeof(a)));
		else
			snprintf(im->why, sizeof(im->why), "copying %s: %s", src, strerror(-ret));
		return ret;
	}
	return imgstore_commit_tmp(tmp, expect, digest, size, im->why, sizeof(im->why));
}

/* Copy the blob a descriptor names from an OCI layout. */
static int copy_oci_blob(struct import *im, json_t *desc, char digest[DIGEST_LEN + 1])
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	char *src;
	int ret;

	if (!imgstore_digest_ok(d)) {
		snprintf(im->why, sizeof(im->why), "a descriptor has a bad digest '%s'", d ? d : "");
		return -EINVAL;
	}
	if (asprintf(&src, "%s/blobs/sha256/%s", im->dir, d + 7) < 0)
		return -ENOMEM;
	ret = copy_blob(im, src, d, digest, NULL);
	free(src);
	return ret;
}

static int name_image(struct import *im, const char *from_source, json_t *desc)
{
	char ref[REF_MAX];
	const char *name = im->tag ? im->tag : from_source;
	json_t *d;
	int ret;

	/* skopeo's oci: layouts name an image by its tag alone ("latest"): that needs -t */
	if (!name || (!im->tag && !strchr(name, ':'))) {
		snprintf(im->why, sizeof(im->why), "the source names the image %s%s%s: give it a "
			 "name with -t NAME[:TAG]", name ? "only by the tag '" : "not at all",
			 name ? name : "", name ? "'" : "");
		return -EINVAL;
	}
	if (imgstore_ref_normalize(name, ref, sizeof(ref))) {
		snprintf(im->why, sizeof(im->why), "invalid image name '%s' (lowercase name[:tag]); "
			 "give another with -t", name);
		return -EINVAL;
	}
	d = json_pack("{s:s, s:s, s:O}", "mediaType", MT_MANIFEST, "digest",
		      json_string_value(json_object_get(desc, "digest")), "size",
		      json_object_get(desc, "size"));
	ret = d ? imgstore_index_set(im->index, ref, d) : -ENOMEM;
	json_decref(d);
	if (!ret && !im->quiet) {
		printf("Loaded image: %s\n", ref);
	} else if (!ret) {
		char id[DIGEST_LEN + 1];

		if (!imgstore_desc_id(desc, id, sizeof(id)))
			printf("%s\n", id);
	}
	return ret;
}

/* One manifest of an OCI layout (an index's entries chosen by platform). */
static int import_manifest(struct import *im, json_t *desc, const char *ref_name)
{
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	char digest[DIGEST_LEN + 1], cfg_digest[DIGEST_LEN + 1];
	json_t *manifest = NULL, *config = NULL, *l, *sub;
	size_t i;
	int ret;

	if (mt && (!strcmp(mt, MT_INDEX) || !strcmp(mt, MT_DOCKER_LIST))) {
		json_t *nested, *pick = NULL;

		ret = copy_oci_blob(im, desc, digest);
		nested = ret ? NULL : imgstore_read_json(digest, im->why, sizeof(im->why));
		if (!nested)
			return -EINVAL;
		json_array_foreach(json_object_get(nested, "manifests"), i, sub) {
			json_t *p = json_object_get(sub, "platform");

			if (!pick && !strcmp(json_string_value(json_object_get(p, "os")) ?: "", "linux") &&
			    !strcmp(json_string_value(json_object_get(p, "architecture")) ?: "", "amd64"))
				pick = sub;
		}
		ret = pick ? import_manifest(im, pick, ref_name) : -EINVAL;
		if (!pick)
			snprintf(im->why, sizeof(im->why), "the image index has no linux/amd64 image");
		json_decref(nested);
		return ret;
	}
	if (mt && strcmp(mt, MT_MANIFEST) && strcmp(mt, MT_DOCKER_MANIFEST)) {
		snprintf(im->why, sizeof(im->why), "unknown manifest type %s", mt);
		return -EINVAL;
	}
	ret = copy_oci_blob(im, desc, digest);
	manifest = ret ? NULL : imgstore_read_json(digest, im->why, sizeof(im->why));
	if (!manifest)
		return -EINVAL;
	ret = copy_oci_blob(im, json_object_get(manifest, "config"), cfg_digest);
	config = ret ? NULL : imgstore_read_json(cfg_digest, im->why, sizeof(im->why));
	if (!config) {
		json_decref(manifest);
		return -EINVAL;
	}
	json_array_foreach(json_object_get(manifest, "layers"), i, l) {
		ret = copy_oci_blob(im, l, digest);
		if (ret)
			break;
	}
	if (!ret)
		ret = image_check_layers(manifest, config, &im->lim, im->why, sizeof(im->why));
	if (!ret)
		ret = name_image(im, ref_name, desc);
	json_decref(manifest);
	json_decref(config);
	return ret;
}

static json_t *load_source_json(struct import *im, const char *rel)
{
	char *path = source_path(im, rel);
	json_t *j;

	if (!path)
		return NULL;
	j = imglimit_load_json(path, IMGLIMIT_JSON_MAX, im->why, sizeof(im->why));
	free(path);
	return j;
}

static int import_oci(struct import *im)
{
	json_t *index = load_source_json(im, "index.json"), *d;
	size_t i, n;
	int ret = 0;

	if (!index)
		return -EINVAL;
	n = json_array_size(json_object_get(index, "manifests"));
	if (im->select) {
		json_t *keep = NULL;

		json_array_foreach(json_object_get(index, "manifests"), i, d)
			if (!keep && !strcmp(json_string_value(json_object_get(json_object_get(
						     d, "annotations"), ANN_REF_NAME)) ?: "", im->select))
				keep = json_incref(d);
		json_array_clear(json_object_get(index, "manifests"));
		if (keep)
			json_array_append_new(json_object_get(index, "manifests"), keep);
		n = keep ? 1 : 0;
		if (!keep) {
			snprintf(im->why, sizeof(im->why), "the layout has no image named '%s'", im->select);
			ret = -ENOENT;
		}
	}
	if (!ret && (n == 0 || (im->tag && n > 1))) {
		snprintf(im->why, sizeof(im->why), n ? "the layout holds %zu images; -t names one: "
						       "choose it with SOURCE:NAME"
						     : "the layout holds no image", n);
		ret = -EINVAL;
	}
	json_array_foreach(json_object_get(index, "manifests"), i, d) {
		if (ret)
			break;
		ret = import_manifest(im, d, json_string_value(json_object_get(
						     json_object_get(d, "annotations"), ANN_REF_NAME)));
	}
	json_decref(index);
	return ret;
}

/* Layer media type from the blob's first bytes. */
static const char *layer_type(const char *path)
{
	unsigned char m[4] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, m, sizeof(m)) < 0)
			m[0] = 0;
		close(fd);
	}
	if (m[0] == 0x1f && m[1] == 0x8b)
		return MT_LAYER_GZIP;
	if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		return MT_LAYER_ZSTD;
	return MT_LAYER;
}

/* docker save's manifest.json: [{"Config": "x.json", "RepoTags": [...], "Layers": [...]}] */
static int import_docker(struct import *im)
{
	json_t *list = load_source_json(im, "manifest.json"), *item;
	size_t i;
	int ret = 0;

	if (!list)
		return -EINVAL;
	if (!json_is_array(list) || !json_array_size(list) || (im->tag && json_array_size(list) > 1)) {
		snprintf(im->why, sizeof(im->why), "manifest.json %s", !json_is_array(list)
			 ? "is not a list" : json_array_size(list) ? "lists several images; -t names one"
								  : "lists no image");
		ret = -EINVAL;
	}
	json_array_foreach(list, i, item) {
		char cfg[DIGEST_LEN + 1], digest[DIGEST_LEN + 1], *src;
		json_t *config, *layers = json_array(), *l, *manifest, *desc;
		uint64_t size;
		size_t j;

		if (ret)
			break;
		src = source_path(im, json_string_value(json_object_get(item, "Config")));
		ret = src ? copy_blob(im, src, NULL, cfg, &size) : -EINVAL;
		free(src);
		config = ret ? NULL : imgstore_read_json(cfg, im->why, sizeof(im->why));
		if (!config) {
			json_decref(layers);
			ret = -EINVAL;
			break;
		}
		json_array_foreach(json_object_get(item, "Layers"), j, l) {
			char path[4200];
			uint64_t lsize;

			src = source_path(im, json_string_value(l));
			ret = src ? copy_blob(im, src, NULL, digest, &lsize) : -EINVAL;
			free(src);
			if (ret)
				break;
			imgstore_blob_path(digest, path, sizeof(path));
			json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
								layer_type(path), "digest", digest,
								"size", (json_int_t)lsize));
		}
		manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2,
				     "mediaType", MT_MANIFEST, "config", "mediaType", MT_CONFIG,
				     "digest", cfg, "size", (json_int_t)size, "layers", layers);
		if (!ret)
			ret = image_check_layers(manifest, config, &im->lim, im->why, sizeof(im->why));
		if (!ret) {
			char *text = json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS);

			ret = text ? imgstore_put_mem(text, strlen(text), digest) : -ENOMEM;
			desc = ret ? NULL : json_pack("{s:s, s:I}", "digest", digest, "size",
						      (json_int_t)strlen(text));
			free(text);
			ret = desc ? name_image(im, json_string_value(json_array_get(
						json_object_get(item, "RepoTags"), 0)), desc) : -ENOMEM;
			json_decref(desc);
		}
		json_decref(manifest);
		json_decref(layers);
		json_decref(config);
	}
	json_decref(list);
	return ret;
}

/*
 * Resolve link target t, relative to the directory of the entry at path (both inside the
 * archive), lexically into out; -EINVAL if it is absolute or climbs out of the archive.
 */
static int resolve_inside(const char *path, const char *t, char *out, size_t len)
{
	char buf[8300], *parts[512], *save = NULL;
	const char *slash = strrchr(path, '/');
	size_t n = 0, o = 0;

	if (t[0] == '/' || (size_t)snprintf(buf, sizeof(buf), "%.*s/%s", slash ? (int)(slash - path) : 0,
					      path, t) >= sizeof(buf))
		return -EINVAL;
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (!n)
				return -EINVAL;
			n--;
		} else if (n < sizeof(parts) / sizeof(parts[0])) {
			parts[n++] = c;
		} else {
			return -EINVAL;
		}
	}
	if (!n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(parts[i]);

		if (o + l + 2 > len)
			return -EINVAL;
		if (i)
			out[o++] = '/';
		memcpy(out + o, parts[i], l);
		o += l;
	}
	out[o] = '\0';
	return 0;
}

/* Unpack a tar into dir: files and directories; symlinks only to places inside dir. */
static int unpack(struct import *im, const char *file, const char *dir)
{
	const struct archive_lib *L = archive_lib();
	struct archive *r;
	struct archive_entry *e;
	uint64_t total = 0, entries = 0; /* an archive is bounded as one image is */
	char a[32];
	int fd, st, ret = 0;

	if (!L)
		return -ELIBACC;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(im->why, sizeof(im->why), "%s: %s", file, strerror(errno));
		return -errno;
	}
	r = L->archive_read_new();
	if (!r || L->archive_read_support_filter_all(r) || L->archive_read_support_format_tar(r) ||
	    L->archive_read_open_fd(r, fd, 65536)) {
		snprintf(im->why, sizeof(im->why), "%s is not a tar archive", file);
		ret = -EINVAL;
	}
	while (!ret && ((st = L->archive_read_next_header(r, &e)) == ARCHIVE_OK || st == ARCHIVE_WARN)) {
		mode_t mode = L->archive_entry_mode(e);
		char clean[4096], *path;

		if (++entries > im->lim.layer_entries) {
			snprintf(im->why, sizeof(im->why), "%s has more than %llu entries, the limit "
				 "(ARROW_MAX_LAYER_ENTRIES)", file,
				 (unsigned long long)im->lim.layer_entries);
			ret = -E2BIG;
			break;
		}
		if (layer_clean_path(L->archive_entry_pathname(e), clean, sizeof(clean))) {
			snprintf(im->why, sizeof(im->why), "the archive has a path outside itself");
			ret = -EINVAL;
			break;
		}
		if (!clean[0] || asprintf(&path, "%s/%s", dir, clean) < 0)
			continue;
		for (char *s = strchr(path + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
			*s = '\0';
			mkdir(path, 0700);
			*s = '/';
		}
		if (S_ISDIR(mode)) {
			if (mkdir(path, 0700) < 0 && errno != EEXIST)
				ret = -errno;
		} else if (S_ISREG(mode) && !L->archive_entry_hardlink(e)) {
			int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			char buf[65536];
			la_ssize_t n;

			if (out < 0)
				ret = -errno;
			while (!ret && (n = L->archive_read_data(r, buf, sizeof(buf))) != 0) {
				if (n > 0 && (uint64_t)n > im->lim.image_bytes - total) {
					snprintf(im->why, sizeof(im->why), "%s unpacks to more than %s, "
						 "the limit per image (ARROW_MAX_IMAGE_SIZE)", file,
						 imglimit_format(im->lim.image_bytes, a, sizeof(a)));
					ret = -EFBIG;
					break;
				}
				total += n > 0 ? (uint64_t)n : 0;
				if (n < 0)
					snprintf(im->why, sizeof(im->why), "%s is damaged at %.200s: %s",
						 file, clean, L->archive_error_string(r));
				if (n < 0 || write(out, buf, (size_t)n) != n)
					ret = -EIO;
			}
			if (out >= 0)
				close(out);
		} else if (S_ISLNK(mode) || L->archive_entry_hardlink(e)) {
			/* old docker archives link repeated layers: only to files inside */
			const char *t = S_ISLNK(mode) ? L->archive_entry_symlink(e)
						      : L->archive_entry_hardlink(e);
			char target[4096], *abs = NULL;

			if (!t || resolve_inside(S_ISLNK(mode) ? clean : "", t, target, sizeof(target)) ||
			    asprintf(&abs, "%s/%s", dir, target) < 0 ||
			    (S_ISLNK(mode) ? symlink(abs, path) : link(abs, path)) < 0) {
				snprintf(im->why, sizeof(im->why), "the archive links %.200s outside itself or "
					 "to nothing", clean);
				ret = -EINVAL;
			}
			free(abs);
		}
		if (ret && !im->why[0])
			snprintf(im->why, sizeof(im->why), "unpacking %.200s: %s", clean, strerror(-ret));
		free(path);
	}
	if (!ret && st != ARCHIVE_EOF) {
		snprintf(im->why, sizeof(im->why), "%s is damaged: %s", file, L->archive_error_string(r));
		ret = -EINVAL;
	}
	if (r)
		L->archive_read_free(r);
	close(fd);
	return ret;
}

int cmd_import(int argc, char *argv[])
{
	struct import im = { 0 };
	char tmpdir[4200] = "", check[4300];
	const char *source = NULL;
	struct stat st;
	int lock, ret;

	for (int a = 1; a < argc; a++) {
		if ((!strcmp(argv[a], "-t") || !strcmp(argv[a], "--tag")) && a + 1 < argc)
			im.tag = argv[++a];
		else if (!strcmp(argv[a], "-q") || !strcmp(argv[a], "--quiet"))
			im.quiet = true;
		else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help"))
			return fputs(usage, stdout), 0;
		else if (argv[a][0] == '-' || source)
			return bad_option("import", argv[a]);
		else
			source = argv[a];
	}
	if (!source) {
		fputs(usage, stderr);
		return EXIT_ARROW_ERROR;
	}
	if (imglimit_load(&im.lim, im.why, sizeof(im.why))) {
		fprintf(stderr, "arrow import: %s\n", im.why);
		return EXIT_ARROW_ERROR;
	}
	if (stat(source, &st) < 0 && strrchr(source, ':')) { /* LAYOUT:NAME, as skopeo's oci: */
		char *copy = strdup(source), *colon = copy ? strrchr(copy, ':') : NULL;

		if (colon) {
			*colon = '\0';
			im.select = colon + 1;
			source = copy;
		}
	}
	if (stat(source, &st) < 0) {
		fprintf(stderr, "arrow import: %s: %s\n", source, strerror(errno));
		return EXIT_ARROW_ERROR;
	}
	if (im.select && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "arrow import: SOURCE:NAME picks an image of an OCI layout directory\n");
		return EXIT_ARROW_ERROR;
	}
	if (imgstore_init() || (lock = imgstore_lock()) < 0) {
		fprintf(stderr, "arrow import: cannot use the image store %s\n", imgstore_dir());
		return EXIT_ARROW_ERROR;
	}
	im.index = imgstore_index_load(im.why, sizeof(im.why));
	ret = im.index ? 0 : -EINVAL;
	if (!ret)
		imgstore_gc(im.index); /* what an interrupted writer left goes first */
	if (!ret && S_ISDIR(st.st_mode)) {
		im.dir = source;
	} else if (!ret) {
		snprintf(tmpdir, sizeof(tmpdir), "%s/tmp/import-XXXXXX", imgstore_dir());
		ret = mkdtemp(tmpdir) ? unpack(&im, source, tmpdir) : -errno;
		im.dir = tmpdir;
	}
	if (!ret) {
		snprintf(check, sizeof(check), "%s/oci-layout", im.dir);
		if (access(check, F_OK) == 0) {
			ret = import_oci(&im);
		} else {
			snprintf(check, sizeof(check), "%s/manifest.json", im.dir);
			if (access(check, F_OK) == 0) {
				ret = import_docker(&im);
			} else {
				snprintf(im.why, sizeof(im.why), "%s is neither an OCI image layout "
					 "(no oci-layout file) nor a docker archive (no manifest.json)",
					 source);
				ret = -EINVAL;
			}
		}
	}
	if (!ret && imgstore_index_save(im.index)) {
		snprintf(im.why, sizeof(im.why), "cannot write %s/index.json", imgstore_dir());
		ret = -EIO;
	}
	if (ret) {
		imgstore_collect(); /* all or nothing: what this import added goes again */
		fprintf(stderr, "arrow import: %s\n", im.why[0] ? im.why : strerror(-ret));
	}
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	json_decref(im.index);
	imgstore_unlock(lock);
	return ret ? EXIT_ARROW_ERROR : 0;
}
