// SPDX-License-Identifier: MIT
#include "lib/image/imglimit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int imglimit_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = 1ull << 10;
		break;
	case 'm': case 'M':
		mult = 1ull << 20;
		break;
	case 'g': case 'G':
		mult = 1ull << 30;
		break;
	case 't': case 'T':
		mult = 1ull << 40;
		break;
	default:
		return -EINVAL;
	}
	if (*p && p[1])
		return -EINVAL;
	if (!v || v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int from_env(const char *name, uint64_t def, uint64_t *out, char *why, size_t whylen)
{
	const char *s = getenv(name);

	*out = def;
	if (!s)
		return 0;
	if (imglimit_parse(s, out)) {
		snprintf(why, whylen, "%s='%.40s' is not a limit: give a number of at least 1 with an "
			 "optional K, M, G or T suffix (e.g. 8G)", name, s);
		return -EINVAL;
	}
	return 0;
}

int imglimit_load(struct img_limits *l, char *why, size_t whylen)
{
	int ret = from_env("ARROW_MAX_LAYER_SIZE", IMGLIMIT_LAYER_DEFAULT, &l->layer_bytes, why,
			   whylen);

	if (!ret)
		ret = from_env("ARROW_MAX_IMAGE_SIZE", IMGLIMIT_IMAGE_DEFAULT, &l->image_bytes, why,
			       whylen);
	if (!ret)
		ret = from_env("ARROW_MAX_LAYER_ENTRIES", IMGLIMIT_ENTRIES_DEFAULT, &l->layer_entries,
			       why, whylen);
	return ret;
}

const char *imglimit_format(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "TiB", "GiB", "MiB", "KiB" };

	for (int i = 0; i < 4; i++) {
		unsigned int shift = 40 - 10 * (unsigned int)i;

		if (n >= (1ull << shift) && !(n & ((1ull << shift) - 1))) {
			snprintf(buf, len, "%llu %s", (unsigned long long)(n >> shift), unit[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%llu bytes", (unsigned long long)n);
	return buf;
}

int imglimit_read_fd(int fd, size_t max, char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *b;

	*buf = NULL;
	*len = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	b = malloc(max + 2);
	if (!b)
		return -ENOMEM;
	/* the file may grow after fstat: never read more than max + 1 bytes */
	while (got <= max) {
		ssize_t n = pread(fd, b + got, max + 1 - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int ret = -errno;

			free(b);
			return ret;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max) {
		free(b);
		return -EFBIG;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

json_t *imglimit_load_json(const char *path, size_t max, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), ret;
	char *buf, lim[32];
	json_error_t err;
	size_t len;
	json_t *j;

	if (fd < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	ret = imglimit_read_fd(fd, max, &buf, &len);
	close(fd);
	if (ret) {
		snprintf(why, whylen, "%s: %s", path,
			 ret == -EFBIG ? "too large for a JSON document (the limit is " :
			 ret == -EINVAL ? "not a regular file" : strerror(-ret));
		if (ret == -EFBIG)
			snprintf(why + strlen(why), whylen - strlen(why), "%s)",
				 imglimit_format(max, lim, sizeof(lim)));
		return NULL;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	free(buf);
	if (!j)
		snprintf(why, whylen, "%s: %s", path, err.text);
	return j;
}
