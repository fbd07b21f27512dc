// SPDX-License-Identifier: MIT
#include "boot.h"

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Offsets into struct boot_params (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_BOOT_FLAG 0x1fe
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_KERNEL_ALIGNMENT 0x230
#define BP_CMDLINE_SIZE 0x238
#define BP_E820_TABLE 0x2d0
#define BP_SIZE 0x1000

#define LOADED_HIGH 0x01
#define KERNEL_MAP_BASE 0xffffffff80000000ull
#define HDRS_MAGIC 0x53726448

static int read_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/*
 * Put a segment's file bytes at dst. The whole pages whose file offset and host
 * address agree modulo the page size are mapped from the file copy-on-write
 * (MAP_PRIVATE) instead of read: every Arrow that boots this kernel file shares
 * them through the page cache until its guest writes one, which then becomes a
 * private copy. Partial pages at either end are read. Returns the number of
 * bytes mapped, or -errno.
 */
static int64_t segment_place(uint8_t *dst, int fd, uint64_t off, uint64_t len)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t head = (pg - off % pg) % pg, mid = 0;
	int ret;

	if ((uintptr_t)dst % pg == off % pg && len >= head + pg)
		mid = (len - head) / pg * pg;
	if (!mid)
		return read_full(fd, dst, len, (off_t)off);
	ret = read_full(fd, dst, head, (off_t)off);
	if (ret)
		return ret;
	if (mmap(dst + head, mid, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
		 (off_t)(off + head)) == MAP_FAILED) {
		/*
		 * A file system without mmap: put anonymous memory back (a failed
		 * MAP_FIXED may have unmapped the range) and copy, as without sharing.
		 */
		if (mmap(dst + head, mid, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
			return -errno;
		mid = 0;
	}
	/* The same advice as the rest of guest RAM (gm_init). */
	madvise(dst + head, len - head, MADV_DONTDUMP);
	madvise(dst + head, len - head, MADV_DONTFORK);
	ret = read_full(fd, dst + head + mid, len - head - mid, (off_t)(off + head + mid));
	return ret ? ret : (int64_t)mid;
}

int vmlinux_load(const struct guest_mem *gm, int fd, struct vmlinux_info *info, const char **why)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t end = 0;
	unsigned int loaded = 0, in_kernel_map = 0;
	int64_t mapped;

	*why = NULL;
	info->shared_bytes = 0;
	info->nr_shared = 0;
	if (read_full(fd, &eh, sizeof(eh), 0)) {
		*why = "too short for an ELF header";
		return -ENOEXEC;
	}
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_EXEC) {
		*why = "not an x86-64 vmlinux ELF executable (a bzImage needs extracting first)";
		return -ENOEXEC;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64) {
		*why = "bad program header table";
		return -ENOEXEC;
	}
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		uint8_t *dst;

		if (read_full(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph)))) {
			*why = "truncated program header table";
			return -ENOEXEC;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_paddr < BOOT_HIGH_MEM ||
		    ph.p_offset > INT64_MAX - ph.p_filesz) {
			*why = "segment with bad sizes or below 1 MiB";
			return -ENOEXEC;
		}
		dst = gm_ptr(gm, ph.p_paddr, ph.p_memsz);
		if (!dst) {
			*why = "kernel does not fit in guest memory (raise --memory)";
			return -ENOMEM;
		}
		mapped = segment_place(dst, fd, ph.p_offset, ph.p_filesz);
		if (mapped == -EIO) {
			*why = "truncated segment";
			return -ENOEXEC;
		}
		if (mapped < 0) {
			*why = "cannot map or read a segment";
			return (int)mapped;
		}
		info->shared_bytes += (uint64_t)mapped;
		if (mapped && info->nr_shared < sizeof(info->shared) / sizeof(info->shared[0])) {
			uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);

			/* segment_place maps from the first whole page of the file */
			info->shared[info->nr_shared].gpa = ph.p_paddr + (pg - ph.p_offset % pg) % pg;
			info->shared[info->nr_shared++].len = (uint64_t)mapped;
		}
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr + ph.p_memsz > end)
			end = ph.p_paddr + ph.p_memsz;
		if (ph.p_vaddr >= KERNEL_MAP_BASE)
			in_kernel_map++;
		loaded++;
	}
	if (!loaded) {
		*why = "no loadable segments";
		return -ENOEXEC;
	}
	/* An ordinary program is an ELF executable too: a kernel is linked at the kernel map. */
	if (!in_kernel_map) {
		*why = "not a Linux kernel (no segment linked at the x86-64 kernel map)";
		return -ENOEXEC;
	}
	if (!gm_ptr(gm, eh.e_entry, 1)) {
		*why = "entry point outside the loaded image";
		return -ENOEXEC;
	}
	info->entry = eh.e_entry;
	info->kernel_end = end;
	return 0;
}

