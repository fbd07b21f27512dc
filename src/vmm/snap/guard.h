/* SPDX-License-Identifier: MIT */
/*
 * A clone's watch over its snapshot's memory file (docs/snapshots.md, "The memory file
 * under running clones"). The clone maps the file MAP_PRIVATE; should the file shrink under
 * it (root cleared the immutable flag, or a file system without one), every page it has not
 * written yet is gone: the guest's next touch makes KVM_RUN fail with EFAULT, and arrowh's
 * own touch (a device reading guest memory) raises SIGBUS. Either way arrowh ends with
 * status 125 and one line naming the file, never with a signal.
 */
#ifndef ARROW_SNAP_GUARD_H
#define ARROW_SNAP_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#define SNAP_GUARD_STATUS 125

/*
 * Watch path (open as fd, size bytes, mapped by this clone): keep a descriptor of it and
 * its size and modification time, and install the SIGBUS handler. Before any thread
 * starts. 0 or -errno.
 */
int snap_guard_arm(const char *path, int fd, uint64_t size) __attribute__((warn_unused_result));
/* Has the watched file changed (size or modification time) since it was armed? */
bool snap_guard_changed(void);
/*
 * KVM_RUN failed with err on a vCPU thread: when it is EFAULT and the watched file changed,
 * say so (once per process) and return true; the caller stops the VM as on any KVM error
 * (status 125). errno is left as it was.
 */
bool snap_guard_kvm_failed(int err);
/* Forget the file and restore SIGBUS's default action (unit tests). */
void snap_guard_disarm(void);

#endif
