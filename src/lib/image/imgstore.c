// SPDX-License-Identifier: MIT
#include "lib/image/imgstore.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/statedir.h"
#include "lib/image/imglimit.h"
#include "lib/image/lazylib.h"
#include "lib/state/paths.h"

#define JSON_BLOB_MAX IMGLIMIT_JSON_MAX
#define INDEX_MAX (16u << 20) /* index.json: tens of thousands of names */

const char *imgstore_dir(void)
{
	static char dir[4096];

	return arrow_data_dir("ARROW_IMAGES", "images", dir, sizeof(dir));
}

/* Write buf to path through a temporary file and rename (fsync'ed). */
static int write_atomic(const char *path, const void *buf, size_t len)
{
	char tmp[4200];
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644) < 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) < 0)
		ret = errno ? -errno : -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int imgstore_init(void)
{
	const char *dir = imgstore_dir();
	char path[4200];
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}\n";
	static const char index[] = "{\"schemaVersion\":2,\"mediaType\":"
				    "\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}\n";
	int ret;

	snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
	ret = mkdir_p(path, 0755);
	if (!ret) {
		snprintf(path, sizeof(path), "%s/pieces", dir);
		ret = mkdir_p(path, 0755);
	}
	if (!ret) {
		snprintf(path, sizeof(path), "%s/tmp", dir);
		ret = mkdir_p(path, 0700);
	}
	snprintf(path, sizeof(path), "%s/oci-layout", dir);
	if (!ret && access(path, F_OK))
		ret = write_atomic(path, layout, sizeof(layout) - 1);
	snprintf(path, sizeof(path), "%s/index.json", dir);
	if (!ret && access(path, F_OK)) {
		int lock = imgstore_lock();

		if (lock < 0)
			return lock;
		if (access(path, F_OK))
			ret = write_atomic(path, index, sizeof(index) - 1);
		imgstore_unlock(lock);
	}
	return ret;
}

int imgstore_lock(void)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/.lock", imgstore_dir());
	return statedir_lock_file(path);
}

void imgstore_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

bool imgstore_digest_ok(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != DIGEST_LEN)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!isdigit((unsigned char)*p) && (*p < 'a' || *p > 'f'))
			return false;
	return true;
}

int imgstore_blob_path(const char *digest, char *out, size_t len)
{
	if (!imgstore_digest_ok(digest))
		return -EINVAL;
	return snprintf(out, len, "%s/blobs/sha256/%s", imgstore_dir(), digest + 7) >= (int)len
		       ? -ENAMETOOLONG : 0;
}

int imgstore_piece_path(const char *diff_id, char *out, size_t len)
{
	if (!imgstore_digest_ok(diff_id))
		return -EINVAL;
	return snprintf(out, len, "%s/pieces/%s.cpio", imgstore_dir(), diff_id + 7) >= (int)len
		       ? -ENAMETOOLONG : 0;
}

