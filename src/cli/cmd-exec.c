// SPDX-License-Identifier: MIT
/*
 * arrow exec: run another program inside a running Arrow; arrow top: list its
 * processes. Both talk to ainit's exec service over vsock (lib/exec/execclient.h,
 * docs/exec.md).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "lib/exec/execclient.h"
#include "lib/state/store.h"

static const char exec_usage[] =
	"Usage: arrow exec [OPTIONS] ARROW PROGRAM [ARGS...]\n"
	"Run a program inside a running Arrow, beside its app.\n"
	"\n"
	"  -i, --interactive       send standard input to the program\n"
	"  -t, --tty               give it a terminal (this terminal in raw mode, resized along)\n"
	"  -d, --detach            start it in the background and return (prints nothing)\n"
	"  -e, --env K=V           set an environment variable (K alone: this shell's value);\n"
	"                          repeatable, added to the app's environment\n"
	"  -w, --workdir DIR       working directory (absolute; default: the app's)\n"
	"  -u, --user UID[:GID]    numeric user and group (default: the app's; GID defaults to UID)\n"
	"  -h, --help              this text\n"
	"\n"
	"Without -t, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are passed on to the\n"
	"program. The start waits at most $ARROW_EXEC_TIMEOUT seconds (30).\n"
	"Exit status: the program's (128+N when signal N ended it); 126 it cannot be run,\n"
	"127 not found, 125 the exec itself failed.\n";

static const char top_usage[] =
	"Usage: arrow top ARROW\n"
	"List the processes running inside an Arrow (UID, PID, PPID, CPU TIME, CMD).\n";

#define MAX_ENV 4096

/* The Arrow, running: 0, or 125 after saying why. */
static int running_arrow(const char *verb, const char *ref, struct arrow_rec *r)
{
	if (store_lookup(verb, ref, r))
		return EXIT_ARROW_ERROR;
	if (r->status != ST_RUNNING) {
		fprintf(stderr, "arrow %s: %s is not running\n", verb, ref);
		store_free(r);
		return EXIT_ARROW_ERROR;
	}
	return 0;
}

struct exec_opts {
	bool interactive, tty, detach;
	struct exec_start st;
	char *env[MAX_ENV + 1];
	uint32_t envc;
};

