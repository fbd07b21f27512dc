// SPDX-License-Identifier: MIT
/*
 * The exec protocol (common/execproto.h) and its host client (lib/exec/execclient.h) against
 * a hostile peer: headers of every type from the wrong side, oversized and wrong fixed
 * lengths, flags; START payloads round trip, every truncation, byte flips, lying counts,
 * strings without their NUL, trailing bytes; the stream reader fed byte by byte, several
 * frames per write, EOF between and inside frames, a 4 GiB length; TOP rows with control
 * characters; a fake guest that never answers, sends huge or unexpected frames, a bad
 * exit status or closes mid-session; the hybrid vsock handshake against a fake arrowh.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/execproto.h"
#include "lib/exec/execclient.h"
#include "unit.h"

static char *sample_argv[] = { "sh", "-c", "echo \"$X\"", NULL };
static char *sample_env[] = { "X=1", "EMPTY=", "PATH=/bin", NULL };

static struct exec_start sample(void)
{
	struct exec_start s = { .flags = EXEC_F_TTY | EXEC_F_USER | EXEC_F_STDIN,
				.rows = 24, .cols = 80, .uid = 1000, .gid = 100, .argc = 3,
				.envc = 3, .argv = sample_argv, .env = sample_env,
				.workdir = "/tmp" };

	return s;
}

static void test_headers(void **state)
{
	uint8_t h[EXECPROTO_HDR_LEN];
	uint16_t type;
	uint32_t len;

	(void)state;
	execproto_hdr_put(h, EXEC_STDIN, 5);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_HOST, &type, &len), 0);
	assert_int_equal(type, EXEC_STDIN);
	assert_int_equal(len, 5);
	/* each side accepts only the other side's types */
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_GUEST, &type, &len), -EPROTO);
	execproto_hdr_put(h, EXEC_STDOUT, 5);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_HOST, &type, &len), -EPROTO);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_GUEST, &type, &len), 0);
	for (unsigned int t = 0; t < 0x10000; t++) {
		bool host = t >= EXEC_START && t <= EXEC_TOP;
		bool guest = t >= EXEC_STARTED && t <= EXEC_TOP_END;

		execproto_hdr_put(h, (uint16_t)t, 0);
		assert_int_equal(execproto_max_len(EXECPROTO_FROM_HOST, (uint16_t)t) >= 0, host);
		assert_int_equal(execproto_max_len(EXECPROTO_FROM_GUEST, (uint16_t)t) >= 0, guest);
	}
	/* lengths: over the bound, and fixed-size types of another size */
	execproto_hdr_put(h, EXEC_STDOUT, EXECPROTO_DATA_MAX + 1);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_GUEST, &type, &len), -EMSGSIZE);
	execproto_hdr_put(h, EXEC_STDOUT, 0xffffffffu);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_GUEST, &type, &len), -EMSGSIZE);
	execproto_hdr_put(h, EXEC_START, EXECPROTO_START_MAX + 1);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_HOST, &type, &len), -EMSGSIZE);
	execproto_hdr_put(h, EXEC_EXIT, 3);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_GUEST, &type, &len), -EMSGSIZE);
	execproto_hdr_put(h, EXEC_EXIT, 5);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_GUEST, &type, &len), -EMSGSIZE);
	execproto_hdr_put(h, EXEC_STDIN_EOF, 1);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_HOST, &type, &len), -EMSGSIZE);
	execproto_hdr_put(h, EXEC_ERROR, 3);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_GUEST, &type, &len), -EMSGSIZE);
	execproto_hdr_put(h, EXEC_ERROR, 4 + EXECPROTO_MSG_MAX + 1);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_GUEST, &type, &len), -EMSGSIZE);
	execproto_hdr_put(h, EXEC_TOP_ROW, 23);
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_GUEST, &type, &len), -EMSGSIZE);
	/* flags must be zero */
	execproto_hdr_put(h, EXEC_EXIT, 4);
	h[6] = 1;
	assert_int_equal(execproto_hdr_parse(h, EXECPROTO_FROM_GUEST, &type, &len), -EPROTO);
}

