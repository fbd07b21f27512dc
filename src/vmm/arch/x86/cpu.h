/* SPDX-License-Identifier: MIT */
/* Per-vCPU x86 state at boot: CPUID, long-mode registers, FPU, local APIC. */
#ifndef ARROW_X86_CPU_H
#define ARROW_X86_CPU_H

#include <linux/kvm.h>
#include <stdint.h>

/* KVM_GET_SUPPORTED_CPUID once per VM; the result is patched per vCPU. */
struct kvm_cpuid2 *cpuid_supported(int kvm_fd);
/* Adjust a copy of the supported table for vCPU id of nr (APIC ids, topology). */
void cpuid_patch(struct kvm_cpuid2 *c, unsigned int id, unsigned int nr);
int cpu_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned int id,
		  unsigned int nr) __attribute__((warn_unused_result));

/* Boot processor: long mode, flat segments, paging on, rip = entry, rsi = zero page. */
int cpu_setup_boot_regs(int vcpu_fd, uint64_t entry) __attribute__((warn_unused_result));
/* FPU defaults and LAPIC LINT0=ExtINT, LINT1=NMI (every vCPU). */
int cpu_setup_fpu_lapic(int vcpu_fd) __attribute__((warn_unused_result));

#endif
