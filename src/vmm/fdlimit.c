// SPDX-License-Identifier: MIT
/* arrowh's descriptor budget: see fdlimit.h. */
#include "fdlimit.h"

#include <sys/resource.h>

#include "p9/server.h"
#include "virtio/vsock.h"

#define FIDS_MIN 64 /* a tiny limit: a few fids per volume, the reserve stays */

unsigned int fdlimit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { rl.rlim_max < NOFILE_CEILING ? rl.rlim_max : NOFILE_CEILING,
				       rl.rlim_max };

		if (want.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl.rlim_cur = want.rlim_cur;
	}
	return rl.rlim_cur < NOFILE_CEILING ? (unsigned int)rl.rlim_cur : NOFILE_CEILING;
}

struct fdlimit_plan fdlimit_plan(unsigned int limit, unsigned int nr_volumes, bool vsock)
{
	struct fdlimit_plan p = { 0, 0 };
	unsigned int reserve = HOST_FDS_RESERVED +
			       (vsock ? VSOCK_MAX_CONNS + VSOCK_FD_HEADROOM : 0);
	unsigned int used = HOST_FDS_RESERVED + VSOCK_FD_HEADROOM;

	if (nr_volumes) {
		if (limit <= 2 * reserve)
			p.fids_per_volume = FIDS_MIN;
		else
			p.fids_per_volume = (limit - reserve) / (2 * nr_volumes);
		if (p.fids_per_volume > P9_MAX_FIDS)
			p.fids_per_volume = P9_MAX_FIDS;
		used += 2 * nr_volumes * p.fids_per_volume;
	}
	/* what is left after arrowh's reserve, the headroom and the volumes, up to the cap */
	if (vsock && limit > used)
		p.vsock_fds = limit - used < VSOCK_MAX_CONNS ? limit - used : VSOCK_MAX_CONNS;
	return p;
}
