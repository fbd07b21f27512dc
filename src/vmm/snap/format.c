// SPDX-License-Identifier: MIT
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

void snapw_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
}

static void put(struct snap_writer *w, const void *data, uint64_t len)
{
	if (w->failed || !len)
		return;
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 64 * 1024;
		uint8_t *p;

		while (cap < w->len + len)
			cap *= 2;
		p = realloc(w->buf, cap);
		if (!p) {
			w->failed = 1;
			return;
		}
		w->buf = p;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
}

void snapw_add(struct snap_writer *w, uint32_t tag, uint32_t index, const void *data, uint64_t len)
{
	struct snap_section s = { .tag = tag, .index = index, .len = len };
	static const uint8_t pad[8];

	put(w, &s, sizeof(s));
	put(w, data, len);
	put(w, pad, (8 - len % 8) % 8); /* sections stay 8-byte aligned */
}

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int snapw_write_file(struct snap_writer *w, const char *path)
{
	return snapw_write_file_at(w, AT_FDCWD, path);
}

int snapw_write_file_at(struct snap_writer *w, int dir_fd, const char *path)
{
	struct snap_header h = { .version = SNAP_FORMAT_VERSION, .header_size = sizeof(h) };
	char tmp[4200];
	int fd, ret;

	if (w->failed)
		return -ENOMEM;
	if (w->len > SNAP_MAX_BODY)
		return -EFBIG;
	memcpy(h.magic, SNAP_MAGIC, sizeof(h.magic));
	h.body_len = w->len;
	h.body_crc32 = (uint32_t)crc32(0L, w->buf, (uInt)w->len);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, &h, sizeof(h));
	if (!ret)
		ret = write_all(fd, w->buf, w->len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (!ret && renameat(dir_fd, tmp, dir_fd, path) < 0)
		ret = -errno;
	if (ret)
		unlinkat(dir_fd, tmp, 0);
	return ret;
}

void snapw_free(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

int snap_check(struct snap_image *img, const char **why)
{
	struct snap_header h;
	uint64_t off = 0;

	if (img->len < sizeof(h)) {
		*why = "the state file is truncated (shorter than its header)";
		return -EINVAL;
	}
	memcpy(&h, img->buf, sizeof(h));
	if (memcmp(h.magic, SNAP_MAGIC, sizeof(h.magic))) {
		*why = "not an Arrow snapshot state file (bad magic)";
		return -EINVAL;
	}
	if (h.version != SNAP_FORMAT_VERSION || h.header_size != sizeof(h)) {
		*why = "the state file has another format version than this arrowh reads";
		return -EPROTO;
	}
	if (h.body_len != img->len - sizeof(h)) {
		*why = "the state file is truncated or has trailing bytes (length mismatch)";
		return -EINVAL;
	}
	img->body = img->buf + sizeof(h);
	img->body_len = h.body_len;
	if ((uint32_t)crc32(0L, img->body, (uInt)img->body_len) != h.body_crc32) {
		*why = "the state file is corrupt (checksum mismatch)";
		return -EBADMSG;
	}
	/* every section must fit exactly: then snap_find may trust the lengths */
	while (off < img->body_len) {
		struct snap_section s;
		uint64_t padded;

		if (img->body_len - off < sizeof(s)) {
			*why = "the state file has a malformed section";
			return -EINVAL;
		}
		memcpy(&s, img->body + off, sizeof(s));
		off += sizeof(s);
		padded = s.len + (8 - s.len % 8) % 8;
		if (s.len > img->body_len || padded > img->body_len - off) {
			*why = "the state file has a malformed section";
			return -EINVAL;
		}
		off += padded;
	}
	return 0;
}

int snap_read_file(const char *path, struct snap_image *img, const char **why)
{
	struct stat st;
	size_t done = 0;
	int fd, ret;

	memset(img, 0, sizeof(*img));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = "cannot open the state file";
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > SNAP_MAX_BODY + sizeof(struct snap_header)) {
		close(fd);
		*why = "the state file is not a regular file of a plausible size";
		return -EINVAL;
	}
	img->len = (size_t)st.st_size;
	img->buf = malloc(img->len ? img->len : 1);
	if (!img->buf) {
		close(fd);
		*why = "out of memory";
		return -ENOMEM;
	}
	while (done < img->len) {
		ssize_t n = read(fd, img->buf + done, img->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	img->len = done;
	ret = snap_check(img, why);
	if (ret)
		snap_image_free(img);
	return ret;
}

const void *snap_find_any(const struct snap_image *img, uint32_t tag, uint32_t index, uint64_t *len)
{
	uint64_t off = 0;

	while (off + sizeof(struct snap_section) <= img->body_len) {
		struct snap_section s;

		memcpy(&s, img->body + off, sizeof(s));
		off += sizeof(s);
		if (s.tag == tag && s.index == index) {
			*len = s.len;
			return img->body + off;
		}
		off += s.len + (8 - s.len % 8) % 8;
	}
	return NULL;
}

const void *snap_find(const struct snap_image *img, uint32_t tag, uint32_t index, uint64_t len)
{
	uint64_t have;
	const void *p = snap_find_any(img, tag, index, &have);

	return p && have == len ? p : NULL;
}

void snap_image_free(struct snap_image *img)
{
	free(img->buf);
	memset(img, 0, sizeof(*img));
}
