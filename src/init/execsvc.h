/* SPDX-License-Identifier: MIT */
/*
 * ainit's exec service (docs/exec.md): one connection's session, kept apart from the
 * vsock listener (execd.c) so that it runs on a host too, over any stream socket
 * (tests/unit/test_execsvc.c).
 */
#ifndef ARROW_INIT_EXECSVC_H
#define ARROW_INIT_EXECSVC_H

#include <stdint.h>

/* What a START leaves unsaid comes from the app's run configuration. */
struct exec_defaults {
	const char *const *envp; /* the app's environment, NULL-terminated */
	const char *workdir;
	uint32_t uid, gid;
};

/*
 * Serve one connection on the connected stream fd: a START (run the program, relay its
 * stdio, signals and resizes, report its exit) or a TOP. Forks the program as a child
 * of the caller and waits for that child only. Returns when the session is over: 0, or
 * -errno when the connection failed. Does not close fd.
 */
int exec_session_run(int fd, const struct exec_defaults *d);

/* TOP: send a TOP_ROW for every user process in /proc (except skip_pid) and TOP_END. */
int exec_top_send(int fd, int skip_pid);

#endif
