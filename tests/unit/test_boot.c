// SPDX-License-Identifier: MIT
/* Boot structures: ELF loading, zero page, e820, page tables, GDT, MP table. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/arch/x86/boot.h"
#include "vmm/arch/x86/mptable.h"

#define MEM (64u << 20)

static uint8_t *mem;
static struct guest_mem gm;

static int setup(void **state)
{
	(void)state;
	mem = calloc(1, MEM);
	gm_layout(&gm, mem, MEM);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(mem);
	return 0;
}

/* A minimal vmlinux-like ELF (deleted file): one PT_LOAD of body at file offset off. */
static uint64_t vaddr_base = 0xffffffff80000000ull;

static int elf_file(uint64_t paddr, uint64_t off, const uint8_t *body, uint64_t filesz,
		    uint64_t memsz, uint16_t machine)
{
	char path[] = "/tmp/arrow-test-elf.XXXXXX"; /* mkstemp's template */
	int fd = mkstemp(path);
	Elf64_Ehdr eh = { .e_type = ET_EXEC, .e_machine = machine, .e_entry = paddr,
			  .e_phoff = sizeof(eh), .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 1 };
	Elf64_Phdr ph = { .p_type = PT_LOAD, .p_offset = off, .p_paddr = paddr,
			  .p_vaddr = vaddr_base + paddr, .p_filesz = filesz, .p_memsz = memsz };

	assert_true(fd >= 0);
	unlink(path);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	assert_int_equal(pwrite(fd, &eh, sizeof(eh), 0), sizeof(eh));
	assert_int_equal(pwrite(fd, &ph, sizeof(ph), sizeof(eh)), sizeof(ph));
	assert_int_equal(pwrite(fd, body, filesz, (off_t)off), (ssize_t)filesz);
	return fd;
}

/* ... with filesz bytes of 0xab at offset 4096 and bss. */
static int make_elf(uint64_t paddr, uint64_t filesz, uint64_t memsz, uint16_t machine)
{
	uint8_t *body = malloc(filesz);
	int fd;

	memset(body, 0xab, filesz);
	fd = elf_file(paddr, 4096, body, filesz, memsz, machine);
	free(body);
	return fd;
}

static void test_vmlinux_load(void **state)
{
	struct vmlinux_info info;
	const char *why;
	int fd = make_elf(0x1000000, 8192, 16384, EM_X86_64);

	(void)state;
	memset(mem + 0x1000000 + 8192, 0x55, 8192); /* bss must be cleared */
	assert_int_equal(vmlinux_load(&gm, fd, &info, &why), 0);
	assert_int_equal(info.entry, 0x1000000);
	assert_int_equal(info.kernel_end, 0x1000000 + 16384);
	assert_int_equal(mem[0x1000000], 0xab);
	assert_int_equal(mem[0x1000000 + 8191], 0xab);
	assert_int_equal(mem[0x1000000 + 8192], 0);
	assert_int_equal(mem[0x1000000 + 16383], 0);
	close(fd);
}

/* The inode of the mapping that holds addr in /proc/self/maps (0: anonymous). */
static unsigned long mapping_inode(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo, hi, inode = 0, found = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &inode) == 3 &&
		    (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			found = inode;
			break;
		}
	fclose(f);
	return found;
}