unsigned int boot_e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned int max)
{
	unsigned int n = 0;
	uint64_t low_end = gm_low_end(gm);

	if (max < 4)
		return 0;
	out[n++] = (struct e820_entry){ 0, BOOT_MPTABLE_GPA, E820_RAM };
	out[n++] = (struct e820_entry){ BOOT_MPTABLE_GPA, BOOT_EBDA_END - BOOT_MPTABLE_GPA,
					E820_RESERVED };
	if (low_end > BOOT_HIGH_MEM)
		out[n++] = (struct e820_entry){ BOOT_HIGH_MEM, low_end - BOOT_HIGH_MEM, E820_RAM };
	if (gm->nr_regions > 1)
		out[n++] = (struct e820_entry){ gm->regions[1].gpa, gm->regions[1].size, E820_RAM };
	return n;
}

static void put16(uint8_t *p, unsigned int off, uint16_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void put32(uint8_t *p, unsigned int off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

int boot_params_write(const struct guest_mem *gm, const char *cmdline, uint64_t initrd_gpa,
		      uint64_t initrd_size)
{
	uint8_t *bp = gm_ptr(gm, BOOT_ZERO_PAGE_GPA, BP_SIZE);
	size_t clen = strlen(cmdline);
	struct e820_entry map[E820_MAX];
	unsigned int n;

	if (!bp || clen >= BOOT_CMDLINE_MAX)
		return -EINVAL;
	if (gm_write(gm, BOOT_CMDLINE_GPA, cmdline, clen + 1))
		return -EFAULT;

	memset(bp, 0, BP_SIZE);
	put16(bp, BP_BOOT_FLAG, 0xaa55);
	put32(bp, BP_HEADER, HDRS_MAGIC);
	put16(bp, BP_VERSION, 0x020f);
	bp[BP_TYPE_OF_LOADER] = 0xff; /* undefined boot loader */
	bp[BP_LOADFLAGS] = LOADED_HIGH;
	put32(bp, BP_CMD_LINE_PTR, BOOT_CMDLINE_GPA);
	put32(bp, BP_CMDLINE_SIZE, BOOT_CMDLINE_MAX - 1);
	put32(bp, BP_KERNEL_ALIGNMENT, 0x1000000);
	put32(bp, BP_INITRD_ADDR_MAX, 0x7fffffff);
	put32(bp, BP_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
	put32(bp, BP_RAMDISK_SIZE, (uint32_t)initrd_size);
	put32(bp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_gpa >> 32));
	put32(bp, BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_size >> 32));

	n = boot_e820_build(gm, map, E820_MAX);
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	memcpy(bp + BP_E820_TABLE, map, n * sizeof(map[0]));
	return 0;
}

int boot_page_tables_write(const struct guest_mem *gm)
{
	uint64_t *pml4 = gm_ptr(gm, BOOT_PML4_GPA, 4096);
	uint64_t *pdpt = gm_ptr(gm, BOOT_PDPT_GPA, 4096);
	uint64_t *pd = gm_ptr(gm, BOOT_PD_GPA, 4096);

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT_GPA | 0x3; /* present, writable */
	pdpt[0] = BOOT_PD_GPA | 0x3;
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
	return 0;
}

uint64_t boot_gdt_entry(unsigned int index)
{
	switch (index) {
	case 2: /* code: present, DPL 0, execute/read, long mode, 4 KiB granularity */
		return 0x00af9b000000ffffull;
	case 3: /* data: present, DPL 0, read/write, 4 KiB granularity */
		return 0x00cf93000000ffffull;
	default:
		return 0;
	}
}

int boot_gdt_write(const struct guest_mem *gm)
{
	uint64_t gdt[4];

	for (unsigned int i = 0; i < 4; i++)
		gdt[i] = boot_gdt_entry(i);
	return gm_write(gm, BOOT_GDT_GPA, gdt, sizeof(gdt));
}

int boot_initrd_place(const struct guest_mem *gm, uint64_t kernel_end, uint64_t size,
		      uint64_t *gpa)
{
	uint64_t top = gm_low_end(gm);
	uint64_t at;

	if (size > top)
		return -ENOMEM;
	at = (top - size) & ~0xfffull;
	if (at < kernel_end)
		return -ENOMEM;
	*gpa = at;
	return 0;
}
