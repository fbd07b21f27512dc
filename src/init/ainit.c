// SPDX-License-Identifier: MIT
/*
 * ainit: the Arrow application loader, guest PID 1.
 *
 * Sets up the standard Linux environment, starts the app as its child (never
 * becoming it, so the app gets normal signal semantics), forwards the
 * signals the host sends, reaps every zombie, reports the app's exit status
 * to arrowh and powers the VM off.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/runcfg.h"
#include "init.h"

#define EXIT_ARROW_ERROR 125
#define DRAIN_MS 10000 /* at most, and only while TCP still has something to deliver */

static int ctl_fd = -1;
static int err_fd = -1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void send_ctl(uint16_t type, uint32_t arg)
{
	struct arrow_ctl_msg m = { .magic = ARROW_CTL_MAGIC, .type = type, .arg = arg,
				   .value = now_ns() };

	if (ctl_fd >= 0 && write(ctl_fd, &m, sizeof(m)) != sizeof(m))
		ctl_fd = -1;
}

/* Report status and stop the VM; never returns. */
static void __attribute__((noreturn)) finish(int status)
{
	/* Like a container: when the app is gone, so is everything it left behind. */
	kill(-1, SIGKILL);
	/*
	 * Once every process is gone (so every socket is closed), give TCP a bounded
	 * time to deliver what the app sent before it exited.
	 */
	for (unsigned int ms = 0; ms < DRAIN_MS; ms += 10) {
		pid_t r;

		while ((r = waitpid(-1, NULL, WNOHANG)) > 0)
			;
		if (r < 0 && errno == ECHILD && !net_has_unsent())
			break;
		usleep(10000);
	}
	send_ctl(ARROW_CTL_EXIT, (uint32_t)status);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

void __attribute__((noreturn, format(printf, 1, 2))) ainit_fatal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int fd = err_fd >= 0 ? err_fd : open("/dev/console", O_WRONLY | O_NOCTTY);
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	msg[n++] = '\n';
	if (fd >= 0 && write(fd, "ainit: ", 7) == 7 && write(fd, msg, (size_t)n) < 0)
		fd = -1;
	finish(EXIT_ARROW_ERROR);
}

static char *read_config(size_t *len)
{
	int fd = open(ARROW_CONFIG_PATH, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t done = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		ainit_fatal("cannot open %s: %s", ARROW_CONFIG_PATH, strerror(errno));
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		ainit_fatal("out of memory");
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n <= 0)
			ainit_fatal("cannot read %s", ARROW_CONFIG_PATH);
		done += (size_t)n;
	}
	close(fd);
	*len = done;
	return buf;
}

struct app {
	pid_t pid;
	int status;
	uint8_t ctl_buf[sizeof(struct arrow_ctl_msg)];
	size_t ctl_have;
	/* the payload of an ARROW_CTL_HOSTS or ARROW_CTL_IDENTITY record being received */
	struct arrow_ctl_msg payload_of;
	size_t hosts_want, hosts_have;
	char hosts[ARROW_HOSTS_MAX + 1];
	bool identified; /* an ARROW_CTL_IDENTITY was applied */
	bool at_gate;    /* held before the app (RUNCFG_HOLD) */
	bool go;         /* ARROW_CTL_START came */
	int gate_signal; /* a terminating signal for the app that has not started yet */
	struct runcfg *cfg;
};

/* The host's new list of peers: "IP\tNAME" lines into /etc/hosts. */
static void apply_hosts(struct app *app)
{
	static const char *lines[RUNCFG_MAX_HOSTS];
	size_t n = 0;
	char *save = NULL;

	app->hosts[app->hosts_have] = '\0';
	for (char *l = strtok_r(app->hosts, "\n", &save); l && n < RUNCFG_MAX_HOSTS;
	     l = strtok_r(NULL, "\n", &save))
		if (strlen(l) == strcspn(l, "\r") && strchr(l, '\t'))
			lines[n++] = l;
	net_write_hosts(app->cfg, lines, n);
}

