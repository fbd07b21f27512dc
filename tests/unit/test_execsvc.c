// SPDX-License-Identifier: MIT
/*
 * ainit's exec session (init/execsvc.h) on the host, driven by the real client
 * (lib/exec/execclient.h) over a unix socket pair: output and exit codes, 127 for a missing
 * program and 126 for one that cannot run, 10 MiB through cat byte-exact, stdout and
 * stderr apart, a forwarded signal, env/workdir/user, a pseudo-terminal with its size
 * and a resize, a detached program, several sessions at once, the host going away
 * mid-session, TOP.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/execproto.h"
#include "init/execsvc.h"
#include "lib/exec/execclient.h"
#include "unit.h"

static const char *const app_env[] = { "PATH=/usr/bin:/bin", "APP=1", "X=app", NULL };
static const struct exec_defaults defaults = { .envp = app_env, .workdir = "/", .uid = 0,
					       .gid = 0 };
static char tmpdir[] = "/tmp/execsvc-XXXXXX";

struct run {
	int status; /* start's status (0: started) or relay's exit status; -errno */
	char *out, *err;
	size_t out_len, err_len;
	char why[600];
	pid_t session;
};

/* The guest side: one session in a child process. */
static pid_t session_child(int fd, int host_end)
{
	pid_t pid = fork();

	if (pid == 0) {
		close(host_end); /* the host's end closing must reach us */
		_exit(exec_session_run(fd, &defaults) ? 1 : 0);
	}
	return pid;
}

static char *slurp(int fd, size_t *len)
{
	struct stat st;
	char *buf;

	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	buf[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return buf;
}

static int tmpfile_fd(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "%s/f-XXXXXX", tmpdir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/*
 * Run argv in a session. in_fd: input (-1: none); sig_fd: forwarded signals; the
 * output is collected in files. status: exit status, or ERROR's status, or -errno.
 */
static void run_ex(struct run *r, struct exec_start *s, int in_fd, int sig_fd)
{
	struct exec_client c = { .in_fd = in_fd, .sig_fd = sig_fd, .tty_fd = -1 };
	int sv[2], ret;
	uint32_t pid;

	memset(r, 0, sizeof(*r));
	if (in_fd >= 0)
		s->flags |= EXEC_F_STDIN;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	r->session = session_child(sv[1], sv[0]);
	close(sv[1]);
	c.sock = sv[0];
	c.out_fd = tmpfile_fd();
	c.err_fd = tmpfile_fd();
	ret = exec_client_start(&c, s, 10000, &pid);
	if (ret == 0 && !(s->flags & EXEC_F_DETACH))
		ret = exec_client_relay(&c);
	r->status = ret;
	strcpy(r->why, c.why);
	close(sv[0]);
	r->out = slurp(c.out_fd, &r->out_len);
	r->err = slurp(c.err_fd, &r->err_len);
	close(c.out_fd);
	close(c.err_fd);
	waitpid(r->session, NULL, 0);
}

static void run_argv(struct run *r, char **argv, int in_fd)
{
	struct exec_start s = { .argv = argv, .workdir = "" };

	while (argv[s.argc])
		s.argc++;
	run_ex(r, &s, in_fd, -1);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void test_output_and_exit_codes(void **state)
{
	char *echo[] = { "/bin/echo", "hello", "world", NULL };
	char *seven[] = { "sh", "-c", "exit 7", NULL };
	char *killed[] = { "sh", "-c", "kill -9 $$", NULL };
	char *apart[] = { "sh", "-c", "echo out; echo err >&2; echo out2", NULL };
	struct run r;

	(void)state;
	run_argv(&r, echo, -1);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "hello world\n");
	assert_int_equal(r.err_len, 0);
	run_free(&r);
	run_argv(&r, seven, -1);
	assert_int_equal(r.status, 7);
	run_free(&r);
	run_argv(&r, killed, -1);
	assert_int_equal(r.status, 128 + 9);
	run_free(&r);
	run_argv(&r, apart, -1);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "out\nout2\n");
	assert_string_equal(r.err, "err\n");
	run_free(&r);
}

/* A background job writing forever after the program ended does not hold back its EXIT. */
static void test_background_writer(void **state)
{
	char *argv[] = { "sh", "-c", "echo main; yes &", NULL };
	struct run r;

	(void)state;
	run_argv(&r, argv, -1);
	assert_int_equal(r.status, 0);
	assert_memory_equal(r.out, "main\n", 5);
	run_free(&r);
}

static void test_cannot_run(void **state)
{
	char path[128];
	char *missing[] = { "no-such-program-here", NULL };
	char *missing_path[] = { "/no/such/program", NULL };
	char *not_exec[] = { path, NULL };
	char *dir[] = { tmpdir, NULL };
	struct run r;
	int fd;

	(void)state;
	run_argv(&r, missing, -1);
	assert_int_equal(r.status, 127);
	assert_non_null(strstr(r.why, "executable file not found in $PATH"));
	run_free(&r);
	run_argv(&r, missing_path, -1);
	assert_int_equal(r.status, 127);
	run_free(&r);
	snprintf(path, sizeof(path), "%s/plain", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	run_argv(&r, not_exec, -1);
	assert_int_equal(r.status, 126);
	assert_non_null(strstr(r.why, "Permission denied"));
	run_free(&r);
	run_argv(&r, dir, -1);
	assert_int_equal(r.status, 126);
	run_free(&r);
	unlink(path);
}

static void test_ten_mib_through_cat(void **state)
{
	char *cat[] = { "cat", NULL };
	size_t len = 10u << 20;
	char *data = malloc(len);
	int in = tmpfile_fd();
	struct run r;

	(void)state;
	srand(7);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(rand() >> 7);
	assert_int_equal(write(in, data, len), (ssize_t)len);
	lseek(in, 0, SEEK_SET);
	run_argv(&r, cat, in);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.out_len, len);
	assert_memory_equal(r.out, data, len);
	run_free(&r);
	close(in);
	free(data);
}

static void test_stdin_closed_without_input(void **state)
{
	char *cat[] = { "sh", "-c", "cat; echo done", NULL };
	struct run r;

	(void)state;
	run_argv(&r, cat, -1); /* no -i: /dev/null */
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "done\n");
	run_free(&r);
}