static void test_vmlinux_pages_shared_from_the_file(void **state)
{
	enum { PG = 4096, OFF = 4096 + 100, PADDR = 0x1000000 + 100, FILESZ = 3 * PG };
	struct guest_mem mgm;
	struct vmlinux_info info;
	const char *why;
	uint8_t body[FILESZ], *k;
	int fd;

	(void)state;
	for (unsigned int i = 0; i < FILESZ; i++)
		body[i] = (uint8_t)(i * 7 + i / 251);
	fd = elf_file(PADDR, OFF, body, FILESZ, FILESZ + PG, EM_X86_64);
	assert_int_equal(pwrite(fd, "trailer", 7, OFF + FILESZ), 7); /* must not leak into bss */

	assert_int_equal(gm_init(&mgm, MEM, -1), 0);
	assert_int_equal(vmlinux_load(&mgm, fd, &info, &why), 0);
	k = gm_ptr(&mgm, PADDR, FILESZ + PG);
	assert_memory_equal(k, body, FILESZ);
	for (unsigned int i = FILESZ; i < FILESZ + PG; i++)
		assert_int_equal(k[i], 0);
	/* the 2 whole pages inside the segment come from the file; the partial ends were read */
	assert_int_equal(info.shared_bytes, 2 * PG);
	assert_true(mapping_inode(k + PG) != 0);
	assert_int_equal(mapping_inode(k), 0);
	/* a guest write is private: the file keeps its bytes */
	k[PG] ^= 0xff;
	assert_int_equal(pread(fd, body, 1, OFF + PG), 1);
	assert_int_equal(body[0], (uint8_t)(k[PG] ^ 0xff));
	gm_destroy(&mgm);
	close(fd);
}

static void test_vmlinux_rejects(void **state)
{
	struct vmlinux_info info;
	const char *why;
	int fd;

	(void)state;
	fd = make_elf(0x1000000, 4096, 4096, EM_AARCH64);
	assert_int_equal(vmlinux_load(&gm, fd, &info, &why), -ENOEXEC);
	assert_non_null(why);
	close(fd);
	fd = make_elf(MEM - 4096, 4096, 8192, EM_X86_64); /* runs past guest RAM */
	assert_int_equal(vmlinux_load(&gm, fd, &info, &why), -ENOMEM);
	close(fd);
	fd = make_elf(0x1000, 4096, 4096, EM_X86_64); /* below 1 MiB: would hit boot data */
	assert_int_equal(vmlinux_load(&gm, fd, &info, &why), -ENOEXEC);
	close(fd);
	fd = make_elf(0x1000000, 8192, 4096, EM_X86_64); /* filesz > memsz */
	assert_int_equal(vmlinux_load(&gm, fd, &info, &why), -ENOEXEC);
	close(fd);
	vaddr_base = 0; /* an ordinary static program, linked low */
	fd = make_elf(0x400000, 4096, 4096, EM_X86_64);
	assert_int_equal(vmlinux_load(&gm, fd, &info, &why), -ENOEXEC);
	assert_non_null(strstr(why, "not a Linux kernel"));
	vaddr_base = 0xffffffff80000000ull;
	close(fd);
}

static void test_e820(void **state)
{
	struct e820_entry map[8];
	unsigned int n = boot_e820_build(&gm, map, 8);
	struct guest_mem big;

	(void)state;
	assert_int_equal(n, 3);
	assert_int_equal(map[0].addr, 0);
	assert_int_equal(map[0].type, E820_RAM);
	assert_int_equal(map[1].addr, BOOT_MPTABLE_GPA);
	assert_int_equal(map[1].type, E820_RESERVED);
	assert_int_equal(map[2].addr, BOOT_HIGH_MEM);
	assert_int_equal(map[2].addr + map[2].size, MEM);

	gm_layout(&big, (uint8_t *)0x100000000000ull, 4ull << 30);
	n = boot_e820_build(&big, map, 8);
	assert_int_equal(n, 4);
	assert_int_equal(map[2].addr + map[2].size, GM_LOW_LIMIT);
	assert_int_equal(map[3].addr, GM_HIGH_BASE);
	assert_int_equal(map[3].size, (4ull << 30) - GM_LOW_LIMIT);
}

static void test_boot_params(void **state)
{
	uint8_t *bp = mem + BOOT_ZERO_PAGE_GPA;
	uint32_t v32;
	uint16_t v16;

	(void)state;
	assert_int_equal(boot_params_write(&gm, "console=hvc0 quiet", 0x3000000, 12345), 0);
	memcpy(&v16, bp + 0x1fe, 2);
	assert_int_equal(v16, 0xaa55);
	memcpy(&v32, bp + 0x202, 4);
	assert_int_equal(v32, 0x53726448); /* "HdrS" */
	memcpy(&v32, bp + 0x228, 4);
	assert_int_equal(v32, BOOT_CMDLINE_GPA);
	assert_string_equal((char *)mem + BOOT_CMDLINE_GPA, "console=hvc0 quiet");
	memcpy(&v32, bp + 0x218, 4);
	assert_int_equal(v32, 0x3000000);
	memcpy(&v32, bp + 0x21c, 4);
	assert_int_equal(v32, 12345);
	assert_int_equal(bp[0x1e8], 3); /* e820 entries */
	assert_int_equal(bp[0x210], 0xff);
}