/* Start the app; returns its pid, or reports the exec failure and finishes. */
static pid_t start_app(const struct runcfg *cfg, int in, int out, int err)
{
	int pipefd[2];
	int report[2] = { 0, 0 };
	pid_t pid;
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		ainit_fatal("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		ainit_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		close(pipefd[0]);
		app_exec(cfg, in, out, err, pipefd[1]); /* returns only on failure */
		_exit(127);
	}
	close(pipefd[1]);
	do {
		n = read(pipefd[0], report, sizeof(report));
	} while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == sizeof(report)) {
		static const char *const what[] = { "", "set up stdio for", "change to the working directory of",
						    "set the user of", "execute" };
		char msg[768];
		int stage = report[0] >= 1 && report[0] <= APP_STAGE_EXEC ? report[0] : APP_STAGE_EXEC;
		int len = snprintf(msg, sizeof(msg), "arrow: cannot %s %s%s%s: %s\n", what[stage],
				   cfg->program, stage == APP_STAGE_WORKDIR ? " " : "",
				   stage == APP_STAGE_WORKDIR ? cfg->workdir : "", strerror(report[1]));

		if (len > 0 && write(err, msg, (size_t)len) < 0)
			len = 0;
		waitpid(pid, NULL, 0);
		finish(stage == APP_STAGE_EXEC && report[1] == ENOENT ? 127 : 126);
	}
	send_ctl(ARROW_CTL_EXEC, (uint32_t)pid);
	return pid;
}

/* A record's payload is complete. */
static void apply_payload(struct app *app)
{
	if (app->payload_of.type == ARROW_CTL_HOSTS) {
		apply_hosts(app);
		return;
	}
	/* a clone: before the app started (template) or under a running app (snapshot) */
	identity_apply(app->cfg, app->hosts, app->hosts_have, app->payload_of.value, app->pid > 0);
	app->identified = true;
}

/*
 * Whether a signal's default action ends a process: what it does to a container process
 * that has not started its program yet (runc's waits in `runc init` with default actions).
 */
static bool signal_ends(int sig)
{
	switch (sig) {
	case SIGCHLD:
	case SIGCONT:
	case SIGURG:
	case SIGWINCH:
	case SIGSTOP:
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU:
		return false;
	default:
		return true;
	}
}

/* Records from the host: signals for the app, peers for /etc/hosts, a clone's identity. */
static void read_control(struct app *app)
{
	uint8_t buf[256];
	ssize_t n = read(ctl_fd, buf, sizeof(buf));

	if (n <= 0)
		return;
	for (ssize_t i = 0; i < n; i++) {
		struct arrow_ctl_msg m;

		if (app->hosts_want) {
			app->hosts[app->hosts_have++] = (char)buf[i];
			if (app->hosts_have == app->hosts_want) {
				app->hosts_want = 0;
				apply_payload(app);
			}
			continue;
		}
		app->ctl_buf[app->ctl_have++] = buf[i];
		if (app->ctl_have < sizeof(m))
			continue;
		app->ctl_have = 0;
		memcpy(&m, app->ctl_buf, sizeof(m));
		if (m.magic == ARROW_CTL_MAGIC &&
		    (m.type == ARROW_CTL_HOSTS || m.type == ARROW_CTL_IDENTITY) &&
		    m.arg <= ARROW_HOSTS_MAX) {
			app->payload_of = m;
			app->hosts_have = 0;
			app->hosts_want = m.arg;
			if (!m.arg)
				apply_payload(app);
			continue;
		}
		if (m.magic == ARROW_CTL_MAGIC && m.type == ARROW_CTL_START) {
			app->go = true;
			continue;
		}
		if (m.magic != ARROW_CTL_MAGIC || m.type != ARROW_CTL_SIGNAL)
			continue;
		if (m.arg >= 1 && m.arg < NSIG && app->pid > 0)
			kill(app->pid, (int)m.arg);
		else if (m.arg >= 1 && m.arg < NSIG && app->at_gate && signal_ends((int)m.arg))
			app->gate_signal = (int)m.arg;
	}
}