static void test_signal_is_forwarded(void **state)
{
	char *trap[] = { "sh", "-c", "trap 'echo caught; exit 3' USR1; echo ready; "
				     "while :; do sleep 0.05; done", NULL };
	char *plain[] = { "sleep", "30", NULL };
	struct exec_start s = { .argv = trap, .argc = 3, .workdir = "" };
	sigset_t set;
	struct run r;
	int sfd;

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	/* queued now, forwarded as soon as the relay runs: the trap may not be set yet, so
	 * the shell gets it again until it reports */
	{
		pid_t k = fork();

		if (k == 0) {
			for (int i = 0; i < 100; i++) {
				kill(getppid(), SIGUSR1);
				usleep(100000);
			}
			_exit(0);
		}
		run_ex(&r, &s, -1, sfd);
		kill(k, SIGKILL);
		waitpid(k, NULL, 0);
	}
	/* either the trap caught it (3) or it came before the trap was set (128+10) */
	assert_true(r.status == 3 || r.status == 128 + SIGUSR1);
	run_free(&r);
	s.argv = plain;
	s.argc = 2;
	kill(getpid(), SIGTERM);
	run_ex(&r, &s, -1, sfd);
	assert_int_equal(r.status, 128 + SIGTERM);
	run_free(&r);
	close(sfd);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void test_env_workdir_user(void **state)
{
	char *argv[] = { "sh", "-c", "echo \"$APP|$X|$NEW\"; pwd; id -u; id -g", NULL };
	char *env[] = { "X=one", "NEW=n", "X=exec", NULL };
	struct exec_start s = { .argv = argv, .argc = 3, .env = env, .envc = 3,
				.workdir = "/tmp", .flags = EXEC_F_USER, .uid = 65534,
				.gid = 65533 };
	struct run r;

	(void)state;
	run_ex(&r, &s, -1, -1);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "1|exec|n\n/tmp\n65534\n65533\n");
	run_free(&r);
	s.workdir = "/no/such/dir";
	run_ex(&r, &s, -1, -1);
	assert_int_equal(r.status, 126);
	assert_non_null(strstr(r.why, "/no/such/dir"));
	run_free(&r);
}

