// SPDX-License-Identifier: MIT
#include "lib/image/layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/image/imglimit.h"
#include "lib/image/lazylib.h"
#include "lib/image/piece.h"

#define PATH_MAX_LEN 4096
#define TREE_MAX 100000

int layer_clean_path(const char *in, char *out, size_t len)
{
	size_t o = 0;
	const char *p = in;

	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && !strncmp(p, "..", 2))
			return -EINVAL;
		if (n && !(n == 1 && *p == '.')) {
			if (o + n + 2 > len)
				return -EINVAL;
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	out[o] = '\0';
	return 0;
}

int layer_add(struct layer_list *l, const char *path, mode_t mode, const char *host, int64_t mtime)
{
	char clean[PATH_MAX_LEN];
	struct layer_entry *e = NULL;

	if (layer_clean_path(path, clean, sizeof(clean)) || !clean[0])
		return -EINVAL;
	for (size_t i = 0; i < l->n; i++) {
		if (!strcmp(l->v[i].path, clean)) {
			e = &l->v[i];
			free(e->host);
			break;
		}
	}
	if (!e) {
		if (l->n == TREE_MAX)
			return -E2BIG;
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 64;
			struct layer_entry *v = realloc(l->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			l->v = v;
			l->cap = cap;
		}
		e = &l->v[l->n++];
		e->path = strdup(clean);
		if (!e->path) {
			l->n--;
			return -ENOMEM;
		}
	}
	e->mode = mode;
	e->mtime = mtime;
	e->host = host ? strdup(host) : NULL;
	return host && !e->host ? -ENOMEM : 0;
}

static int add_tree(struct layer_list *l, const char *host, const char *path, bool top, char *why,
		    size_t whylen)
{
	struct stat st;
	int ret;

	if ((top ? stat(host, &st) : lstat(host, &st)) < 0) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", host, strerror(errno));
		return ret;
	}
	if (S_ISREG(st.st_mode)) {
		ret = layer_add(l, path, st.st_mode, host, st.st_mtime);
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX_LEN];
		ssize_t n = readlink(host, target, sizeof(target) - 1);

		if (n < 0) {
			ret = -errno;
			snprintf(why, whylen, "%s: %s", host, strerror(errno));
			return ret;
		}
		target[n] = '\0';
		ret = layer_add(l, path, st.st_mode, target, st.st_mtime);
	} else if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(host);
		struct dirent *de;

		if (!d) {
			ret = -errno;
			snprintf(why, whylen, "%s: %s", host, strerror(errno));
			return ret;
		}
		ret = layer_add(l, path, st.st_mode, NULL, st.st_mtime);
		while (!ret && (de = readdir(d))) {
			char h[PATH_MAX_LEN], g[PATH_MAX_LEN];

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if ((size_t)snprintf(h, sizeof(h), "%s/%s", host, de->d_name) >= sizeof(h) ||
			    (size_t)snprintf(g, sizeof(g), "%s/%s", path, de->d_name) >= sizeof(g)) {
				snprintf(why, whylen, "%s/%s: path too long", host, de->d_name);
				ret = -ENAMETOOLONG;
				break;
			}
			ret = add_tree(l, h, g, false, why, whylen);
		}
		closedir(d);
		return ret;
	} else {
		snprintf(why, whylen, "%s: not a regular file, directory or symlink", host);
		return -EINVAL;
	}
	if (ret)
		snprintf(why, whylen, "%s -> %s: %s", host, path,
			 ret == -EINVAL ? "bad path inside the image" : strerror(-ret));
	return ret;
}

int layer_add_host(struct layer_list *l, const char *host, const char *path, char *why, size_t whylen)
{
	return add_tree(l, host, path, true, why, whylen);
}

void layer_list_free(struct layer_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].host);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct layer_entry *)a)->path, ((const struct layer_entry *)b)->path);
}

/* Every parent directory of every entry present (root-owned, 0755, time 0). */
static int add_parents(struct layer_list *l)
{
	json_t *have = json_object();
	int ret = 0;

	if (!have)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		json_object_set_new(have, l->v[i].path, json_true());
	for (size_t i = 0, n = l->n; i < n && !ret; i++) {
		char p[PATH_MAX_LEN];

		snprintf(p, sizeof(p), "%s", l->v[i].path);
		for (char *s = strchr(p, '/'); s && !ret; s = strchr(s + 1, '/')) {
			*s = '\0';
			if (!json_object_get(have, p)) {
				json_object_set_new(have, p, json_true());
				ret = layer_add(l, p, S_IFDIR | 0755, NULL, 0);
			}
			*s = '/';
		}
	}
	json_decref(have);
	return ret;
}

