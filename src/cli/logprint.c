// SPDX-License-Identifier: MIT
/* An Arrow's log printed (cli.h): `arrow logs` and `arrow fn logs`. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/statedir.h"
#include "common/streamrec.h"
#include "lib/state/store.h"

#define FOLLOW_POLL_MS 100
#define MAX_LOG_FILES 100


struct out_state {
	bool timestamps;
	bool at_line_start[3]; /* per stream */
};

/* Growing byte buffer of raw log records. */
struct buf {
	char *p;
	size_t len, cap;
};

static int buf_read_fd(struct buf *b, int fd)
{
	for (;;) {
		ssize_t n;

		if (b->cap - b->len < 65536) {
			size_t cap = b->cap ? 2 * b->cap : 1 << 20;
			char *p = realloc(b->p, cap);

			if (!p)
				return -ENOMEM;
			b->p = p;
			b->cap = cap;
		}
		n = read(fd, b->p + b->len, b->cap - b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			exit(0); /* the reader went away (arrow logs | head) */
		p += w;
		len -= (size_t)w;
	}
}

static void stamp(int fd, uint64_t ns)
{
	char buf[64];
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%09lluZ ",
			      (unsigned long long)(ns % 1000000000ull));
	write_all(fd, buf, n);
}

static void emit(struct out_state *o, const struct streamrec_hdr *h, const char *data, size_t len)
{
	int fd = h->stream == STREAM_STDERR ? STDERR_FILENO : STDOUT_FILENO;
	int st = h->stream == STREAM_STDERR ? 2 : 1;

	if (!o->timestamps) {
		write_all(fd, data, len);
		return;
	}
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) + 1 : len;

		if (o->at_line_start[st])
			stamp(fd, h->time_ns);
		write_all(fd, data, n);
		o->at_line_start[st] = nl != NULL;
		data += n;
		len -= n;
	}
}

/* Offset where the last `tail` lines of the whole log (both streams) begin; false: all. */
static bool tail_start(const char *p, size_t len, long tail, size_t *cut)
{
	size_t *offs = NULL, nrec = 0, cap = 0, pos = 0;
	long lines = 0;
	bool trailing = true; /* skip the newline that ends the very last line */

	while (pos + sizeof(struct streamrec_hdr) <= len) {
		struct streamrec_hdr h;

		memcpy(&h, p + pos, sizeof(h));
		if (h.magic != STREAMREC_MAGIC || pos + sizeof(h) + h.len > len)
			break;
		if (nrec == cap) {
			cap = cap ? 2 * cap : 1024;
			offs = realloc(offs, cap * sizeof(*offs));
			if (!offs)
				return false;
		}
		offs[nrec++] = pos;
		pos += sizeof(h) + h.len;
	}
	for (size_t r = nrec; r-- > 0;) {
		struct streamrec_hdr h;

		memcpy(&h, p + offs[r], sizeof(h));
		for (size_t i = h.len; i-- > 0;) {
			if (p[offs[r] + sizeof(h) + i] != '\n')
				continue;
			if (trailing && r == nrec - 1 && i == h.len - 1) {
				trailing = false;
				continue;
			}
			trailing = false;
			/* the n-th newline from the end starts the n-th line from the end */
			if (++lines >= tail) {
				/* Start right after this newline: split the record there. */
				*cut = offs[r] + sizeof(h) + i + 1;
				free(offs);
				return true;
			}
		}
		trailing = false;
	}
	free(offs);
	return false;
}

/* Print complete records from b starting at *pos; leaves a partial record for later. */
static void print_records(struct out_state *o, struct buf *b, size_t *pos)
{
	while (*pos + sizeof(struct streamrec_hdr) <= b->len) {
		struct streamrec_hdr h;

		memcpy(&h, b->p + *pos, sizeof(h));
		if (h.magic != STREAMREC_MAGIC || h.len > STREAMREC_MAX_LEN) {
			fprintf(stderr, "arrow logs: the log is damaged; stopping here\n");
			*pos = b->len;
			return;
		}
		if (*pos + sizeof(h) + h.len > b->len)
			return;
		emit(o, &h, b->p + *pos + sizeof(h), h.len);
		*pos += sizeof(h) + h.len;
	}
}

