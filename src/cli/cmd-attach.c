// SPDX-License-Identifier: MIT
/* arrow attach: the standard streams of a running Arrow, here; detach leaves it running. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "attachc.h"
#include "cli.h"
#include "common/streamrec.h"
#include "lib/state/store.h"

#define DETACH_1 0x10 /* Ctrl-P */
#define DETACH_2 0x11 /* Ctrl-Q */

static const char usage[] =
	"Usage: arrow attach [OPTIONS] ARROW\n"
	"Connect this terminal to a running Arrow's standard streams. Ctrl-P Ctrl-Q (on a\n"
	"terminal) detaches and leaves the Arrow running; so does Ctrl-C with --sig-proxy=false.\n"
	"\n"
	"      --no-stdin          do not send standard input (output only)\n"
	"      --sig-proxy=BOOL    forward SIGINT/SIGTERM/SIGHUP to the app (default true)\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: the Arrow's, when it ends while attached; 0 after a detach.\n";

struct attach {
	int sock;
	bool send_stdin;
	bool stdin_open;
	bool prev_ctrl_p;
};

static int send_input(int sock, const char *data, uint32_t len)
{
	struct streamrec_hdr h = { .magic = STREAMREC_MAGIC, .stream = STREAM_STDIN, .len = len };

	if (send(sock, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h))
		return -1;
	while (len) {
		ssize_t w = send(sock, data, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		len -= (uint32_t)w;
	}
	return 0;
}

/* Returns 1 when the user asked to detach. */
static int pump_stdin(struct attach *a, bool tty)
{
	char buf[4096];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0) {
		a->stdin_open = false;
		send_input(a->sock, NULL, 0); /* end of input for the app */
		return 0;
	}
	if (tty) {
		for (ssize_t i = 0; i < n; i++) {
			if (a->prev_ctrl_p && buf[i] == DETACH_2)
				return 1;
			a->prev_ctrl_p = buf[i] == DETACH_1;
		}
	}
	send_input(a->sock, buf, (uint32_t)n);
	return 0;
}

int cmd_attach(int argc, char *argv[])
{
	static const struct option opts[] = { { "no-stdin", no_argument, NULL, 'n' },
					      { "sig-proxy", required_argument, NULL, 's' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct attach a = { .send_stdin = true, .stdin_open = true };
	bool sig_proxy = true, tty, raw = false, detached = false;
	struct termios saved;
	struct arrow_rec r;
	sigset_t set;
	int c, sfd, status = -1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			a.send_stdin = false;
			break;
		case 's':
			if (strcmp(optarg, "true") && strcmp(optarg, "false")) {
				fprintf(stderr, "arrow attach: --sig-proxy takes true or false\n");
				return EXIT_ARROW_ERROR;
			}
			sig_proxy = !strcmp(optarg, "true");
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return bad_option("attach", argv[optind - 1]);
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "arrow attach: exactly one Arrow (name or id) required\n"
				"See 'arrow attach --help'.\n");
		return EXIT_ARROW_ERROR;
	}
	if (store_lookup("attach", argv[optind], &r))
		return EXIT_ARROW_ERROR;
	if (r.status != ST_RUNNING) {
		fprintf(stderr, "arrow attach: %s is not running\n", argv[optind]);
		store_free(&r);
		return EXIT_ARROW_ERROR;
	}
	a.sock = attach_connect(&r, a.send_stdin);
	if (a.sock < 0) {
		fprintf(stderr, "arrow attach: cannot connect to %s: %s\n", argv[optind],
			strerror(-a.sock));
		store_free(&r);
		return EXIT_ARROW_ERROR;
	}
	tty = a.send_stdin && isatty(STDIN_FILENO);
	if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;

		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);

	for (;;) {
		struct pollfd p[3] = { { a.sock, POLLIN, 0 }, { sfd, POLLIN, 0 },
				       { a.send_stdin && a.stdin_open ? STDIN_FILENO : -1, POLLIN,
					 0 } };

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (!sig_proxy) {
					detached = true;
					break;
				}
				store_request(&r, HOSTCTL_SIGNAL, si.ssi_signo);
			}
		}
		if (p[2].revents & (POLLIN | POLLHUP) && pump_stdin(&a, tty)) {
			detached = true;
			break;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			/* Output arrives in records: relay it until the Arrow's end (or our detach). */
			status = attach_relay_output_some(a.sock, STDOUT_FILENO, STDERR_FILENO);
			if (status != ATTACH_MORE)
				break;
		}
	}
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(a.sock);
	if (detached) {
		fprintf(stderr, "\narrow attach: detached; %s keeps running\n", argv[optind]);
		store_free(&r);
		return 0;
	}
	if (status < 0) {
		struct arrow_rec again;

		store_wait_gone(&r, 5000);
		if (store_load(r.id, &again) == 0) {
			status = again.status == ST_EXITED ? again.exit_code : EXIT_ARROW_ERROR;
			store_free(&again);
		} else {
			status = EXIT_ARROW_ERROR;
		}
	}
	store_free(&r);
	return status;
}
