// SPDX-License-Identifier: MIT
/*
 * The I/O thread's clients (loop.h): requests on the control socket (signals, stop,
 * pause, snapshots, the start of a held Arrow, the network's peers), attach clients and
 * their input, and the two points where ainit waits for the host (template, start gate).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <fcntl.h>
#include <unistd.h>

#include "jail.h"
#include "loop.h"
#include "session.h"
#include "snapshot.h"

/* The app's stdin from an attach client: stream records, len 0 = end of input. */
static void client_input(struct loop *l, int slot)
{
	struct hub *h = &l->s->hub;
	int fd = h->clients[slot].fd;
	uint8_t buf[VCON_PENDING_MAX];
	ssize_t n;

	for (;;) {
		if (h->hdr_got < sizeof(h->hdr)) {
			n = read(fd, (uint8_t *)&h->hdr + h->hdr_got, sizeof(h->hdr) - h->hdr_got);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				hub_close_client(h, slot); /* detached: stdin stays open */
				return;
			}
			if (n < 0)
				return;
			h->hdr_got += (size_t)n;
			if (h->hdr_got < sizeof(h->hdr))
				continue;
			if (h->hdr.magic != STREAMREC_MAGIC || h->hdr.stream != STREAM_STDIN ||
			    h->hdr.len > STREAMREC_MAX_LEN) {
				fprintf(stderr, "arrowh: bad record from an attach client; dropping it\n");
				hub_close_client(h, slot);
				return;
			}
			h->data_left = h->hdr.len;
			if (!h->data_left) {
				stdin_eof(l);
				h->hdr_got = 0;
				continue;
			}
		}
		size_t room = vconsole_port_room(&l->s->console, l->s->port_input);
		size_t want = h->data_left < room ? h->data_left : room;

		if (!want) {
			struct epoll_event ev = { .events = 0, .data.u64 = EV_CLIENT_TAG(slot) };

			epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev); /* resumed by a wake */
			l->input_paused = true;
			return;
		}
		n = read(fd, buf, want);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			hub_close_client(h, slot);
			return;
		}
		if (n < 0)
			return;
		if (!l->stdin_eof)
			vconsole_port_send(&l->s->console, l->s->port_input, buf, (size_t)n);
		h->data_left -= (uint32_t)n;
		if (!h->data_left)
			h->hdr_got = 0;
	}
}

void resume_input(struct loop *l)
{
	struct hub *h = &l->s->hub;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_CLIENT_TAG(h->input) };

	if (!l->input_paused || h->input < 0)
		return;
	if (!vconsole_port_room(&l->s->console, l->s->port_input))
		return;
	l->input_paused = false;
	epoll_ctl(l->ep, EPOLL_CTL_MOD, h->clients[h->input].fd, &ev);
	client_input(l, h->input);
}

/* The peers on the Arrow's network changed: pass the new list to ainit. */
static int send_hosts(struct loop *l, int fd, uint32_t len)
{
	uint8_t buf[sizeof(struct arrow_ctl_msg) + ARROW_HOSTS_MAX];
	struct arrow_ctl_msg m;

	if (len > ARROW_HOSTS_MAX)
		return -E2BIG;
	/* the connection has a receive timeout (hub_accept): a silent client cannot hold us */
	if (len && recv(fd, buf + sizeof(m), len, MSG_WAITALL) != (ssize_t)len)
		return -EPROTO;
	ctl_encode(&m, ARROW_CTL_HOSTS, len, 0);
	memcpy(buf, &m, sizeof(m));
	return vconsole_port_send(&l->s->console, l->s->port_control, buf, sizeof(m) + len);
}

/*
 * `arrow snapshot`: pause, save into the directory the client sent (its path, and the
 * directory itself as a descriptor: the jailed VMM can reach no path), run on.
 */