static void assert_same_start(const struct exec_start *a, const struct exec_start *b)
{
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->rows, b->rows);
	assert_int_equal(a->cols, b->cols);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->argc, b->argc);
	assert_int_equal(a->envc, b->envc);
	for (uint32_t i = 0; i < a->argc; i++)
		assert_string_equal(a->argv[i], b->argv[i]);
	assert_null(b->argv[b->argc]);
	for (uint32_t i = 0; i < a->envc; i++)
		assert_string_equal(a->env[i], b->env[i]);
	assert_null(b->env[b->envc]);
	assert_string_equal(a->workdir, b->workdir);
}

static void test_start_round_trip_and_truncations(void **state)
{
	struct exec_start s = sample(), d;
	uint8_t *p, *copy;
	size_t len;

	(void)state;
	assert_int_equal(execproto_start_encode(&s, &p, &len), 0);
	assert_int_equal(execproto_start_decode(p, len, &d), 0);
	assert_same_start(&s, &d);
	execproto_start_free(&d);
	/* every truncation is refused (each copy exactly as long, for ASan) */
	for (size_t cut = 0; cut < len; cut++) {
		copy = malloc(cut ? cut : 1);
		memcpy(copy, p, cut);
		assert_int_equal(execproto_start_decode(copy, cut, &d), -EPROTO);
		free(copy);
	}
	/* every single byte changed to every value: decoded or refused, never a crash */
	copy = malloc(len);
	for (size_t i = 0; i < len; i++) {
		for (int v = 0; v < 256; v += 7) {
			memcpy(copy, p, len);
			copy[i] = (uint8_t)v;
			if (execproto_start_decode(copy, len, &d) == 0) {
				assert_true(d.argc >= 1 && d.argv[0][0]);
				execproto_start_free(&d);
			}
		}
	}
	/* a byte too many */
	copy = realloc(copy, len + 1);
	memcpy(copy, p, len);
	copy[len] = 'x';
	assert_int_equal(execproto_start_decode(copy, len + 1, &d), -EPROTO);
	copy[len] = 0;
	assert_int_equal(execproto_start_decode(copy, len + 1, &d), -EPROTO);
	/* lying counts, bad version, unknown flags */
	memcpy(copy, p, len);
	execproto_put32(copy + 16, 0xffffffffu);
	assert_int_equal(execproto_start_decode(copy, len, &d), -EPROTO);
	memcpy(copy, p, len);
	execproto_put32(copy + 20, 4);
	assert_int_equal(execproto_start_decode(copy, len, &d), -EPROTO);
	memcpy(copy, p, len);
	execproto_put32(copy + 16, 0);
	assert_int_equal(execproto_start_decode(copy, len, &d), -EPROTO);
	memcpy(copy, p, len);
	execproto_put16(copy, 2);
	assert_int_equal(execproto_start_decode(copy, len, &d), -EPROTO);
	memcpy(copy, p, len);
	execproto_put16(copy + 2, 0x100);
	assert_int_equal(execproto_start_decode(copy, len, &d), -EPROTO);
	/* the last NUL (the workdir's) missing */
	memcpy(copy, p, len);
	copy[len - 1] = 'x';
	assert_int_equal(execproto_start_decode(copy, len, &d), -EPROTO);
	free(copy);
	free(p);
}

static int decode_built(const char *const *strings, size_t n, uint32_t argc, uint32_t envc)
{
	uint8_t buf[512] = { 0 };
	size_t len = 24;
	struct exec_start d;
	int r;

	execproto_put16(buf, EXECPROTO_VERSION);
	execproto_put32(buf + 16, argc);
	execproto_put32(buf + 20, envc);
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + len, strings[i], strlen(strings[i]) + 1);
		len += strlen(strings[i]) + 1;
	}
	r = execproto_start_decode(buf, len, &d);
	if (!r)
		execproto_start_free(&d);
	return r;
}

