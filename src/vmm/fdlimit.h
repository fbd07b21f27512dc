/* SPDX-License-Identifier: MIT */
/*
 * arrowh's descriptor budget (docs/security.md). The soft RLIMIT_NOFILE is raised toward
 * the hard limit at set-up, always; what is beyond arrowh's own reserve is shared among
 * what a guest can make arrowh hold: the volumes' fids (up to two descriptors each) and
 * the vsock connections (one each). A guest that takes all it may still leaves arrowh the
 * descriptors it needs for its control socket, snapshots, attach clients and logs.
 */
#ifndef ARROW_VMM_FDLIMIT_H
#define ARROW_VMM_FDLIMIT_H

#include <stdbool.h>

/* descriptors kept for arrowh's own side: vCPUs, KVM stats, irqfds, the control socket,
 * attach clients, logs, snapshot files */
#define HOST_FDS_RESERVED 256
#define NOFILE_CEILING (1u << 20)

struct fdlimit_plan {
	unsigned int fids_per_volume; /* a volume's fid cap */
	unsigned int vsock_fds;       /* for vsock_set_fd_budget */
};

/* Raise the soft limit to the hard one (at most NOFILE_CEILING); the soft limit after. */
unsigned int fdlimit_raise(void);
/* Share a soft limit of limit descriptors: the vsock device's reserve
 * (VSOCK_MAX_CONNS + VSOCK_FD_HEADROOM) first, then the volumes'. */
struct fdlimit_plan fdlimit_plan(unsigned int limit, unsigned int nr_volumes, bool vsock);

#endif
