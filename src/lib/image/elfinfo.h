/* SPDX-License-Identifier: MIT */
/* What kind of executable a host file is, before we try to run it as an Arrow. */
#ifndef ARROW_ELFINFO_H
#define ARROW_ELFINFO_H

#include <stddef.h>

enum elf_kind {
	ELF_STATIC,      /* x86-64 ELF executable without an interpreter (static or static-pie) */
	ELF_DYNAMIC,     /* needs the ELF interpreter named in interp */
	ELF_WRONG_ARCH,  /* ELF, but not x86-64 */
	ELF_NOT_EXEC,    /* ELF, but a relocatable object or core file */
	ELF_SCRIPT,      /* starts with #! */
	ELF_NOT_ELF,     /* anything else */
};

struct elf_info {
	enum elf_kind kind;
	char interp[256];
};

/* Classify a file's first bytes and program headers (buf holds the whole head of the file). */
int elfinfo_classify(const unsigned char *buf, size_t len, struct elf_info *info);
/* Read and classify the file at path. Returns 0 or -errno. */
int elfinfo_file(const char *path, struct elf_info *info);

#endif