/* Print from a mid-record cut point (tail): the rest of that record, then whole records. */
static void print_from_cut(struct out_state *o, struct buf *b, size_t cut, size_t *pos)
{
	size_t p = 0;

	while (p + sizeof(struct streamrec_hdr) <= b->len) {
		struct streamrec_hdr h;

		memcpy(&h, b->p + p, sizeof(h));
		if (cut <= p + sizeof(h)) { /* the cut falls between records */
			*pos = p;
			break;
		}
		if (cut < p + sizeof(h) + h.len) {
			emit(o, &h, b->p + cut, p + sizeof(h) + h.len - cut);
			*pos = p + sizeof(h) + h.len;
			break;
		}
		p += sizeof(h) + h.len;
	}
	print_records(o, b, pos);
}

static int open_log(const char *dir, unsigned int n)
{
	char path[4200];

	if (n)
		snprintf(path, sizeof(path), "%s/%s.%u", dir, STATE_LOG_FILE, n);
	else
		snprintf(path, sizeof(path), "%s/%s", dir, STATE_LOG_FILE);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static bool still_running(const char *id)
{
	struct arrow_rec r;
	bool running = false;

	if (store_load(id, &r) == 0) {
		running = r.status == ST_RUNNING;
		store_free(&r);
	}
	return running;
}

/* -f: read what the current log file gains; reopen it when arrowh rotates it. */
static void follow(struct out_state *o, const struct arrow_rec *r, int fd, struct buf *b,
		   size_t pos)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", r->dir, STATE_LOG_FILE);
	for (;;) {
		struct stat a, cur;
		bool running = still_running(r->id);

		buf_read_fd(b, fd);
		print_records(o, b, &pos);
		if (fstat(fd, &a) == 0 && stat(path, &cur) == 0 && a.st_ino != cur.st_ino) {
			int nfd = open(path, O_RDONLY | O_CLOEXEC);

			if (nfd >= 0) { /* rotated: the old file is complete, move on */
				buf_read_fd(b, fd);
				print_records(o, b, &pos);
				close(fd);
				fd = nfd;
				b->len = 0;
				pos = 0;
				continue;
			}
		}
		if (!running) {
			buf_read_fd(b, fd);
			print_records(o, b, &pos);
			break;
		}
		poll(NULL, 0, FOLLOW_POLL_MS);
	}
	close(fd);
}

int arrow_print_logs(const struct arrow_rec *r, long tail, bool timestamps, bool follow_on)
{
	struct out_state o = { .at_line_start = { true, true, true }, .timestamps = timestamps };
	struct buf b = { 0 };
	size_t pos = 0, cut = 0;
	int fd = -1;

	/* Oldest rotated file first, the current one last. */
	for (unsigned int n = MAX_LOG_FILES; n-- > 0;) {
		fd = open_log(r->dir, n);
		if (fd < 0)
			continue;
		buf_read_fd(&b, fd);
		if (n)
			close(fd);
	}
	if (tail >= 0) {
		if (tail == 0) {
			pos = b.len;
		} else if (tail_start(b.p, b.len, tail, &cut)) {
			print_from_cut(&o, &b, cut, &pos);
		} else {
			print_records(&o, &b, &pos);
		}
	} else {
		print_records(&o, &b, &pos);
	}
	if (follow_on && fd >= 0) {
		/* Keep only the current file's unread tail in the buffer. */
		struct stat st;

		if (fstat(fd, &st) == 0 && (size_t)st.st_size <= b.len && pos >= b.len - (size_t)st.st_size) {
			size_t base = b.len - (size_t)st.st_size;

			memmove(b.p, b.p + base, b.len - base);
			b.len -= base;
			pos -= base;
		}
		follow(&o, r, fd, &b, pos);
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	free(b.p);
	return 0;
}