static void test_start_content_rules(void **state)
{
	static const char *const good[] = { "ls", "A=b", "/" };
	static const char *const empty_prog[] = { "", "A=b", "/" };
	static const char *const no_eq[] = { "ls", "Ab", "/" };
	static const char *const no_key[] = { "ls", "=b", "/" };
	static const char *const rel_dir[] = { "ls", "A=b", "tmp" };
	static const char *const default_dir[] = { "ls", "" };
	struct exec_start s = sample();
	char *many[EXECPROTO_MAX_ARGS + 2], *big;
	uint8_t *p;
	size_t len;

	(void)state;
	assert_int_equal(decode_built(good, 3, 1, 1), 0);
	assert_int_equal(decode_built(default_dir, 2, 1, 0), 0);
	assert_int_equal(decode_built(empty_prog, 3, 1, 1), -EPROTO);
	assert_int_equal(decode_built(no_eq, 3, 1, 1), -EPROTO);
	assert_int_equal(decode_built(no_key, 3, 1, 1), -EPROTO);
	assert_int_equal(decode_built(rel_dir, 3, 1, 1), -EPROTO);
	/* the encoder refuses what the decoder would */
	for (size_t i = 0; i < EXECPROTO_MAX_ARGS + 1; i++)
		many[i] = "x";
	many[EXECPROTO_MAX_ARGS + 1] = NULL;
	s.argv = many;
	s.argc = EXECPROTO_MAX_ARGS + 1;
	assert_int_equal(execproto_start_encode(&s, &p, &len), -E2BIG);
	s.argc = EXECPROTO_MAX_ARGS;
	assert_int_equal(execproto_start_encode(&s, &p, &len), 0);
	free(p);
	big = malloc(EXECPROTO_START_MAX);
	memset(big, 'a', EXECPROTO_START_MAX - 1);
	big[EXECPROTO_START_MAX - 1] = '\0';
	s = sample();
	s.argv[2] = big;
	assert_int_equal(execproto_start_encode(&s, &p, &len), -E2BIG);
	s.argv[2] = "echo \"$X\"";
	free(big);
	s.workdir = "relative";
	assert_int_equal(execproto_start_encode(&s, &p, &len), -EINVAL);
	s = sample();
	s.flags = 0x80;
	assert_int_equal(execproto_start_encode(&s, &p, &len), -EINVAL);
}

static void test_top_rows(void **state)
{
	struct exec_top_row r = { .pid = 7, .ppid = 1, .uid = 65534, .cpu_ms = 1ull << 33 }, d;
	uint8_t buf[32 + EXECPROTO_CMD_MAX];
	size_t len;

	(void)state;
	snprintf(r.cmd, sizeof(r.cmd), "sh -c \x1b[2Jboom\x7f");
	len = execproto_top_row_encode(&r, buf);
	assert_int_equal(execproto_top_row_decode(buf, len, &d), 0);
	assert_int_equal(d.pid, 7);
	assert_int_equal(d.uid, 65534);
	assert_true(d.cpu_ms == 1ull << 33);
	assert_string_equal(d.cmd, "sh -c ?[2Jboom?");
	assert_int_equal(execproto_top_row_decode(buf, 23, &d), -EPROTO);
	assert_int_equal(execproto_top_row_decode(buf, 24 + EXECPROTO_CMD_MAX + 1, &d), -EPROTO);
}

static void frame(uint8_t *out, size_t *len, uint16_t type, const void *payload, uint32_t n)
{
	execproto_hdr_put(out + *len, type, n);
	if (n)
		memcpy(out + *len + EXECPROTO_HDR_LEN, payload, n);
	*len += EXECPROTO_HDR_LEN + n;
}

static void test_reader(void **state)
{
	struct execproto_reader rd;
	uint8_t buf[256];
	size_t len = 0;
	int sv[2], r, got = 0;

	(void)state;
	assert_int_equal(execproto_reader_init(&rd, EXECPROTO_FROM_GUEST), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	frame(buf, &len, EXEC_STDOUT, "hello", 5);
	frame(buf, &len, EXEC_TOP_END, NULL, 0);
	frame(buf, &len, EXEC_STDERR, "err", 3);
	/* byte by byte */
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(write(sv[1], buf + i, 1), 1);
		r = execproto_read(&rd, sv[0]);
		assert_true(r == 0 || r == 1);
		if (r == 1) {
			got++;
			if (got == 1)
				assert_true(rd.type == EXEC_STDOUT && rd.len == 5 &&
					    !memcmp(rd.payload, "hello", 5));
			if (got == 2)
				assert_true(rd.type == EXEC_TOP_END && rd.len == 0);
			if (got == 3)
				assert_true(rd.type == EXEC_STDERR && !memcmp(rd.payload, "err", 3));
		}
	}
	assert_int_equal(got, 3);
	/* all at once */
	assert_int_equal(write(sv[1], buf, len), (ssize_t)len);
	got = 0;
	while (got < 3)
		if ((r = execproto_read(&rd, sv[0])) == 1)
			got++;
		else
			assert_int_equal(r, 0);
	/* a 4 GiB length, a host type, then nothing allocated or waited for */
	execproto_hdr_put(buf, EXEC_STDOUT, 0xffffffffu);
	assert_int_equal(write(sv[1], buf, 8), 8);
	while ((r = execproto_read(&rd, sv[0])) == 0)
		;
	assert_int_equal(r, -EMSGSIZE);
	execproto_hdr_put(buf, EXEC_STDIN, 1);
	assert_int_equal(write(sv[1], buf, 8), 8);
	while ((r = execproto_read(&rd, sv[0])) == 0)
		;
	assert_int_equal(r, -EPROTO);
	/* EOF inside a frame, then between frames */
	len = 0;
	frame(buf, &len, EXEC_STDOUT, "hello", 5);
	assert_int_equal(write(sv[1], buf, len - 2), (ssize_t)len - 2);
	shutdown(sv[1], SHUT_WR);
	while ((r = execproto_read(&rd, sv[0])) == 0)
		;
	assert_int_equal(r, -ECONNRESET);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(execproto_read(&rd, sv[0]), EXECPROTO_EOF);
	close(sv[0]);
	execproto_reader_free(&rd);
}

