// SPDX-License-Identifier: MIT
/*
 * The host/guest control stream and the stream records (src/common/protocol.h,
 * streamrec.h) and everything that parses them from an untrusted side:
 *   mode 0: arrowh's control channel (src/vmm/control.c): the guest's byte stream fed
 *           in chunks of any size (chosen by the input), records reassembled and checked;
 *   mode 1: `arrow attach`'s relay of stream records from arrowh (src/cli/attachc.c),
 *           read from a pipe;
 *   mode 2: `arrow logs` over a log file of stream records (src/cli/logprint.c): whole,
 *           and from the cut `--tail N` computes, with and without timestamps.
 * attachc.c and logprint.c are compiled in here (their parsers are static).
 */
#include <errno.h>

#include "fuzz.h"
#include "vmm/control.h"

#define write_all attachc_write_all /* both files have a static one */
#include "../../src/cli/attachc.c"
#undef write_all
#include "../../src/cli/logprint.c"

static unsigned int handled;

static void handler(void *opaque, const struct arrow_ctl_msg *m)
{
	(void)opaque;
	if (m->magic != ARROW_CTL_MAGIC)
		abort();
	handled++;
}

static void guest_control(struct fz *f)
{
	struct ctl_stream s;
	struct iovec iov[8];
	uint8_t split = (uint8_t)fz_int(f, 1);
	unsigned int seen = 0;

	ctl_stream_init(&s, handler, NULL);
	handled = 0;
	while (fz_left(f)) {
		unsigned int n = 0;

		/* one virtqueue chain of up to 8 segments */
		while (n < 8 && fz_left(f)) {
			size_t got;
			const uint8_t *b = fz_bytes(f, 1 + (split + 7 * n) % 53, &got);

			iov[n++] = (struct iovec){ (void *)b, got };
		}
		seen += ctl_stream_feed(&s, iov, n);
		split = (uint8_t)(split * 5 + 3);
	}
	if (seen != handled)
		abort();
}

static void attach_relay(struct fz *f, int devnull)
{
	int p[2];
	size_t got;
	const uint8_t *b = fz_bytes(f, fz_left(f), &got);

	if (pipe2(p, O_CLOEXEC))
		abort();
	if (fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < (int)got || write(p[1], b, got) != (ssize_t)got)
		abort();
	close(p[1]);
	pending_len = 0; /* one connection per input */
	(void)attach_relay_output(p[0], devnull, devnull);
	close(p[0]);
}

static void logs(struct fz *f)
{
	uint8_t opts = (uint8_t)fz_int(f, 1);
	struct out_state o = { .timestamps = opts & 1, .at_line_start = { true, true, true } };
	struct buf b = { 0 };
	size_t got, pos = 0, cut;
	const uint8_t *p = fz_bytes(f, fz_left(f), &got);

	/* the buffer exactly as long as the file: ASan sees any read past it */
	b.p = malloc(got ? got : 1);
	if (!b.p)
		abort();
	memcpy(b.p, p, got);
	b.len = b.cap = got;
	if ((opts & 2) && tail_start(b.p, b.len, 1 + (opts >> 2), &cut))
		print_from_cut(&o, &b, cut, &pos);
	else
		print_records(&o, &b, &pos);
	if (pos > b.len)
		abort();
	free(b.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	int devnull;

	/* libFuzzer's -close_fd_mask closes 1 and 2; arrow logs writes there (and exits on error) */
	for (int fd = 1; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_WRONLY) != fd)
			abort();
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	switch (fz_int(&f, 1) % 3) {
	case 0:
		guest_control(&f);
		break;
	case 1:
		attach_relay(&f, devnull);
		break;
	default:
		logs(&f);
		break;
	}
	close(devnull);
	return 0;
}
