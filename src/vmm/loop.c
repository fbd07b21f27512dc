// SPDX-License-Identifier: MIT
/*
 * The I/O thread (arrowh's main thread once the vCPUs run): host signals,
 * standard input, and the stop notification, all through one epoll set; what its
 * clients ask (the control socket, attach clients) is hostctl.c's.
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
#include "loop.h"
#include "session.h"
#include "snapshot.h"

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

void stdin_eof(struct loop *l)
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

int send_signal(struct loop *l, int sig)
{
	struct arrow_ctl_msg m;

	ctl_encode(&m, ARROW_CTL_SIGNAL, (uint32_t)sig, 0);
	if (vconsole_port_send(&l->s->console, l->s->port_control, &m, sizeof(m))) {
		fprintf(stderr, "arrowh: cannot forward signal %d: control channel full\n", sig);
		return -ENOBUFS;
	}
	return 0;
}

void hard_stop(struct loop *l, int status)
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
