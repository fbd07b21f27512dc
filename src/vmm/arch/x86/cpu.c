// SPDX-License-Identifier: MIT
#include "cpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot.h"

#define CPUID_MAX_ENTRIES 256

struct kvm_cpuid2 *cpuid_supported(int kvm_fd)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));

	if (!c)
		return NULL;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		free(c);
		return NULL;
	}
	/*
	 * KVM emulates the TSC-deadline LAPIC timer but leaves announcing it to us. With it
	 * the guest skips calibrating its LAPIC timer against the PIT (about 100 ms of
	 * boot) and never programs the PIT at run time.
	 */
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
		for (unsigned int i = 0; i < c->nent; i++)
			if (c->entries[i].function == 1)
				c->entries[i].ecx |= 1u << 24;
	return c;
}

void cpuid_patch(struct kvm_cpuid2 *c, unsigned int id, unsigned int nr)
{
	for (unsigned int i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* APIC id, logical processor count; we are a hypervisor guest. */
			e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | ((nr & 0xff) << 16);
			e->ecx |= 1u << 31;
			if (nr > 1)
				e->edx |= 1u << 28; /* HTT: the count above is valid */
			break;
		case 0xb:
		case 0x1f:
			/* x2APIC id for every topology level. */
			e->edx = id;
			break;
		case 0xa:
			/* No architectural PMU: the guest must not program counters. */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		default:
			break;
		}
	}
}

int cpu_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned int id,
		  unsigned int nr)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, supported, size);
	cpuid_patch(c, id, nr);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		ret = -errno;
	free(c);
	return ret;
}

static struct kvm_segment flat_segment(unsigned int index, uint8_t type)
{
	uint64_t d = boot_gdt_entry(index);

	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = (uint16_t)(index * 8),
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = (d >> 54) & 1,
		.s = 1,
		.l = (d >> 53) & 1,
		.g = 1,
	};
}

int cpu_setup_boot_regs(int vcpu_fd, uint64_t entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_segment code = flat_segment(2, 0xb), data = flat_segment(3, 0x3);

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.gdt.base = BOOT_GDT_GPA;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr3 = BOOT_PML4_GPA;
	sregs.cr4 = 1u << 5;                             /* PAE */
	sregs.cr0 = (1u << 0) | (1u << 4) | (1u << 31); /* PE, ET, PG */
	sregs.efer = (1u << 8) | (1u << 10);             /* LME, LMA */
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	regs.rip = entry;
	regs.rsp = BOOT_STACK_GPA;
	regs.rbp = BOOT_STACK_GPA;
	regs.rsi = BOOT_ZERO_PAGE_GPA;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static void lvt_set_mode(struct kvm_lapic_state *l, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, l->regs + reg, 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(l->regs + reg, &v, 4);
}

int cpu_setup_fpu_lapic(int vcpu_fd)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	lvt_set_mode(&lapic, APIC_LVT0, APIC_MODE_EXTINT);
	lvt_set_mode(&lapic, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}
