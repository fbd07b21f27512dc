// SPDX-License-Identifier: MIT
/* arrow images, rmi, tag: the image store's names (docs/images.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lib/image/imgstore.h"

static const char images_usage[] =
	"Usage: arrow images [-q] [--format json] [--no-trunc]\n"
	"List the images in the image store (docs/images.md).\n"
	"  -q, --quiet       image ids only\n"
	"      --no-trunc    full image ids\n"
	"      --format json one JSON object per line\n";

static const char rmi_usage[] = "Usage: arrow rmi IMAGE...\n"
				"Remove image names (NAME[:TAG] or an image id); layers and "
				"configs no other image uses are deleted.\n";

static const char tag_usage[] = "Usage: arrow tag SOURCE TARGET\n"
				"Give image SOURCE (NAME[:TAG] or id) the name TARGET.\n";

/* Seconds since the epoch of an RFC 3339 time ("2026-11-27T07:00:00Z"), 0 if not one. */
static time_t parse_time(const char *s)
{
	struct tm tm = { 0 };

	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

static uint64_t image_size(const struct image *img)
{
	json_t *l;
	size_t i;
	uint64_t total = 0;

	json_array_foreach(json_object_get(img->manifest, "layers"), i, l)
		total += (uint64_t)json_integer_value(json_object_get(l, "size"));
	return total;
}

static void human_size(uint64_t b, char *out, size_t len)
{
	if (b >= (1u << 30))
		snprintf(out, len, "%.2fGB", (double)b / 1e9);
	else if (b >= 1000000)
		snprintf(out, len, "%.1fMB", (double)b / 1e6);
	else
		snprintf(out, len, "%.1fkB", (double)b / 1e3);
}

int cmd_images(int argc, char *argv[])
{
	bool quiet = false, json = false, trunc = true;
	char why[512];
	json_t *index, *d;
	size_t i;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-q") || !strcmp(argv[a], "--quiet"))
			quiet = true;
		else if (!strcmp(argv[a], "--no-trunc"))
			trunc = false;
		else if (!strcmp(argv[a], "--format") && a + 1 < argc && !strcmp(argv[a + 1], "json"))
			json = true, a++;
		else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help"))
			return fputs(images_usage, stdout), 0;
		else
			return bad_option("images", argv[a]);
	}
	index = imgstore_index_load(why, sizeof(why));
	if (!index) {
		fprintf(stderr, "arrow images: %s\n", why);
		return EXIT_ARROW_ERROR;
	}
	if (!quiet && !json)
		printf("%-30s %-12s %-14s %-24s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
	json_array_foreach(json_object_get(index, "manifests"), i, d) {
		struct image img;
		char name[REF_MAX], size[32], ago[64], *colon;
		const char *id;
		time_t t;

		if (imgstore_image_load(d, &img, why, sizeof(why))) {
			fprintf(stderr, "arrow images: %s\n", why);
			continue;
		}
		snprintf(name, sizeof(name), "%s", img.ref[0] ? img.ref : "<none>:<none>");
		colon = strrchr(name, ':');
		*colon = '\0';
		id = img.id + 7;
		t = parse_time(json_string_value(json_object_get(img.config, "created")));
		human_size(image_size(&img), size, sizeof(size));
		if (quiet) {
			printf("%.*s\n", trunc ? 12 : 64, id);
		} else if (json) {
			json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "Repository", name, "Tag",
					      colon + 1, "ID", img.id, "Created", (json_int_t)t, "Size",
					      (json_int_t)image_size(&img));
			char *text = json_dumps(o, JSON_COMPACT);

			puts(text ? text : "{}");
			free(text);
			json_decref(o);
		} else {
			human_duration(t ? (uint64_t)(time(NULL) - t) * 1000000000ull : 0, ago, sizeof(ago));
			printf("%-30s %-12s %-14.*s %-24s %s\n", name, colon + 1, trunc ? 12 : 64, id,
			       t ? strcat(ago, " ago") : "", size);
		}
		imgstore_image_free(&img);
	}
	json_decref(index);
	return 0;
}

/* Load the index under the lock; prints why on failure. */
static json_t *locked_index(const char *verb, int *lock)
{
	char why[512];
	json_t *index;

	*lock = imgstore_lock();
	if (*lock < 0) {
		fprintf(stderr, "arrow %s: cannot lock the image store %s: %s\n", verb, imgstore_dir(),
			strerror(-*lock));
		return NULL;
	}
	index = imgstore_index_load(why, sizeof(why));
	if (!index) {
		fprintf(stderr, "arrow %s: %s\n", verb, why);
		imgstore_unlock(*lock);
	}
	return index;
}

