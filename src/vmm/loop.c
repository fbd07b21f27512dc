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
#include <unistd.h>

#include "session.h"

#define EXIT_ARROW_ERROR 125
#define FORCE_AFTER_SIGINTS 3

enum { EV_SIGNAL, EV_STOP, EV_WAKE, EV_STDIN };

struct loop {
	struct session *s;
	int ep;
	int sig_fd;
	bool stdin_pollable;
	bool stdin_polled;
	bool stdin_eof;
	int sigints;
	int host_status;
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
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.u32 = EV_STDIN };

	if (!l->stdin_pollable || l->stdin_polled == on)
		return;
	epoll_ctl(l->ep, EPOLL_CTL_MOD, STDIN_FILENO, &ev);
	l->stdin_polled = on;
}

static void stdin_eof(struct loop *l)
{
	l->stdin_eof = true;
	if (l->stdin_pollable)
		epoll_ctl(l->ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
	l->stdin_pollable = false;
	vconsole_port_set_host_connected(&l->s->console, l->s->port_stdin, false);
}

/* Move input into the guest while it has room; one read per readiness event. */
static void stdin_pump(struct loop *l)
{
	while (!l->stdin_eof) {
		ssize_t n = vconsole_port_fill(&l->s->console, l->s->port_stdin, read_stdin, l);

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

static void forward_signal(struct loop *l, int sig)
{
	struct arrow_ctl_msg m;

	if (sig == SIGINT && ++l->sigints >= FORCE_AFTER_SIGINTS) {
		fprintf(stderr, "arrowh: interrupted %d times; stopping the Arrow now\n", l->sigints);
		l->host_status = 128 + SIGINT;
		vm_request_stop(&l->s->vm, VM_STOP_HOST);
		return;
	}
	ctl_encode(&m, ARROW_CTL_SIGNAL, (uint32_t)sig, 0);
	if (vconsole_port_send(&l->s->console, l->s->port_control, &m, sizeof(m)))
		fprintf(stderr, "arrowh: cannot forward signal %d: control channel full\n", sig);
}

/* The signals arrowh forwards to the app. */
static void forwarded_signals(sigset_t *set)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

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
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0)
		return -errno;

	forwarded_signals(&set);
	l->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (l->sig_fd < 0)
		return -errno;

	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = EV_SIGNAL };
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->sig_fd, &ev))
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = EV_STOP };
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, s->vm.stop_fd, &ev))
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = EV_WAKE };
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, s->wake_fd, &ev))
		return -errno;
	/* Regular files and /dev/null cannot be polled: they are always ready. */
	ev = (struct epoll_event){ .events = 0, .data.u32 = EV_STDIN };
	l->stdin_pollable = epoll_ctl(l->ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0;
	if (!l->stdin_pollable && errno == EBADF)
		stdin_eof(l); /* no stdin at all */
	return 0;
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
		fprintf(stderr, "arrowh: no kernel messages were captured (the console was not up yet); "
				"rerun with --debug-console to see them\n");
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
	case VM_STOP_GUEST_RESET:
		if (s->app_exited)
			return s->app_status;
		fprintf(stderr, "arrowh: the guest stopped before the app exited "
				"(kernel panic or ainit failure)\n");
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
	struct loop l;
	int ret;

	ret = loop_init(&l, s);
	if (ret) {
		fprintf(stderr, "arrowh: cannot set up the event loop: %s\n", strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	ret = vm_start(&s->vm);
	if (ret) {
		fprintf(stderr, "arrowh: cannot start vCPUs: %s\n", strerror(-ret));
		vm_request_stop(&s->vm, VM_STOP_HOST);
		vm_join(&s->vm);
		return EXIT_ARROW_ERROR;
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

			switch (evs[i].data.u32) {
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
				stdin_pump(&l);
				break;
			case EV_STDIN:
				stdin_pump(&l);
				break;
			}
		}
	}
	vm_join(&s->vm);
	s->t_stop = monotonic_ns();
	if (s->vm.stop_reason == VM_STOP_HOST) {
		/* Where a guest that had to be stopped was, and what its console waited for. */
		vm_report_vcpus(&s->vm);
		virtio_mmio_report(&s->console_mmio, stderr);
	}
	if (s->cfg->debug_console)
		serial8250_flush(&s->uart);
	close(l.ep);
	close(l.sig_fd);
	return exit_status(&l);
}

static double ms(uint64_t from, uint64_t to)
{
	if (!from || !to || to < from)
		return -1;
	return (double)(to - from) / 1e6;
}

static void row(const char *what, double v)
{
	if (v < 0)
		fprintf(stderr, "  %-28s %10s\n", what, "-");
	else
		fprintf(stderr, "  %-28s %10.1f ms\n", what, v);
}

void session_print_timing(const struct session *s)
{
	uint64_t start = s->cfg->t0_ns ? s->cfg->t0_ns : s->t_arrowh;

	fprintf(stderr, "arrow timing (host clock):\n");
	if (s->cfg->t0_ns)
		row("arrow CLI -> arrowh", ms(s->cfg->t0_ns, s->t_arrowh));
	row("arrowh setup", ms(s->t_arrowh, s->vm.t_first_run_ns));
	row("kernel entry -> ainit", ms(s->vm.t_first_run_ns, s->t_hello));
	row("ainit -> app exec", ms(s->t_hello, s->t_exec));
	row("app run", ms(s->t_exec, s->t_exit));
	row("app exit -> arrowh exit", ms(s->t_exit, s->t_stop));
	row("total", ms(start, s->t_stop));
	if (s->guest_hello_ns)
		fprintf(stderr, "  (guest clock at ainit start: %.1f ms)\n",
			(double)s->guest_hello_ns / 1e6);
}

void session_destroy(struct session *s)
{
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->klog_fd >= 0)
		close(s->klog_fd);
	if (s->console_mmio.irq_fd > 0)
		close(s->console_mmio.irq_fd);
	vm_destroy(&s->vm);
}
