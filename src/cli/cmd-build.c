// SPDX-License-Identifier: MIT
/* arrow build: an OCI image from a host program, its loader and libraries (docs/images.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lib/image/elfdeps.h"
#include "lib/image/elfinfo.h"
#include "lib/image/imglimit.h"
#include "lib/image/imgstore.h"
#include "lib/image/layer.h"

#define MAX_FILES 64
#define MAX_ENV 64
#define MAX_PORTS 16

static const char usage[] =
	"Usage: arrow build -t NAME[:TAG] --from-host PROGRAM [OPTIONS] [-- ARGS...]\n"
	"       arrow build -t NAME[:TAG] [-f ARROWFILE] DIR\n"
	"Make an image of a program installed on this host: the program, its ELF\n"
	"interpreter and every shared library it needs (DT_NEEDED, followed the way\n"
	"the dynamic loader does), plus the files you add. ARGS become the image's\n"
	"default arguments (Cmd); arguments given to 'arrow run IMAGE' replace them.\n"
	"The second form reads the same from a JSON Arrowfile (DIR/Arrowfile by default;\n"
	"docs/images.md): a program in DIR, its arguments, env, files from DIR...\n"
	"\n"
	"Options:\n"
	"  -t, --tag NAME[:TAG]    name of the image (default tag 'latest')\n"
	"      --from-host PROGRAM the program (a path, or a name looked up in $PATH)\n"
	"      --file SRC:DST      add a host file or directory tree at DST (repeatable)\n"
	"  -e, --env KEY=VALUE     environment of the image (repeatable)\n"
	"  -w, --workdir DIR       working directory (absolute)\n"
	"      --expose PORT[/tcp|/udp]  a port the program listens on (repeatable)\n"
	"  -u, --user UID[:GID]    numeric user the program runs as\n"
	"  -f, --arrowfile FILE    the Arrowfile (second form)\n"
	"  -q, --quiet             print only the image id\n"
	"  -h, --help              this text\n";

struct build_opts {
	const char *tag, *program, *workdir, *user;
	const char *arrowfile, *dir; /* second form */
	json_t *spec;                /* the Arrowfile, which strings above may point into */
	char *owned[MAX_FILES + 1];  /* paths made from DIR */
	unsigned int nr_owned;
	const char *prog_guest;      /* where the program goes in the image */
	const char *files[MAX_FILES];
	const char *env[MAX_ENV];
	const char *ports[MAX_PORTS];
	unsigned int nr_files, nr_env, nr_ports;
	char *const *args;
	int nr_args;
	bool quiet;
};

/* DIR/rel, refusing absolute paths and ".."; remembered in b->owned. NULL if bad. */
static const char *in_dir(struct build_opts *b, const char *rel)
{
	char clean[4096], *p;

	if (!rel || rel[0] == '/' || layer_clean_path(rel, clean, sizeof(clean)) || !clean[0] ||
	    b->nr_owned == MAX_FILES + 1 || asprintf(&p, "%s/%s", b->dir, clean) < 0)
		return NULL;
	return b->owned[b->nr_owned++] = p;
}

/*
 * The Arrowfile (JSON): {"program": "bin/app", "args": [...], "env": {"K": "V"} or
 * ["K=V"], "workdir": "/", "user": "1000", "expose": [80, "53/udp"],
 * "files": {"conf/app.conf": "/etc/app.conf"}}. Paths are relative to DIR.
 */
