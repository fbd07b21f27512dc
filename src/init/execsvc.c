// SPDX-License-Identifier: MIT
/*
 * One exec session (docs/exec.md): read the request, fork the program with its own
 * session, terminal or pipes, ids, directory and environment, then relay its stdio
 * both ways with back-pressure, deliver signals and resizes, and report its exit.
 *
 * The program is this process's child and is waited for by pid only (pidfd), so a
 * caller that reaps other children itself never loses its status.
 */
#include "execsvc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/execproto.h"
#include "common/stdfds.h"

#define FIRST_FRAME_MS 30000 /* a connection that never says what it wants */
/* stop reading the host while this much of its input is not yet written to the program */
#define STDIN_PENDING_MAX (256u << 10)
#define TTY_DRAIN_QUIET_MS 200
#define DRAIN_READS_MAX 64 /* after the exit: 4 MiB, more than a pipe or a terminal holds */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum stage { STAGE_STDIO = 1, STAGE_WORKDIR, STAGE_IDS, STAGE_EXEC };

struct session {
	int sock;
	const struct exec_defaults *d;
	struct execproto_reader rd;
	struct exec_start st;
	pid_t pid;
	int pidfd;
	int in_fd, out_fd, err_fd; /* program side: its stdin (write), stdout, stderr (read) */
	int master;                /* the terminal's master, or -1 */
	uint8_t *pending;          /* input from the host not yet written to the program */
	size_t pend_len;
	bool stdin_eof, host_gone, exited;
	int status;
};

static int sys_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* Mark every descriptor from 3 up close-on-exec (close_range, Linux 5.11), else close them. */
static void cloexec_from_3(int keep)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) == 0)
		return;
#endif
	for (int fd = 3; fd < 1024; fd++)
		if (fd != keep)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int send_error(int sock, uint32_t status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int send_error(int sock, uint32_t status, const char *fmt, ...)
{
	uint8_t buf[4 + EXECPROTO_MSG_MAX + 1];
	va_list ap;
	int n;

	execproto_put32(buf, status);
	va_start(ap, fmt);
	n = vsnprintf((char *)buf + 4, EXECPROTO_MSG_MAX + 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)EXECPROTO_MSG_MAX)
		n = EXECPROTO_MSG_MAX;
	return execproto_write(sock, EXEC_ERROR, buf, 4 + (uint32_t)n);
}

static bool same_key(const char *a, const char *b)
{
	size_t ka = strcspn(a, "="), kb = strcspn(b, "=");

	return ka == kb && !memcmp(a, b, ka);
}

/* The app's environment, then the request's (a later KEY replaces an earlier one). */
static char **merged_env(const struct session *s)
{
	size_t nd = 0, n = 0;
	char **env;
	bool term = false;

	while (s->d->envp && s->d->envp[nd])
		nd++;
	env = calloc(nd + s->st.envc + 2, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < nd; i++) {
		bool replaced = false;

		for (uint32_t j = 0; j < s->st.envc && !replaced; j++)
			replaced = same_key(s->d->envp[i], s->st.env[j]);
		if (!replaced)
			env[n++] = (char *)s->d->envp[i];
	}
	for (uint32_t j = 0; j < s->st.envc; j++) {
		bool later = false;

		for (uint32_t k = j + 1; k < s->st.envc && !later; k++)
			later = same_key(s->st.env[j], s->st.env[k]);
		if (!later)
			env[n++] = s->st.env[j];
	}
	for (size_t i = 0; i < n; i++)
		term |= !strncmp(env[i], "TERM=", 5);
	if ((s->st.flags & EXEC_F_TTY) && !term)
		env[n++] = "TERM=xterm"; /* as docker exec -t */
	return env;
}

/* execve along $PATH as execvp does; returns only on failure, errno set. */
static void exec_lookup(char **argv, char **envp)
{
	const char *path = DEFAULT_PATH;
	int saved = ENOENT;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, envp);
		return;
	}
	for (size_t i = 0; envp[i]; i++)
		if (!strncmp(envp[i], "PATH=", 5))
			path = envp[i] + 5;
	for (const char *p = path;; p++) {
		size_t len = strcspn(p, ":");
		char full[4096];

		if (len && len + strlen(argv[0]) + 2 <= sizeof(full)) {
			snprintf(full, sizeof(full), "%.*s/%s", (int)len, p, argv[0]);
			execve(full, argv, envp);
			if (errno == EACCES || errno == ENOEXEC || errno == ETXTBSY || errno == EISDIR)
				saved = errno; /* found but not runnable */
		}
		p += len;
		if (!*p)
			break;
	}
	errno = saved;
}

