/* SPDX-License-Identifier: MIT */
/*
 * arrowh's side of an Arrow's state directory (docs/lifecycle.md): it holds
 * DIR/arrowh.lock locked for its whole life (so `arrow ps` can tell a live
 * Arrow from a dead one without trusting pids), and writes DIR/state.json
 * (tmp-then-rename) when the Arrow starts and when it ends.
 */
#ifndef ARROW_VMM_STATEFILE_H
#define ARROW_VMM_STATEFILE_H

#include <stdint.h>

struct statefile {
	const char *dir;
	int lock_fd;
	uint64_t started_ns; /* CLOCK_REALTIME */
};

/* Take the liveness lock. 0 or -errno (-EBUSY: another arrowh runs this Arrow). */
int statefile_claim(struct statefile *sf, const char *dir);
/* vmm_pid: the jailed VMM's pid (docs/security.md), 0 when arrowh is one process */
int statefile_running(struct statefile *sf, int vmm_pid);
int statefile_exited(struct statefile *sf, int exit_code);
/* --rm: delete the whole directory. */
void statefile_remove(struct statefile *sf);

#endif