/* ---- the client against a hostile fake guest ---- */

enum fake { FAKE_SILENT, FAKE_HUGE, FAKE_OUTPUT_FIRST, FAKE_BAD_ERROR, FAKE_BAD_EXIT, FAKE_CLOSE,
	    FAKE_GOOD, FAKE_TOP_FLOOD };

/* The guest side: read whatever comes, answer as told. */
static pid_t fake_guest(int fd, enum fake how)
{
	pid_t pid = fork();
	uint8_t buf[EXECPROTO_HDR_LEN + 16];
	size_t len = 0;

	if (pid)
		return pid;
	{
		struct execproto_reader rd;

		execproto_reader_init(&rd, EXECPROTO_FROM_HOST);
		while (execproto_read(&rd, fd) != 1)
			;
	}
	switch (how) {
	case FAKE_SILENT:
		sleep(30);
		break;
	case FAKE_HUGE:
		execproto_hdr_put(buf, EXEC_STDOUT, 1u << 30);
		len = 8;
		break;
	case FAKE_OUTPUT_FIRST:
		frame(buf, &len, EXEC_STDOUT, "x", 1);
		break;
	case FAKE_BAD_ERROR:
		frame(buf, &len, EXEC_ERROR, "\0\0\0\0\x1b[31m", 9); /* status 0 */
		break;
	case FAKE_BAD_EXIT:
		frame(buf, &len, EXEC_STARTED, "\1\0\0\0", 4);
		frame(buf, &len, EXEC_EXIT, "\0\1\0\0", 4); /* 256 */
		break;
	case FAKE_CLOSE:
		frame(buf, &len, EXEC_STARTED, "\1\0\0\0", 4);
		frame(buf, &len, EXEC_STDOUT, "hi", 2);
		break;
	case FAKE_GOOD:
		frame(buf, &len, EXEC_STARTED, "\1\0\0\0", 4);
		frame(buf, &len, EXEC_EXIT, "\7\0\0\0", 4);
		break;
	case FAKE_TOP_FLOOD:
		for (;;) {
			uint8_t row[8 + 24];

			len = 0;
			memset(row, 0, sizeof(row));
			frame(row, &len, EXEC_TOP_ROW, row + 8, 24);
			if (write(fd, row, len) < 0)
				_exit(0);
		}
	}
	if (len && write(fd, buf, len) < 0)
		_exit(1);
	_exit(0);
}

static int run_fake(enum fake how, int timeout_ms, char *why, int *relay_ret)
{
	static char *argv[] = { "true", NULL };
	struct exec_start s = { .argc = 1, .argv = argv, .workdir = "" };
	struct exec_client c = { .in_fd = -1, .out_fd = -1, .err_fd = -1, .sig_fd = -1,
				 .tty_fd = -1 };
	int sv[2], ret;
	uint32_t pid;
	pid_t fake;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fake = fake_guest(sv[1], how);
	close(sv[1]);
	c.sock = sv[0];
	ret = exec_client_start(&c, &s, timeout_ms, &pid);
	*relay_ret = ret == 0 ? exec_client_relay(&c) : -1;
	strcpy(why, c.why);
	close(sv[0]);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	return ret;
}