static void test_terminal(void **state)
{
	char *argv[] = { "sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo tty; echo $TERM; "
				     "read line; echo \"got $line\"; stty size", NULL };
	struct exec_start s = { .argv = argv, .argc = 3, .workdir = "", .flags = EXEC_F_TTY,
				.rows = 33, .cols = 101 };
	int in = tmpfile_fd();
	struct run r;

	(void)state;
	assert_int_equal(write(in, "abc\n", 4), 4);
	lseek(in, 0, SEEK_SET);
	run_ex(&r, &s, in, -1);
	assert_int_equal(r.status, 0);
	/* the terminal turns \n into \r\n and echoes the input line (anywhere between) */
	assert_non_null(strstr(r.out, "tty\r\n"));
	assert_non_null(strstr(r.out, "xterm\r\n"));
	assert_non_null(strstr(r.out, "got abc\r\n"));
	assert_non_null(strstr(r.out, "33 101\r\n"));
	assert_int_equal(r.err_len, 0);
	run_free(&r);
	close(in);
}

/* A resize while it runs: the program sees SIGWINCH and the new size. */
static void test_resize(void **state)
{
	char *argv[] = { "sh", "-c", "trap 'stty size; exit 0' WINCH; echo ready; "
				     "while :; do sleep 0.05; done", NULL };
	struct exec_start s = { .argv = argv, .argc = 3, .workdir = "", .flags = EXEC_F_TTY,
				.rows = 10, .cols = 20 };
	struct execproto_reader rd;
	uint8_t *p, resize[4];
	size_t len;
	int sv[2], r;
	char out[256] = "";
	size_t have = 0;
	pid_t session;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	session = session_child(sv[1], sv[0]);
	close(sv[1]);
	assert_int_equal(execproto_start_encode(&s, &p, &len), 0);
	assert_int_equal(execproto_write(sv[0], EXEC_START, p, (uint32_t)len), 0);
	free(p);
	execproto_reader_init(&rd, EXECPROTO_FROM_GUEST);
	for (;;) {
		r = execproto_read(&rd, sv[0]);
		assert_true(r >= 0 && r != EXECPROTO_EOF);
		if (r != 1)
			continue;
		if (rd.type == EXEC_EXIT)
			break;
		if (rd.type == EXEC_STDOUT && have + rd.len < sizeof(out)) {
			memcpy(out + have, rd.payload, rd.len);
			have += rd.len;
			out[have] = '\0';
			if (strstr(out, "ready")) {
				execproto_put16(resize, 50);
				execproto_put16(resize + 2, 132);
				assert_int_equal(execproto_write(sv[0], EXEC_RESIZE, resize, 4), 0);
				out[0] = '\0';
				have = 0;
			}
		}
	}
	assert_int_equal(execproto_get32(rd.payload), 0);
	assert_non_null(strstr(out, "50 132"));
	execproto_reader_free(&rd);
	close(sv[0]);
	waitpid(session, NULL, 0);
}