static int copy_file(const struct archive_lib *L, struct archive *a, int in)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (L->archive_write_data(a, buf, (size_t)n) != n)
			return -EIO;
	}
	return 0;
}

int layer_write_tar(struct layer_list *l, int fd, char *why, size_t whylen)
{
	const struct archive_lib *L = archive_lib();
	struct archive *a;
	struct archive_entry *e;
	int ret = 0;

	if (!L)
		return -ELIBACC;
	ret = add_parents(l);
	if (ret) {
		snprintf(why, whylen, "cannot list the layer's directories: %s", strerror(-ret));
		return ret;
	}
	qsort(l->v, l->n, sizeof(l->v[0]), by_path);
	a = L->archive_write_new();
	e = L->archive_entry_new();
	if (!a || !e || L->archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    L->archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    L->archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		snprintf(why, whylen, "cannot start the layer tar");
		ret = -EIO;
		goto out;
	}
	for (size_t i = 0; i < l->n && !ret; i++) {
		const struct layer_entry *le = &l->v[i];
		int in = -1;
		struct stat st;

		L->archive_entry_clear(e);
		L->archive_entry_set_pathname(e, le->path);
		L->archive_entry_set_mode(e, le->mode);
		L->archive_entry_set_uid(e, 0);
		L->archive_entry_set_gid(e, 0);
		L->archive_entry_set_mtime(e, le->mtime, 0);
		L->archive_entry_set_size(e, 0);
		if (S_ISLNK(le->mode)) {
			L->archive_entry_set_symlink(e, le->host);
		} else if (S_ISREG(le->mode)) {
			in = open(le->host, O_RDONLY | O_CLOEXEC);
			if (in < 0 || fstat(in, &st) < 0) {
				ret = -errno;
				snprintf(why, whylen, "%s: %s", le->host, strerror(errno));
				if (in >= 0)
					close(in);
				break;
			}
			L->archive_entry_set_size(e, st.st_size);
		}
		if (L->archive_write_header(a, e) != ARCHIVE_OK) {
			snprintf(why, whylen, "tar entry %s: %s", le->path, L->archive_error_string(a));
			ret = -EIO;
		} else if (in >= 0) {
			ret = copy_file(L, a, in);
			if (ret)
				snprintf(why, whylen, "copying %s: %s", le->host, strerror(-ret));
		}
		if (in >= 0)
			close(in);
	}
	if (L->archive_write_close(a) != ARCHIVE_OK && !ret) {
		snprintf(why, whylen, "cannot finish the layer tar: %s", L->archive_error_string(a));
		ret = -EIO;
	}
out:
	if (e)
		L->archive_entry_free(e);
	if (a)
		L->archive_write_free(a);
	return ret;
}

static struct archive *open_reader(const struct archive_lib *L, int fd, bool raw)
{
	struct archive *r = L->archive_read_new();

	if (!r)
		return NULL;
	if (L->archive_read_support_filter_all(r) != ARCHIVE_OK ||
	    (raw ? L->archive_read_support_format_raw(r) : L->archive_read_support_format_tar(r)) !=
		    ARCHIVE_OK ||
	    L->archive_read_open_fd(r, fd, 65536) != ARCHIVE_OK) {
		L->archive_read_free(r);
		return NULL;
	}
	return r;
}

/* The base name of a path starts with ".wh."? */
static bool is_whiteout(const char *path)
{
	const char *b = strrchr(path, '/');

	return !strncmp(b ? b + 1 : path, ".wh.", 4);
}

/* Pass one: which files are hard-link targets (they get nlink 2 and a shared inode). */
static int scan_links(const struct archive_lib *L, int fd, json_t *targets,
		      const struct img_limits *lim, char *why, size_t whylen)
{
	struct archive *r = open_reader(L, fd, false);
	struct archive_entry *e;
	uint64_t entries = 0;
	int st, ret = 0;

	if (!r) {
		snprintf(why, whylen, "not a readable tar archive");
		return -EINVAL;
	}
	while ((st = L->archive_read_next_header(r, &e)) == ARCHIVE_OK || st == ARCHIVE_WARN) {
		const char *h = L->archive_entry_hardlink(e), *p = L->archive_entry_pathname(e);
		char clean[PATH_MAX_LEN];

		if (++entries > lim->layer_entries) {
			snprintf(why, whylen, "it has more than %llu entries, the limit per layer "
				 "(ARROW_MAX_LAYER_ENTRIES)", (unsigned long long)lim->layer_entries);
			ret = -E2BIG;
			break;
		}
		if (p && is_whiteout(p)) {
			snprintf(why, whylen, "the layer deletes %s from a lower layer (a whiteout); "
					      "Arrow images cannot express deletions yet", p);
			ret = -ENOTSUP;
			break;
		}
		if (h && !layer_clean_path(h, clean, sizeof(clean)))
			json_object_set_new(targets, clean, json_integer(0));
	}
	if (!ret && st != ARCHIVE_EOF) {
		snprintf(why, whylen, "damaged tar archive: %s", L->archive_error_string(r));
		ret = -EINVAL;
	}
	L->archive_read_free(r);
	return ret;
}