static int snapshot_request(struct loop *l, int fd, uint32_t len)
{
	char dir[4096], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec v = { dir, len };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct stat st;
	int dir_fd = -1, ret;

	if (len == 0 || len >= sizeof(dir))
		return -EINVAL;
	if (recvmsg(fd, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC) != (ssize_t)len)
		return -EPROTO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)) && dir_fd < 0)
			memcpy(&dir_fd, CMSG_DATA(c), sizeof(int));
	dir[len] = '\0';
	ret = strlen(dir) != len || dir[0] != '/' ? -EINVAL : 0;
	/* an older client sends the path alone: only an unjailed arrowh can use it */
	if (!ret && dir_fd < 0 && jail_broker_fd < 0)
		dir_fd = open(dir, O_DIRECTORY | O_CLOEXEC);
	if (!ret && (dir_fd < 0 || fstat(dir_fd, &st) < 0 || !S_ISDIR(st.st_mode)))
		ret = -EBADF;
	if (!ret && (l->s->cfg->nr_volumes || l->s->cfg->root_share))
		ret = -EXDEV; /* see session_snapshot */
	if (!ret) {
		ret = session_snapshot(l->s, dir_fd);
		if (!l->user_paused) /* a paused Arrow stays paused until its user resumes it */
			vm_resume(&l->s->vm);
	}
	if (dir_fd >= 0)
		close(dir_fd);
	return ret;
}

/* ainit reached the template point: snapshot there, then this Arrow's work is done. */
void template_point(struct loop *l)
{
	struct session *s = l->s;
	int ret;

	if (!s->template_ready || s->template_taken)
		return;
	s->template_taken = true;
	ret = session_snapshot(s, s->template_dir_fd);
	if (ret) {
		fprintf(stderr, "arrowh: cannot write the template snapshot to %s: %s\n",
			s->cfg->template_out, strerror(-ret));
		l->host_status = EXIT_ARROW_ERROR;
	}
	vm_request_stop(&s->vm, VM_STOP_TEMPLATE);
}

/* Tell the caller (--ready-fd) the Arrow is up: once it runs, or (--hold) once the guest waits. */
bool tell_ready(struct session *s)
{
	bool told;

	if (s->cfg->ready_fd < 0)
		return true;
	told = write(s->cfg->ready_fd, "1", 1) == 1;
	close(s->cfg->ready_fd);
	return told;
}

/* --hold: ainit waits before the app (a vCPU thread saw its ARROW_CTL_READY). */
void start_gate(struct loop *l)
{
	struct session *s = l->s;

	if (!s->cfg->hold || s->gate_told || !__atomic_load_n(&s->gate_ready, __ATOMIC_ACQUIRE))
		return;
	s->gate_told = true;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, s->cfg->ready_fd, NULL); /* before tell_ready closes it */
	if (!tell_ready(s)) {
		/* the caller (arrow-oci create) is gone: nobody will ever start this Arrow */
		fprintf(stderr, "arrowh: the caller that waited for this Arrow went away before it "
				"was ready; stopping it\n");
		hard_stop(l, EXIT_ARROW_ERROR);
	}
}