static void test_client_against_hostile_guests(void **state)
{
	struct timespec t0, t1;
	char why[600];
	int relay;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(run_fake(FAKE_SILENT, 300, why, &relay), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	assert_non_null(strstr(why, "did not answer in time"));
	assert_int_equal(run_fake(FAKE_HUGE, 5000, why, &relay), -EMSGSIZE);
	assert_int_equal(run_fake(FAKE_OUTPUT_FIRST, 5000, why, &relay), -EPROTO);
	assert_int_equal(run_fake(FAKE_BAD_ERROR, 5000, why, &relay), 125);
	assert_string_equal(why, "?[31m"); /* no escape sequence reaches the terminal */
	assert_int_equal(run_fake(FAKE_BAD_EXIT, 5000, why, &relay), 0);
	assert_int_equal(relay, -EPROTO);
	assert_int_equal(run_fake(FAKE_CLOSE, 5000, why, &relay), 0);
	assert_int_equal(relay, -ECONNRESET);
	assert_non_null(strstr(why, "ended before"));
	assert_int_equal(run_fake(FAKE_GOOD, 5000, why, &relay), 0);
	assert_int_equal(relay, 7);
}

static void test_top_flood_is_bounded(void **state)
{
	struct exec_top_row *rows = NULL;
	char why[200];
	int sv[2];
	pid_t fake;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fake = fake_guest(sv[1], FAKE_TOP_FLOOD);
	close(sv[1]);
	assert_int_equal(exec_client_top(sv[0], 60000, &rows, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "too many rows"));
	close(sv[0]);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
}

/* ---- the hybrid vsock handshake against a fake arrowh ---- */

enum fake_hv { HV_OK, HV_CLOSE_TWICE_THEN_OK, HV_GARBAGE, HV_SILENT };

static pid_t fake_arrowh(const char *dir, enum fake_hv how)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, HVSOCK_SOCKET);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	pid = fork();
	if (pid) {
		close(l);
		return pid;
	}
	for (int n = 0;; n++) {
		int c = accept(l, NULL, NULL);
		char line[32] = { 0 };

		for (size_t i = 0; i < sizeof(line) - 1; i++)
			if (read(c, line + i, 1) != 1 || line[i] == '\n')
				break;
		if (strcmp(line, "CONNECT 52\n"))
			_exit(3);
		if (how == HV_SILENT) {
			sleep(30);
		} else if (how == HV_GARBAGE) {
			if (write(c, "HELLO\n", 6) < 0)
				_exit(1);
		} else if (how == HV_OK || n >= 2) {
			if (write(c, "OK 1073741824\nabc", 17) < 0)
				_exit(1);
			sleep(30);
		}
		close(c);
	}
}

static void test_hvsock_handshake(void **state)
{
	char dir[] = "/tmp/execproto-XXXXXX", path[64], why[300], rest[4];
	int fd;
	pid_t hv;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, HVSOCK_SOCKET);
	for (enum fake_hv how = HV_OK; how <= HV_SILENT; how++) {
		hv = fake_arrowh(dir, how);
		fd = hvsock_connect(dir, EXECPROTO_PORT, 1500, why, sizeof(why));
		if (how == HV_OK || how == HV_CLOSE_TWICE_THEN_OK) {
			assert_true(fd >= 0);
			/* nothing past the OK line was consumed */
			assert_int_equal(read(fd, rest, 3), 3);
			assert_memory_equal(rest, "abc", 3);
			close(fd);
		} else if (how == HV_GARBAGE) {
			assert_int_equal(fd, -EPROTO);
		} else {
			assert_int_equal(fd, -ETIMEDOUT);
		}
		kill(hv, SIGKILL);
		waitpid(hv, NULL, 0);
		unlink(path);
	}
	/* no socket at all: an Arrow without vsock, said so after a short wait */
	fd = hvsock_connect(dir, EXECPROTO_PORT, 60000, why, sizeof(why));
	assert_int_equal(fd, -ENOENT);
	assert_non_null(strstr(why, "no vsock device"));
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_start_round_trip_and_truncations),
		cmocka_unit_test(test_start_content_rules),
		cmocka_unit_test(test_top_rows),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_client_against_hostile_guests),
		cmocka_unit_test(test_top_flood_is_bounded),
		cmocka_unit_test(test_hvsock_handshake),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
