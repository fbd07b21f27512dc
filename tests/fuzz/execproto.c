// SPDX-License-Identifier: MIT
/*
 * The exec protocol (src/common/execproto.c, docs/exec.md) and `arrow exec`'s client
 * (src/lib/exec/execclient.c) against hostile bytes. Input: one selector byte, then
 *   0: a START payload for ainit's decoder; one that decodes is encoded again and must
 *      decode to the same request;
 *   1: a TOP_ROW payload;
 *   otherwise: everything a guest sends after the request, fed to the client (start, then
 *      relay or a top listing), which must end with a status or an error, never a crash,
 *      a hang or an unbounded allocation.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "common/execproto.h"
#include "lib/exec/execclient.h"

static void start_round_trip(const uint8_t *data, size_t size)
{
	struct exec_start s, again;
	uint8_t *buf;
	size_t len;

	if (execproto_start_decode(data, size, &s))
		return;
	if (execproto_start_encode(&s, &buf, &len) || len != size || memcmp(buf, data, size) ||
	    execproto_start_decode(buf, len, &again) || again.argc != s.argc ||
	    again.envc != s.envc || strcmp(again.workdir, s.workdir))
		abort();
	execproto_start_free(&again);
	execproto_start_free(&s);
	free(buf);
}

/* The guest's bytes are in the socket already; its end is closed. */
static void client(int sock, bool top, const uint8_t *data, size_t size)
{
	static char *argv[] = { "true", NULL };
	struct exec_start s = { .argc = 1, .argv = argv, .workdir = "" };
	struct exec_client c = { .sock = sock, .in_fd = -1, .out_fd = -1, .err_fd = -1,
				 .sig_fd = -1, .tty_fd = -1 };
	struct exec_top_row *rows;
	uint32_t pid;
	int r;

	(void)data;
	(void)size;
	if (top) {
		r = exec_client_top(sock, 1000, &rows, c.why, sizeof(c.why));
		if (r >= 0)
			free(rows);
		return;
	}
	r = exec_client_start(&c, &s, 1000, &pid);
	if (r == 0) {
		r = exec_client_relay(&c);
		if (r > 255)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct exec_top_row row;
	int sv[2], sz = 1 << 20;

	if (size < 1)
		return 0;
	if (data[0] == 0) {
		start_round_trip(data + 1, size - 1);
		return 0;
	}
	if (data[0] == 1) {
		if (execproto_top_row_decode(data + 1, size - 1, &row) == 0 && strlen(row.cmd) > 1024)
			abort();
		return 0;
	}
	if (size > 200000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (send(sv[1], data + 1, size - 1, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)(size - 1)) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	client(sv[0], data[0] == 2, data + 1, size - 1);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
