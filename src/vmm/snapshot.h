/* SPDX-License-Identifier: MIT */
/* Snapshot and restore of a whole Arrow (docs/snapshots.md). */
#ifndef ARROW_VMM_SNAPSHOT_H
#define ARROW_VMM_SNAPSHOT_H

#include "snap/format.h"

struct session;

/*
 * Pause the VM and write DIR/memory and DIR/state (the state file last). The VM
 * stays paused: vm_resume() it, or stop it. From the main thread only. 0 or -errno.
 */
int session_snapshot(struct session *s, int dir_fd);

/* --restore: read and check the state file, open the memory file (size checked). */
int session_restore_memory(struct session *s, struct snap_image *img, int *mem_fd);
/* After the devices exist and before the vCPUs run: CPUID, vCPU, irqchip and device state. */
int session_restore_state(struct session *s, const struct snap_image *img);
/* Queue the clone's identity (--identity records, a fresh RNG seed, the time) for ainit. */
int session_send_identity(struct session *s);

#endif