/* Is image id (config digest) still named by an entry of the index? */
static bool id_named(json_t *index, const char *id)
{
	char cfg[DIGEST_LEN + 1];
	json_t *d;
	size_t i;

	json_array_foreach(json_object_get(index, "manifests"), i, d)
		if (!imgstore_desc_id(d, cfg, sizeof(cfg)) && !strcmp(cfg, id))
			return true;
	return false;
}

/* Remove the names arg stands for: that name, or every name of the image an id names. */
static int rmi_one(json_t *index, const char *arg)
{
	json_t *ms = json_object_get(index, "manifests"), *d;
	char norm[REF_MAX], id[DIGEST_LEN + 1];
	bool ambiguous, by_name = false;
	size_t i;

	d = imgstore_index_find(index, arg, &ambiguous);
	if (!d) {
		fprintf(stderr, "arrow rmi: %s: %s\n", arg,
			ambiguous ? "several images match this id prefix" : "no such image");
		return EXIT_ARROW_ERROR;
	}
	if (!imgstore_ref_normalize(arg, norm, sizeof(norm))) {
		const char *r = json_string_value(json_object_get(json_object_get(d, "annotations"),
								  ANN_REF_NAME));

		by_name = r && !strcmp(r, norm);
	}
	if (imgstore_desc_id(d, id, sizeof(id))) {
		/* a damaged image can still be removed by its name */
		if (!by_name) {
			fprintf(stderr, "arrow rmi: %s: the image is damaged; remove it by name\n", arg);
			return EXIT_ARROW_ERROR;
		}
		id[0] = '\0';
	}
	for (i = json_array_size(ms); i-- > 0;) {
		json_t *e = json_array_get(ms, i);
		char eid[DIGEST_LEN + 1];
		const char *r = json_string_value(json_object_get(json_object_get(e, "annotations"),
								  ANN_REF_NAME));

		if (by_name ? e != d : (imgstore_desc_id(e, eid, sizeof(eid)) || strcmp(eid, id)))
			continue;
		printf("Untagged: %s\n", r ? r : "<none>");
		json_array_remove(ms, i);
	}
	if (id[0] && !id_named(index, id))
		printf("Deleted: %s\n", id);
	return 0;
}

int cmd_rmi(int argc, char *argv[])
{
	json_t *index;
	int lock, status = 0;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(rmi_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ARROW_ERROR : 0;
	}
	if (imgstore_init() || !(index = locked_index("rmi", &lock)))
		return EXIT_ARROW_ERROR;
	for (int a = 1; a < argc; a++)
		status |= rmi_one(index, argv[a]);
	if (imgstore_index_save(index)) {
		fprintf(stderr, "arrow rmi: cannot write %s/index.json\n", imgstore_dir());
		status = EXIT_ARROW_ERROR;
	} else {
		imgstore_gc(index);
	}
	json_decref(index);
	imgstore_unlock(lock);
	return status ? EXIT_ARROW_ERROR : 0;
}

int cmd_tag(int argc, char *argv[])
{
	char ref[REF_MAX];
	bool ambiguous;
	json_t *index, *d;
	int lock, ret;

	if (argc != 3) {
		fputs(tag_usage, argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
					 ? stdout : stderr);
		return argc == 2 ? 0 : EXIT_ARROW_ERROR;
	}
	if (imgstore_ref_normalize(argv[2], ref, sizeof(ref))) {
		fprintf(stderr, "arrow tag: invalid image name '%s' (lowercase name[:tag])\n", argv[2]);
		return EXIT_ARROW_ERROR;
	}
	if (imgstore_init() || !(index = locked_index("tag", &lock)))
		return EXIT_ARROW_ERROR;
	d = imgstore_index_find(index, argv[1], &ambiguous);
	if (!d) {
		fprintf(stderr, "arrow tag: %s: %s\n", argv[1],
			ambiguous ? "several images match this id prefix" : "no such image");
		ret = EXIT_ARROW_ERROR;
	} else {
		d = json_deep_copy(d);
		ret = d && !imgstore_index_set(index, ref, d) && !imgstore_index_save(index) ? 0 : -1;
		json_decref(d);
		if (!ret)
			imgstore_gc(index);
		else
			fprintf(stderr, "arrow tag: cannot write %s/index.json\n", imgstore_dir());
		ret = ret ? EXIT_ARROW_ERROR : 0;
	}
	json_decref(index);
	imgstore_unlock(lock);
	return ret;
}
