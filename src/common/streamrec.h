/* SPDX-License-Identifier: MIT */
/*
 * Framed stream records: the format of an Arrow's log file and of the data on
 * its attach socket. Every record is a 16-byte header and len bytes of data,
 * exactly as the app wrote them (byte-exact, no line splitting).
 */
#ifndef ARROW_STREAMREC_H
#define ARROW_STREAMREC_H

#include <stdint.h>

#define STREAMREC_MAGIC 0xa7
#define STREAMREC_MAX_LEN (1u << 20)

enum streamrec_stream {
	STREAM_STDIN = 0,  /* client -> arrowh on the attach socket; len 0 = end of input */
	STREAM_STDOUT = 1,
	STREAM_STDERR = 2,
	STREAM_EXIT = 3,   /* arrowh -> attach client: 4-byte exit status, then EOF */
};

struct streamrec_hdr {
	uint8_t magic;
	uint8_t stream;
	uint16_t reserved;
	uint32_t len;
	uint64_t time_ns; /* CLOCK_REALTIME when arrowh received the data */
};

_Static_assert(sizeof(struct streamrec_hdr) == 16, "stream record header is 16 bytes");

/* Requests on an Arrow's control socket (DIR/ctl.sock): one per connection. */
enum hostctl_type {
	HOSTCTL_SIGNAL = 1, /* arg = signal number for the app (SIGKILL: hard stop) */
	HOSTCTL_STOP = 2,   /* stop the VM now (exit status 137) */
	HOSTCTL_ATTACH = 3, /* arg = HOSTCTL_ATTACH_* flags; the connection then carries records */
	HOSTCTL_HOSTS = 4,  /* arg bytes follow: the network's peers for the guest's /etc/hosts */
	HOSTCTL_SNAPSHOT = 5, /* arg bytes follow: a directory's path, and with them (SCM_RIGHTS)
			       * the directory itself, open: snapshot the Arrow into it */
	HOSTCTL_SELFTEST = 6, /* tests only (arrowh --seccomp-selftest): make a forbidden call */
	HOSTCTL_PAUSE = 7,    /* stop the vCPUs until HOSTCTL_RESUME (or the Arrow's end) */
	HOSTCTL_RESUME = 8,   /* run them again */
	HOSTCTL_PAUSED = 9,   /* reply 1 while paused by HOSTCTL_PAUSE, else 0 */
	HOSTCTL_START = 10,   /* --hold: start the app (-EAGAIN before the guest waits for it,
				 -EALREADY after) */
};

#define HOSTCTL_ATTACH_STDIN 1u
#define HOSTCTL_MAGIC 0x41435452u /* "RTCA" */

struct hostctl_req {
	uint32_t magic;
	uint32_t type;
	uint32_t arg;
	uint32_t reserved;
};

/* Reply to SIGNAL, STOP, HOSTS, SNAPSHOT, PAUSE, RESUME: 0 or a negative errno; PAUSED: 1
 * or 0. ATTACH gets none. */
struct hostctl_reply {
	int32_t status;
};

#endif