/* argv index of ARROW, or -1 after printing why (125). */
static int parse_exec(int argc, char *argv[], struct exec_opts *o)
{
	static const struct option opts[] = {
		{ "interactive", no_argument, NULL, 'i' }, { "tty", no_argument, NULL, 't' },
		{ "detach", no_argument, NULL, 'd' },	   { "env", required_argument, NULL, 'e' },
		{ "workdir", required_argument, NULL, 'w' }, { "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },	   { NULL, 0, NULL, 0 }
	};
	int c;

	optind = 1;
	opterr = 0;
	o->st.workdir = "";
	while ((c = getopt_long(argc, argv, "+itde:w:u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->interactive = true;
			break;
		case 't':
			o->tty = true;
			break;
		case 'd':
			o->detach = true;
			break;
		case 'e':
			if (o->envc == MAX_ENV) {
				fprintf(stderr, "arrow exec: more than %d -e\n", MAX_ENV);
				return -1;
			}
			if (!strchr(optarg, '=')) { /* docker's -e NAME: the caller's value, if any */
				const char *v = getenv(optarg);
				char *kv;

				if (!*optarg || !v)
					break;
				if (asprintf(&kv, "%s=%s", optarg, v) < 0)
					return -1;
				o->env[o->envc++] = kv;
				break;
			}
			if (optarg[0] == '=') {
				fprintf(stderr, "arrow exec: bad -e '%s': expected KEY=VALUE\n", optarg);
				return -1;
			}
			o->env[o->envc++] = optarg;
			break;
		case 'w':
			if (optarg[0] != '/' || strlen(optarg) >= EXECPROTO_PATH_MAX) {
				fprintf(stderr, "arrow exec: -w needs an absolute directory\n");
				return -1;
			}
			o->st.workdir = optarg;
			break;
		case 'u':
			if (exec_parse_user(optarg, &o->st.uid, &o->st.gid)) {
				fprintf(stderr, "arrow exec: -u takes numeric UID[:GID], not '%s'\n",
					optarg);
				return -1;
			}
			o->st.flags |= EXEC_F_USER;
			break;
		case 'h':
			fputs(exec_usage, stdout);
			exit(0);
		default:
			bad_option("exec", argv[optind - 1]);
			return -1;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "arrow exec: an Arrow and a program are required\n"
				"See 'arrow exec --help'.\n");
		return -1;
	}
	if (!argv[optind + 1][0]) {
		fprintf(stderr, "arrow exec: the program name is empty\n");
		return -1;
	}
	return optind;
}

int cmd_exec(int argc, char *argv[])
{
	static struct exec_opts o;
	struct exec_client c = { .sock = -1, .in_fd = -1, .out_fd = STDOUT_FILENO,
				 .err_fd = STDERR_FILENO, .sig_fd = -1, .tty_fd = -1 };
	bool local_tty, raw = false;
	struct termios saved;
	struct arrow_rec r;
	const char *name;
	uint32_t pid;
	sigset_t set;
	int at = parse_exec(argc, argv, &o), ret;

	if (at < 0)
		return EXIT_ARROW_ERROR;
	name = argv[at];
	local_tty = o.interactive && isatty(STDIN_FILENO);
	if (o.tty && o.interactive && !o.detach && !local_tty) {
		fprintf(stderr, "arrow exec: the input device is not a TTY (drop -t, or -i)\n");
		return EXIT_ARROW_ERROR;
	}
	if (running_arrow("exec", name, &r))
		return EXIT_ARROW_ERROR;
	o.st.argv = argv + at + 1;
	o.st.argc = (uint32_t)(argc - at - 1);
	o.st.env = o.env;
	o.st.envc = o.envc;
	o.st.flags |= (o.tty ? EXEC_F_TTY : 0) | (o.detach ? EXEC_F_DETACH : 0) |
		      (o.interactive && !o.detach ? EXEC_F_STDIN : 0);
	if (o.tty) {
		struct winsize ws;

		c.tty_fd = local_tty ? STDIN_FILENO : isatty(STDOUT_FILENO) ? STDOUT_FILENO : -1;
		if (c.tty_fd >= 0 && ioctl(c.tty_fd, TIOCGWINSZ, &ws) == 0) {
			o.st.rows = ws.ws_row;
			o.st.cols = ws.ws_col;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	c.sock = hvsock_connect(r.dir, EXECPROTO_PORT, exec_timeout_ms(), c.why, sizeof(c.why));
	if (c.sock < 0) {
		fprintf(stderr, "arrow exec: cannot reach %s: %s\n", name, c.why);
		store_free(&r);
		return EXIT_ARROW_ERROR;
	}
	store_free(&r);
	ret = exec_client_start(&c, &o.st, exec_timeout_ms(), &pid);
	if (ret) {
		if (ret < 0)
			fprintf(stderr, "arrow exec: cannot start %s in %s: %s\n", o.st.argv[0], name,
				c.why);
		else
			fprintf(stderr, "arrow exec: %s\n", c.why);
		close(c.sock);
		return ret < 0 ? EXIT_ARROW_ERROR : ret;
	}
	if (o.detach) {
		close(c.sock);
		return 0;
	}
	/* from here on every signal we are sent goes to the program, in order */
	exec_forwarded_signals(&set, c.tty_fd >= 0);
	sigprocmask(SIG_BLOCK, &set, NULL);
	c.sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (o.interactive)
		c.in_fd = STDIN_FILENO;
	if (local_tty && o.tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;

		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	ret = exec_client_relay(&c);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(c.sock);
	if (c.sig_fd >= 0)
		close(c.sig_fd);
	if (ret < 0) {
		fprintf(stderr, "%sarrow exec: %s: %s\n", raw ? "\r\n" : "", o.st.argv[0], c.why);
		return EXIT_ARROW_ERROR;
	}
	return ret;
}

static int row_by_pid(const void *a, const void *b)
{
	const struct exec_top_row *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int cmd_top(int argc, char *argv[])
{
	struct exec_top_row *rows;
	struct arrow_rec r;
	char why[600];
	int n, sock;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(top_usage, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		if (argc == 2)
			return bad_option("top", argv[1]);
		fprintf(stderr, "arrow top: exactly one Arrow (name or id) required\n"
				"See 'arrow top --help'.\n");
		return EXIT_ARROW_ERROR;
	}
	if (running_arrow("top", argv[1], &r))
		return EXIT_ARROW_ERROR;
	sock = hvsock_connect(r.dir, EXECPROTO_PORT, exec_timeout_ms(), why, sizeof(why));
	store_free(&r);
	if (sock < 0) {
		fprintf(stderr, "arrow top: cannot reach %s: %s\n", argv[1], why);
		return EXIT_ARROW_ERROR;
	}
	n = exec_client_top(sock, exec_timeout_ms(), &rows, why, sizeof(why));
	close(sock);
	if (n < 0) {
		fprintf(stderr, "arrow top: %s: %s\n", argv[1], why);
		return EXIT_ARROW_ERROR;
	}
	qsort(rows, (size_t)n, sizeof(*rows), row_by_pid);
	printf("%-10s %-10s %-10s %-10s %s\n", "UID", "PID", "PPID", "TIME", "CMD");
	for (int i = 0; i < n; i++) {
		uint64_t s = rows[i].cpu_ms / 1000;
		char t[32];

		snprintf(t, sizeof(t), "%02llu:%02llu:%02llu", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
		printf("%-10u %-10u %-10u %-10s %s\n", rows[i].uid, rows[i].pid, rows[i].ppid, t,
		       rows[i].cmd);
	}
	free(rows);
	return 0;
}
