/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification 1.4 tables: how a kernel without ACPI
 * learns the CPUs, the I/O APIC and how ISA interrupts reach it.
 */
#ifndef ARROW_X86_MPTABLE_H
#define ARROW_X86_MPTABLE_H

#include "../../guest_mem.h"

#define MPTABLE_MAX_CPUS 32
#define IOAPIC_GPA 0xfec00000u
#define IOAPIC_PINS 24

/* Write the floating pointer and configuration table at gpa (within 1 KiB). */
int mptable_write(const struct guest_mem *gm, uint64_t gpa, unsigned int nr_cpus)
	__attribute__((warn_unused_result));

#endif