/*
 * Before the app: handle the host's records until *done (a clone's identity, the start);
 * a terminating signal at the start gate ends the Arrow as it would have ended the app.
 */
static void wait_for_host(struct app *app, const bool *done, const char *where)
{
	while (!*done) {
		struct pollfd one = { .fd = ctl_fd, .events = POLLIN };

		if (ctl_fd < 0)
			ainit_fatal("no control channel to wait on %s", where);
		if (poll(&one, 1, -1) < 0 && errno != EINTR)
			ainit_fatal("poll: %s", strerror(errno));
		if (one.revents & (POLLHUP | POLLERR))
			ainit_fatal("the host closed the control channel %s", where);
		if (one.revents & POLLIN)
			read_control(app);
		if (app->gate_signal)
			finish(128 + app->gate_signal);
	}
}

/*
 * The start gate (arrow-oci create): everything is set up, the app not yet started. Say so
 * and wait for the host's ARROW_CTL_START; a terminating signal meanwhile ends the Arrow as
 * it would have ended the app (128 + signal).
 */
static void start_gate(struct app *app)
{
	app->at_gate = true;
	send_ctl(ARROW_CTL_READY, 0);
	wait_for_host(app, &app->go, "before the start");
	app->at_gate = false;
}

static int wait_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int main(void)
{
	struct ports ports;
	struct runcfg *cfg = calloc(1, sizeof(*cfg));
	static struct app app;
	struct pollfd pfd[2];
	sigset_t set;
	char *raw;
	size_t len;
	int sfd;

	if (getpid() != 1) {
		fprintf(stderr, "ainit: must run as PID 1 inside an Arrow\n");
		return EXIT_ARROW_ERROR;
	}
	prctl(PR_SET_NAME, "ainit", 0, 0, 0);
	/* Everything arrives through signalfd; PID 1 must never die of a signal. */
	sigfillset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);

	setup_filesystems();
	ports_open(&ports);
	ctl_fd = ports.control;
	err_fd = ports.err;
	send_ctl(ARROW_CTL_HELLO, 0);

	raw = read_config(&len);
	if (!cfg || runcfg_parse(raw, len, cfg))
		ainit_fatal("malformed run configuration %s", ARROW_CONFIG_PATH);
	app.cfg = cfg;
	if (cfg->template) {
		/* the template point: arrowh snapshots us here; each clone goes on with its identity */
		send_ctl(ARROW_CTL_TEMPLATE, 0);
		wait_for_host(&app, &app.identified, "at the template point");
	}
	if (sethostname(cfg->hostname ? cfg->hostname : "arrow",
			strlen(cfg->hostname ? cfg->hostname : "arrow")) < 0)
		ainit_fatal("sethostname: %s", strerror(errno));
	net_setup(cfg);
	setup_root_share(cfg);
	setup_volumes(cfg);

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		ainit_fatal("signalfd: %s", strerror(errno));

	if (cfg->hold)
		start_gate(&app);
	app.pid = start_app(cfg, ports.in, ports.out, ports.err);
	/* The app holds its own copies of the stdio ports now. */
	close(ports.in);
	close(ports.out);
	/* arrow exec and arrow top (docs/exec.md): a child that never touches the app */
	execd_start(cfg);

	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = ctl_fd, .events = POLLIN };
	for (;;) {
		struct signalfd_siginfo si;
		int st;
		pid_t pid;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			ainit_fatal("poll: %s", strerror(errno));
		if (pfd[1].revents & POLLIN)
			read_control(&app);
		if (pfd[1].revents & (POLLHUP | POLLERR))
			pfd[1].fd = -1; /* host side closed: no more signals */
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof(si)) < 0)
			continue;
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			if (pid == app.pid)
				finish(wait_status(st));
		}
	}
}