static void test_cmdline_too_long(void **state)
{
	char *huge = malloc(BOOT_CMDLINE_MAX + 1);

	(void)state;
	memset(huge, 'x', BOOT_CMDLINE_MAX);
	huge[BOOT_CMDLINE_MAX] = '\0';
	assert_int_equal(boot_params_write(&gm, huge, 0, 0), -EINVAL);
	free(huge);
}

static void test_page_tables_gdt(void **state)
{
	uint64_t e;

	(void)state;
	assert_int_equal(boot_page_tables_write(&gm), 0);
	memcpy(&e, mem + BOOT_PML4_GPA, 8);
	assert_int_equal(e, BOOT_PDPT_GPA | 3);
	memcpy(&e, mem + BOOT_PDPT_GPA, 8);
	assert_int_equal(e, BOOT_PD_GPA | 3);
	memcpy(&e, mem + BOOT_PD_GPA + 8 * 511, 8);
	assert_int_equal(e, (511ull << 21) | 0x83); /* identity, 2 MiB, present+writable */
	assert_int_equal(boot_gdt_write(&gm), 0);
	memcpy(&e, mem + BOOT_GDT_GPA + 16, 8);
	assert_int_equal(e, boot_gdt_entry(2));
	assert_true(e & (1ull << 53)); /* long mode code */
}

static void test_initrd_place(void **state)
{
	uint64_t at;

	(void)state;
	assert_int_equal(boot_initrd_place(&gm, 0x2000000, 1 << 20, &at), 0);
	assert_int_equal(at, MEM - (1 << 20));
	assert_int_equal(boot_initrd_place(&gm, 0x2000000, 5000, &at), 0);
	assert_int_equal(at & 0xfff, 0);
	assert_true(at + 5000 <= MEM);
	assert_int_equal(boot_initrd_place(&gm, 0x2000000, MEM - 0x1000000, &at), -ENOMEM);
	assert_int_equal(boot_initrd_place(&gm, 0, UINT64_MAX, &at), -ENOMEM);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void test_mptable(void **state)
{
	uint8_t *mpf = mem + BOOT_MPTABLE_GPA;
	uint32_t physptr;
	uint16_t len;
	uint8_t *mpc;

	(void)state;
	assert_int_equal(mptable_write(&gm, BOOT_MPTABLE_GPA, 4), 0);
	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(sum(mpf, 16), 0);
	memcpy(&physptr, mpf + 4, 4);
	mpc = mem + physptr;
	assert_memory_equal(mpc, "PCMP", 4);
	memcpy(&len, mpc + 4, 2);
	assert_int_equal(sum(mpc, len), 0);
	assert_true(physptr + len <= BOOT_EBDA_END);
	/* first entry: the boot processor */
	assert_int_equal(mpc[44], 0);
	assert_int_equal(mpc[44 + 3], 3);
	assert_int_equal(mptable_write(&gm, BOOT_MPTABLE_GPA, MPTABLE_MAX_CPUS), 0);
	assert_int_equal(mptable_write(&gm, BOOT_MPTABLE_GPA, MPTABLE_MAX_CPUS + 1), -EINVAL);
	assert_int_equal(mptable_write(&gm, BOOT_MPTABLE_GPA, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmlinux_load),
		cmocka_unit_test(test_vmlinux_pages_shared_from_the_file),
		cmocka_unit_test(test_vmlinux_rejects),
		cmocka_unit_test(test_e820),
		cmocka_unit_test(test_boot_params),
		cmocka_unit_test(test_cmdline_too_long),
		cmocka_unit_test(test_page_tables_gdt),
		cmocka_unit_test(test_initrd_place),
		cmocka_unit_test(test_mptable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
