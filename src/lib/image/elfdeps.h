/* SPDX-License-Identifier: MIT */
/*
 * What a dynamically linked host program needs at run time: its ELF
 * interpreter and every shared library in the transitive closure of DT_NEEDED,
 * found the way the dynamic loader finds them (DT_RPATH, DT_RUNPATH with
 * $ORIGIN, the loader's system directories and /etc/ld.so.conf). Nothing is
 * run: the files' own headers are read, and every offset in them is checked.
 */
#ifndef ARROW_ELFDEPS_H
#define ARROW_ELFDEPS_H

#include <stdbool.h>
#include <stddef.h>

struct elfdep {
	char *guest;   /* where the loader will look for it in the Arrow: "/lib64/ld-linux-x86-64.so.2" */
	char *host;    /* the file to copy (symlinks resolved) */
};

struct elfdeps {
	struct elfdep *v;
	size_t n, cap;
	/* Directories outside the loader's system path that libraries were found in:
	 * the Arrow needs them in LD_LIBRARY_PATH (it has no ld.so.cache). "" if none. */
	char extra_path[1024];
};

/*
 * Collect what the program at path needs (not the program itself). A static
 * program gives an empty list. Returns 0, or -errno with a one-line reason in
 * why (a missing library names the library and the object that needs it).
 */
int elfdeps_collect(const char *path, struct elfdeps *out, char *why, size_t whylen);
void elfdeps_free(struct elfdeps *d);

/*
 * Parse the dynamic section of the ELF image in buf (the whole file):
 * interpreter, DT_NEEDED names, DT_RPATH and DT_RUNPATH. Exposed for tests.
 * Returns 0, -ENOEXEC for a malformed file, or -ENOMEM.
 */
struct elf_dyn {
	char interp[256];
	char *needed[128];
	unsigned int nr_needed;
	char *rpath, *runpath; /* NULL if absent */
	bool is_elf64_x86;
};
int elfdeps_parse(const unsigned char *buf, size_t len, struct elf_dyn *dyn);
void elfdeps_dyn_free(struct elf_dyn *dyn);

#endif
