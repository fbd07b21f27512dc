/* SPDX-License-Identifier: MIT */
/*
 * Host side of the control channel: reassembles fixed-size records from the
 * guest's byte stream and validates each one. A record with a bad magic stops
 * the parser for good (the guest only loses its own control channel).
 */
#ifndef ARROW_CONTROL_H
#define ARROW_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../common/protocol.h"

typedef void ctl_handler_fn(void *opaque, const struct arrow_ctl_msg *msg);

struct ctl_stream {
	size_t have;
	bool dead;
	uint8_t buf[sizeof(struct arrow_ctl_msg)];
	ctl_handler_fn *handler;
	void *opaque;
};

void ctl_stream_init(struct ctl_stream *s, ctl_handler_fn *handler, void *opaque);
/* Feed guest bytes; calls the handler for each valid record. Returns records seen. */
unsigned int ctl_stream_feed(struct ctl_stream *s, const struct iovec *iov, unsigned int n);
/* Encode a host -> guest record. */
void ctl_encode(struct arrow_ctl_msg *m, uint16_t type, uint32_t arg, uint64_t value);

#endif
