// SPDX-License-Identifier: MIT
/* arrow run IMAGE: the image's layers as initramfs pieces, its config as defaults. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "lib/image/imglimit.h"
#include "lib/image/imgstore.h"
#include "lib/image/layer.h"
#include "lib/launch/runopts.h"

/*
 * The cached piece of one layer: converted on first use (into a temporary
 * file renamed into place, so that concurrent runs never see half of one).
 */
static int layer_piece(const char *blob, const char *diff_id, const struct img_limits *lim,
		       char **path)
{
	char piece[4200], blob_path[4200], tmp[4300], why[1024] = "";
	int fd, ret;

	if (imgstore_piece_path(diff_id, piece, sizeof(piece)) ||
	    imgstore_blob_path(blob, blob_path, sizeof(blob_path))) {
		fprintf(stderr, "arrow: the image names a bad digest\n");
		return EXIT_ARROW_ERROR;
	}
	if (access(piece, R_OK) == 0) {
		*path = strdup(piece);
		return *path ? 0 : EXIT_ARROW_ERROR;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", piece);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "arrow: cannot write %s: %s\n", tmp, strerror(errno));
		return EXIT_ARROW_ERROR;
	}
	ret = layer_to_piece(blob_path, fd, lim, why, sizeof(why));
	if (!ret && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, piece) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		fprintf(stderr, "arrow: layer %.19s cannot become an initramfs piece: %s\n", blob,
			ret == -ELIBACC ? "libarchive is missing" : why[0] ? why : strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	*path = strdup(piece);
	return *path ? 0 : EXIT_ARROW_ERROR;
}

static bool env_key_in(const char *kv, const char *const *list, unsigned int n)
{
	size_t klen = strcspn(kv, "=");

	for (unsigned int i = 0; i < n; i++)
		if (!strncmp(list[i], kv, klen) && (list[i][klen] == '=' || list[i][klen] == '\0'))
			return true;
	return false;
}

/* Image Env first, then -e (which wins: the image's value for a key -e sets is left out). */
static int merge_env(struct run_opts *o, json_t *env)
{
	const char *user[RUNOPTS_MAX_ENV];
	unsigned int nu = o->nr_env;
	json_t *v;
	size_t i;

	memcpy(user, o->env, nu * sizeof(user[0]));
	o->nr_env = 0;
	json_array_foreach(env, i, v) {
		const char *kv = json_string_value(v);

		if (!kv || !strchr(kv, '=') || env_key_in(kv, user, nu))
			continue;
		if (o->nr_env + nu >= RUNOPTS_MAX_ENV)
			return -E2BIG;
		o->env[o->nr_env++] = kv;
	}
	memcpy(o->env + o->nr_env, user, nu * sizeof(user[0]));
	o->nr_env += nu;
	return 0;
}

/* "1000" or "1000:1000" into o (when -u was not given). */
static int image_user(struct run_opts *o, const char *u)
{
	char *end;
	unsigned long uid, gid;

	if (o->user || !u || !*u)
		return 0;
	uid = strtoul(u, &end, 10);
	gid = uid;
	if (end != u && *end == ':')
		gid = strtoul(end + 1, &end, 10);
	if (end == u || *end || uid > 0xfffffffe || gid > 0xfffffffe) {
		fprintf(stderr, "arrow: the image runs as user '%s'; Arrows take numeric users: "
				"give -u UID[:GID]\n", u);
		return EXIT_ARROW_ERROR;
	}
	o->user = u;
	o->uid = (unsigned int)uid;
	o->gid = (unsigned int)gid;
	return 0;
}

int image_plan(struct run_opts *o, struct image_plan *p)
{
	struct img_limits lim;
	char why[1024];
	bool ambiguous;
	json_t *index, *desc, *cfg, *entry, *cmd, *l;
	size_t i, ne, nc;
	int ret;

	memset(p, 0, sizeof(*p));
	if (strchr(o->program, '/') || access(imgstore_dir(), F_OK))
		return 0;
	index = imgstore_index_load(why, sizeof(why));
	if (!index) {
		fprintf(stderr, "arrow: warning: the image store is unusable (%s); '%s' is looked up "
				"as a program\n", why, o->program);
		return 0;
	}
	desc = imgstore_index_find(index, o->program, &ambiguous);
	if (!desc) {
		json_decref(index);
		return 0;
	}
	ret = imgstore_image_load(desc, &p->img, why, sizeof(why));
	json_decref(index);
	if (ret) {
		fprintf(stderr, "arrow: image %s: %s\n", o->program, why);
		return EXIT_ARROW_ERROR;
	}
	cfg = json_object_get(p->img.config, "config");
	entry = json_object_get(cfg, "Entrypoint");
	cmd = o->nr_args ? NULL : json_object_get(cfg, "Cmd");
	ne = json_array_size(entry);
	nc = o->nr_args ? (size_t)o->nr_args : json_array_size(cmd);
	if (ne + nc == 0) {
		fprintf(stderr, "arrow: image %s has no Entrypoint or Cmd: give the command to run\n",
			o->program);
		return EXIT_ARROW_ERROR;
	}
	p->argv = calloc(ne + nc + 1, sizeof(*p->argv));
	if (!p->argv)
		return EXIT_ARROW_ERROR;
	for (i = 0; i < ne; i++)
		p->argv[p->argc++] = json_string_value(json_array_get(entry, i));
	for (i = 0; i < nc; i++)
		p->argv[p->argc++] = o->nr_args ? o->args[i] : json_string_value(json_array_get(cmd, i));
	for (i = 0; i < (size_t)p->argc; i++) {
		if (!p->argv[i]) {
			fprintf(stderr, "arrow: image %s has a non-string Entrypoint or Cmd\n", o->program);
			return EXIT_ARROW_ERROR;
		}
	}
	if (merge_env(o, json_object_get(cfg, "Env"))) {
		fprintf(stderr, "arrow: too many environment variables\n");
		return EXIT_ARROW_ERROR;
	}
	if (!o->workdir && json_string_value(json_object_get(cfg, "WorkingDir")) &&
	    json_string_value(json_object_get(cfg, "WorkingDir"))[0] == '/')
		o->workdir = json_string_value(json_object_get(cfg, "WorkingDir"));
	ret = image_user(o, json_string_value(json_object_get(cfg, "User")));
	if (ret)
		return ret;
	if (json_array_size(json_object_get(p->img.manifest, "layers")) > IMAGE_MAX_LAYERS) {
		fprintf(stderr, "arrow: image %s has more than %d layers\n", o->program,
			IMAGE_MAX_LAYERS);
		return EXIT_ARROW_ERROR;
	}
	if (imglimit_load(&lim, why, sizeof(why))) {
		fprintf(stderr, "arrow: %s\n", why);
		return EXIT_ARROW_ERROR;
	}
	json_array_foreach(json_object_get(p->img.manifest, "layers"), i, l) {
		json_t *diffs = json_object_get(json_object_get(p->img.config, "rootfs"), "diff_ids");

		ret = layer_piece(json_string_value(json_object_get(l, "digest")),
				  json_string_value(json_array_get(diffs, i)), &lim, &p->pieces[i]);
		if (ret)
			return ret;
		p->nr_pieces++;
	}
	o->args = (char *const *)p->argv + 1;
	o->nr_args = p->argc - 1;
	return 1;
}

void image_plan_free(struct image_plan *p)
{
	for (unsigned int i = 0; i < p->nr_pieces; i++)
		free(p->pieces[i]);
	free(p->argv);
	imgstore_image_free(&p->img);
	memset(p, 0, sizeof(*p));
}