static void __attribute__((noreturn)) child_failed(int report, int stage)
{
	int r[2] = { stage, errno };

	if (write(report, r, sizeof(r)) < 0)
		_exit(127);
	_exit(127);
}

/* In the child: become the program. */
static void __attribute__((noreturn)) child_exec(struct session *s, char **env, int in, int out,
						   int err, int report)
{
	uint32_t uid = s->st.flags & EXEC_F_USER ? s->st.uid : s->d->uid;
	uint32_t gid = s->st.flags & EXEC_F_USER ? s->st.gid : s->d->gid;
	const char *dir = s->st.workdir[0] ? s->st.workdir : s->d->workdir;
	sigset_t none;

	setsid();
	if (s->master >= 0) {
		int t = ioctl(s->master, TIOCGPTPEER, O_RDWR | O_CLOEXEC);

		if (t < 0 || ioctl(t, TIOCSCTTY, 0) < 0)
			child_failed(report, STAGE_STDIO);
		in = out = err = t;
	} else if (s->st.flags & EXEC_F_DETACH) {
		in = out = err = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (in < 0)
			child_failed(report, STAGE_STDIO);
	}
	if (stdfds_install(in, out, err) < 0)
		child_failed(report, STAGE_STDIO);
	cloexec_from_3(report);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (chdir(dir && *dir ? dir : "/") < 0)
		child_failed(report, STAGE_WORKDIR);
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		child_failed(report, STAGE_IDS);
	exec_lookup(s->st.argv, env);
	child_failed(report, STAGE_EXEC);
}

/* The terminal's master, unlocked, with the requested size. */
static int open_master(const struct exec_start *st)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		return -1;
	if (unlockpt(m) < 0) {
		close(m);
		return -1;
	}
	if (st->rows && st->cols) {
		struct winsize ws = { .ws_row = st->rows, .ws_col = st->cols };

		ioctl(m, TIOCSWINSZ, &ws);
	}
	return m;
}

