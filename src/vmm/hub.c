// SPDX-License-Identifier: MIT
#include "hub.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/statedir.h"
#include "virtio/queue.h"

#define CLIENT_SNDBUF (1 << 20)

int hub_listen(struct hub *h, const char *dir)
{
	struct sockaddr_un sa;
	int dir_fd, ret;

	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->input = -1;
	for (unsigned int i = 0; i < HUB_MAX_CLIENTS; i++)
		h->clients[i].fd = -1;
	h->listen_fd = -1;
	h->spare_fd = -1;
	ret = statedir_sockaddr(dir, &sa, &dir_fd);
	if (ret)
		return ret;
	h->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (h->listen_fd < 0) {
		ret = -errno;
	} else {
		unlink(sa.sun_path);
		if (bind(h->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(h->listen_fd, 16) < 0) {
			ret = -errno;
			close(h->listen_fd);
			h->listen_fd = -1;
		}
	}
	if (dir_fd >= 0)
		close(dir_fd);
	hub_refill_spare(h);
	return ret;
}

void hub_refill_spare(struct hub *h)
{
	if (h->spare_fd < 0 && h->listen_fd >= 0)
		h->spare_fd = fcntl(h->listen_fd, F_DUPFD_CLOEXEC, 0);
}

/* Lock held. A client that cannot take a whole record now is cut off: a slow
 * reader must never stall the app (the log keeps everything). */
static void send_record(struct hub_client *c, int stream, const struct iovec *iov, unsigned int n,
			size_t len)
{
	struct streamrec_hdr hdr = { .magic = STREAMREC_MAGIC, .stream = (uint8_t)stream,
				     .len = (uint32_t)len, .time_ns = statedir_realtime_ns() };
	struct iovec v[VIRTQ_MAX_SEGS + 1];
	struct msghdr m = { .msg_iov = v, .msg_iovlen = n + 1 };
	ssize_t w;

	v[0] = (struct iovec){ &hdr, sizeof(hdr) };
	memcpy(v + 1, iov, n * sizeof(*iov));
	w = sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w != (ssize_t)(sizeof(hdr) + len)) {
		shutdown(c->fd, SHUT_RDWR);
		c->dead = true;
	}
}

void hub_broadcast(struct hub *h, int stream, const struct iovec *iov, unsigned int n, size_t len)
{
	if (n > VIRTQ_MAX_SEGS || len > STREAMREC_MAX_LEN)
		return;
	pthread_mutex_lock(&h->lock);
	for (unsigned int i = 0; i < HUB_MAX_CLIENTS; i++)
		if (h->clients[i].fd >= 0 && !h->clients[i].dead)
			send_record(&h->clients[i], stream, iov, n, len);
	pthread_mutex_unlock(&h->lock);
}

int hub_accept(struct hub *h, struct hostctl_req *req, int *req_fd)
{
	struct timeval tv = { .tv_sec = 2 };
	int fd, size = CLIENT_SNDBUF;

	*req_fd = -1;
	fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && h->spare_fd >= 0) {
		/* out of descriptors (a guest holding many files?): the reserve serves this one */
		close(h->spare_fd);
		h->spare_fd = -1;
		fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	}
	if (fd < 0)
		return -1;
	/* One fixed-size request, sent at once by a well-behaved client. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv(fd, req, sizeof(*req), MSG_WAITALL) != (ssize_t)sizeof(*req) ||
	    req->magic != HOSTCTL_MAGIC) {
		close(fd);
		errno = EPROTO;
		return -1;
	}
	if (req->type != HOSTCTL_ATTACH) {
		*req_fd = fd; /* the caller handles it and replies */
		return -1;
	}
	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < HUB_MAX_CLIENTS; i++) {
		if (h->clients[i].fd >= 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		fcntl(fd, F_SETFL, O_NONBLOCK);
		h->clients[i] = (struct hub_client){ .fd = fd };
		pthread_mutex_unlock(&h->lock);
		return i;
	}
	pthread_mutex_unlock(&h->lock);
	close(fd); /* full: the client sees EOF at once */
	errno = EPROTO;
	return -1;
}

void hub_close_client(struct hub *h, int slot)
{
	pthread_mutex_lock(&h->lock);
	if (slot >= 0 && slot < HUB_MAX_CLIENTS && h->clients[slot].fd >= 0) {
		close(h->clients[slot].fd);
		h->clients[slot] = (struct hub_client){ .fd = -1 };
		if (h->input == slot)
			h->input = -1;
	}
	pthread_mutex_unlock(&h->lock);
}

void hub_finish(struct hub *h, int status)
{
	int32_t st = status;
	struct iovec v = { &st, sizeof(st) };

	hub_broadcast(h, STREAM_EXIT, &v, 1, sizeof(st));
	for (int i = 0; i < HUB_MAX_CLIENTS; i++)
		hub_close_client(h, i);
}

void hub_destroy(struct hub *h, const char *dir)
{
	char path[4200];

	for (int i = 0; i < HUB_MAX_CLIENTS; i++)
		hub_close_client(h, i);
	if (h->spare_fd >= 0)
		close(h->spare_fd);
	h->spare_fd = -1;
	if (h->listen_fd >= 0) {
		close(h->listen_fd);
		h->listen_fd = -1;
		if (dir) {
			snprintf(path, sizeof(path), "%s/%s", dir, STATE_SOCKET);
			unlink(path);
		}
	}
}
