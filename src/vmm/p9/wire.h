/* SPDX-License-Identifier: MIT */
/*
 * 9P's wire format: little-endian integers and length-prefixed strings, read from a
 * message the guest wrote (every read bounds-checked; a short message sets bad) and
 * written into a reply buffer (overflow sets bad). Used by server.c only.
 */
#ifndef ARROW_P9_WIRE_H
#define ARROW_P9_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

struct wr {
	uint8_t *p;
	size_t cap, off;
	bool bad;
};

static inline const void *take(struct rd *r, size_t n)
{
	const void *at = r->p + r->off;

	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	r->off += n;
	return at;
}

static inline void skip(struct rd *r, size_t n)
{
	(void)take(r, n);
}

static inline uint64_t rn(struct rd *r, size_t n)
{
	const uint8_t *b = take(r, n);
	uint64_t v = 0;

	for (size_t i = 0; b && i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

#define r8(r) ((uint8_t)rn(r, 1))
#define r16(r) ((uint16_t)rn(r, 2))
#define r32(r) ((uint32_t)rn(r, 4))
#define r64(r) rn(r, 8)

/* A string into buf (NUL-terminated); bad if it does not fit or holds a NUL. */
static inline const char *rstr(struct rd *r, char *buf, size_t cap)
{
	uint16_t n = r16(r);
	const char *s = take(r, n);

	if (!s || n >= cap || memchr(s, '\0', n)) {
		r->bad = true;
		buf[0] = '\0';
		return buf;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static inline void wn(struct wr *w, uint64_t v, size_t n)
{
	if (w->bad || n > w->cap - w->off) {
		w->bad = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		w->p[w->off++] = (uint8_t)(v >> (8 * i));
}

#define w8(w, v) wn(w, v, 1)
#define w16(w, v) wn(w, v, 2)
#define w32(w, v) wn(w, v, 4)
#define w64(w, v) wn(w, v, 8)

static inline void wbytes(struct wr *w, const void *b, size_t n)
{
	if (w->bad || n > w->cap - w->off) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->off, b, n);
	w->off += n;
}

static inline void wstr(struct wr *w, const char *s)
{
	size_t n = strlen(s);

	w16(w, n);
	wbytes(w, s, n);
}

#endif
