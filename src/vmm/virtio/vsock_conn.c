// SPDX-License-Identifier: MIT
/*
 * virtio-vsock: connections and the host's sockets (see vsock.h, docs/vsock.md). Bytes
 * from the guest go to the host socket directly when it takes them, else into a ring of
 * VSOCK_CONN_BUF bytes, the credit the guest was given; host clients' handshakes.
 */
#include "vsock_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ACCEPT_BUDGET 64
#define LISTEN_PAUSE_NS 1000000000ull /* out of descriptors: stop accepting for a second */

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

int vsock_listen(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, ret = fill_addr(&sa, path);

	if (ret)
		return ret;
	/* a socket left by an arrowh that died: ours to replace; anything else is not */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * The supervisor connects as root, to a name in a directory others may write to (the
 * state directory is its user's): it follows no symlink there, and takes only a socket of
 * root's or of the directory owner's. Whoever could swap the entry between the check and
 * the connect owns the directory anyway, and could have bound the socket themselves.
 */
static int check_entry(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	struct stat dst, st;
	int dfd, ret = 0;

	if (slash) {
		size_t n = slash == path ? 1 : (size_t)(slash - path);

		memcpy(dir, path, n);
		dir[n] = '\0';
	} else {
		strcpy(dir, ".");
	}
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fstat(dfd, &dst) < 0 || fstatat(dfd, slash ? slash + 1 : path, &st,
					    AT_SYMLINK_NOFOLLOW) < 0)
		ret = -errno;
	else if (S_ISLNK(st.st_mode))
		ret = -ELOOP;
	else if (!S_ISSOCK(st.st_mode))
		ret = -ECONNREFUSED;
	else if (st.st_uid != 0 && st.st_uid != dst.st_uid)
		ret = -EPERM;
	close(dfd);
	return ret;
}

int vsock_connect_path(const char *base, uint32_t port)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path) + 16];
	int fd, ret;

	if (snprintf(path, sizeof(path), "%s_%u", base, port) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	ret = fill_addr(&sa, path);
	if (!ret)
		ret = check_entry(path);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a unix connect does not wait for accept(): EAGAIN only when the backlog is full,
	 * which the guest sees as a refusal, like a full backlog on TCP */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

uint64_t vconn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- connections ---- */

uint32_t vconn_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

void vconn_queue_rst(struct vsock *v, uint32_t local, uint32_t peer)
{
	/* full: the guest learns it from the RST its next packet on that port gets */
	if (v->nr_rst < VSOCK_RST_QUEUE) {
		v->rst[v->nr_rst].local = local;
		v->rst[v->nr_rst++].peer = peer;
	}
}

void vconn_unqueue_rst(struct vsock *v, uint32_t local, uint32_t peer)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < v->nr_rst; i++)
		if (v->rst[i].local != local || v->rst[i].peer != peer)
			v->rst[k++] = v->rst[i];
	v->nr_rst = k;
}

static bool rst_queued(const struct vsock *v, uint32_t local, uint32_t peer)
{
	for (unsigned int i = 0; i < v->nr_rst; i++)
		if (v->rst[i].local == local && v->rst[i].peer == peer)
			return true;
	return false;
}

/* Descriptors are handed out lowest first: fd's number says all below it are taken. */
bool vconn_fd_low(const struct vsock *v, int fd)
{
	return v->fd_limit <= VSOCK_FD_HEADROOM || (unsigned int)fd >= v->fd_limit - VSOCK_FD_HEADROOM;
}

/* Close slot; rst: the guest knows the connection and must hear that it is gone. */
void vconn_free(struct vsock *v, unsigned int slot, bool rst)
{
	struct vsock_conn *c = v->conns[slot];

	if (rst && (c->state == CONN_OPEN || (c->state == CONN_REQUESTING && !c->want_request)))
		vconn_queue_rst(v, c->local, c->peer);
	if (c->from_host)
		v->nr_from_host--;
	else
		v->nr_from_guest--;
	close(c->fd); /* leaves the epoll set by itself */
	free(c->buf);
	free(c);
	v->conns[slot] = NULL;
	v->nr_conns--;
}

void vconn_close_all(struct vsock *v)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i])
			vconn_free(v, i, false);
	v->nr_rst = 0;
}

