// SPDX-License-Identifier: MIT
/*
 * stdfds_install (common/stdfds.h): a child's standard descriptors are right even when the
 * parent was started with stdin closed, so that its own descriptors sit on 0, 1 or 2 (the
 * way CI and service managers start programs). Each case forks, installs, and execs
 * `sh -c` that reads stdin and writes to stdout and stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/stdfds.h"
#include "unit.h"

/* What the child wrote to its stdout and stderr, given "in" on its stdin. */
struct outcome {
	char out[64], err[64];
	int status;
};

static void slurp(int fd, char *buf, size_t len)
{
	ssize_t n, got = 0;

	while ((n = read(fd, buf + got, len - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
}

/*
 * Run `cat; echo E >&2` with stdin from a pipe holding "in", stdout and stderr to pipes.
 * close_stdin: close fd 0 first, so the pipes land on 0 and up (all made close-on-exec,
 * as every caller makes them).
 */
static void run(struct outcome *o, bool close_stdin, bool same_out_err)
{
	int saved = fcntl(0, F_DUPFD_CLOEXEC, 3), in[2], out[2], err[2]; /* -1: 0 was closed */
	pid_t pid;

	memset(o, 0, sizeof(*o));
	if (close_stdin)
		close(0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	if (close_stdin)
		assert_true(in[0] == 0 || in[1] == 0); /* the case under test */
	assert_int_equal(write(in[1], "data\n", 5), 5);
	close(in[1]);
	pid = fork();
	if (pid == 0) {
		int e = same_out_err ? out[1] : err[1];

		if (stdfds_install(in[0], out[1], e) < 0)
			_exit(100);
		execl("/bin/sh", "sh", "-c", "cat; echo E >&2", (char *)NULL);
		_exit(101);
	}
	assert_true(pid > 0);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	slurp(out[0], o->out, sizeof(o->out));
	slurp(err[0], o->err, sizeof(o->err));
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &o->status, 0), pid);
	if (saved >= 0) {
		assert_int_equal(dup2(saved, 0), 0);
		close(saved);
	} else {
		close(0);
	}
}

static void test_plain(void **state)
{
	struct outcome o;

	(void)state;
	run(&o, false, false);
	assert_int_equal(o.status, 0);
	assert_string_equal(o.out, "data\n");
	assert_string_equal(o.err, "E\n");
}

/* The bug this guards against: dup2(0, 0) kept close-on-exec, so the program had no stdin. */
static void test_stdin_closed_in_parent(void **state)
{
	struct outcome o;

	(void)state;
	run(&o, true, false);
	assert_int_equal(o.status, 0);
	assert_string_equal(o.out, "data\n");
	assert_string_equal(o.err, "E\n");
	run(&o, true, true);
	assert_int_equal(o.status, 0);
	assert_string_equal(o.out, "data\nE\n");
}

/* Sources that are each other's targets (out on 2, err on 1) come out in place, not swapped. */
static void test_crossed(void **state)
{
	int p[2], q[2], status;
	char a[16], b[16];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(pipe2(q, O_CLOEXEC), 0);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		/* put the out pipe on 2 and the err pipe on 1 */
		if (dup3(p[1], 2, O_CLOEXEC) < 0 || dup3(q[1], 1, O_CLOEXEC) < 0)
			_exit(99);
		if (stdfds_install(null, 2, 1) < 0)
			_exit(100);
		execl("/bin/sh", "sh", "-c", "echo out; echo err >&2", (char *)NULL);
		_exit(101);
	}
	close(p[1]);
	close(q[1]);
	slurp(p[0], a, sizeof(a));
	slurp(q[0], b, sizeof(b));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_string_equal(a, "out\n");
	assert_string_equal(b, "err\n");
	close(p[0]);
	close(q[0]);
}

static void test_bad_source(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	if (pid == 0)
		_exit(stdfds_install(-1, 1, 2) == -1 && errno == EBADF ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_stdin_closed_in_parent),
		cmocka_unit_test(test_crossed),
		cmocka_unit_test(test_bad_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
