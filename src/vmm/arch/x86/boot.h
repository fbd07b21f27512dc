/* SPDX-License-Identifier: MIT */
/*
 * Direct boot of an uncompressed vmlinux through the 64-bit Linux boot
 * protocol (Documentation/arch/x86/boot.rst): the ELF's PT_LOAD segments go to
 * their physical addresses, a zero page describes memory (e820), the command
 * line and the initramfs, and the vCPU starts in long mode at the ELF entry
 * with %rsi pointing at the zero page. No firmware, no decompressor.
 */
#ifndef ARROW_X86_BOOT_H
#define ARROW_X86_BOOT_H

#include <stdint.h>

#include "../../guest_mem.h"

/* Fixed guest-physical layout of the boot structures (all below 1 MiB). */
#define BOOT_GDT_GPA 0x500
#define BOOT_ZERO_PAGE_GPA 0x7000
#define BOOT_STACK_GPA 0x8ff0
#define BOOT_PML4_GPA 0x9000
#define BOOT_PDPT_GPA 0xa000
#define BOOT_PD_GPA 0xb000
#define BOOT_CMDLINE_GPA 0x20000
#define BOOT_CMDLINE_MAX 4096
#define BOOT_MPTABLE_GPA 0x9fc00
#define BOOT_EBDA_END 0xa0000
#define BOOT_HIGH_MEM 0x100000

#define BOOT_CS_SELECTOR 0x10
#define BOOT_DS_SELECTOR 0x18

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_MAX 128

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct vmlinux_info {
	uint64_t entry;      /* physical entry point */
	uint64_t kernel_end; /* first byte after the highest loaded segment */
	uint64_t shared_bytes; /* mapped copy-on-write from the file, not copied */
	/* where those bytes are in guest memory (vm_prefault maps them before the first run) */
	struct {
		uint64_t gpa, len;
	} shared[8];
	unsigned int nr_shared;
};

/*
 * Load the PT_LOAD segments of the vmlinux ELF image in fd. Every segment
 * must lie in guest RAM above 1 MiB. Whole pages are mapped from the file
 * copy-on-write where the layout allows (shared between every guest booting
 * the same file; the file must be replaced by rename, never rewritten in
 * place, while guests run). Returns 0 or a negative errno; *why names what is
 * wrong with the file.
 */
int vmlinux_load(const struct guest_mem *gm, int fd, struct vmlinux_info *info,
		 const char **why) __attribute__((warn_unused_result));

/* The e820 map for gm: returns the number of entries written to out. */
unsigned int boot_e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned int max);

/* Write the zero page, command line and e820 map. */
int boot_params_write(const struct guest_mem *gm, const char *cmdline, uint64_t initrd_gpa,
		      uint64_t initrd_size) __attribute__((warn_unused_result));

/* Identity-map the first 1 GiB with 2 MiB pages and write the boot GDT. */
int boot_page_tables_write(const struct guest_mem *gm) __attribute__((warn_unused_result));
int boot_gdt_write(const struct guest_mem *gm) __attribute__((warn_unused_result));
/* Flat 64-bit segment descriptor value of GDT entry index (0 null, 2 code, 3 data). */
uint64_t boot_gdt_entry(unsigned int index);

/*
 * Where the initramfs goes: the top of low RAM, page-aligned, above the
 * kernel. Returns 0 and the address, or -ENOMEM if it does not fit.
 */
int boot_initrd_place(const struct guest_mem *gm, uint64_t kernel_end, uint64_t size,
		      uint64_t *gpa);

#endif
