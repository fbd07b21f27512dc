// SPDX-License-Identifier: MIT
/*
 * The I/O thread (arrowh's main thread once the vCPUs run): host signals,
 * standard input, and the stop notification, all through one epoll set.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include "jail.h"
#include "session.h"
#include "snapshot.h"

#define EXIT_ARROW_ERROR 125
#define FORCE_AFTER_SIGINTS 3

#define EXIT_HARD_STOP 137 /* as docker reports a container it had to kill */

enum { EV_SIGNAL, EV_STOP, EV_WAKE, EV_STDIN, EV_LISTEN, EV_BOOT_DEADLINE, EV_ACCEPT_RETRY, EV_CLIENT,
       EV_CALLER };
#define EV_CLIENT_TAG(slot) (EV_CLIENT | ((uint64_t)(slot) << 8))

struct loop {
	struct session *s;
	int ep;
	int sig_fd;
	bool stdin_pollable;
	bool stdin_polled;
	bool stdin_eof;
	bool input_paused; /* the attach client feeding stdin waits for room in the guest */
	int sigints;
	int host_status;
	int boot_timer; /* timerfd: the boot deadline (--boot-timeout), -1 if none */
	int accept_timer; /* timerfd: accepting again after running out of resources */
	bool accept_warned;
	bool user_paused; /* HOSTCTL_PAUSE: the vCPUs stay parked until HOSTCTL_RESUME */
};

/*
 * Runs with the console lock held, so it must never block: a pollable stdin
 * (pipe, tty, socket) is read only when it has data. It stays in blocking mode
 * because the open file description may be shared with the user's shell.
 */
static ssize_t read_stdin(void *opaque, const struct iovec *iov, unsigned int n)
{
	const struct loop *l = opaque;
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	ssize_t r;

	if (l->stdin_pollable && poll(&pfd, 1, 0) == 0)
		return -EAGAIN;
	do {
		r = readv(STDIN_FILENO, iov, (int)n);
	} while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN)
		return -EAGAIN;
	return r < 0 ? -errno : r;
}

static void stdin_poll(struct loop *l, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.u64 = EV_STDIN };

	if (!l->stdin_pollable || l->stdin_polled == on)
		return;
	epoll_ctl(l->ep, EPOLL_CTL_MOD, STDIN_FILENO, &ev);
	l->stdin_polled = on;
}

static void stdin_eof(struct loop *l)
{
	if (l->stdin_eof)
		return;
	l->stdin_eof = true;
	if (l->stdin_pollable)
		epoll_ctl(l->ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
	l->stdin_pollable = false;
	if (!l->s->cfg->tty) /* a terminal has no end of input: the app reads ^D */
		vconsole_port_set_host_connected(&l->s->console, l->s->port_stdin, false);
}

/* Move input into the guest while it has room; one read per readiness event. */
static void stdin_pump(struct loop *l)
{
	while (!l->stdin_eof) {
		ssize_t n = vconsole_port_fill(&l->s->console, l->s->port_input, read_stdin, l);

		if (n == -ENOBUFS) {
			stdin_poll(l, false); /* wait for the guest to post buffers */
			return;
		}
		if (n == -EAGAIN) {
			stdin_poll(l, true); /* wait for input */
			return;
		}
		if (n <= 0) {
			stdin_eof(l);
			return;
		}
		if (l->stdin_pollable) {
			stdin_poll(l, true);
			return;
		}
	}
}

static int send_signal(struct loop *l, int sig)
{
	struct arrow_ctl_msg m;

	ctl_encode(&m, ARROW_CTL_SIGNAL, (uint32_t)sig, 0);
	if (vconsole_port_send(&l->s->console, l->s->port_control, &m, sizeof(m))) {
		fprintf(stderr, "arrowh: cannot forward signal %d: control channel full\n", sig);
		return -ENOBUFS;
	}
	return 0;
}

static void hard_stop(struct loop *l, int status)
{
	if (!l->host_status)
		l->host_status = status;
	vm_request_stop(&l->s->vm, VM_STOP_HOST);
}

/*
 * A guest that has not reached ainit within --boot-timeout makes no progress a user can
 * wait for (a kernel stuck before its first message, a vCPU that never runs): stop it with
 * the stall report instead of waiting forever. A clone resumes after ainit started, so it
 * has no boot deadline.
 */
static int arm_boot_deadline(struct loop *l)
{
	unsigned int secs = l->s->cfg->boot_timeout_s;
	struct itimerspec its = { .it_value.tv_sec = secs };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_BOOT_DEADLINE };

	l->boot_timer = -1;
	if (!secs || l->s->restored)
		return 0;
	l->boot_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (l->boot_timer < 0)
		return -errno;
	if (timerfd_settime(l->boot_timer, 0, &its, NULL) ||
	    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->boot_timer, &ev))
		return -errno;
	return 0;
}

