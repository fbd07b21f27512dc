// SPDX-License-Identifier: MIT
/*
 * The rootfs sidecar (src/vmm/p9/remote.c, sidecar.c): arrowh's forwarding of 9P requests
 * against fake sidecars that answer too much, nothing, garbage or die, the sidecar's
 * serve loop end to end, the spawned sidecar (jailed when root) with the rootfs policy,
 * and its seccomp filter killing a call it does not allow.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "p9msg.h"
#include "unit.h"
#include "vmm/p9/remote.h"
#include "vmm/p9/sidecar.h"

#define RLERROR 7
#define RVERSION 101

static uint8_t req[256], resp[P9_MSIZE_MAX], wire[P9_REMOTE_HDR + P9_MSIZE_MAX];

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A Tversion with tag 0x1234: 21 bytes. */
static size_t tversion(void)
{
	size_t n = 7;

	req[4] = 100;
	req[5] = 0x34;
	req[6] = 0x12;
	put32(req + n, 65536);
	n += 4;
	req[n++] = 8;
	req[n++] = 0;
	memcpy(req + n, "9P2000.L", 8);
	n += 8;
	put32(req, (uint32_t)n);
	return n;
}

/* What the fake sidecar has queued for arrowh: seq, then an R-message of len bytes. */
static void queue_reply(int fd, uint32_t seq, uint8_t type, uint16_t tag, uint32_t size_field,
			size_t len)
{
	memset(wire, 0xab, 4 + len);
	put32(wire, seq);
	put32(wire + 4, size_field);
	wire[8] = type;
	wire[9] = (uint8_t)tag;
	wire[10] = (uint8_t)(tag >> 8);
	assert_int_equal(send(fd, wire, 4 + len, 0), (ssize_t)(4 + len));
}

/* The reply was arrowh's own Rlerror(EIO) for the request's tag. */
static void assert_eio(size_t n)
{
	assert_int_equal(n, 11);
	assert_int_equal(get32(resp), 11);
	assert_int_equal(resp[4], RLERROR);
	assert_int_equal(resp[5] | resp[6] << 8, 0x1234);
	assert_int_equal(get32(resp + 7), EIO);
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

/* A well-formed answer passes; one the guest has no room for, garbage, or the wrong tag
 * becomes EIO; a late answer to a timed-out request is dropped, not taken for the next. */
static void test_forward_fake_sidecar(void **state)
{
	struct p9_remote r;
	size_t len = tversion(), n;
	int sv[2];
	uint8_t got[P9_REMOTE_HDR + 64];

	(void)state;
	pair(sv);
	assert_int_equal(p9_remote_init(&r, sv[0], 200), 0);
	/* good: 13 bytes (size, type, tag, msize, empty version string) */
	queue_reply(sv[1], r.seq + 1, RVERSION, 0x1234, 13, 13);
	n = p9_remote_call(&r, req, len, resp, 4096);
	assert_int_equal(n, 13);
	assert_int_equal(resp[4], RVERSION);
	/* the request went out whole, with its seq and what the guest offered */
	assert_int_equal(recv(sv[1], got, sizeof(got), 0), (ssize_t)(P9_REMOTE_HDR + len));
	assert_int_equal(get32(got), r.seq);
	assert_int_equal(get32(got + 4), 4096);
	assert_memory_equal(got + P9_REMOTE_HDR, req, len);

	/* too long for the guest's buffer (it offered 64 bytes) */
	queue_reply(sv[1], r.seq + 1, RVERSION, 0x1234, 100, 100);
	assert_eio(p9_remote_call(&r, req, len, resp, 64));
	/* garbage: a size field that is not the length, a T-message type, another tag */
	queue_reply(sv[1], r.seq + 1, RVERSION, 0x1234, 999, 13);
	assert_eio(p9_remote_call(&r, req, len, resp, 4096));
	queue_reply(sv[1], r.seq + 1, 100, 0x1234, 13, 13);
	assert_eio(p9_remote_call(&r, req, len, resp, 4096));
	queue_reply(sv[1], r.seq + 1, RVERSION, 0x4321, 13, 13);
	assert_eio(p9_remote_call(&r, req, len, resp, 4096));
	queue_reply(sv[1], r.seq + 1, RVERSION, 0x1234, 3, 3); /* shorter than a header */
	assert_eio(p9_remote_call(&r, req, len, resp, 4096));
	/* no answer within the timeout: EIO in time, and the socket is kept */
	{
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_eio(p9_remote_call(&r, req, len, resp, 4096));
		clock_gettime(CLOCK_MONOTONIC, &b);
		assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 5000);
		assert_true(r.sock >= 0);
	}
	/* its late answer, then the next request's: only the latter is taken */
	queue_reply(sv[1], r.seq, RLERROR, 0x1234, 11, 11);
	queue_reply(sv[1], r.seq + 1, RVERSION, 0x1234, 13, 13);
	n = p9_remote_call(&r, req, len, resp, 4096);
	assert_int_equal(n, 13);
	assert_int_equal(resp[4], RVERSION);
	/* a guest buffer too small for any reply: nothing */
	assert_int_equal(p9_remote_call(&r, req, len, resp, 8), 0);
	while (recv(sv[1], got, sizeof(got), MSG_DONTWAIT) > 0) {
	}
	close(sv[1]);
	p9_remote_free(&r);
}