static int read_arrowfile(struct build_opts *b)
{
	char path[4200], err[4400], *file_arg = NULL;
	json_t *v, *args, *item;
	const char *key;
	size_t i;

	snprintf(path, sizeof(path), "%s", b->arrowfile ? b->arrowfile : "");
	if (!b->arrowfile)
		snprintf(path, sizeof(path), "%s/Arrowfile", b->dir);
	b->spec = imglimit_load_json(path, IMGLIMIT_CONFIG_MAX, err, sizeof(err));
	if (!json_is_object(b->spec)) {
		if (b->spec)
			fprintf(stderr, "arrow build: %s: not a JSON object\n", path);
		else
			fprintf(stderr, "arrow build: %s\n", err);
		return -1;
	}
	json_object_foreach(b->spec, key, v) {
		if (strcmp(key, "program") && strcmp(key, "args") && strcmp(key, "env") &&
		    strcmp(key, "workdir") && strcmp(key, "user") && strcmp(key, "expose") &&
		    strcmp(key, "files")) {
			fprintf(stderr, "arrow build: %s: unknown key '%s'\n", path, key);
			return -1;
		}
	}
	b->program = in_dir(b, json_string_value(json_object_get(b->spec, "program")));
	if (!b->program) {
		fprintf(stderr, "arrow build: %s: \"program\" must name a file inside %s\n", path,
			b->dir);
		return -1;
	}
	b->prog_guest = NULL; /* set from the program's name once it is found */
	args = json_object_get(b->spec, "args");
	b->args = calloc(json_array_size(args) + 1, sizeof(char *));
	json_array_foreach(args, i, item) {
		if (!json_is_string(item)) {
			fprintf(stderr, "arrow build: %s: \"args\" must be strings\n", path);
			return -1;
		}
		((const char **)b->args)[b->nr_args++] = json_string_value(item);
	}
	v = json_object_get(b->spec, "env");
	if (json_is_object(v)) {
		json_object_foreach(v, key, item) {
			char *kv;

			if (!json_is_string(item) || b->nr_env == MAX_ENV || !*key || strchr(key, '=') ||
			    asprintf(&kv, "%s=%s", key, json_string_value(item)) < 0) {
				fprintf(stderr, "arrow build: %s: bad \"env\" entry '%s'\n", path, key);
				return -1;
			}
			b->env[b->nr_env++] = kv;
		}
	} else {
		json_array_foreach(v, i, item) {
			const char *kv = json_string_value(item);

			if (!kv || !strchr(kv, '=') || kv[0] == '=' || b->nr_env == MAX_ENV) {
				fprintf(stderr, "arrow build: %s: bad \"env\" entry\n", path);
				return -1;
			}
			b->env[b->nr_env++] = kv;
		}
	}
	b->workdir = json_string_value(json_object_get(b->spec, "workdir"));
	b->user = json_string_value(json_object_get(b->spec, "user"));
	json_array_foreach(json_object_get(b->spec, "expose"), i, item) {
		char *port = NULL;

		if (b->nr_ports == MAX_PORTS ||
		    (json_is_integer(item) ? asprintf(&port, "%lld", (long long)json_integer_value(item))
					   : asprintf(&port, "%s", json_string_value(item) ?: "")) < 0)
			return -1;
		b->ports[b->nr_ports++] = port;
	}
	json_object_foreach(json_object_get(b->spec, "files"), key, item) {
		const char *src = in_dir(b, key), *dst = json_string_value(item);

		if (!src || !dst || dst[0] != '/' || b->nr_files == MAX_FILES ||
		    asprintf(&file_arg, "%s:%s", src, dst) < 0) {
			fprintf(stderr, "arrow build: %s: bad \"files\" entry '%s' (a path inside %s: "
				"an absolute path in the image)\n", path, key, b->dir);
			return -1;
		}
		b->files[b->nr_files++] = file_arg;
	}
	return 0;
}