static int emit(const struct archive_lib *L, struct archive *w, struct archive_entry *out,
		const char *path, mode_t mode, int64_t ino, unsigned int nlink, int64_t size)
{
	L->archive_entry_set_pathname(out, path);
	L->archive_entry_set_mode(out, mode);
	L->archive_entry_set_ino(out, ino);
	L->archive_entry_set_nlink(out, nlink);
	L->archive_entry_set_size(out, size);
	return L->archive_write_header(w, out) == ARCHIVE_OK ? 0 : -EIO;
}

/* Emit the missing parent directories of path. */
static int emit_parents(const struct archive_lib *L, struct archive *w, struct archive_entry *out,
			json_t *dirs, const char *path, int64_t *ino)
{
	char p[PATH_MAX_LEN];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (!json_object_get(dirs, p)) {
			L->archive_entry_clear(out);
			if (emit(L, w, out, p, S_IFDIR | 0755, ++*ino, 2, 0))
				return -EIO;
			json_object_set_new(dirs, p, json_true());
		}
		*s = '/';
	}
	return 0;
}

static int convert(const struct archive_lib *L, struct archive *r, struct archive *w, json_t *links,
		   const struct img_limits *lim, char *why, size_t whylen)
{
	struct archive_entry *e, *out = L->archive_entry_new();
	json_t *dirs = json_object();
	uint64_t bytes = 0; /* a lower bound of the tar stream: 512 per header, then the data */
	int64_t ino = 0;
	int st, ret = 0;

	if (!out || !dirs) {
		ret = -ENOMEM;
		goto done;
	}
	while (!ret && ((st = L->archive_read_next_header(r, &e)) == ARCHIVE_OK || st == ARCHIVE_WARN)) {
		const char *raw = L->archive_entry_pathname(e), *hl = L->archive_entry_hardlink(e);
		mode_t mode = L->archive_entry_mode(e);
		char path[PATH_MAX_LEN];
		json_t *lino;

		if (!raw || layer_clean_path(raw, path, sizeof(path))) {
			snprintf(why, whylen, "entry '%s' has a path outside the image", raw ? raw : "");
			ret = -EINVAL;
			break;
		}
		bytes += 512;
		if (!path[0] || S_ISSOCK(mode))
			continue; /* the root itself; sockets mean nothing in an archive */
		if (emit_parents(L, w, out, dirs, path, &ino)) {
			ret = -EIO;
			break;
		}
		L->archive_entry_clear(out);
		L->archive_entry_set_uid(out, L->archive_entry_uid(e));
		L->archive_entry_set_gid(out, L->archive_entry_gid(e));
		L->archive_entry_set_mtime(out, L->archive_entry_mtime(e), 0);
		if (hl) {
			char target[PATH_MAX_LEN];

			if (layer_clean_path(hl, target, sizeof(target)) ||
			    !(lino = json_object_get(links, target)) || !json_integer_value(lino)) {
				snprintf(why, whylen, "hard link %s points to %s, not a file earlier in the layer",
					 path, hl);
				ret = -EINVAL;
				break;
			}
			ret = emit(L, w, out, path, S_IFREG | (mode & 07777), json_integer_value(lino), 2, 0);
			continue;
		}
		if (S_ISDIR(mode)) {
			json_object_set_new(dirs, path, json_true());
			ret = emit(L, w, out, path, mode, ++ino, 2, 0);
		} else if (S_ISLNK(mode)) {
			const char *t = L->archive_entry_symlink(e);

			L->archive_entry_set_symlink(out, t ? t : "");
			ret = emit(L, w, out, path, mode, ++ino, 1, 0);
		} else if (S_ISCHR(mode) || S_ISBLK(mode) || S_ISFIFO(mode)) {
			L->archive_entry_set_rdevmajor(out, L->archive_entry_rdevmajor(e));
			L->archive_entry_set_rdevminor(out, L->archive_entry_rdevminor(e));
			ret = emit(L, w, out, path, mode, ++ino, 1, 0);
		} else if (S_ISREG(mode)) {
			int64_t size = L->archive_entry_size(e), copied = 0;
			char buf[65536];
			la_ssize_t n;

			lino = json_object_get(links, path);
			++ino;
			if (lino)
				json_object_set_new(links, path, json_integer(ino));
			ret = emit(L, w, out, path, mode, ino, lino ? 2 : 1, size);
			while (!ret && (n = L->archive_read_data(r, buf, sizeof(buf))) != 0) {
				if (n > 0 && (uint64_t)n > lim->layer_bytes - bytes) {
					snprintf(why, whylen, "it decompresses to more than %llu bytes, the "
						 "limit per layer (ARROW_MAX_LAYER_SIZE)",
						 (unsigned long long)lim->layer_bytes);
					ret = -EFBIG;
					break;
				}
				bytes += n > 0 ? (uint64_t)n : 0;
				if (n < 0 || L->archive_write_data(w, buf, (size_t)n) != n) {
					snprintf(why, whylen, "%s: %s", path,
						 L->archive_error_string(n < 0 ? r : w));
					ret = -EIO;
				}
				copied += n > 0 ? n : 0;
			}
			if (!ret && copied != size) {
				snprintf(why, whylen, "%s: truncated in the archive", path);
				ret = -EIO;
			}
			continue;
		}
		if (ret)
			snprintf(why, whylen, "cpio entry %s: %s", path, L->archive_error_string(w));
	}
	if (!ret && st != ARCHIVE_EOF) {
		snprintf(why, whylen, "damaged tar archive: %s", L->archive_error_string(r));
		ret = -EINVAL;
	}
done:
	json_decref(dirs);
	if (out)
		L->archive_entry_free(out);
	return ret;
}

