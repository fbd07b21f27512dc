/* SPDX-License-Identifier: MIT */
/*
 * A 9P server in another process (docs/volumes.md, "The rootfs sidecar"): arrowh's
 * virtio-9p device forwards each request over a SOCK_SEQPACKET socket and copies back the
 * reply; the sidecar (sidecar.c) answers with p9_handle(). One message each way:
 *
 *   request: seq[4] reply_cap[4] T-message      reply: seq[4] R-message
 *
 * arrowh trusts no reply: one that is late, short, too long for what the guest offered,
 * not an R-message, or for another tag or request becomes an Rlerror(EIO) of arrowh's
 * own making; so does a dead sidecar. Nothing the sidecar sends can hang or crash arrowh.
 */
#ifndef ARROW_P9_REMOTE_H
#define ARROW_P9_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"

#define P9_REMOTE_HDR 8 /* seq[4] reply_cap[4] */
#define P9_REMOTE_TIMEOUT_MS 30000 /* a slow disk may take long; a hung sidecar not forever */

struct p9_remote {
	int sock;     /* arrowh's end; -1 once the sidecar is known dead */
	uint32_t seq; /* of the last request sent */
	int timeout_ms;
	uint8_t *buf; /* P9_REMOTE_HDR + P9_MSIZE_MAX: the message on the wire */
};

/* Take sock (the sidecar's peer). 0 or -ENOMEM. */
int p9_remote_init(struct p9_remote *r, int sock, int timeout_ms);
void p9_remote_free(struct p9_remote *r);

/*
 * Forward the T-message req (req_len bytes) and put the R-message into resp (at most
 * resp_cap bytes). Returns its length: the sidecar's reply, or an Rlerror(EIO) with the
 * request's tag. 0 only if resp_cap cannot hold even an error reply.
 */
size_t p9_remote_call(struct p9_remote *r, const uint8_t *req, size_t req_len, uint8_t *resp,
		      size_t resp_cap);

/*
 * The sidecar's side: answer requests on sock with s until the peer closes it or a
 * message is not a request. buf: P9_REMOTE_HDR + P9_MSIZE_MAX bytes, and as much for the
 * reply in out. Returns 0 on a clean end, -errno otherwise.
 */
int p9_remote_serve(struct p9_server *s, int sock, uint8_t *buf, uint8_t *out);

#endif
