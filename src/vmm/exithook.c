// SPDX-License-Identifier: MIT
/*
 * --exit-hook: once the Arrow ended and its devices are gone (the tap closed),
 * run the caller's clean-up command, such as `arrow` releasing the Arrow's IP
 * address and published ports. It runs after state.json says exited but before
 * the state lock is released: whoever waits for the lock (arrow stop, wait) sees
 * the Arrow's resources released when it returns.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "session.h"

extern char **environ;

void session_run_exit_hook(const struct arrowh_config *cfg)
{
	posix_spawnattr_t attr;
	sigset_t none;
	pid_t pid;
	int status, ret;

	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	/* arrowh blocks the signals it forwards; the hook must not inherit that. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	ret = posix_spawn(&pid, cfg->exit_hook[0], NULL, &attr, (char *const *)cfg->exit_hook,
			  environ);
	posix_spawnattr_destroy(&attr);
	if (ret) {
		fprintf(stderr, "arrowh: cannot run the exit hook %s: %s\n", cfg->exit_hook[0],
			strerror(ret));
		return;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fprintf(stderr, "arrowh: the exit hook %s failed (status %#x)\n", cfg->exit_hook[0],
			status);
}