int layer_to_piece(const char *layer_path, int fd, const struct img_limits *lim, char *why,
		   size_t whylen)
{
	const struct archive_lib *L = archive_lib();
	struct archive *r = NULL, *w = NULL;
	json_t *links = json_object();
	struct img_limits defaults;
	int in, ret;

	if (!lim) {
		defaults = (struct img_limits){ IMGLIMIT_LAYER_DEFAULT, IMGLIMIT_IMAGE_DEFAULT,
						IMGLIMIT_ENTRIES_DEFAULT };
		lim = &defaults;
	}
	if (!L || !links) {
		json_decref(links);
		return L ? -ENOMEM : -ELIBACC;
	}
	in = open(layer_path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", layer_path, strerror(errno));
		json_decref(links);
		return ret;
	}
	ret = scan_links(L, in, links, lim, why, whylen);
	if (!ret && lseek(in, 0, SEEK_SET) < 0)
		ret = -errno;
	if (!ret && !(r = open_reader(L, in, false))) {
		snprintf(why, whylen, "not a readable tar archive");
		ret = -EINVAL;
	}
	if (!ret && !(w = piece_writer(L, fd))) {
		snprintf(why, whylen, "cannot start the initramfs piece");
		ret = -EIO;
	}
	if (!ret)
		ret = convert(L, r, w, links, lim, why, whylen);
	if (w && L->archive_write_close(w) != ARCHIVE_OK && !ret) {
		snprintf(why, whylen, "cannot finish the initramfs piece");
		ret = -EIO;
	}
	if (w)
		L->archive_write_free(w);
	if (r)
		L->archive_read_free(r);
	close(in);
	json_decref(links);
	return ret;
}

/*
 * One pass over a layer: a raw reader decompresses it; every decompressed byte goes
 * through tap_read, which hashes and counts it and stops at the bound, on its way to a tar
 * reader that counts the entries. Nothing past the bound is ever decompressed.
 */
struct tap {
	const struct archive_lib *L;
	const struct crypto_lib *C;
	struct archive *raw;
	EVP_MD_CTX *ctx;
	uint64_t bytes, max;
	bool over, damaged;
	unsigned char buf[65536];
};

