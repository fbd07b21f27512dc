/* SPDX-License-Identifier: MIT */
/*
 * An Arrow's control socket (DIR/ctl.sock) and the clients attached to it.
 * `arrow kill/stop` send one request per connection; `arrow attach` keeps its
 * connection and receives the app's output as stream records
 * (common/streamrec.h), and may send the app's input the same way.
 */
#ifndef ARROW_VMM_HUB_H
#define ARROW_VMM_HUB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "common/streamrec.h"

#define HUB_MAX_CLIENTS 16

struct hub_client {
	int fd; /* -1: free slot */
	bool dead; /* output could not keep up or failed: shut down, closed by the I/O thread */
};

struct hub {
	pthread_mutex_t lock; /* the client table: output comes from vCPU threads */
	int listen_fd;
	/* a descriptor held in reserve: when the process is out of descriptors it is given
	 * up so that one more request (`arrow stop`) can still be accepted and served */
	int spare_fd;
	struct hub_client clients[HUB_MAX_CLIENTS];
	int input; /* client slot that feeds the app's stdin, or -1 */
	/* parser for the input client's records */
	struct streamrec_hdr hdr;
	size_t hdr_got;
	uint32_t data_left;
};

/* Listen on dir/ctl.sock (removed first if stale). 0 or -errno. */
int hub_listen(struct hub *h, const char *dir);
/* Send a record to every attached client; never blocks. */
void hub_broadcast(struct hub *h, int stream, const struct iovec *iov, unsigned int n, size_t len);
/*
 * Accept one connection: returns its slot, or -1 (nothing, or a request already handled).
 * On -1 errno says why: EAGAIN nothing more to accept, EPROTO a bad client (dropped),
 * EMFILE/ENFILE/ENOMEM/ENOBUFS out of resources even after giving up the spare descriptor.
 */
int hub_accept(struct hub *h, struct hostctl_req *req, int *req_fd);
/* Take the spare descriptor again once one is free (after a request was served). */
void hub_refill_spare(struct hub *h);
void hub_close_client(struct hub *h, int slot);
/* Send the final exit record to every client and close them all. */
void hub_finish(struct hub *h, int status);
void hub_destroy(struct hub *h, const char *dir);

#endif
