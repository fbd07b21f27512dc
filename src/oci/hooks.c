// SPDX-License-Identifier: MIT
/*
 * OCI hooks (runtime-spec config.md "POSIX-platform Hooks"), run on the host: each hook's
 * path with its args and env (nothing else of ours), the container's state JSON on its
 * stdin, within its timeout (default OCI_HOOK_DEFAULT_TIMEOUT). Its stdout and stderr are
 * kept (the first bytes) for the message when it fails, never mixed into the container's
 * own output. The hooks object was checked by spec.c (paths absolute, bounded counts).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "common/stdfds.h"
#include "log.h"
#include "spec.h"

#define HOOK_OUTPUT_KEPT 512

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* NULL-terminated copy of a JSON string array (pointers into it), first (if any) before. */
static char **strings(json_t *arr, const char *first)
{
	size_t n = json_array_size(arr), i, k = 0;
	char **v = calloc(n + 2, sizeof(*v));
	json_t *s;

	if (!v)
		return NULL;
	if (first)
		v[k++] = (char *)first;
	json_array_foreach(arr, i, s)
		v[k++] = (char *)json_string_value(s);
	return v;
}

static void child(const char *path, char **argv, char **envp, int in, int out)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (stdfds_install(in, out, out) < 0)
		_exit(127);
	close_range(3, ~0u, 0);
	execve(path, argv, envp);
	dprintf(2, "%s", strerror(errno));
	_exit(127);
}

struct hook_run {
	const char *input;  /* the state, written to the hook's stdin */
	size_t in_len, in_done;
	char out[HOOK_OUTPUT_KEPT + 1];
	size_t out_len;
};

/* Feed stdin, drain output until both are done or the deadline. 0 or -ETIMEDOUT. */
static int pump(struct hook_run *r, int *inp, int *outp, long long deadline)
{
	while (*inp >= 0 || *outp >= 0) {
		int in = *inp, out = *outp;
		struct pollfd p[2] = { { in, POLLOUT, 0 }, { out, POLLIN, 0 } };
		long long left = deadline - now_ms();
		char buf[4096];
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(p, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			return -errno;
		if (in >= 0 && p[0].revents) {
			n = write(in, r->input + r->in_done, r->in_len - r->in_done);
			if (n > 0)
				r->in_done += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || r->in_done == r->in_len) {
				close(in); /* done, or the hook does not read: its end of input */
				*inp = -1;
			}
		}
		if (out >= 0 && p[1].revents) {
			n = read(out, buf, sizeof(buf));
			if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
				close(out);
				*outp = -1;
				continue;
			}
			for (ssize_t k = 0; k < n && r->out_len < HOOK_OUTPUT_KEPT; k++) {
				char c = buf[k];

				r->out[r->out_len++] = (unsigned char)c < 0x20 || c == 0x7f ? ' ' : c;
			}
		}
	}
	return 0;
}

/* One hook: 0, or -1 with why. */
static int run_one(json_t *h, const char *input, char *why, size_t whylen)
{
	const char *path = json_string_value(json_object_get(h, "path"));
	json_t *args = json_object_get(h, "args"), *t = json_object_get(h, "timeout");
	int secs = json_is_integer(t) ? (int)json_integer_value(t) : OCI_HOOK_DEFAULT_TIMEOUT;
	char **argv = json_array_size(args) ? strings(args, NULL) : strings(NULL, path);
	char **envp = strings(json_object_get(h, "env"), NULL);
	struct hook_run r = { .input = input, .in_len = strlen(input) };
	long long deadline = now_ms() + (long long)secs * 1000;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status = 0, ret = -1;
	pid_t pid = -1;

	if (!argv || !envp || pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno ? errno : ENOMEM));
		goto out;
	}
	pid = fork();
	if (pid == 0)
		child(path, argv, envp, in[0], out[1]);
	if (pid < 0) {
		snprintf(why, whylen, "%s: fork: %s", path, strerror(errno));
		goto out;
	}
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	ret = pump(&r, &in[1], &out[0], deadline); /* closes what it finished with */
	while (!ret && waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() >= deadline)
			ret = -ETIMEDOUT;
		else
			poll(NULL, 0, 20);
	}
	if (ret) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(why, whylen, "%s: %s after %d s", path,
			 ret == -ETIMEDOUT ? "timed out" : strerror(-ret), secs);
		ret = -1;
		goto out;
	}
	r.out[r.out_len] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		goto out;
	ret = -1;
	if (WIFEXITED(status))
		snprintf(why, whylen, "%s exited with status %d%s%s", path, WEXITSTATUS(status),
			 r.out_len ? ": " : "", r.out);
	else
		snprintf(why, whylen, "%s was killed by signal %d", path, WTERMSIG(status));
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	free(argv);
	free(envp);
	return ret;
}

int oci_hooks_run(json_t *hooks, const char *kind, json_t *state, bool fatal, char *why,
		  size_t whylen)
{
	json_t *list = hooks ? json_object_get(hooks, kind) : NULL, *h;
	char *input;
	size_t i;
	int ret = 0;

	if (!json_array_size(list))
		return 0;
	input = json_dumps(state, JSON_COMPACT);
	if (!input) {
		snprintf(why, whylen, "hooks.%s: out of memory", kind);
		return -1;
	}
	json_array_foreach(list, i, h) {
		char one[700];

		if (!run_one(h, input, one, sizeof(one)))
			continue;
		if (fatal) {
			snprintf(why, whylen, "hooks.%s[%zu]: %s", kind, i, one);
			ret = -1;
			break;
		}
		oci_warn("hooks.%s[%zu]: %s", kind, i, one);
	}
	free(input);
	return ret;
}
