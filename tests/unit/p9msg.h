/* SPDX-License-Identifier: MIT */
/* A 9P2000.L message builder for the unit tests of the 9P server and its sidecar. */
#ifndef ARROW_TEST_P9MSG_H
#define ARROW_TEST_P9MSG_H

#include <stdint.h>
#include <string.h>

struct msg {
	uint8_t b[8192];
	size_t n;
};

/* v as `bytes` little-endian bytes */
static inline void put(struct msg *m, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		m->b[m->n++] = (uint8_t)(v >> (8 * i));
}

/* a 9P string: 2-byte length, then the bytes */
static inline void put_s(struct msg *m, const char *s)
{
	put(m, strlen(s), 2);
	memcpy(m->b + m->n, s, strlen(s));
	m->n += strlen(s);
}

/* a new message: size (filled in when sent), type, tag */
static inline void start_tag(struct msg *m, uint8_t type, uint16_t tag)
{
	m->n = 0;
	put(m, 0, 4);
	put(m, type, 1);
	put(m, tag, 2);
}

#endif
