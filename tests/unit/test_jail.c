// SPDX-License-Identifier: MIT
/*
 * The broker between arrowh's supervisor and its jailed VMM (src/vmm/jail.c), without a
 * jail: a socket pair stands for it. A VMM that takes no replies must not block the
 * supervisor (it goes on forwarding signals); a supervisor that does not answer must not
 * block the VMM's thread for ever; a reply that comes too late is not taken for the next.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/jail.h"
#include "vmm/session.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The VMM's end: a request nobody answers fails in time, and fails alone. */
static void test_request_times_out(void **state)
{
	int sv[2], fd = 7;
	uint64_t t0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(jail_broker_attach(sv[1], 200), 0);
	t0 = now_ms();
	assert_int_equal(jail_request(JAIL_REQ_VSOCK_CONNECT, 1234, &fd), -ETIMEDOUT);
	assert_int_equal(fd, -1);
	assert_true(now_ms() - t0 >= 150 && now_ms() - t0 < 2000);
	jail_broker_fd = -1;
	close(sv[0]);
	close(sv[1]);
}

/* A supervisor that stopped reading: requests without replies fail once its queue is full. */
static void test_send_times_out(void **state)
{
	int sv[2], ret = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(jail_broker_attach(sv[1], 100), 0);
	for (int i = 0; i < 100000 && !ret; i++)
		ret = jail_request(JAIL_REQ_RUNNING, 0, NULL);
	assert_int_equal(ret, -ETIMEDOUT);
	jail_broker_fd = -1;
	close(sv[0]);
	close(sv[1]);
}

static int fake_sup;

/* The supervisor, late: answers the request it reads. */
static void *answer_one(void *arg)
{
	struct jail_req q;
	struct jail_reply r = { .status = 7 };

	(void)arg;
	if (recv(fake_sup, &q, sizeof(q), 0) == sizeof(q)) {
		r.seq = q.seq;
		send(fake_sup, &r, sizeof(r), MSG_NOSIGNAL);
	}
	return NULL;
}

/* The reply to a request that timed out arrives before the next one's: dropped, its
 * descriptor closed, and the next request gets its own reply. */
static void test_late_reply_dropped(void **state)
{
	int sv[2], fd, p[2];
	struct jail_req q;
	struct jail_reply r = { .status = 0 };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	pthread_t th;
	char ch;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(jail_broker_attach(sv[1], 200), 0);
	assert_int_equal(jail_request(JAIL_REQ_VSOCK_CONNECT, 1, &fd), -ETIMEDOUT);
	/* now the supervisor answers it, with a descriptor */
	assert_int_equal(recv(sv[0], &q, sizeof(q), 0), sizeof(q));
	r.seq = q.seq;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[1], sizeof(int));
	assert_int_equal(sendmsg(sv[0], &m, 0), sizeof(r));
	close(p[1]);
	fake_sup = sv[0];
	assert_int_equal(pthread_create(&th, NULL, answer_one, NULL), 0);
	assert_int_equal(jail_request(JAIL_REQ_VSOCK_CONNECT, 2, &fd), 7);
	assert_int_equal(fd, -1);
	pthread_join(th, NULL);
	assert_int_equal(read(p[0], &ch, 1), 0); /* the late descriptor was closed */
	close(p[0]);
	jail_broker_fd = -1;
	close(sv[0]);
	close(sv[1]);
}

/*
 * The supervisor's end: a VMM floods requests and reads no reply. The supervisor must
 * stop serving it rather than block in sendmsg(), and still forward a signal: the fake
 * VMM exits 0 only if SIGUSR1 reaches it within 5 s.
 */
static void test_vmm_that_reads_no_replies(void **state)
{
	int ready[2], wst = 0;
	pid_t sup;
	uint64_t t0;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	sup = fork();
	assert_true(sup >= 0);
	if (sup == 0) {
		static struct arrowh_config cfg;
		static struct session s;
		sigset_t set;
		int sv[2];
		pid_t vmm;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			_exit(3);
		vmm = fork();
		if (vmm == 0) {
			struct timespec ts = { 5, 0 };
			struct jail_req q = { .type = JAIL_REQ_VSOCK_CONNECT, .arg = 1 };
			int stalls = 0;

			close(sv[0]);
			for (unsigned int i = 0; i < 5000 && stalls < 300; i++) {
				q.seq = i;
				if (send(sv[1], &q, sizeof(q), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
					i--;
					stalls++;
					usleep(1000);
				}
			}
			(void)!write(ready[1], "x", 1);
			_exit(sigtimedwait(&set, NULL, &ts) == SIGUSR1 ? 0 : 1);
		}
		close(sv[1]);
		jail_broker_fd = sv[0];
		s.cfg = &cfg;
		_exit(jail_supervise(&s, vmm));
	}
	close(ready[1]);
	{
		struct pollfd p = { ready[0], POLLIN, 0 };
		char ch;

		assert_int_equal(poll(&p, 1, 10000), 1);
		assert_int_equal(read(ready[0], &ch, 1), 1);
	}
	kill(sup, SIGUSR1);
	t0 = now_ms();
	while (waitpid(sup, &wst, WNOHANG) == 0 && now_ms() - t0 < 15000)
		usleep(10000);
	if (now_ms() - t0 >= 15000) {
		kill(sup, SIGKILL);
		waitpid(sup, &wst, 0);
	}
	close(ready[0]);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_times_out),
		cmocka_unit_test(test_send_times_out),
		cmocka_unit_test(test_late_reply_dropped),
		cmocka_unit_test(test_vmm_that_reads_no_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