static int parse(struct build_opts *b, int argc, char *argv[])
{
	static const struct option options[] = {
		{ "tag", required_argument, NULL, 't' },   { "from-host", required_argument, NULL, 'H' },
		{ "file", required_argument, NULL, 'F' },  { "env", required_argument, NULL, 'e' },
		{ "workdir", required_argument, NULL, 'w' }, { "expose", required_argument, NULL, 'x' },
		{ "user", required_argument, NULL, 'u' },  { "quiet", no_argument, NULL, 'q' },
		{ "arrowfile", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
	};
	int c;

	memset(b, 0, sizeof(*b));
	optind = 1;
	while ((c = getopt_long(argc, argv, "+t:e:w:u:f:qh", options, NULL)) != -1) {
		switch (c) {
		case 't': b->tag = optarg; break;
		case 'A': b->arrowfile = optarg; break;
		case 'H': b->program = optarg; break;
		case 'w': b->workdir = optarg; break;
		case 'u': b->user = optarg; break;
		case 'q': b->quiet = true; break;
		case 'f': /* -f is the Arrowfile, as docker's -f is the Dockerfile */
			b->arrowfile = optarg;
			break;
		case 'F':
			if (b->nr_files == MAX_FILES) {
				fprintf(stderr, "arrow build: at most %d --file\n", MAX_FILES);
				return EXIT_ARROW_ERROR;
			}
			b->files[b->nr_files++] = optarg;
			break;
		case 'e':
			if (b->nr_env == MAX_ENV || !strchr(optarg, '=') || optarg[0] == '=') {
				fprintf(stderr, "arrow build: bad --env '%s' (KEY=VALUE, at most %d)\n",
					optarg, MAX_ENV);
				return EXIT_ARROW_ERROR;
			}
			b->env[b->nr_env++] = optarg;
			break;
		case 'x':
			if (b->nr_ports == MAX_PORTS) {
				fprintf(stderr, "arrow build: at most %d --expose\n", MAX_PORTS);
				return EXIT_ARROW_ERROR;
			}
			b->ports[b->nr_ports++] = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			return bad_option("build", argv[optind - 1]);
		}
	}
	b->args = argv + optind;
	b->nr_args = argc - optind;
	if (!b->program && b->nr_args == 1) { /* the second form: DIR */
		b->dir = b->args[0];
		b->nr_args = 0;
		if (read_arrowfile(b))
			return EXIT_ARROW_ERROR;
	} else if (b->arrowfile || (!b->program && b->nr_args)) {
		fprintf(stderr, "arrow build: an Arrowfile build takes one DIR and no ARGS\n");
		return EXIT_ARROW_ERROR;
	}
	if (!b->tag || !b->program) {
		fprintf(stderr, "arrow build: give -t NAME and --from-host PROGRAM, or DIR with an "
				"Arrowfile\nSee 'arrow build --help'.\n");
		return EXIT_ARROW_ERROR;
	}
	if (b->workdir && b->workdir[0] != '/') {
		fprintf(stderr, "arrow build: --workdir must be absolute\n");
		return EXIT_ARROW_ERROR;
	}
	return 0;
}

/* "80", "80/tcp", "53/udp" -> "80/tcp" in out; false if malformed. */
static bool port_key(const char *in, char *out, size_t len)
{
	char *end;
	unsigned long p = strtoul(in, &end, 10);

	if (end == in || p == 0 || p > 65535 || (*end && strcmp(end, "/tcp") && strcmp(end, "/udp")))
		return false;
	snprintf(out, len, "%lu%s", p, *end ? end : "/tcp");
	return true;
}

static bool user_ok(const char *u)
{
	return u && *u && strspn(u, "0123456789:") == strlen(u) && u[0] != ':' &&
	       strchr(u, ':') == strrchr(u, ':') && u[strlen(u) - 1] != ':';
}

static json_t *image_config(const struct build_opts *b, const char *guest_prog, const char *diff_id,
			    const char *ld_path, const char *created)
{
	json_t *cfg = json_object(), *env = json_array(), *cmd = json_array(), *ports = json_object();
	char key[32], *by = NULL;
	json_t *doc;

	json_array_append_new(env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
					       "/usr/bin:/sbin:/bin"));
	if (ld_path[0]) {
		char *kv = NULL;

		if (asprintf(&kv, "LD_LIBRARY_PATH=%s", ld_path) > 0)
			json_array_append_new(env, json_string(kv));
		free(kv);
	}
	for (unsigned int i = 0; i < b->nr_env; i++)
		json_array_append_new(env, json_string(b->env[i]));
	for (int i = 0; i < b->nr_args; i++)
		json_array_append_new(cmd, json_string(b->args[i]));
	for (unsigned int i = 0; i < b->nr_ports; i++)
		if (port_key(b->ports[i], key, sizeof(key)))
			json_object_set_new(ports, key, json_object());
	json_object_set_new(cfg, "Entrypoint", json_pack("[s]", guest_prog));
	json_object_set_new(cfg, "Cmd", cmd);
	json_object_set_new(cfg, "Env", env);
	json_object_set_new(cfg, "WorkingDir", json_string(b->workdir ? b->workdir : "/"));
	if (b->user)
		json_object_set_new(cfg, "User", json_string(b->user));
	if (json_object_size(ports))
		json_object_set_new(cfg, "ExposedPorts", ports);
	else
		json_decref(ports);
	if (asprintf(&by, "arrow build %s %s", b->dir ? "-f Arrowfile, program" : "--from-host",
		     guest_prog) < 0)
		by = NULL;
	doc = json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:[s]}, s:[{s:s, s:s}]}", "created", created,
			"architecture", "amd64", "os", "linux", "config", cfg, "rootfs", "type", "layers",
			"diff_ids", diff_id, "history", "created", created, "created_by", by ? by : "");
	free(by);
	return doc;
}

