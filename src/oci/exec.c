// SPDX-License-Identifier: MIT
/*
 * arrow-oci exec: a new process in a running container, through ainit's exec service
 * (lib/exec/execclient.h, docs/exec.md) over the Arrow's vsock socket. runc's callers wait on
 * the pid they find in --pid-file and take its exit status as the process's: that pid is
 * a host process relaying the process's stdio — arrow-oci exec itself in the foreground,
 * a child it forks with --detach.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "container.h"
#include "lib/exec/execclient.h"
#include "log.h"
#include "oci.h"
#include "spec.h"

#define EXEC_ENV_MAX (OCI_MAX_ENV + 256)
#define EXIT_LOST 125 /* the connection ended before the exit status came */

struct exec_job {
	struct exec_start st;
	char *argv[OCI_MAX_ARGS + 1];
	char *env[EXEC_ENV_MAX + 1];
	struct oci_spec proc; /* --process FILE */
	bool have_proc;
	int slave;            /* --console-socket: the host pty's slave (-1: none) */
	bool local_raw;       /* our own terminal in raw mode */
	struct termios saved;
};

/* argv, env, cwd, user and terminal from --process or the command line. 0 or 1 (said). */
static int build_start(const struct oci_exec_opts *o, struct exec_job *j)
{
	char why[1024];
	size_t n = 0;

	j->st.workdir = "";
	if (o->process) {
		if (o->nr_args) {
			oci_error("exec: give either --process or a command, not both");
			return 1;
		}
		if (oci_process_load(o->process, &j->proc, why, sizeof(why))) {
			oci_error("exec: %s", why);
			return 1;
		}
		j->have_proc = true;
		for (size_t i = 0; i < j->proc.nr_args; i++)
			j->argv[i] = (char *)j->proc.args[i];
		j->st.argc = (uint32_t)j->proc.nr_args;
		for (size_t i = 0; i < j->proc.nr_env; i++)
			j->env[n++] = (char *)j->proc.env[i];
		j->st.workdir = j->proc.cwd;
		if (j->proc.user_given) {
			j->st.uid = j->proc.uid;
			j->st.gid = j->proc.gid;
			j->st.flags |= EXEC_F_USER;
		}
		if (j->proc.terminal)
			j->st.flags |= EXEC_F_TTY;
	} else {
		if (o->nr_args < 1 || !o->args[0][0]) {
			oci_error("exec: a command (or --process FILE) is required");
			return 1;
		}
		if (o->nr_args > OCI_MAX_ARGS) {
			oci_error("exec: more than %d arguments", OCI_MAX_ARGS);
			return 1;
		}
		for (int i = 0; i < o->nr_args; i++)
			j->argv[i] = (char *)o->args[i];
		j->st.argc = (uint32_t)o->nr_args;
	}
	if (o->nr_env > EXEC_ENV_MAX - (int)n) {
		oci_error("exec: too many --env");
		return 1;
	}
	for (int i = 0; i < o->nr_env; i++) {
		if (!strchr(o->env[i], '=') || o->env[i][0] == '=') {
			oci_error("exec: --env '%.80s' is not KEY=VALUE", o->env[i]);
			return 1;
		}
		j->env[n++] = (char *)o->env[i];
	}
	j->st.env = j->env;
	j->st.envc = (uint32_t)n;
	j->st.argv = j->argv;
	if (o->cwd) {
		const char *why_cwd = oci_guest_path_problem(o->cwd);

		if (why_cwd) {
			oci_error("exec: --cwd %s", why_cwd);
			return 1;
		}
		j->st.workdir = o->cwd;
	}
	if (o->user) {
		if (exec_parse_user(o->user, &j->st.uid, &j->st.gid)) {
			oci_error("exec: --user takes numeric UID[:GID], not '%.80s'", o->user);
			return 1;
		}
		j->st.flags |= EXEC_F_USER;
	}
	if (o->tty)
		j->st.flags |= EXEC_F_TTY;
	j->st.flags |= EXEC_F_STDIN; /* runc connects stdin always; /dev/null ends at once */
	return 0;
}

/*
 * The terminal: with --console-socket a new host pty whose master goes to the caller and
 * whose slave (raw: the guest's pty does the line discipline) the relay uses; without,
 * our own stdin if it is a terminal (raw for the duration). 0 or 1 (said).
 */
