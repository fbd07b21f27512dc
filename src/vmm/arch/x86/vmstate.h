/* SPDX-License-Identifier: MIT */
/*
 * The x86 state KVM keeps for a VM and its vCPUs, saved into and restored from a
 * snapshot: irqchip (PICs, IOAPIC), PIT, kvmclock, and per vCPU the registers,
 * special registers, XSAVE area, XCRs, MSRs, LAPIC, MP state, pending events
 * and debug registers. Restore order follows what KVM needs: the TSC-deadline
 * MSR only after the LAPIC that interprets it, the clock last.
 */
#ifndef ARROW_X86_VMSTATE_H
#define ARROW_X86_VMSTATE_H

#include "../../snap/format.h"
#include "../../vm.h"

/* The host's CPU identity and TSC rate, for snap_meta. */
void x86_host_signature(struct vm *vm, struct snap_meta *m);
/* Can this host run a snapshot made on the host described by m? NULL: yes; else why not. */
const char *x86_host_compatible(struct vm *vm, const struct snap_meta *m);

/* The VM must be paused (vm_pause) or not yet started. 0 or -errno. */
int x86_save_state(struct vm *vm, struct snap_writer *w);
/* Before the vCPUs start, with CPUID already set. 0, or -errno with a reason in why. */
int x86_restore_state(struct vm *vm, const struct snap_image *img, const char **why);

#endif