int vconn_new(struct vsock *v, int fd, enum conn_state state, uint32_t local, uint32_t peer)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
	struct vsock_conn *c;
	bool from_host = state == CONN_HANDSHAKE;
	unsigned int slot;

	if (from_host ? v->nr_from_host >= v->max_from_host : v->nr_from_guest >= v->max_from_guest)
		return -ENOSPC;
	for (slot = 0; slot < VSOCK_MAX_CONNS && v->conns[slot]; slot++)
		;
	c = slot < VSOCK_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
	if (!c)
		return -ENOSPC;
	c->gen = ++v->gen;
	c->fd = fd;
	c->state = state;
	c->from_host = from_host;
	c->local = local;
	c->peer = peer;
	c->writable = true;
	ev.data.u64 = EV_CONN | ((uint64_t)c->gen << 16) | slot;
	if (epoll_ctl(v->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int ret = -errno;

		free(c);
		return ret;
	}
	v->conns[slot] = c;
	v->nr_conns++;
	if (from_host)
		v->nr_from_host++;
	else
		v->nr_from_guest++;
	return (int)slot;
}

int vconn_find(struct vsock *v, uint32_t local, uint32_t peer)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = v->conns[i];

		if (c && c->state != CONN_HANDSHAKE && c->local == local && c->peer == peer)
			return (int)i;
	}
	return -1;
}

/* The guest thinks less than half our buffer is free and more is: tell it. */
static void credit_check(struct vsock_conn *c)
{
	if (c->fwd_cnt != c->fwd_cnt_sent && c->rx_cnt - c->fwd_cnt_sent >= VSOCK_CONN_BUF / 2)
		c->want_credit = true;
}

/* After the host socket took bytes, or the guest shut down: finish what waited for it. */
void vconn_settle(struct vsock *v, unsigned int slot)
{
	struct vsock_conn *c = v->conns[slot];

	credit_check(c);
	if (c->used)
		return;
	free(c->buf); /* an idle connection holds no buffer */
	c->buf = NULL;
	c->head = 0;
	if ((c->peer_shut & VSOCK_SHUTDOWN_SEND) && !c->shut_wr) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = true;
	}
	/* both ways shut and everything delivered: the guest waits for our RST (5.10.6.6) */
	if (c->peer_shut == (VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV))
		vconn_free(v, slot, true);
}

/* Write buffered guest bytes to the host socket. false: the connection is gone. */
static bool conn_flush(struct vsock *v, unsigned int slot)
{
	struct vsock_conn *c = v->conns[slot];

	while (c->used && c->writable) {
		uint32_t chunk = VSOCK_CONN_BUF - c->head < c->used ? VSOCK_CONN_BUF - c->head : c->used;
		ssize_t w = send(c->fd, c->buf + c->head, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			c->writable = false;
			break;
		}
		if (w <= 0) {
			vconn_free(v, slot, true); /* the host peer is gone */
			return false;
		}
		c->head = (c->head + (uint32_t)w) % VSOCK_CONN_BUF;
		c->used -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	vconn_settle(v, slot);
	return v->conns[slot] != NULL;
}

/* Copy iov[0..n) from byte skip on into the ring. Room was checked. */
static void ring_put(struct vsock_conn *c, const struct iovec *iov, unsigned int n, size_t skip)
{
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		p += skip;
		l -= skip;
		skip = 0;
		while (l) {
			uint32_t at = (c->head + c->used) % VSOCK_CONN_BUF;
			size_t chunk = VSOCK_CONN_BUF - at < l ? VSOCK_CONN_BUF - at : l;

			memcpy(c->buf + at, p, chunk);
			c->used += (uint32_t)chunk;
			p += chunk;
			l -= chunk;
		}
	}
}

/* An RW packet's payload: straight to the host socket if nothing waits, the rest buffered. */
void vconn_take(struct vsock *v, unsigned int slot, const struct iovec *pay, unsigned int n,
		      uint32_t len)
{
	struct vsock_conn *c = v->conns[slot];
	size_t done = 0;

	if (!c->used && c->writable && len) {
		struct msghdr m = { .msg_iov = (struct iovec *)pay, .msg_iovlen = n };
		ssize_t w;

		do
			w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN) {
			vconn_free(v, slot, true);
			return;
		}
		if (w < (ssize_t)len)
			c->writable = false; /* the socket is full: its EPOLLOUT edge says when not */
		done = w > 0 ? (size_t)w : 0;
		c->fwd_cnt += (uint32_t)done;
	}
	c->rx_cnt += len;
	if (done < len) {
		if (!c->buf && !(c->buf = malloc(VSOCK_CONN_BUF))) {
			vconn_free(v, slot, true);
			return;
		}
		ring_put(c, pay, n, done);
	}
	vconn_settle(v, slot);
}