static int setup_tty(const struct oci_exec_opts *o, struct exec_job *j)
{
	char pts[128];
	struct termios t;
	struct winsize ws;
	int master, err;

	j->slave = -1;
	if (!(j->st.flags & EXEC_F_TTY))
		return 0;
	if (!o->console_socket) {
		if (o->detach) {
			oci_error("exec: a terminal for a detached process needs --console-socket");
			return 1;
		}
		if (isatty(STDIN_FILENO) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
			j->st.rows = ws.ws_row;
			j->st.cols = ws.ws_col;
		}
		return 0;
	}
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
	    ptsname_r(master, pts, sizeof(pts)) != 0 ||
	    (j->slave = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		oci_error("exec: cannot allocate a pseudo-terminal: %s", strerror(errno));
		if (master >= 0)
			close(master);
		return 1;
	}
	if (tcgetattr(j->slave, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(j->slave, TCSANOW, &t);
	}
	err = oci_send_console(o->console_socket, master, pts);
	close(master);
	if (err) {
		oci_error("exec: cannot send the terminal to --console-socket %s: %s",
			  o->console_socket, strerror(-err));
		return 1;
	}
	if (ioctl(j->slave, TIOCGWINSZ, &ws) == 0) {
		j->st.rows = ws.ws_row;
		j->st.cols = ws.ws_col;
	}
	return 0;
}

/* The guest refused to start the program: runc's words, which podman turns into 126/127. */
static void say_refused(const struct exec_job *j, int status, const char *why)
{
	if (status == 127)
		oci_error("exec failed: exec: \"%s\": executable file not found in $PATH (%s)",
			  j->argv[0], why);
	else if (status == 126)
		oci_error("exec failed: exec: \"%s\": permission denied (%s)", j->argv[0], why);
	else
		oci_error("exec failed: %s", why);
}

/*
 * Relay the process's stdio until it ends; returns its exit status. With a console
 * socket the slave becomes our controlling terminal (in a session of our own) so that
 * the caller's resizes of the master arrive as SIGWINCH.
 */
static int relay(struct exec_client *c, struct exec_job *j)
{
	sigset_t set;
	int ret;

	if (j->slave >= 0) {
		if (setsid() >= 0)
			ioctl(j->slave, TIOCSCTTY, 0);
		c->in_fd = c->out_fd = c->err_fd = c->tty_fd = j->slave;
	} else {
		c->in_fd = STDIN_FILENO;
		c->out_fd = STDOUT_FILENO;
		c->err_fd = STDERR_FILENO;
		if ((j->st.flags & EXEC_F_TTY) && isatty(STDIN_FILENO)) {
			c->tty_fd = STDIN_FILENO;
			if (tcgetattr(STDIN_FILENO, &j->saved) == 0) {
				struct termios t = j->saved;

				cfmakeraw(&t);
				j->local_raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
			}
		}
	}
	exec_forwarded_signals(&set, c->tty_fd >= 0);
	sigprocmask(SIG_BLOCK, &set, NULL);
	c->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	ret = exec_client_relay(c);
	if (j->local_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &j->saved);
	if (ret < 0) {
		oci_error("exec: %s: %s", j->argv[0], c->why);
		return EXIT_LOST;
	}
	return ret;
}

/* The container, running (not paused): 0, or 1 after saying why. */
static int running(const char *id, struct oci_container *c)
{
	int ret = oci_container_load(id, c);

	if (ret) {
		if (!oci_id_valid(id))
			oci_error("invalid container id '%.80s'", id);
		else
			oci_error("container %s does not exist", id);
		return 1;
	}
	if (c->status == OCI_PAUSED) {
		oci_error("cannot exec in a paused container %s (resume it first)", id);
		return 1;
	}
	if (c->status != OCI_RUNNING) {
		oci_error("cannot exec in container %s: it is %s, not running", id,
			  oci_status_name(c->status));
		return 1;
	}
	return 0;
}

static int start(const struct oci_exec_opts *o, struct exec_job *j, struct exec_client *c)
{
	struct oci_container ct;
	char dir[PATH_MAX + 16];
	uint32_t pid;
	int ret;

	if (running(o->id, &ct))
		return 1;
	snprintf(dir, sizeof(dir), "%s/%s", ct.dir, OCI_ARROW_DIR);
	oci_container_free(&ct);
	c->sock = hvsock_connect(dir, EXECPROTO_PORT, exec_timeout_ms(), c->why, sizeof(c->why));
	if (c->sock < 0) {
		oci_error("exec: cannot reach container %s: %s", o->id, c->why);
		return 1;
	}
	ret = exec_client_start(c, &j->st, exec_timeout_ms(), &pid);
	if (ret < 0) {
		oci_error("exec: cannot start %s in container %s: %s", j->argv[0], o->id, c->why);
		return 1;
	}
	if (ret > 0) {
		say_refused(j, ret, c->why);
		return ret;
	}
	oci_debug("exec %s in %s: guest pid %u", j->argv[0], o->id, pid);
	return 0;
}

int oci_exec(const struct oci_exec_opts *o)
{
	struct exec_client c = { .sock = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1,
				 .sig_fd = -1, .tty_fd = -1 };
	struct exec_job *j = calloc(1, sizeof(*j));
	pid_t child;
	int ret = 1;

	if (!j)
		return 1;
	j->slave = -1;
	if (o->preserve_fds) {
		oci_error("exec: --preserve-fds: host file descriptors cannot be passed into an Arrow");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (build_start(o, j) || setup_tty(o, j))
		goto out;
	ret = start(o, j, &c);
	if (ret)
		goto out;
	if (!o->detach) {
		ret = o->pid_file ? oci_write_pid_file(o->pid_file, getpid()) : 0;
		if (ret) {
			oci_error("exec: cannot write --pid-file %s: %s", o->pid_file, strerror(-ret));
			ret = 1;
			goto out;
		}
		ret = relay(&c, j);
		goto out;
	}
	/* detached: a child holds the session; its exit status is the process's */
	child = fork();
	if (child < 0) {
		oci_error("exec: fork: %s", strerror(errno));
		ret = 1;
		goto out;
	}
	if (child == 0)
		_exit(relay(&c, j));
	ret = o->pid_file ? oci_write_pid_file(o->pid_file, child) : 0;
	if (ret) {
		oci_error("exec: cannot write --pid-file %s: %s", o->pid_file, strerror(-ret));
		kill(child, SIGKILL);
		ret = 1;
	}
out:
	if (c.sock >= 0)
		close(c.sock);
	if (c.sig_fd >= 0)
		close(c.sig_fd);
	if (j->slave >= 0)
		close(j->slave);
	if (j->have_proc)
		oci_spec_free(&j->proc);
	free(j);
	return ret;
}