static void boot_deadline(struct loop *l)
{
	if (l->user_paused && !__atomic_load_n(&l->s->t_hello, __ATOMIC_ACQUIRE)) {
		/* a paused guest makes no progress by request: its deadline starts again */
		struct itimerspec its = { .it_value.tv_sec = l->s->cfg->boot_timeout_s };
		uint64_t n;

		if (read(l->boot_timer, &n, sizeof(n)) < 0 && errno != EAGAIN)
			return;
		timerfd_settime(l->boot_timer, 0, &its, NULL);
		return;
	}
	epoll_ctl(l->ep, EPOLL_CTL_DEL, l->boot_timer, NULL);
	if (__atomic_load_n(&l->s->t_hello, __ATOMIC_ACQUIRE))
		return; /* ainit is up */
	fprintf(stderr, "arrowh: the guest did not reach ainit within %u s of starting (--boot-timeout); "
			"stopping it. Where its vCPUs were follows. If the host is very slow or loaded, "
			"try a longer --boot-timeout; if it repeats, report it with this output.\n",
		l->s->cfg->boot_timeout_s);
	hard_stop(l, EXIT_ARROW_ERROR);
}

/* The host terminal's size to the app's terminal (a virtio-console resize). */
static void sync_tty_size(struct loop *l)
{
	struct winsize ws;

	if (l->s->cfg->tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row)
		vconsole_port_resize(&l->s->console, l->s->port_tty, ws.ws_col, ws.ws_row);
}

static void forward_signal(struct loop *l, int sig)
{
	if (sig == SIGWINCH) {
		sync_tty_size(l);
		return;
	}
	if (sig == SIGINT && ++l->sigints >= FORCE_AFTER_SIGINTS) {
		fprintf(stderr, "arrowh: interrupted %d times; stopping the Arrow now\n", l->sigints);
		hard_stop(l, 128 + SIGINT);
		return;
	}
	send_signal(l, sig);
}

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

static void resume_input(struct loop *l)
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
static void template_point(struct loop *l)
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
static bool tell_ready(struct session *s)
{
	bool told;

	if (s->cfg->ready_fd < 0)
		return true;
	told = write(s->cfg->ready_fd, "1", 1) == 1;
	close(s->cfg->ready_fd);
	return told;
}

/* --hold: ainit waits before the app (a vCPU thread saw its ARROW_CTL_READY). */
static void start_gate(struct loop *l)
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

static void accept_again(struct loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_LISTEN };
	uint64_t n;

	if (read(l->accept_timer, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	hub_refill_spare(&l->s->hub);
	epoll_ctl(l->ep, EPOLL_CTL_MOD, l->s->hub.listen_fd, &ev);
}

static void accept_clients(struct loop *l)
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

static void client_event(struct loop *l, int slot, uint32_t events)
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

/* The signals arrowh forwards to the app. */
static void forwarded_signals(sigset_t *set)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
}

static int loop_init(struct loop *l, struct session *s)
{
	struct epoll_event ev;
	sigset_t set;

	memset(l, 0, sizeof(*l));
	l->s = s;
	l->accept_timer = -1;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0)
		return -errno;

	forwarded_signals(&set);
	l->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (l->sig_fd < 0)
		return -errno;

	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_SIGNAL };
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->sig_fd, &ev))
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_STOP };
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, s->vm.stop_fd, &ev))
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_WAKE };
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, s->wake_fd, &ev))
		return -errno;
	/* Regular files and /dev/null cannot be polled: they are always ready. */
	ev = (struct epoll_event){ .events = 0, .data.u64 = EV_STDIN };
	if (s->cfg->attach_stdin) {
		l->stdin_pollable = false; /* input comes from attach clients only */
	} else if (s->cfg->detached) {
		stdin_eof(l);
	} else {
		l->stdin_pollable = epoll_ctl(l->ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0;
		if (!l->stdin_pollable && errno == EBADF)
			stdin_eof(l); /* no stdin at all */
	}
	if (s->managed) {
		ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_LISTEN };
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, s->hub.listen_fd, &ev))
			return -errno;
	}
	/*
	 * --hold: the caller waits on the other end of --ready-fd until the guest is at the
	 * gate and sends nothing more; its end closing first means it is gone (killed while the
	 * guest booted): nobody will start this Arrow.
	 */
	if (s->cfg->hold && s->cfg->ready_fd >= 0) {
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLRDHUP, .data.u64 = EV_CALLER };
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, s->cfg->ready_fd, &ev))
			return -errno;
	}
	return 0;
}