/* Report why the program did not start (docker's statuses) after the child said so. */
static void report_failure(struct session *s, int stage, int err)
{
	const char *prog = s->st.argv[0];

	if (stage == STAGE_EXEC && err == ENOENT)
		send_error(s->sock, 127, "exec: \"%s\": %s", prog,
			   strchr(prog, '/') ? "no such file or directory"
					     : "executable file not found in $PATH");
	else if (stage == STAGE_EXEC)
		send_error(s->sock, 126, "exec: \"%s\": %s", prog, strerror(err));
	else if (stage == STAGE_WORKDIR)
		send_error(s->sock, 126, "cannot change to the working directory %s: %s",
			   s->st.workdir[0] ? s->st.workdir : s->d->workdir, strerror(err));
	else if (stage == STAGE_IDS)
		send_error(s->sock, 126, "cannot set the user %u:%u: %s",
			   s->st.flags & EXEC_F_USER ? s->st.uid : s->d->uid,
			   s->st.flags & EXEC_F_USER ? s->st.gid : s->d->gid, strerror(err));
	else
		send_error(s->sock, 126, "cannot set up the standard streams: %s", strerror(err));
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Fork the program. 0: it runs (STARTED sent); 1: it did not (ERROR sent); -errno. */
static int spawn(struct session *s)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, report[2];
	int r[2] = { 0, 0 };
	char **env = merged_env(s);
	bool pipes = !(s->st.flags & (EXEC_F_TTY | EXEC_F_DETACH));
	ssize_t n;

	if (!env)
		return send_error(s->sock, 125, "out of memory") ?: 1;
	if ((s->st.flags & EXEC_F_TTY) && !(s->st.flags & EXEC_F_DETACH) &&
	    (s->master = open_master(&s->st)) < 0) {
		free(env);
		return send_error(s->sock, 126, "cannot open a terminal: %s", strerror(errno)) ?: 1;
	}
	if (pipes) {
		if ((s->st.flags & EXEC_F_STDIN) ? pipe2(in, O_CLOEXEC)
						 : (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
			goto fail;
		if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
			goto fail;
	}
	if (pipe2(report, O_CLOEXEC) < 0)
		goto fail;
	s->pid = fork();
	if (s->pid == 0) {
		close(report[0]);
		child_exec(s, env, in[0], out[1], err[1], report[1]);
	}
	close(report[1]);
	free(env);
	env = NULL;
	if (s->pid < 0) {
		close(report[0]);
		goto fail;
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	do
		n = read(report[0], r, sizeof(r));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == sizeof(r)) {
		waitpid(s->pid, NULL, 0);
		s->pid = -1;
		close_fd(&in[1]);
		close_fd(&out[0]);
		close_fd(&err[0]);
		report_failure(s, r[0], r[1]);
		return 1;
	}
	s->pidfd = sys_pidfd_open(s->pid);
	if (s->master >= 0) {
		s->in_fd = s->out_fd = s->master;
		fcntl(s->master, F_SETFL, O_RDWR | O_NONBLOCK);
	} else if (pipes) {
		s->in_fd = in[1];
		s->out_fd = out[0];
		s->err_fd = err[0];
		for (int *fd = &s->in_fd; fd <= &s->err_fd; fd++)
			if (*fd >= 0)
				fcntl(*fd, F_SETFL, O_NONBLOCK);
	}
	return execproto_write_u32(s->sock, EXEC_STARTED, (uint32_t)s->pid);
fail:
	n = errno;
	free(env);
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	return send_error(s->sock, 125, "cannot start: %s", strerror((int)n)) ?: 1;
}

/* One frame from the host during the session. */
static void on_frame(struct session *s)
{
	const uint8_t *p = s->rd.payload;

	switch (s->rd.type) {
	case EXEC_STDIN:
		if (s->in_fd < 0 || s->stdin_eof || !s->rd.len)
			break;
		memcpy(s->pending + s->pend_len, p, s->rd.len); /* room: see the poll set-up */
		s->pend_len += s->rd.len;
		break;
	case EXEC_STDIN_EOF:
		s->stdin_eof = true;
		break;
	case EXEC_RESIZE:
		if (s->master >= 0) {
			struct winsize ws = { .ws_row = execproto_get16(p),
					      .ws_col = execproto_get16(p + 2) };

			ioctl(s->master, TIOCSWINSZ, &ws);
		}
		break;
	case EXEC_SIGNAL: {
		uint32_t sig = execproto_get32(p);

		if (sig >= 1 && sig < NSIG && !s->exited)
			kill(s->pid, (int)sig);
		break;
	}
	default: /* a second START or a TOP: not in a session */
		break;
	}
}

/* Write what input we hold to the program without blocking; close it after the EOF. */
static void flush_stdin(struct session *s)
{
	while (s->pend_len && s->in_fd >= 0) {
		ssize_t n = write(s->in_fd, s->pending, s->pend_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* the program closed its input: what it will not read is dropped */
			s->pend_len = 0;
			if (s->in_fd != s->master)
				close_fd(&s->in_fd);
			return;
		}
		memmove(s->pending, s->pending + n, s->pend_len - (size_t)n);
		s->pend_len -= (size_t)n;
	}
	if (s->stdin_eof && !s->pend_len && s->in_fd >= 0) {
		if (s->in_fd == s->master) {
			struct termios t;
			char eof = 4;

			if (tcgetattr(s->master, &t) == 0)
				eof = (char)t.c_cc[VEOF];
			if (write(s->master, &eof, 1) < 0)
				return;
			s->in_fd = -1;
		} else {
			close_fd(&s->in_fd);
		}
	}
}

/* Relay one read of the program's output; closes the fd at its end. */
static int relay_output(struct session *s, int *fd, uint16_t type)
{
	static uint8_t buf[EXECPROTO_DATA_MAX];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) { /* EOF, or EIO from a terminal whose last user went away */
		if (*fd == s->master) {
			s->master = -1;
			if (s->in_fd == *fd)
				s->in_fd = -1;
		}
		close_fd(fd);
		return 0;
	}
	if (s->host_gone)
		return 0;
	return execproto_write(s->sock, type, buf, (uint32_t)n) ? -EPIPE : 1;
}

static void reap(struct session *s)
{
	int st;

	if (s->exited || waitpid(s->pid, &st, WNOHANG) != s->pid)
		return;
	s->exited = true;
	s->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The host went away: hang up on the program as a terminal would, and discard its output. */
static void host_gone(struct session *s)
{
	s->host_gone = true;
	s->pend_len = 0;
	s->stdin_eof = true;
	if (!s->exited)
		kill(-s->pid, SIGHUP);
}

static int relay(struct session *s)
{
	s->pending = malloc(STDIN_PENDING_MAX + EXECPROTO_DATA_MAX);
	if (!s->pending)
		return -ENOMEM;
	while (!s->exited) {
		struct pollfd p[5] = {
			{ s->host_gone || s->pend_len > STDIN_PENDING_MAX ? -1 : s->sock, POLLIN, 0 },
			{ s->out_fd, POLLIN, 0 },
			{ s->err_fd, POLLIN, 0 },
			{ s->pend_len ? s->in_fd : -1, POLLOUT, 0 },
			{ s->pidfd, POLLIN, 0 },
		};

		if (poll(p, 5, s->pidfd < 0 ? 50 : -1) < 0 && errno != EINTR)
			return -errno;
		if (p[0].revents) {
			int r = execproto_read(&s->rd, s->sock);

			if (r == 1)
				on_frame(s);
			else if (r < 0 || r == EXECPROTO_EOF)
				host_gone(s);
		}
		if (p[1].revents && relay_output(s, &s->out_fd, EXEC_STDOUT) < 0)
			host_gone(s);
		if (p[2].revents && relay_output(s, &s->err_fd, EXEC_STDERR) < 0)
			host_gone(s);
		flush_stdin(s);
		if (p[4].revents || s->pidfd < 0)
			reap(s);
	}
	/*
	 * What it wrote before it ended is in the pipes: deliver all of it. A terminal hands
	 * its output over asynchronously (the tty flip buffer's work): read it until the
	 * terminal says EIO (no writer left) or has been quiet a while (a background job
	 * still holds it).
	 */
	if (s->master >= 0) {
		struct pollfd p = { s->master, POLLIN, 0 };

		for (int i = 0; i < DRAIN_READS_MAX && s->out_fd >= 0 &&
				poll(&p, 1, TTY_DRAIN_QUIET_MS) > 0; i++)
			if (relay_output(s, &s->out_fd, EXEC_STDOUT) < 0)
				break;
	}
	/* bounded: a background job may still be writing, forever */
	for (int i = 0; i < DRAIN_READS_MAX && s->out_fd >= 0 && s->out_fd != s->master &&
			relay_output(s, &s->out_fd, EXEC_STDOUT) > 0; i++)
		;
	for (int i = 0; i < DRAIN_READS_MAX && s->err_fd >= 0 &&
			relay_output(s, &s->err_fd, EXEC_STDERR) > 0; i++)
		;
	if (s->host_gone)
		return -EPIPE;
	return execproto_write_u32(s->sock, EXEC_EXIT, (uint32_t)s->status);
}

/* The first frame, within FIRST_FRAME_MS. 1, or <= 0 when none came. */
static int first_frame(struct session *s)
{
	for (;;) {
		struct pollfd p = { s->sock, POLLIN, 0 };
		int r = poll(&p, 1, FIRST_FRAME_MS);

		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0 && errno != EINTR)
			return -errno;
		r = execproto_read(&s->rd, s->sock);
		if (r == EXECPROTO_EOF)
			return -ECONNRESET;
		if (r)
			return r;
	}
}

int exec_session_run(int fd, const struct exec_defaults *d)
{
	struct session s = { .sock = fd, .d = d, .pid = -1, .pidfd = -1, .in_fd = -1,
			     .out_fd = -1, .err_fd = -1, .master = -1 };
	int ret = execproto_reader_init(&s.rd, EXECPROTO_FROM_HOST);

	if (ret)
		return ret;
	ret = first_frame(&s);
	if (ret < 0) {
		if (ret == -EPROTO || ret == -EMSGSIZE)
			send_error(fd, 125, "malformed request");
		goto out;
	}
	if (s.rd.type == EXEC_TOP) {
		ret = exec_top_send(fd, getpid());
		goto out;
	}
	if (s.rd.type != EXEC_START || execproto_start_decode(s.rd.payload, s.rd.len, &s.st)) {
		ret = send_error(fd, 125, "malformed request");
		goto out;
	}
	signal(SIGCHLD, SIG_DFL); /* our own child's status must stay ours to collect */
	ret = spawn(&s);
	if (ret == 0 && !(s.st.flags & EXEC_F_DETACH))
		ret = relay(&s);
	ret = ret > 0 ? 0 : ret;
	if (s.pid > 0 && !s.exited && !(s.st.flags & EXEC_F_DETACH)) {
		kill(-s.pid, SIGKILL); /* the connection failed: nobody will hear of it */
		waitpid(s.pid, NULL, 0);
	}
	execproto_start_free(&s.st);
out:
	if (s.master >= 0) {
		if (s.in_fd == s.master)
			s.in_fd = -1;
		if (s.out_fd == s.master)
			s.out_fd = -1;
		close_fd(&s.master);
	}
	close_fd(&s.in_fd);
	close_fd(&s.out_fd);
	close_fd(&s.err_fd);
	close_fd(&s.pidfd);
	free(s.pending);
	execproto_reader_free(&s.rd);
	return ret;
}
