/* SPDX-License-Identifier: MIT */
/* Can this host's /dev/kvm boot a standard Linux guest? */
#ifndef ARROW_KVMPROBE_H
#define ARROW_KVMPROBE_H

/*
 * NULL when /dev/kvm looks usable, else a one-line reason: no device, or
 * kvm-pvm (a paravirtual KVM that only runs PVM-enabled guest kernels; its
 * KVM_CREATE_VM succeeds, so the module is what gives it away).
 */
const char *kvm_unusable_reason(void);

#endif