/* Put a JSON document into the store as a blob; its descriptor (new reference) or NULL. */
static json_t *put_json(json_t *doc, const char *media_type)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS), digest[DIGEST_LEN + 1];
	json_t *desc = NULL;

	if (text && !imgstore_put_mem(text, strlen(text), digest))
		desc = json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest, "size",
				 (json_int_t)strlen(text));
	free(text);
	return desc;
}

/* Collect the layer's files: program, loader and libraries, --file trees. */
static int collect(const struct build_opts *b, const char *prog, const char *guest, struct layer_list *l,
		   struct elfdeps *deps, char *why, size_t whylen)
{
	struct stat st;
	int ret;

	if (stat(prog, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file", prog);
		return -EINVAL;
	}
	ret = elfdeps_collect(prog, deps, why, whylen);
	if (ret)
		return ret;
	if ((ret = layer_add(l, guest, st.st_mode, prog, st.st_mtime))) {
		snprintf(why, whylen, "%s: cannot add it", prog);
		return ret;
	}
	for (size_t i = 0; i < deps->n && !ret; i++) {
		if (stat(deps->v[i].host, &st) < 0) {
			snprintf(why, whylen, "%s: %s", deps->v[i].host, strerror(errno));
			return -errno;
		}
		ret = layer_add(l, deps->v[i].guest, st.st_mode, deps->v[i].host, st.st_mtime);
	}
	for (unsigned int i = 0; i < b->nr_files && !ret; i++) {
		const char *colon = strrchr(b->files[i], ':');
		char src[4096];

		if (!colon || colon == b->files[i] || colon[1] != '/') {
			snprintf(why, whylen, "bad --file '%s' (SRC:DST, DST absolute)", b->files[i]);
			return -EINVAL;
		}
		snprintf(src, sizeof(src), "%.*s", (int)(colon - b->files[i]), b->files[i]);
		ret = layer_add_host(l, src, colon + 1, why, whylen);
	}
	return ret;
}

/* Write the layer into the store: its digest (= diff id: it is not compressed) and size. */
static int store_layer(struct layer_list *l, char digest[DIGEST_LEN + 1], uint64_t *size, char *why,
		       size_t whylen)
{
	char tmp[4200];
	int fd = imgstore_tmpfile(tmp, sizeof(tmp)), ret;

	if (fd < 0) {
		snprintf(why, whylen, "cannot write to the image store %s: %s", imgstore_dir(),
			 strerror(-fd));
		return fd;
	}
	ret = layer_write_tar(l, fd, why, whylen);
	close(fd);
	if (ret) {
		unlink(tmp);
		return ret;
	}
	return imgstore_commit_tmp(tmp, NULL, digest, size, why, whylen);
}

int cmd_build(int argc, char *argv[])
{
	struct build_opts b;
	struct layer_list files = { 0 };
	struct elfdeps deps = { 0 };
	char why[1024], ref[REF_MAX], layer[DIGEST_LEN + 1], created[32], *prog = NULL, *guest = NULL;
	const char *id;
	json_t *config = NULL, *cdesc = NULL, *manifest = NULL, *mdesc = NULL, *index = NULL;
	struct img_limits lim;
	uint64_t lsize = 0;
	time_t now = time(NULL);
	int ret, lock = -1;

	ret = parse(&b, argc, argv);
	if (ret)
		return ret;
	if (imglimit_load(&lim, why, sizeof(why))) {
		fprintf(stderr, "arrow build: %s\n", why);
		return EXIT_ARROW_ERROR;
	}
	if (imgstore_ref_normalize(b.tag, ref, sizeof(ref))) {
		fprintf(stderr, "arrow build: invalid image name '%s' (lowercase name[:tag])\n", b.tag);
		return EXIT_ARROW_ERROR;
	}
	if (b.user && !user_ok(b.user)) {
		fprintf(stderr, "arrow build: --user takes a numeric UID[:GID]\n");
		return EXIT_ARROW_ERROR;
	}
	for (unsigned int i = 0; i < b.nr_ports; i++) {
		char key[32];

		if (!port_key(b.ports[i], key, sizeof(key))) {
			fprintf(stderr, "arrow build: bad --expose '%s' (PORT[/tcp|/udp])\n", b.ports[i]);
			return EXIT_ARROW_ERROR;
		}
	}
	prog = find_program(b.program);
	if (!prog) {
		fprintf(stderr, "arrow build: %s: program not found%s\n", b.program,
			strchr(b.program, '/') ? "" : " in $PATH");
		return EXIT_NOT_FOUND;
	}
	if (prog[0] != '/') { /* a relative path: the image keeps it under / */
		char *abs = realpath(prog, NULL);

		free(prog);
		prog = abs;
		if (!prog) {
			fprintf(stderr, "arrow build: %s: %s\n", b.program, strerror(errno));
			return EXIT_NOT_FOUND;
		}
	}
	if (imgstore_init() || (lock = imgstore_lock()) < 0) {
		fprintf(stderr, "arrow build: cannot use the image store %s: %s\n", imgstore_dir(),
			strerror(errno));
		free(prog);
		return EXIT_ARROW_ERROR;
	}
	/* a damaged index stops the build before anything is written */
	index = imgstore_index_load(why, sizeof(why));
	if (index)
		imgstore_gc(index); /* what an interrupted writer left goes first */
	if (b.dir) { /* a program of the Arrowfile's directory goes to /app, as with arrow run */
		const char *base = strrchr(prog, '/');

		if (asprintf(&guest, "/app/%s", base ? base + 1 : prog) < 0)
			guest = NULL;
	} else {
		guest = strdup(prog);
	}
	ret = index && guest ? collect(&b, prog, guest, &files, &deps, why, sizeof(why)) : -EINVAL;
	if (!ret)
		ret = store_layer(&files, layer, &lsize, why, sizeof(why));
	if (!ret && (lsize > lim.layer_bytes || lsize > lim.image_bytes)) {
		char a[32];
		bool image = lim.image_bytes < lim.layer_bytes;

		snprintf(why, sizeof(why), "the image's layer is %llu bytes, more than %s, the limit "
			 "per %s (%s)", (unsigned long long)lsize,
			 imglimit_format(image ? lim.image_bytes : lim.layer_bytes, a, sizeof(a)),
			 image ? "image" : "layer", image ? "ARROW_MAX_IMAGE_SIZE" : "ARROW_MAX_LAYER_SIZE");
		ret = -EFBIG;
	}
	if (ret) {
		fprintf(stderr, "arrow build: %s\n", why);
		if (index)
			imgstore_collect(); /* a layer stored before the bound was checked goes again */
		goto out;
	}
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	config = image_config(&b, guest, layer, deps.extra_path, created);
	cdesc = config ? put_json(config, MT_CONFIG) : NULL;
	if (cdesc)
		manifest = json_pack("{s:i, s:s, s:O, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2,
				     "mediaType", MT_MANIFEST, "config", cdesc, "layers", "mediaType",
				     MT_LAYER, "digest", layer, "size", (json_int_t)lsize);
	mdesc = manifest ? put_json(manifest, MT_MANIFEST) : NULL;
	if (!mdesc || imgstore_index_set(index, ref, mdesc) || imgstore_index_save(index)) {
		fprintf(stderr, "arrow build: cannot record the image in %s\n", imgstore_dir());
		imgstore_collect(); /* the blobs written so far go again */
		ret = -EIO;
		goto out;
	}
	imgstore_gc(index); /* an image this name named before may be unreferenced now */
	id = json_string_value(json_object_get(cdesc, "digest")) + 7;
	if (b.quiet)
		printf("sha256:%s\n", id);
	else
		printf("%s: %zu entries (%zu shared libraries), %.1f MiB; image id %.12s\n", ref,
		       files.n, deps.n ? deps.n - 1 : 0, (double)lsize / (1 << 20), id);
out:
	imgstore_unlock(lock);
	json_decref(config);
	json_decref(cdesc);
	json_decref(manifest);
	json_decref(mdesc);
	json_decref(index);
	layer_list_free(&files);
	elfdeps_free(&deps);
	free(prog);
	free(guest);
	for (unsigned int i = 0; i < b.nr_owned; i++)
		free(b.owned[i]);
	json_decref(b.spec);
	return ret ? EXIT_ARROW_ERROR : 0;
}