static void caller_gone(struct loop *l)
{
	struct session *s = l->s;

	epoll_ctl(l->ep, EPOLL_CTL_DEL, s->cfg->ready_fd, NULL);
	if (s->gate_told)
		return;
	fprintf(stderr, "arrowh: the caller waiting for this Arrow (arrow-oci create) went away "
			"while it booted; stopping it\n");
	hard_stop(l, EXIT_ARROW_ERROR);
}

void session_block_signals(void)
{
	sigset_t set;

	forwarded_signals(&set);
	sigaddset(&set, SIGRTMIN); /* vCPU kicks: unblocked in vCPU threads only */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void print_klog_tail(const struct session *s)
{
	uint64_t n = s->klog_total < KLOG_SIZE ? s->klog_total : KLOG_SIZE;
	uint64_t start = s->klog_total - n;

	if (!n) {
		fprintf(stderr, "arrowh: the guest kernel printed no warning or panic (its console is "
				"quiet; --debug-console shows its whole log)\n");
		return;
	}
	fprintf(stderr, "arrowh: last guest kernel messages:\n");
	for (uint64_t i = start; i < s->klog_total; i++)
		fputc(s->klog[i % KLOG_SIZE], stderr);
	if (s->klog[(s->klog_total - 1) % KLOG_SIZE] != '\n')
		fputc('\n', stderr);
}

static int exit_status(struct loop *l)
{
	struct session *s = l->s;

	switch (s->vm.stop_reason) {
	case VM_STOP_APP_EXIT:
		return s->app_status;
	case VM_STOP_HOST:
		return l->host_status ? l->host_status : EXIT_ARROW_ERROR;
	case VM_STOP_TEMPLATE:
		return l->host_status;
	case VM_STOP_GUEST_RESET:
		if (s->app_exited)
			return s->app_status;
		/* On AMD, KVM resets a vCPU after a shutdown: rip 0xfff0 is the reset vector,
		 * not where the guest was. */
		if (s->vm.reset_kind && s->vm.reset_rip == 0xfff0 &&
		    !strcmp(s->vm.reset_kind, "triple fault"))
			fprintf(stderr, "arrowh: the guest stopped before the app exited: triple fault "
					"(where it happened is lost: KVM resets the vCPU)\n");
		else if (s->vm.reset_kind && s->vm.reset_rip)
			fprintf(stderr, "arrowh: the guest stopped before the app exited: %s at rip %#llx\n",
				s->vm.reset_kind, (unsigned long long)s->vm.reset_rip);
		else
			fprintf(stderr, "arrowh: the guest stopped before the app exited: %s\n",
				s->vm.reset_kind ? s->vm.reset_kind : "kernel panic or ainit failure");
		print_klog_tail(s);
		return EXIT_ARROW_ERROR;
	default:
		fprintf(stderr, "arrowh: the VM stopped on an error\n");
		print_klog_tail(s);
		return EXIT_ARROW_ERROR;
	}
}

int session_run(struct session *s)
{
	struct termios saved_tty;
	bool raw_tty = false;
	struct loop l;
	int ret;

	ret = loop_init(&l, s);
	if (ret) {
		fprintf(stderr, "arrowh: cannot set up the event loop: %s\n", strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	/* -t in the foreground: the host terminal goes raw; the guest's tty does the rest. */
	if (s->cfg->tty && !s->cfg->detached && tcgetattr(STDIN_FILENO, &saved_tty) == 0) {
		struct termios raw = saved_tty;

		cfmakeraw(&raw);
		raw_tty = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
		sync_tty_size(&l);
	}
	ret = s->has_net ? vnet_start(&s->net) : 0;
	if (!ret && s->has_vsock)
		ret = vsock_start(&s->vsock);
	if (!ret)
		ret = vm_start(&s->vm);
	if (ret) {
		fprintf(stderr, "arrowh: cannot start vCPUs: %s\n", strerror(-ret));
		vm_request_stop(&s->vm, VM_STOP_HOST);
		vm_join(&s->vm);
		if (raw_tty)
			tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
		return EXIT_ARROW_ERROR;
	}
	ret = arm_boot_deadline(&l);
	if (ret)
		fprintf(stderr, "arrowh: cannot arm the boot deadline: %s\n", strerror(-ret));
	/* jailed, the supervisor writes the state file (it holds the state directory) */
	if (s->managed && jail_broker_fd >= 0)
		ret = jail_request(JAIL_REQ_RUNNING, 0, NULL);
	else if (s->managed)
		ret = statefile_running(&s->sf, 0);
	if (s->managed && ret)
		fprintf(stderr, "arrowh: cannot write the state of %s: %s\n", s->cfg->state_dir,
			strerror(-ret));
	if (!s->cfg->hold && !tell_ready(s)) {
		/* the caller is gone; the Arrow runs on */
	}

	for (bool stopped = false; !stopped;) {
		struct epoll_event evs[4];
		int n = epoll_wait(l.ep, evs, 4, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("arrowh: epoll_wait");
			l.host_status = EXIT_ARROW_ERROR;
			vm_request_stop(&s->vm, VM_STOP_HOST);
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t count;
			struct signalfd_siginfo si;

			switch (evs[i].data.u64 & 0xff) {
			case EV_SIGNAL:
				if (read(l.sig_fd, &si, sizeof(si)) == sizeof(si))
					forward_signal(&l, (int)si.ssi_signo);
				break;
			case EV_STOP:
				stopped = true;
				break;
			case EV_WAKE:
				if (read(s->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
					perror("arrowh: wake");
				template_point(&l);
				start_gate(&l);
				if (!s->cfg->attach_stdin)
					stdin_pump(&l);
				resume_input(&l);
				break;
			case EV_STDIN:
				stdin_pump(&l);
				break;
			case EV_LISTEN:
				accept_clients(&l);
				break;
			case EV_BOOT_DEADLINE:
				boot_deadline(&l);
				break;
			case EV_ACCEPT_RETRY:
				accept_again(&l);
				break;
			case EV_CLIENT:
				client_event(&l, (int)(evs[i].data.u64 >> 8), evs[i].events);
				break;
			case EV_CALLER:
				caller_gone(&l);
				break;
			}
		}
	}
	vm_join(&s->vm);
	s->t_stop = monotonic_ns();
	if (raw_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	if (s->vm.stop_reason == VM_STOP_HOST) {
		/* Where a guest that had to be stopped was, and what its console waited for. */
		vm_report_vcpus(&s->vm);
		virtio_mmio_report(&s->console_mmio, stderr);
		if (s->has_net) {
			virtio_mmio_report(&s->net_mmio, stderr);
			vnet_report(&s->net, stderr);
		}
		if (s->has_vsock) {
			virtio_mmio_report(&s->vsock_mmio, stderr);
			vsock_report(&s->vsock, stderr);
		}
	}
	if (s->cfg->debug_console)
		serial8250_flush(&s->uart);
	close(l.ep);
	close(l.sig_fd);
	if (l.boot_timer >= 0)
		close(l.boot_timer);
	if (l.accept_timer >= 0)
		close(l.accept_timer);
	ret = exit_status(&l);
	if (s->managed)
		hub_finish(&s->hub, ret);
	return ret;
}

void session_destroy(struct session *s)
{
	kvmstats_close(&s->stats);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->klog_fd >= 0)
		close(s->klog_fd);
	if (s->console_mmio.irq_fd > 0)
		close(s->console_mmio.irq_fd);
	if (s->has_net && s->net.version) {
		vnet_stop(&s->net);
		if (s->net_mmio.irq_fd > 0)
			close(s->net_mmio.irq_fd);
	}
	if (s->has_vsock) {
		vsock_stop(&s->vsock);
		if (s->vsock_mmio.irq_fd > 0)
			close(s->vsock_mmio.irq_fd);
		/* unjailed, the socket's name is ours to remove; jailed, the supervisor's */
		if (jail_broker_fd < 0)
			unlink(s->cfg->vsock_uds);
	}
	if (s->tap_fd >= 0)
		close(s->tap_fd); /* a tap nobody else holds disappears now */
	s->tap_fd = -1;
	vm_destroy(&s->vm);
	if (s->managed) {
		/* jailed, the socket's name is the supervisor's to remove */
		hub_destroy(&s->hub, jail_broker_fd >= 0 ? NULL : s->cfg->state_dir);
		logfile_close(&s->log);
	}
}

void session_record_exit(struct session *s, int status)
{
	int ret;

	if (s->sf.lock_fd < 0)
		return; /* never claimed: someone else's Arrow */
	if (s->cfg->remove) {
		statefile_remove(&s->sf);
		return;
	}
	ret = statefile_exited(&s->sf, status);
	if (ret)
		fprintf(stderr, "arrowh: cannot write the state of %s: %s\n", s->cfg->state_dir,
			strerror(-ret));
}