/* A dead sidecar: EIO at once, for this request and every later one. */
static void test_forward_dead_sidecar(void **state)
{
	struct p9_remote r;
	size_t len = tversion();
	int sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(p9_remote_init(&r, sv[0], 60000), 0);
	close(sv[1]);
	assert_eio(p9_remote_call(&r, req, len, resp, 4096));
	assert_int_equal(r.sock, -1);
	assert_eio(p9_remote_call(&r, req, len, resp, 4096));
	p9_remote_free(&r);

	/* dies after taking the request, before answering */
	pair(sv);
	assert_int_equal(p9_remote_init(&r, sv[0], 60000), 0);
	{
		pid_t pid = fork();

		if (pid == 0) {
			uint8_t b[512];

			close(sv[0]);
			_exit(recv(sv[1], b, sizeof(b), 0) > 0 ? 0 : 1);
		}
		close(sv[1]);
		assert_eio(p9_remote_call(&r, req, len, resp, 4096));
		waitpid(pid, NULL, 0);
	}
	p9_remote_free(&r);
}

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/arrow-p9r-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void start(struct msg *m, uint8_t type)
{
	start_tag(m, type, 0x1234);
}

static uint8_t call(struct p9_remote *r, struct msg *m)
{
	size_t n;

	put32(m->b, (uint32_t)m->n);
	n = p9_remote_call(r, m->b, m->n, resp, sizeof(resp));
	assert_true(n >= 7);
	return resp[4];
}

/* Tversion, Tattach as uid, Tlcreate "name" with gid, Twrite "hello" through r. */
static void create_through(struct p9_remote *r, uint32_t uid, uint32_t gid, const char *name,
			   uint32_t mode)
{
	struct msg m;

	start(&m, 100);
	put(&m, 65536, 4);
	put_s(&m, "9P2000.L");
	assert_int_equal(call(r, &m), 101);
	start(&m, 104);
	put(&m, 1, 4);
	put(&m, ~0u, 4);
	put_s(&m, "");
	put_s(&m, "");
	put(&m, uid, 4);
	assert_int_equal(call(r, &m), 105);
	start(&m, 14);
	put(&m, 1, 4);
	put_s(&m, name);
	put(&m, O_RDWR, 4);
	put(&m, mode, 4);
	put(&m, gid, 4);
	assert_int_equal(call(r, &m), 15);
	start(&m, 118);
	put(&m, 1, 4);
	put(&m, 0, 8);
	put(&m, 5, 4);
	memcpy(m.b + m.n, "hello", 5);
	m.n += 5;
	assert_int_equal(call(r, &m), 119);
	start(&m, 120);
	put(&m, 1, 4);
	assert_int_equal(call(r, &m), 121);
}

static void check_created(const char *name, uint32_t uid, uint32_t gid)
{
	char p[256], text[16] = "";
	struct stat st;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(st.st_mode & 07777, 0755); /* asked 04755: never setuid */
	f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "hello");
}