/* HOSTCTL_START: the app runs now. Once only, and only when the guest waits for it. */
static int start_request(struct loop *l)
{
	struct session *s = l->s;
	struct arrow_ctl_msg m;

	if (!s->cfg->hold)
		return -EINVAL;
	if (s->gate_opened)
		return -EALREADY;
	if (!__atomic_load_n(&s->gate_ready, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	ctl_encode(&m, ARROW_CTL_START, 0, 0);
	if (vconsole_port_send(&s->console, s->port_control, &m, sizeof(m)))
		return -ENOBUFS;
	s->gate_opened = true;
	return 0;
}

/* `arrow-oci pause` and friends: the vCPUs park until resumed; stop and kill still work. */
static int pause_request(struct loop *l)
{
	int ret;

	if (l->user_paused)
		return 0;
	ret = vm_pause(&l->s->vm);
	if (!ret)
		l->user_paused = true;
	return ret;
}

static int resume_request(struct loop *l)
{
	if (!l->user_paused)
		return 0;
	l->user_paused = false;
	vm_resume(&l->s->vm);
	return 0;
}

static void handle_request(struct loop *l, const struct hostctl_req *req, int fd)
{
	struct hostctl_reply r = { 0 };

	if (req->type == HOSTCTL_PAUSE)
		r.status = pause_request(l);
	else if (req->type == HOSTCTL_START)
		r.status = start_request(l);
	else if (req->type == HOSTCTL_RESUME)
		r.status = resume_request(l);
	else if (req->type == HOSTCTL_PAUSED)
		r.status = l->user_paused ? 1 : 0;
	else if (req->type == HOSTCTL_HOSTS)
		r.status = send_hosts(l, fd, req->arg);
	else if (req->type == HOSTCTL_SNAPSHOT)
		r.status = snapshot_request(l, fd, req->arg);
	else if (req->type == HOSTCTL_SELFTEST && l->s->cfg->seccomp_selftest)
		seccomp_selftest(); /* jailed: the filter kills arrowh here */
	else if (req->type == HOSTCTL_STOP || (req->type == HOSTCTL_SIGNAL && req->arg == SIGKILL))
		hard_stop(l, EXIT_HARD_STOP);
	else if (req->type == HOSTCTL_SIGNAL && req->arg >= 1 && req->arg < (uint32_t)SIGRTMAX)
		r.status = send_signal(l, (int)req->arg);
	else
		r.status = -EINVAL;
	if (send(fd, &r, sizeof(r), MSG_NOSIGNAL) < 0) {
		/* the client went away: nothing to tell */
	}
	close(fd);
}

/*
 * Out of descriptors or memory even with the spare given up: stop listening for 200 ms
 * instead of spinning on a listen socket that stays readable.
 */
static void accept_back_off(struct loop *l, int err)
{
	struct itimerspec its = { .it_value.tv_nsec = 200 * 1000 * 1000 };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_ACCEPT_RETRY };

	if (!l->accept_warned)
		fprintf(stderr, "arrowh: cannot accept on the control socket: %s; retrying\n",
			strerror(err));
	l->accept_warned = true;
	if (l->accept_timer < 0) {
		l->accept_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (l->accept_timer < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->accept_timer, &ev)) {
			/* no timer either: a blocking pause is still better than a spin */
			if (l->accept_timer >= 0)
				close(l->accept_timer);
			l->accept_timer = -1;
			poll(NULL, 0, 200);
			return;
		}
	}
	ev = (struct epoll_event){ .events = 0, .data.u64 = EV_LISTEN };
	epoll_ctl(l->ep, EPOLL_CTL_MOD, l->s->hub.listen_fd, &ev);
	timerfd_settime(l->accept_timer, 0, &its, NULL);
}

void accept_again(struct loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_LISTEN };
	uint64_t n;

	if (read(l->accept_timer, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	hub_refill_spare(&l->s->hub);
	epoll_ctl(l->ep, EPOLL_CTL_MOD, l->s->hub.listen_fd, &ev);
}

void accept_clients(struct loop *l)
{
	struct hub *h = &l->s->hub;

	for (;;) {
		struct hostctl_req req;
		int req_fd, slot = hub_accept(h, &req, &req_fd);
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_CLIENT_TAG(slot) };

		if (req_fd >= 0) {
			handle_request(l, &req, req_fd);
			hub_refill_spare(h);
			continue;
		}
		if (slot < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
				accept_back_off(l, errno);
				return;
			}
			continue; /* a bad client, dropped */
		}
		if ((req.arg & HOSTCTL_ATTACH_STDIN) && l->s->cfg->attach_stdin && h->input < 0 &&
		    !l->stdin_eof) {
			h->input = slot;
			h->hdr_got = 0;
			l->input_paused = false;
		}
		epoll_ctl(l->ep, EPOLL_CTL_ADD, h->clients[slot].fd, &ev);
	}
}

void client_event(struct loop *l, int slot, uint32_t events)
{
	struct hub *h = &l->s->hub;
	char junk[256];

	if (slot < 0 || slot >= HUB_MAX_CLIENTS || h->clients[slot].fd < 0)
		return;
	if (slot == h->input && l->input_paused && (events & (EPOLLHUP | EPOLLERR))) {
		hub_close_client(h, slot);
		return;
	}
	if (slot == h->input && !h->clients[slot].dead) {
		client_input(l, slot);
		return;
	}
	/* Output-only clients send nothing; a read of 0 (or an error) means they left. */
	if (h->clients[slot].dead || (events & (EPOLLHUP | EPOLLERR)) ||
	    read(h->clients[slot].fd, junk, sizeof(junk)) <= 0)
		hub_close_client(h, slot);
}
