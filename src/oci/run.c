// SPDX-License-Identifier: MIT
/*
 * arrow-oci run: create and start in one. As runc: with --detach it returns once the
 * container runs (the caller waits on --pid-file and deletes it later); in the foreground
 * it waits for the app, passes on the signals it is sent, deletes the container (unless
 * --keep) and exits with the app's status.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "oci.h"

/* The signals a foreground run passes on to the container (arrowh forwards them to the app). */
static void passed_signals(sigset_t *set)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
}

/* Wait for our child pid, passing signals on: its exit status as a shell reports it. */
static int wait_app(pid_t pid, int sig_fd)
{
	for (;;) {
		struct pollfd p = { .fd = sig_fd, .events = POLLIN };
		struct signalfd_siginfo si;
		int status;
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (got < 0 && errno != EINTR)
			return 1;
		/* SIGCHLD is in the set too: the child's end wakes us */
		if (poll(&p, 1, -1) > 0 && read(sig_fd, &si, sizeof(si)) == sizeof(si) &&
		    si.ssi_signo != SIGCHLD)
			kill(pid, (int)si.ssi_signo);
	}
}

int oci_run(const struct oci_globals *g, const struct oci_create_opts *o, bool detach,
	    bool keep)
{
	sigset_t set, old;
	pid_t pid = 0;
	int ret, sig_fd = -1;

	if (detach)
		return oci_create(g, o) || oci_start(o->id) ? 1 : 0;
	/* blocked before the fork: nothing sent to us in between is lost (the container
	 * process unblocks everything itself) */
	passed_signals(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sig_fd < 0) {
		oci_error("run: signalfd: %s", strerror(errno));
		ret = 1;
		goto out;
	}
	ret = oci_create_pid(g, o, &pid);
	if (ret)
		goto out;
	if (oci_start(o->id)) {
		ret = 1;
		oci_delete(o->id, true);
		goto out;
	}
	ret = wait_app(pid, sig_fd);
	if (!keep && oci_delete(o->id, false))
		oci_warn("run: container %s could not be deleted", o->id);
out:
	if (sig_fd >= 0)
		close(sig_fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
