// SPDX-License-Identifier: MIT
/*
 * The exec service's listener (docs/exec.md): a child of ainit listening on AF_VSOCK
 * port EXECPROTO_PORT for the host's connections, one session process each.
 *
 * Process tree: ainit (PID 1) -> execd -> one session per connection -> its program.
 * ainit's reaper never sees the programs (they are the sessions' children); a detached
 * program outlives its session and is reaped by ainit like any orphan. When the app
 * ends, ainit's finish() kills all of them with the rest.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/execproto.h"
#include "execsvc.h"
#include "init.h"

/* <linux/vm_sockets.h>, which musl's headers do not carry */
struct sockaddr_vm {
	sa_family_t svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	unsigned char svm_flags;
	unsigned char svm_zero[3];
};
#define VMADDR_CID_ANY 0xffffffffu
#define VMADDR_CID_HOST 2u

static void close_all_but_stdio(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
		return;
#endif
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
}

static void __attribute__((noreturn)) serve(const struct runcfg *cfg)
{
	struct exec_defaults d = { .envp = cfg->envp, .workdir = cfg->workdir,
				   .uid = cfg->uid, .gid = cfg->gid };
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_port = EXECPROTO_PORT,
				  .svm_cid = VMADDR_CID_ANY };
	sigset_t none;
	int lfd;

	prctl(PR_SET_NAME, "ainit-exec", 0, 0, 0);
	/* nothing of ainit's: its ports held open here would keep the app's streams open */
	close_all_but_stdio();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* sessions reap themselves away */
	lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		_exit(0); /* no vsock in this kernel or VM: no exec service, nothing else changes */
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		dprintf(2, "ainit: exec service: cannot listen on vsock port %u: %s\n",
			EXECPROTO_PORT, strerror(errno));
		_exit(0);
	}
	for (;;) {
		struct sockaddr_vm peer;
		socklen_t plen = sizeof(peer);
		int c = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
		pid_t pid;

		if (c < 0)
			continue;
		/* only the host: a guest process reaching us over loopback would run as anyone */
		if (plen < sizeof(peer) || peer.svm_cid != VMADDR_CID_HOST) {
			close(c);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			close(lfd);
			prctl(PR_SET_NAME, "ainit-session", 0, 0, 0);
			signal(SIGCHLD, SIG_DFL);
			_exit(exec_session_run(c, &d) ? 1 : 0);
		}
		close(c);
	}
}

void execd_start(const struct runcfg *cfg)
{
	pid_t pid = fork();

	if (pid == 0)
		serve(cfg);
	/* a failed fork only means no exec service: the app runs on */
}
