/* SPDX-License-Identifier: MIT */
/*
 * The exec protocol (docs/exec.md): `arrow exec` and `arrow top` talk to ainit's exec
 * service over one byte stream (a vsock connection to guest port EXECPROTO_PORT).
 *
 * Every frame is an 8-byte header, all little-endian:
 *     u32 len     payload bytes that follow (bounded per type, see execproto_max_len)
 *     u16 type    enum execproto_type; each side accepts only the other side's types
 *     u16 flags   0
 * then len bytes of payload.
 *
 * A connection carries one request: START (then the session's frames) or TOP.
 *   host -> guest: START, STDIN*, STDIN_EOF, RESIZE*, SIGNAL*
 *   guest -> host: STARTED or ERROR; then STDOUT*, STDERR*; then EXIT
 *   host -> guest: TOP;  guest -> host: TOP_ROW*, TOP_END (or ERROR)
 */
#ifndef ARROW_EXECPROTO_H
#define ARROW_EXECPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXECPROTO_PORT 52u     /* the guest's AF_VSOCK port */
#define EXECPROTO_VERSION 1u
#define EXECPROTO_HDR_LEN 8u

/* Bounds: every length is checked against these before anything is allocated. */
#define EXECPROTO_DATA_MAX 65536u   /* STDIN, STDOUT, STDERR payloads */
#define EXECPROTO_START_MAX 131072u /* a START payload: argv, env and working directory */
#define EXECPROTO_MAX_ARGS 4096u    /* argv entries */
#define EXECPROTO_MAX_ENV 4096u     /* env entries */
#define EXECPROTO_PATH_MAX 4096u    /* the working directory, with its NUL */
#define EXECPROTO_MSG_MAX 512u      /* an ERROR's message */
#define EXECPROTO_CMD_MAX 1024u     /* a TOP_ROW's command line */
#define EXECPROTO_FRAME_MAX EXECPROTO_START_MAX /* the largest payload of any type */

enum execproto_type {
	/* host -> guest */
	EXEC_START = 1,     /* struct exec_start, encoded by execproto_start_encode */
	EXEC_STDIN = 2,     /* bytes for the program's standard input */
	EXEC_STDIN_EOF = 3, /* empty: end of standard input */
	EXEC_RESIZE = 4,    /* u16 rows, u16 cols: the terminal's new size */
	EXEC_SIGNAL = 5,    /* u32 signal number for the program */
	EXEC_TOP = 6,       /* empty: list the guest's processes */
	/* guest -> host */
	EXEC_STARTED = 0x81, /* u32 the program's pid in the guest */
	EXEC_ERROR = 0x82,   /* u32 exit status (125, 126, 127), then a message (no NUL) */
	EXEC_STDOUT = 0x83,  /* bytes the program wrote to standard output (or its terminal) */
	EXEC_STDERR = 0x84,  /* bytes the program wrote to standard error */
	EXEC_EXIT = 0x85,    /* u32 status as docker reports it: exit code, or 128 + signal */
	EXEC_TOP_ROW = 0x86, /* u32 pid, ppid, uid, reserved; u64 cpu ms; command line */
	EXEC_TOP_END = 0x87, /* empty: the list is complete */
};

/* Who sent a frame: a reader accepts only the other side's types. */
enum execproto_side { EXECPROTO_FROM_HOST, EXECPROTO_FROM_GUEST };

/* START flags */
#define EXEC_F_TTY 0x1    /* a pseudo-terminal for stdin, stdout and stderr */
#define EXEC_F_DETACH 0x2 /* report STARTED and let it run on, stdio on /dev/null */
#define EXEC_F_STDIN 0x4  /* the host forwards standard input (else /dev/null) */
#define EXEC_F_USER 0x8   /* uid and gid are given (else the app's) */
#define EXEC_F_ALL (EXEC_F_TTY | EXEC_F_DETACH | EXEC_F_STDIN | EXEC_F_USER)

struct exec_start {
	uint16_t flags;
	uint16_t rows, cols; /* with EXEC_F_TTY: the terminal's size (0: unknown) */
	uint32_t uid, gid;   /* with EXEC_F_USER */
	uint32_t argc, envc;
	char **argv;         /* argc entries then NULL; argv[0] is the program */
	char **env;          /* envc "KEY=VALUE" entries then NULL; added to the app's */
	const char *workdir; /* absolute, or "" for the app's */
};

struct exec_top_row {
	uint32_t pid, ppid, uid;
	uint64_t cpu_ms;
	char cmd[EXECPROTO_CMD_MAX + 1];
};

/* The largest payload a frame of this type may carry from this side; -1: not its type. */
long execproto_max_len(enum execproto_side from, uint16_t type);
/* Whether this type's payload has exactly execproto_max_len bytes. */
bool execproto_fixed_len(uint16_t type);

void execproto_hdr_put(uint8_t hdr[EXECPROTO_HDR_LEN], uint16_t type, uint32_t len);
/* Check a header from that side: 0, -EPROTO (type or flags) or -EMSGSIZE (length). */
int execproto_hdr_parse(const uint8_t hdr[EXECPROTO_HDR_LEN], enum execproto_side from,
			uint16_t *type, uint32_t *len);

/* START payload; *out is malloc'ed. 0, -EINVAL (bad content) or -E2BIG (over the bounds). */
int execproto_start_encode(const struct exec_start *s, uint8_t **out, size_t *len);
/*
 * Check and decode a START payload: every string NUL-terminated inside it, counts and
 * sizes within the bounds, argv[0] non-empty, env entries KEY=VALUE, workdir "" or
 * absolute, no unknown flag, nothing left over. argv, env and workdir point into
 * payload, which must outlive s. 0, -EPROTO or -ENOMEM; execproto_start_free after 0.
 */
int execproto_start_decode(const uint8_t *payload, size_t len, struct exec_start *s);
void execproto_start_free(struct exec_start *s);

/* TOP_ROW payload into buf (at least 24 + EXECPROTO_CMD_MAX bytes): its length. */
size_t execproto_top_row_encode(const struct exec_top_row *r, uint8_t *buf);
/* 0 or -EPROTO (too short; the command line is cut at NUL and made printable). */
int execproto_top_row_decode(const uint8_t *payload, size_t len, struct exec_top_row *r);

/* One frame arriving over a stream, read piece by piece. */
struct execproto_reader {
	enum execproto_side from;
	uint8_t hdr[EXECPROTO_HDR_LEN];
	size_t have;      /* bytes of header + payload so far */
	uint16_t type;
	uint32_t len;
	uint8_t *payload; /* EXECPROTO_FRAME_MAX bytes */
};

int execproto_reader_init(struct execproto_reader *r, enum execproto_side from);
void execproto_reader_free(struct execproto_reader *r);
#define EXECPROTO_EOF 2 /* the peer closed between frames */
/*
 * One read(2) from fd (blocking or not). 1: a frame is complete (r->type, r->len,
 * r->payload; the next call starts the next frame); 0: not yet (EAGAIN, EINTR or a part
 * came); EXECPROTO_EOF; -EPROTO/-EMSGSIZE for a bad header, -ECONNRESET for an end
 * inside a frame, or another -errno.
 */
int execproto_read(struct execproto_reader *r, int fd);

/* Write one whole frame (blocking; EINTR retried; no SIGPIPE on sockets). 0 or -errno. */
int execproto_write(int fd, uint16_t type, const void *payload, uint32_t len);
int execproto_write_u32(int fd, uint16_t type, uint32_t value);

static inline uint32_t execproto_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint16_t execproto_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline void execproto_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void execproto_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

#endif