static void test_detached(void **state)
{
	char path[128], go[128], cmd[640];
	char *argv[] = { "sh", "-c", cmd, NULL };
	struct exec_start s = { .argv = argv, .argc = 3, .workdir = "", .flags = EXEC_F_DETACH };
	struct run r;
	struct stat st;
	int fd, i;

	(void)state;
	snprintf(path, sizeof(path), "%s/detached", tmpdir);
	snprintf(go, sizeof(go), "%s/detached.go", tmpdir);
	/* The program cannot finish before the test says so: the exec must
	 * return while it is still running. The result appears atomically. */
	snprintf(cmd, sizeof(cmd),
		 "while [ ! -e %s ]; do sleep 0.02; done; echo later >%s.tmp && mv %s.tmp %s",
		 go, path, path, path);
	run_ex(&r, &s, -1, -1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	assert_int_equal(stat(path, &st), -1);
	fd = open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	for (i = 0; i < 500 && stat(path, &st) < 0; i++)
		usleep(20000);
	assert_true(i < 500);
	assert_int_equal(st.st_size, 6);
	unlink(path);
	unlink(go);
}

static void test_sessions_at_once(void **state)
{
	enum { N = 10 };
	pid_t kids[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			char cmd[64];
			char *argv[] = { "sh", "-c", cmd, NULL };
			struct run r;

			snprintf(cmd, sizeof(cmd), "sleep 0.2; echo %d; exit %d", i, i);
			run_argv(&r, argv, -1);
			snprintf(cmd, sizeof(cmd), "%d\n", i);
			_exit(r.status == i && !strcmp(r.out, cmd) ? 0 : 1);
		}
	}
	for (int i = 0; i < N; i++) {
		int st;

		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}

/* The host goes away mid-session: the program is hung up on and the session ends. */
static void test_host_gone(void **state)
{
	char *argv[] = { "sleep", "60", NULL };
	struct exec_start s = { .argv = argv, .argc = 2, .workdir = "" };
	struct exec_client c = { .in_fd = -1, .out_fd = -1, .err_fd = -1, .sig_fd = -1,
				 .tty_fd = -1 };
	int sv[2], st = -1;
	uint32_t pid;
	pid_t session;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	session = session_child(sv[1], sv[0]);
	close(sv[1]);
	c.sock = sv[0];
	assert_int_equal(exec_client_start(&c, &s, 10000, &pid), 0);
	assert_int_equal(kill((pid_t)pid, 0), 0);
	close(sv[0]);
	for (int i = 0; i < 100 && waitpid(session, &st, WNOHANG) == 0; i++)
		usleep(50000);
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(kill((pid_t)pid, 0), -1); /* gone (and reaped by the session) */
}

static void test_top(void **state)
{
	struct exec_top_row *rows;
	char why[300];
	int sv[2], n;
	bool me = false;
	pid_t session;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	session = session_child(sv[1], sv[0]);
	close(sv[1]);
	n = exec_client_top(sv[0], 10000, &rows, why, sizeof(why));
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		assert_true(rows[i].pid != (uint32_t)session); /* not itself */
		assert_true(rows[i].ppid != 2);                /* no kernel threads */
		if (rows[i].pid == (uint32_t)getpid()) {
			me = true;
			assert_non_null(strstr(rows[i].cmd, "test_execsvc"));
			assert_int_equal(rows[i].uid, getuid());
		}
	}
	assert_true(me);
	free(rows);
	close(sv[0]);
	waitpid(session, NULL, 0);
}

/* Garbage first: an ERROR, no program. */
static void test_malformed_request(void **state)
{
	struct execproto_reader rd;
	uint8_t junk[16] = { 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0 };
	int sv[2], r;
	pid_t session;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	session = session_child(sv[1], sv[0]);
	close(sv[1]);
	assert_int_equal(write(sv[0], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	execproto_reader_init(&rd, EXECPROTO_FROM_GUEST);
	while ((r = execproto_read(&rd, sv[0])) == 0)
		;
	assert_int_equal(r, 1);
	assert_int_equal(rd.type, EXEC_ERROR);
	assert_int_equal(execproto_get32(rd.payload), 125);
	execproto_reader_free(&rd);
	close(sv[0]);
	waitpid(session, NULL, 0);
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_and_exit_codes),
		cmocka_unit_test(test_background_writer),
		cmocka_unit_test(test_cannot_run),
		cmocka_unit_test(test_ten_mib_through_cat),
		cmocka_unit_test(test_stdin_closed_without_input),
		cmocka_unit_test(test_signal_is_forwarded),
		cmocka_unit_test(test_env_workdir_user),
		cmocka_unit_test(test_terminal),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_detached),
		cmocka_unit_test(test_sessions_at_once),
		cmocka_unit_test(test_host_gone),
		cmocka_unit_test(test_top),
		cmocka_unit_test(test_malformed_request),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
