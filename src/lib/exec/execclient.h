/* SPDX-License-Identifier: MIT */
/*
 * The host side of the exec protocol (common/execproto.h, docs/exec.md): reach a running
 * Arrow's exec service through arrowh's hybrid vsock socket, start a program, relay its
 * streams, list processes. The guest is not trusted: every frame is checked, the start
 * handshake and a listing have deadlines, and nothing the guest sends can make us
 * allocate more than one bounded frame.
 */
#ifndef ARROW_LIB_EXECCLIENT_H
#define ARROW_LIB_EXECCLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/execproto.h"

#define HVSOCK_SOCKET "vsock.sock" /* in the Arrow's state directory */
#define EXEC_TIMEOUT_MS_DEFAULT 30000
#define EXEC_TOP_MAX_ROWS 65536

/* ARROW_EXEC_TIMEOUT (seconds) or the default, in milliseconds. */
int exec_timeout_ms(void);

/*
 * Connect to guest port `port` through dir/vsock.sock ("CONNECT <port>\n", "OK <n>\n").
 * A connection closed at once means nothing listens yet (a booting Arrow): retried until
 * timeout_ms. The connected socket (blocking), or -errno with why filled in.
 */
int hvsock_connect(const char *dir, uint32_t port, int timeout_ms, char *why, size_t whylen);

struct exec_client {
	int sock;
	int in_fd;  /* the program's input comes from here (-1: none) */
	int out_fd; /* its stdout (or terminal) output goes here */
	int err_fd; /* its stderr */
	int sig_fd; /* a signalfd (-1: none): SIGWINCH becomes RESIZE, others SIGNAL */
	int tty_fd; /* the local terminal whose size RESIZE carries (-1: none) */
	char why[600];
};

/*
 * Send START and wait (at most timeout_ms) for STARTED or ERROR. 0 when it runs (*pid
 * set); the status the guest gave (125, 126, 127) with its message in why; or -errno
 * with why (timeout, connection closed, protocol error).
 */
int exec_client_start(struct exec_client *c, const struct exec_start *s, int timeout_ms,
		      uint32_t *pid);

/*
 * Relay until EXIT: input to the program (with back-pressure), its output to out_fd and
 * err_fd, signals and resizes. The exit status (0-255), or -errno with why.
 */
int exec_client_relay(struct exec_client *c);

/* "UID" or "UID:GID" (numbers; GID defaults to UID): 0, or -1 when malformed. */
int exec_parse_user(const char *s, uint32_t *uid, uint32_t *gid);
/*
 * The signals an exec client passes on to its program (INT, TERM, HUP, QUIT, USR1, USR2;
 * with a terminal also WINCH, which becomes a RESIZE).
 */
void exec_forwarded_signals(sigset_t *set, bool tty);

/* TOP: the guest's processes (malloc'ed array) within timeout_ms. Count or -errno (why). */
int exec_client_top(int sock, int timeout_ms, struct exec_top_row **rows, char *why,
		    size_t whylen);

#endif