static la_ssize_t tap_read(struct archive *a, void *opaque, const void **out)
{
	struct tap *t = opaque;
	la_ssize_t n;

	(void)a;
	if (t->over || t->damaged)
		return ARCHIVE_FATAL;
	n = t->L->archive_read_data(t->raw, t->buf, sizeof(t->buf));
	if (n < 0) {
		t->damaged = true;
		return ARCHIVE_FATAL;
	}
	if ((uint64_t)n > t->max - t->bytes) {
		t->over = true;
		return ARCHIVE_FATAL;
	}
	t->bytes += (uint64_t)n;
	t->C->EVP_DigestUpdate(t->ctx, t->buf, (size_t)n);
	*out = t->buf;
	return n;
}

static int scan_entries(const struct archive_lib *L, struct tap *t, uint64_t max_entries,
			uint64_t *entries)
{
	struct archive *tar = L->archive_read_new();
	struct archive_entry *e;
	const void *dummy;
	int st, ret = 0;

	*entries = 0;
	if (!tar || L->archive_read_support_format_tar(tar) != ARCHIVE_OK ||
	    L->archive_read_support_format_empty(tar) != ARCHIVE_OK ||
	    L->archive_read_open(tar, t, NULL, tap_read, NULL) != ARCHIVE_OK) {
		ret = t->over ? -EFBIG : -EINVAL;
		goto out;
	}
	while ((st = L->archive_read_next_header(tar, &e)) == ARCHIVE_OK || st == ARCHIVE_WARN) {
		if (++*entries > max_entries) {
			ret = -E2BIG;
			goto out;
		}
	}
	if (st != ARCHIVE_EOF) {
		ret = t->over ? -EFBIG : -EINVAL;
		goto out;
	}
	/* what follows the end-of-archive blocks is part of the diff id too */
	while (tap_read(NULL, t, &dummy) > 0)
		;
	ret = t->over ? -EFBIG : t->damaged ? -EINVAL : 0;
out:
	if (tar)
		L->archive_read_free(tar);
	return ret;
}

int layer_scan(const char *layer_path, uint64_t max_bytes, uint64_t max_entries,
	       struct layer_info *info, char *why, size_t whylen)
{
	const struct archive_lib *L = archive_lib();
	const struct crypto_lib *C = crypto_lib();
	struct archive_entry *e;
	struct tap *t;
	unsigned char md[32];
	unsigned int mdlen;
	int in, ret = 0;

	memset(info, 0, sizeof(*info));
	if (whylen)
		why[0] = '\0';
	if (!L || !C)
		return -ELIBACC;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	in = open(layer_path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", layer_path, strerror(errno));
		free(t);
		return ret;
	}
	t->L = L;
	t->C = C;
	t->max = max_bytes;
	t->raw = open_reader(L, in, true);
	t->ctx = C->EVP_MD_CTX_new();
	if (!t->raw || !t->ctx || C->EVP_DigestInit_ex(t->ctx, C->EVP_sha256(), NULL) != 1 ||
	    L->archive_read_next_header(t->raw, &e) != ARCHIVE_OK) {
		snprintf(why, whylen, "layer %s cannot be decompressed", layer_path);
		ret = -EINVAL;
	}
	if (!ret)
		ret = scan_entries(L, t, max_entries, &info->entries);
	info->bytes = t->bytes;
	if (ret == -EFBIG)
		snprintf(why, whylen, "it decompresses to more than %llu bytes",
			 (unsigned long long)max_bytes);
	else if (ret == -E2BIG)
		snprintf(why, whylen, "it has more than %llu entries", (unsigned long long)max_entries);
	else if (ret == -EINVAL && t->damaged)
		snprintf(why, whylen, "layer %s is damaged: %s", layer_path,
			 L->archive_error_string(t->raw));
	else if (ret == -EINVAL && !why[0])
		snprintf(why, whylen, "layer %s is not a tar archive", layer_path);
	if (!ret && C->EVP_DigestFinal_ex(t->ctx, md, &mdlen) == 1) {
		memcpy(info->diff_id, "sha256:", 7);
		for (int i = 0; i < 32; i++)
			snprintf(info->diff_id + 7 + 2 * i, 3, "%02x", md[i]);
	} else if (!ret) {
		ret = -EIO;
	}
	if (t->ctx)
		C->EVP_MD_CTX_free(t->ctx);
	if (t->raw)
		L->archive_read_free(t->raw);
	close(in);
	free(t);
	return ret;
}

int layer_diff_id(const char *layer_path, char digest[72], char *why, size_t whylen)
{
	struct layer_info info;
	int ret = layer_scan(layer_path, UINT64_MAX, UINT64_MAX, &info, why, whylen);

	if (!ret)
		memcpy(digest, info.diff_id, sizeof(info.diff_id));
	return ret;
}
