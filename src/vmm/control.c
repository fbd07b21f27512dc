// SPDX-License-Identifier: MIT
#include "control.h"

#include <stdio.h>
#include <string.h>

void ctl_stream_init(struct ctl_stream *s, ctl_handler_fn *handler, void *opaque)
{
	memset(s, 0, sizeof(*s));
	s->handler = handler;
	s->opaque = opaque;
}

static bool valid(const struct arrow_ctl_msg *m)
{
	if (m->magic != ARROW_CTL_MAGIC)
		return false;
	switch (m->type) {
	case ARROW_CTL_HELLO:
	case ARROW_CTL_EXEC:
	case ARROW_CTL_TEMPLATE:
	case ARROW_CTL_READY:
		return true;
	case ARROW_CTL_EXIT:
		return m->arg <= 255;
	default:
		return false;
	}
}

unsigned int ctl_stream_feed(struct ctl_stream *s, const struct iovec *iov, unsigned int n)
{
	unsigned int records = 0;

	for (unsigned int i = 0; i < n && !s->dead; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left && !s->dead) {
			size_t take = sizeof(s->buf) - s->have;
			struct arrow_ctl_msg m;

			if (take > left)
				take = left;
			memcpy(s->buf + s->have, p, take);
			s->have += take;
			p += take;
			left -= take;
			if (s->have < sizeof(s->buf))
				break;
			memcpy(&m, s->buf, sizeof(m));
			s->have = 0;
			if (!valid(&m)) {
				fprintf(stderr, "arrowh: malformed control record from the guest; "
						"ignoring the control channel from now on\n");
				s->dead = true;
				break;
			}
			records++;
			s->handler(s->opaque, &m);
		}
	}
	return records;
}

void ctl_encode(struct arrow_ctl_msg *m, uint16_t type, uint32_t arg, uint64_t value)
{
	memset(m, 0, sizeof(*m));
	m->magic = ARROW_CTL_MAGIC;
	m->type = type;
	m->arg = arg;
	m->value = value;
}