int imgstore_tmpfile(char *tmp, size_t len)
{
	int fd;

	if (snprintf(tmp, len, "%s/tmp/blob-XXXXXX", imgstore_dir()) >= (int)len)
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void to_hex(const unsigned char *md, char digest[DIGEST_LEN + 1])
{
	memcpy(digest, "sha256:", 7);
	for (int i = 0; i < 32; i++)
		snprintf(digest + 7 + 2 * i, 3, "%02x", md[i]);
}

int imgstore_hash_fd(int fd, char digest[DIGEST_LEN + 1], uint64_t *size)
{
	const struct crypto_lib *C = crypto_lib();
	EVP_MD_CTX *ctx;
	unsigned char buf[65536], md[32];
	unsigned int mdlen = 0;
	uint64_t total = 0;
	off_t off = 0;
	ssize_t n;
	int ret = 0;

	if (!C)
		return -ELIBACC;
	ctx = C->EVP_MD_CTX_new();
	if (!ctx || C->EVP_DigestInit_ex(ctx, C->EVP_sha256(), NULL) != 1) {
		C->EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	while ((n = pread(fd, buf, sizeof(buf), off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		C->EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += n;
		total += (uint64_t)n;
	}
	if (!ret && C->EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		ret = -EIO;
	C->EVP_MD_CTX_free(ctx);
	if (ret)
		return ret;
	to_hex(md, digest);
	if (size)
		*size = total;
	return 0;
}

int imgstore_commit_tmp(const char *tmp, const char *expect, char digest[DIGEST_LEN + 1],
			uint64_t *size, char *why, size_t whylen)
{
	char path[4200];
	int fd = open(tmp, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", tmp, strerror(-ret));
		unlink(tmp);
		return ret;
	}
	ret = imgstore_hash_fd(fd, digest, size);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (ret) {
		snprintf(why, whylen, "cannot hash a blob: %s", strerror(-ret));
	} else if (expect && strcmp(expect, digest)) {
		snprintf(why, whylen, "digest mismatch: expected %s, the content has %s", expect, digest);
		ret = -EBADMSG;
	} else {
		imgstore_blob_path(digest, path, sizeof(path));
		chmod(tmp, 0644);
		if (access(path, F_OK) == 0) /* stored once, shared by every image that has it */
			ret = 0;
		else if (rename(tmp, path) < 0)
			ret = -errno;
		if (ret)
			snprintf(why, whylen, "cannot store blob %s: %s", digest, strerror(-ret));
	}
	unlink(tmp);
	return ret;
}

int imgstore_put_mem(const void *buf, size_t len, char digest[DIGEST_LEN + 1])
{
	char tmp[4200], why[256];
	int fd = imgstore_tmpfile(tmp, sizeof(tmp)), ret = 0;

	if (fd < 0)
		return fd;
	if (write(fd, buf, len) != (ssize_t)len)
		ret = errno ? -errno : -EIO;
	close(fd);
	if (ret) {
		unlink(tmp);
		return ret;
	}
	return imgstore_commit_tmp(tmp, NULL, digest, NULL, why, sizeof(why));
}

/* SHA-256 of bytes in memory as "sha256:hex". 0 or -errno. */
static int hash_mem(const void *buf, size_t len, char digest[DIGEST_LEN + 1])
{
	const struct crypto_lib *C = crypto_lib();
	EVP_MD_CTX *ctx = C ? C->EVP_MD_CTX_new() : NULL;
	unsigned char md[32];
	unsigned int mdlen = 0;
	int ok;

	if (!ctx)
		return C ? -ENOMEM : -ELIBACC;
	ok = C->EVP_DigestInit_ex(ctx, C->EVP_sha256(), NULL) == 1 &&
	     C->EVP_DigestUpdate(ctx, buf, len) == 1 && C->EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	C->EVP_MD_CTX_free(ctx);
	if (!ok)
		return -EIO;
	to_hex(md, digest);
	return 0;
}

json_t *imgstore_read_json(const char *digest, char *why, size_t whylen)
{
	char path[4200], got[DIGEST_LEN + 1], *buf = NULL;
	json_error_t err;
	json_t *j;
	size_t len;
	int fd, ret;

	if (imgstore_blob_path(digest, path, sizeof(path))) {
		snprintf(why, whylen, "bad digest '%s'", digest ? digest : "(none)");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, whylen, "blob %s is missing from the store", digest);
		return NULL;
	}
	/* read once, at most JSON_BLOB_MAX bytes: the bytes hashed are the bytes parsed */
	ret = imglimit_read_fd(fd, JSON_BLOB_MAX, &buf, &len);
	close(fd);
	if (ret || hash_mem(buf, len, got) || strcmp(got, digest)) {
		snprintf(why, whylen, "blob %s is damaged (%s)", digest,
			 ret == -EFBIG ? "larger than the 4 MiB a JSON document may have" :
			 ret ? strerror(-ret) : "its content does not match");
		free(buf);
		return NULL;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	free(buf);
	if (!j || !json_is_object(j)) {
		snprintf(why, whylen, "blob %s is not a JSON object: %s", digest, j ? "" : err.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

static bool name_ok(const char *s, size_t len)
{
	/* components of [a-z0-9]+ joined by '.', '_', '__', '-'s or '/' */
	bool need_alnum = true;

	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			need_alnum = false;
		} else if (c == '/' || c == '.' || c == '_' || c == '-') {
			if (need_alnum && !(c == '_' && i && s[i - 1] == '_') &&
			    !(c == '-' && i && s[i - 1] == '-'))
				return false;
			need_alnum = true;
		} else {
			return false;
		}
	}
	return !need_alnum;
}

/* A registry host component: "localhost", or [A-Za-z0-9.-] with a '.' or a ":port". */
static size_t registry_prefix(const char *in)
{
	const char *slash = strchr(in, '/'), *colon;
	size_t len = slash ? (size_t)(slash - in) : 0;

	if (!len || len > 253)
		return 0;
	if (!memchr(in, '.', len) && !memchr(in, ':', len) && strncmp(in, "localhost", len))
		return 0;
	colon = memchr(in, ':', len);
	for (const char *p = in; p < (colon ? colon : in + len); p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			return 0;
	if (colon && (colon + 1 == in + len || strspn(colon + 1, "0123456789") != (size_t)(in + len - colon - 1)))
		return 0;
	return len + 1;
}

int imgstore_ref_normalize(const char *in, char *out, size_t len)
{
	size_t host = registry_prefix(in);
	const char *name = in + host, *slash = strrchr(name, '/'), *colon = strrchr(name, ':');
	size_t nlen;

	if (colon && slash && colon < slash)
		return -EINVAL;
	nlen = colon ? (size_t)(colon - name) : strlen(name);
	if (nlen > 200 || !name_ok(name, nlen))
		return -EINVAL;
	if (colon) {
		const char *t = colon + 1;
		size_t tlen = strlen(t);

		if (!tlen || tlen > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
			return -EINVAL;
		for (size_t i = 0; i < tlen; i++)
			if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
				return -EINVAL;
	}
	return snprintf(out, len, "%.*s%.*s:%s", (int)host, in, (int)nlen, name,
			colon ? colon + 1 : "latest") >= (int)len ? -ENAMETOOLONG : 0;
}

json_t *imgstore_index_load(char *why, size_t whylen)
{
	char path[4200], err[4400];
	json_t *j, *m;

	snprintf(path, sizeof(path), "%s/index.json", imgstore_dir());
	if (access(path, F_OK) && errno == ENOENT) {
		j = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
			      "application/vnd.oci.image.index.v1+json", "manifests");
		return j;
	}
	j = imglimit_load_json(path, INDEX_MAX, err, sizeof(err));
	m = j ? json_object_get(j, "manifests") : NULL;
	if (!j || !json_is_array(m)) {
		/* err names the path already */
		snprintf(why, whylen, "%s is damaged: %s", path,
			 j ? "no manifests array" : err + strlen(path) + 2);
		json_decref(j);
		return NULL;
	}
	return j;
}

int imgstore_index_save(json_t *index)
{
	char path[4200], *text = json_dumps(index, JSON_INDENT(1) | JSON_SORT_KEYS);
	int ret;

	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/index.json", imgstore_dir());
	ret = write_atomic(path, text, strlen(text));
	free(text);
	return ret;
}

static const char *desc_config_digest(json_t *desc, char *buf, size_t len);

static const char *desc_ref(json_t *desc)
{
	return json_string_value(json_object_get(json_object_get(desc, "annotations"), ANN_REF_NAME));
}

int imgstore_desc_id(json_t *desc, char *out, size_t len)
{
	return desc_config_digest(desc, out, len) ? 0 : -EINVAL;
}

/* The config digest of the manifest a descriptor names, or NULL. */
static const char *desc_config_digest(json_t *desc, char *buf, size_t len)
{
	char why[256];
	json_t *m = imgstore_read_json(json_string_value(json_object_get(desc, "digest")), why,
				       sizeof(why));
	const char *d = m ? json_string_value(json_object_get(json_object_get(m, "config"), "digest"))
			  : NULL;

	if (d)
		snprintf(buf, len, "%s", d);
	json_decref(m);
	return d ? buf : NULL;
}

json_t *imgstore_index_find(json_t *index, const char *ref, bool *ambiguous)
{
	json_t *ms = json_object_get(index, "manifests"), *d, *hit = NULL;
	char norm[REF_MAX], cfg[DIGEST_LEN + 1];
	const char *hex = ref;
	size_t i, hlen;
	bool all_hex = true;

	*ambiguous = false;
	if (!imgstore_ref_normalize(ref, norm, sizeof(norm))) {
		json_array_foreach(ms, i, d) {
			const char *r = desc_ref(d);

			if (r && !strcmp(r, norm))
				return d;
		}
	}
	if (!strncmp(hex, "sha256:", 7))
		hex += 7;
	hlen = strlen(hex);
	for (const char *p = hex; *p; p++)
		all_hex = all_hex && (isdigit((unsigned char)*p) || (*p >= 'a' && *p <= 'f'));
	if (!all_hex || hlen < 4 || hlen > 64)
		return NULL;
	json_array_foreach(ms, i, d) {
		if (!desc_config_digest(d, cfg, sizeof(cfg)) || strncmp(cfg + 7, hex, hlen))
			continue;
		if (hit && strcmp(json_string_value(json_object_get(hit, "digest")),
				  json_string_value(json_object_get(d, "digest")))) {
			*ambiguous = true;
			return NULL;
		}
		hit = hit ? hit : d;
	}
	return hit;
}

int imgstore_index_set(json_t *index, const char *ref, json_t *desc)
{
	json_t *ms = json_object_get(index, "manifests"), *d, *copy;
	size_t i;

	json_array_foreach(ms, i, d) {
		const char *r = desc_ref(d);

		if (r && !strcmp(r, ref)) {
			json_array_remove(ms, i);
			break;
		}
	}
	copy = json_deep_copy(desc);
	if (!copy)
		return -ENOMEM;
	if (!json_is_object(json_object_get(copy, "annotations")))
		json_object_set_new(copy, "annotations", json_object());
	json_object_set_new(json_object_get(copy, "annotations"), ANN_REF_NAME, json_string(ref));
	return json_array_append_new(ms, copy) ? -ENOMEM : 0;
}

int imgstore_image_load(json_t *desc, struct image *img, char *why, size_t whylen)
{
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	json_t *layers, *diffs, *cfgd;
	const char *cd, *r = desc_ref(desc);

	memset(img, 0, sizeof(*img));
	snprintf(img->ref, sizeof(img->ref), "%s", r ? r : "");
	if (mt && strcmp(mt, MT_MANIFEST) && strcmp(mt, MT_DOCKER_MANIFEST)) {
		snprintf(why, whylen, "%s is a %s, not an image manifest", img->ref, mt);
		return -EINVAL;
	}
	img->manifest = imgstore_read_json(json_string_value(json_object_get(desc, "digest")), why,
					   whylen);
	if (!img->manifest)
		return -EINVAL;
	cfgd = json_object_get(img->manifest, "config");
	cd = json_string_value(json_object_get(cfgd, "digest"));
	layers = json_object_get(img->manifest, "layers");
	if (!cd || !json_is_array(layers)) {
		snprintf(why, whylen, "the manifest of %s has no config or no layers", img->ref);
		goto bad;
	}
	img->config = imgstore_read_json(cd, why, whylen);
	if (!img->config)
		goto bad;
	snprintf(img->id, sizeof(img->id), "%s", cd);
	diffs = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
	if (!json_is_array(diffs) || json_array_size(diffs) != json_array_size(layers)) {
		snprintf(why, whylen, "the config of %s does not list one diff id per layer", img->ref);
		goto bad;
	}
	return 0;
bad:
	imgstore_image_free(img);
	return -EINVAL;
}

void imgstore_image_free(struct image *img)
{
	json_decref(img->manifest);
	json_decref(img->config);
	img->manifest = img->config = NULL;
}

/* Add "hex" of a digest string to the keep set (a JSON object used as a set). */
static void keep(json_t *set, json_t *digest)
{
	const char *d = json_string_value(digest);

	if (imgstore_digest_ok(d))
		json_object_set_new(set, d + 7, json_true());
}

static int sweep(const char *dir, json_t *keep_set, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int removed = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char name[128], path[4400];
		size_t len = strlen(e->d_name), slen = strlen(suffix);

		if (e->d_name[0] == '.' || len != 64 + slen || strcmp(e->d_name + 64, suffix))
			continue;
		snprintf(name, sizeof(name), "%.64s", e->d_name);
		if (json_object_get(keep_set, name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

static int rm_tree_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	return ftw->level == 0 ? 0 : (remove(path) < 0 && errno != ENOENT ? -1 : 0);
}

int imgstore_gc(json_t *index)
{
	json_t *blobs = json_object(), *pieces = json_object(), *ms, *d;
	char dir[4200], why[256];
	size_t i;
	int removed;

	ms = json_object_get(index, "manifests");
	json_array_foreach(ms, i, d) {
		/* keep whatever a damaged image still names, so that nothing more is lost */
		json_t *m = imgstore_read_json(json_string_value(json_object_get(d, "digest")), why,
					       sizeof(why));
		json_t *cfgd = json_object_get(json_object_get(m, "config"), "digest"), *c, *l;
		size_t j;

		keep(blobs, json_object_get(d, "digest"));
		if (!m)
			continue;
		keep(blobs, cfgd);
		json_array_foreach(json_object_get(m, "layers"), j, l)
			keep(blobs, json_object_get(l, "digest"));
		c = imgstore_read_json(json_string_value(cfgd), why, sizeof(why));
		json_array_foreach(json_object_get(json_object_get(c, "rootfs"), "diff_ids"), j, l)
			keep(pieces, l);
		json_decref(c);
		json_decref(m);
	}
	/* what an interrupted build, import or pull left: they all write tmp/ under the lock */
	snprintf(dir, sizeof(dir), "%s/tmp", imgstore_dir());
	nftw(dir, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(dir, sizeof(dir), "%s/blobs/sha256", imgstore_dir());
	removed = sweep(dir, blobs, "");
	snprintf(dir, sizeof(dir), "%s/pieces", imgstore_dir());
	removed += sweep(dir, pieces, ".cpio");
	json_decref(blobs);
	json_decref(pieces);
	return removed;
}

void imgstore_collect(void)
{
	char why[256];
	json_t *index = imgstore_index_load(why, sizeof(why));

	if (index)
		imgstore_gc(index);
	json_decref(index);
}