/* The sidecar spawned unjailed (--no-sandbox): requests through the socket land on the host. */
static void test_sidecar_unjailed(void **state)
{
	struct p9_remote r;
	pid_t pid;
	int sock, st;

	(void)state;
	sock = p9_sidecar_spawn(dir, false, false, &pid);
	assert_true(sock >= 0);
	assert_int_equal(p9_remote_init(&r, sock, 10000), 0);
	create_through(&r, geteuid(), getegid(), "plain", 04755);
	check_created("plain", geteuid(), getegid());
	p9_remote_free(&r); /* arrowh gone: the sidecar ends */
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * The jailed sidecar's own mounts, read from outside: its /proc is read-only and holds
 * processes only (no /proc/sys to write core_pattern through), and it is not dumpable.
 */
static void check_sidecar_proc(pid_t pid)
{
	char path[64], line[1024], status[4096];
	bool proc_seen = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, " - proc "))
			continue;
		proc_seen = true;
		assert_non_null(strstr(line, " /proc ro,")); /* mount point and its flags */
		assert_non_null(strstr(line, "subset=pid"));
	}
	fclose(f);
	assert_true(proc_seen);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	status[fread(status, 1, sizeof(status) - 1, f)] = '\0';
	fclose(f);
	assert_non_null(strstr(status, "NoNewPrivs:\t1"));
	assert_non_null(strstr(status, "Seccomp:\t2"));
	/* CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER and nothing else */
	assert_non_null(strstr(status, "CapEff:\t000000000000000f\n"));
	assert_non_null(strstr(status, "CapBnd:\t000000000000000f\n"));
}

/* Jailed (as root: mount namespace, pivot_root, capabilities, seccomp): the guest's ids. */
static void test_sidecar_jailed(void **state)
{
	struct p9_remote r;
	struct msg m;
	pid_t pid;
	int sock, st;

	(void)state;
	if (geteuid() != 0)
		skip(); /* a rootful arrowh's jail: reported as SKIPPED when not root */
	sock = p9_sidecar_spawn(dir, false, true, &pid);
	assert_true(sock >= 0);
	assert_int_equal(p9_remote_init(&r, sock, 10000), 0);
	create_through(&r, 1000, 1000, "guest-made", 04755);
	check_sidecar_proc(pid);
	check_created("guest-made", 1000, 1000);
	/* Tmknod: refused */
	start(&m, 18);
	put(&m, 1, 4);
	put_s(&m, "dev");
	put(&m, S_IFCHR | 0666, 4);
	put(&m, 1, 4);
	put(&m, 3, 4);
	put(&m, 0, 4);
	assert_int_equal(call(&r, &m), RLERROR);
	p9_remote_free(&r);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st)); /* not killed by its seccomp filter on the way */
	assert_int_equal(WEXITSTATUS(st), 0);

	/* read-only: every change refused (EROFS), nothing made on the host */
	sock = p9_sidecar_spawn(dir, true, true, &pid);
	assert_true(sock >= 0);
	assert_int_equal(p9_remote_init(&r, sock, 10000), 0);
	start(&m, 100);
	put(&m, 65536, 4);
	put_s(&m, "9P2000.L");
	assert_int_equal(call(&r, &m), 101);
	start(&m, 104);
	put(&m, 1, 4);
	put(&m, ~0u, 4);
	put_s(&m, "");
	put_s(&m, "");
	put(&m, 0, 4);
	assert_int_equal(call(&r, &m), 105);
	start(&m, 14);
	put(&m, 1, 4);
	put_s(&m, "nope");
	put(&m, O_RDWR, 4);
	put(&m, 0644, 4);
	put(&m, 0, 4);
	assert_int_equal(call(&r, &m), RLERROR);
	assert_int_equal(get32(resp + 7), EROFS);
	p9_remote_free(&r);
	waitpid(pid, NULL, 0);
	{
		char p[256];

		snprintf(p, sizeof(p), "%s/nope", dir);
		assert_int_equal(access(p, F_OK), -1);
	}
}

static int prctl_nnp(void)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static void syscall_getpid(void)
{
	syscall(SYS_getpid); /* not the vDSO or a cached value: the call itself */
}

/* The sidecar's seccomp filter kills a call outside its list (here: getpid). */
/* fcntl is allowed for F_DUPFD_CLOEXEC only: F_SETOWN (signals to others) kills */
static void test_sidecar_fcntl_filtered(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl_nnp() || p9_sidecar_seccomp())
			_exit(3);
		if (fcntl(2, F_DUPFD_CLOEXEC, 0) < 0)
			_exit(4);
		fcntl(2, F_SETOWN, 1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void test_sidecar_seccomp_kills(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl_nnp() || p9_sidecar_seccomp())
			_exit(3);
		syscall_getpid();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_fake_sidecar),
		cmocka_unit_test(test_forward_dead_sidecar),
		cmocka_unit_test(test_sidecar_unjailed),
		cmocka_unit_test(test_sidecar_jailed),
		cmocka_unit_test(test_sidecar_seccomp_kills),
		cmocka_unit_test(test_sidecar_fcntl_filtered),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
