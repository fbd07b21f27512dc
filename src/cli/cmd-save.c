// SPDX-License-Identifier: MIT
/* arrow save: images as a tar of an OCI image layout, for arrow import, skopeo, podman. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "lib/image/imgstore.h"
#include "lib/image/lazylib.h"

static const char usage[] =
	"Usage: arrow save [-o FILE] IMAGE...\n"
	"Write images (names or ids) as a tar of an OCI image layout: to FILE, or to standard\n"
	"output when it is not a terminal. 'arrow import', 'skopeo copy oci-archive:FILE ...'\n"
	"and 'podman load' read it.\n"
	"  -o, --output FILE   write to FILE (replaced only once the archive is whole)\n";

static int add_file(const struct archive_lib *L, struct archive *a, struct archive_entry *e,
		    const char *name, const char *src, const void *mem, size_t memlen)
{
	char buf[65536];
	struct stat st;
	ssize_t n;
	int fd = -1, ret = 0;

	if (src) {
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			if (fd >= 0)
				close(fd);
			return -errno;
		}
	}
	L->archive_entry_clear(e);
	L->archive_entry_set_pathname(e, name);
	L->archive_entry_set_mode(e, S_IFREG | 0644);
	L->archive_entry_set_size(e, src ? st.st_size : (la_int64_t)memlen);
	if (L->archive_write_header(a, e) != ARCHIVE_OK)
		ret = -EIO;
	else if (!src && L->archive_write_data(a, mem, memlen) != (la_ssize_t)memlen)
		ret = -EIO;
	while (!ret && src && (n = read(fd, buf, sizeof(buf))) != 0)
		if (n < 0 || L->archive_write_data(a, buf, (size_t)n) != n)
			ret = -EIO;
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The blobs an image needs: manifest, config, layers (digests into set). */
static void image_blobs(json_t *desc, const struct image *img, json_t *set)
{
	json_t *l;
	size_t i;

	json_object_set_new(set, json_string_value(json_object_get(desc, "digest")), json_true());
	json_object_set_new(set, img->id, json_true());
	json_array_foreach(json_object_get(img->manifest, "layers"), i, l)
		json_object_set_new(set, json_string_value(json_object_get(l, "digest")), json_true());
}

static int write_layout(int fd, json_t *out_index, json_t *set, char *why, size_t whylen)
{
	const struct archive_lib *L = archive_lib();
	struct archive *a;
	struct archive_entry *e;
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	char *text = json_dumps(out_index, JSON_COMPACT | JSON_SORT_KEYS);
	const char *digest;
	json_t *v;
	int ret = 0;

	if (!L || !text) {
		free(text);
		return L ? -ENOMEM : -ELIBACC;
	}
	a = L->archive_write_new();
	e = L->archive_entry_new();
	if (!a || !e || L->archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    L->archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    L->archive_write_open_fd(a, fd) != ARCHIVE_OK)
		ret = -EIO;
	if (!ret)
		ret = add_file(L, a, e, "oci-layout", NULL, layout, sizeof(layout) - 1);
	if (!ret)
		ret = add_file(L, a, e, "index.json", NULL, text, strlen(text));
	json_object_foreach(set, digest, v) {
		char src[4200], name[100];

		if (ret)
			break;
		imgstore_blob_path(digest, src, sizeof(src));
		snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
		ret = add_file(L, a, e, name, src, NULL, 0);
		if (ret)
			snprintf(why, whylen, "blob %s: %s", digest, strerror(-ret));
	}
	if (L->archive_write_close(a) != ARCHIVE_OK && !ret)
		ret = -EIO;
	if (ret && !why[0])
		snprintf(why, whylen, "writing the archive: %s", strerror(-ret));
	if (e)
		L->archive_entry_free(e);
	if (a)
		L->archive_write_free(a);
	free(text);
	return ret;
}

int cmd_save(int argc, char *argv[])
{
	const char *output = NULL;
	char why[1024] = "", tmp[4200] = "";
	json_t *index, *out_index, *set = json_object(), *ms;
	const char *names[256];
	int n = 0, fd = 1, ret = 0;

	for (int a = 1; a < argc; a++) {
		if ((!strcmp(argv[a], "-o") || !strcmp(argv[a], "--output")) && a + 1 < argc) {
			output = argv[++a];
		} else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (argv[a][0] == '-') {
			return bad_option("save", argv[a]);
		} else if (n == 256) {
			fprintf(stderr, "arrow save: at most 256 images at once\n");
			return EXIT_ARROW_ERROR;
		} else {
			names[n++] = argv[a];
		}
	}
	if (!n) {
		fputs(usage, stderr);
		return EXIT_ARROW_ERROR;
	}
	if (!output && isatty(1)) {
		fprintf(stderr, "arrow save: refusing to write an archive to a terminal; use -o FILE\n");
		return EXIT_ARROW_ERROR;
	}
	index = imgstore_index_load(why, sizeof(why));
	if (!index) {
		fprintf(stderr, "arrow save: %s\n", why);
		return EXIT_ARROW_ERROR;
	}
	out_index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
			      "application/vnd.oci.image.index.v1+json", "manifests");
	ms = json_object_get(out_index, "manifests");
	for (int i = 0; i < n && !ret; i++) {
		struct image img;
		bool ambiguous;
		json_t *d;

		d = imgstore_index_find(index, names[i], &ambiguous);
		if (!d) {
			fprintf(stderr, "arrow save: %s: %s\n", names[i],
				ambiguous ? "several images match this id prefix" : "no such image");
			ret = -ENOENT;
		} else if (imgstore_image_load(d, &img, why, sizeof(why))) {
			fprintf(stderr, "arrow save: %s: %s\n", names[i], why);
			ret = -EINVAL;
		} else {
			image_blobs(d, &img, set);
			json_array_append(ms, d);
			imgstore_image_free(&img);
		}
	}
	if (!ret && output) {
		snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", output);
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "arrow save: %s: %s\n", output, strerror(errno));
			ret = -errno;
		}
	}
	if (!ret) {
		ret = write_layout(fd, out_index, set, why, sizeof(why));
		if (ret)
			fprintf(stderr, "arrow save: %s\n", why);
	}
	if (output && fd >= 0) {
		if (!ret && (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, output) < 0)) {
			fprintf(stderr, "arrow save: %s: %s\n", output, strerror(errno));
			ret = -errno;
		}
		close(fd);
		if (ret)
			unlink(tmp);
	}
	json_decref(set);
	json_decref(out_index);
	json_decref(index);
	return ret ? EXIT_ARROW_ERROR : 0;
}