/* A host client's first line. Waits for more, opens toward the guest, or closes it. */
static void conn_handshake(struct vsock *v, unsigned int slot)
{
	struct vsock_conn *c = v->conns[slot];
	char line[VSOCK_HANDSHAKE_MAX + 1], *nl, *end;
	unsigned long port;
	ssize_t n;

	do
		n = recv(c->fd, line, VSOCK_HANDSHAKE_MAX, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		c->readable = false;
		return;
	}
	if (n <= 0) {
		vconn_free(v, slot, false);
		return;
	}
	nl = memchr(line, '\n', (size_t)n);
	if (!nl) {
		if (n >= VSOCK_HANDSHAKE_MAX)
			vconn_free(v, slot, false); /* too long to be a CONNECT line */
		else
			c->readable = false; /* the rest of the line comes with the next edge */
		return;
	}
	/* take exactly the line: what the client sent after it is for the guest */
	if (recv(c->fd, line, (size_t)(nl - line) + 1, MSG_DONTWAIT) != nl - line + 1) {
		vconn_free(v, slot, false);
		return;
	}
	*nl = '\0';
	if (strncmp(line, "CONNECT ", 8) || line[8] < '0' || line[8] > '9' || strlen(line + 8) > 10) {
		vconn_free(v, slot, false);
		return;
	}
	errno = 0;
	port = strtoul(line + 8, &end, 10);
	if (*end || errno || port > UINT32_MAX) {
		vconn_free(v, slot, false);
		return;
	}
	c->peer = (uint32_t)port;
	do {
		c->local = v->next_host_port++;
		if (v->next_host_port < VSOCK_HOST_PORT_BASE)
			v->next_host_port = VSOCK_HOST_PORT_BASE;
	} while (vconn_find(v, c->local, c->peer) >= 0 || rst_queued(v, c->local, c->peer));
	c->state = CONN_REQUESTING;
	c->want_request = true;
	c->deadline_ns = vconn_now_ns() + VSOCK_HANDSHAKE_MS * 1000000ull;
}

/* The guest accepted a host client's connection. */
void vconn_established(struct vsock *v, unsigned int slot)
{
	struct vsock_conn *c = v->conns[slot];
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local);

	c->state = CONN_OPEN;
	c->deadline_ns = 0;
	/* the first bytes on a fresh socket: its buffer has room */
	if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
		vconn_free(v, slot, true);
}

/* ---- the host side's events ---- */

void vconn_accept(struct vsock *v)
{
	for (unsigned int i = 0; i < ACCEPT_BUDGET; i++) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), slot;

		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			       errno == ENOMEM)) {
			/* the listener stays readable: pause it rather than spin */
			epoll_ctl(v->ep, EPOLL_CTL_DEL, v->listen_fd, NULL);
			v->listen_paused_ns = vconn_now_ns() + LISTEN_PAUSE_NS;
			return;
		}
		if (fd < 0)
			return;
		/* at the host clients' cap, or so few descriptors left that the next one would
		 * take what arrowh keeps for itself: accepted and closed at once */
		slot = vconn_fd_low(v, fd) ? -EMFILE : vconn_new(v, fd, CONN_HANDSHAKE, 0, 0);
		if (slot < 0) {
			v->stats.refused += slot == -ENOSPC || slot == -EMFILE;
			close(fd);
			continue;
		}
		v->conns[slot]->deadline_ns = vconn_now_ns() + VSOCK_HANDSHAKE_MS * 1000000ull;
	}
}

void vconn_event(struct vsock *v, uint64_t data, uint32_t events)
{
	unsigned int slot = (unsigned int)(data & 0xffff);
	struct vsock_conn *c = slot < VSOCK_MAX_CONNS ? v->conns[slot] : NULL;

	if (!c || c->gen != (uint32_t)(data >> 16))
		return; /* a connection closed since */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->writable = true;
	if (c->state == CONN_HANDSHAKE) {
		if (c->readable)
			conn_handshake(v, slot);
		return;
	}
	if (c->used && c->writable)
		conn_flush(v, slot);
}

/* Handshakes and REQUESTs not answered in time; the listener's pause. Next deadline. */
uint64_t vconn_expire(struct vsock *v)
{
	uint64_t now = vconn_now_ns(), next = 0;

	if (v->listen_paused_ns && now >= v->listen_paused_ns) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_LISTEN };

		v->listen_paused_ns = 0;
		epoll_ctl(v->ep, EPOLL_CTL_ADD, v->listen_fd, &ev);
	}
	if (v->listen_paused_ns)
		next = v->listen_paused_ns;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = v->conns[i];

		if (!c || !c->deadline_ns)
			continue;
		if (now >= c->deadline_ns)
			vconn_free(v, i, true);
		else if (!next || c->deadline_ns < next)
			next = c->deadline_ns;
	}
	return next;
}
