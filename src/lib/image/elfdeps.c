// SPDX-License-Identifier: MIT
#include "lib/image/elfdeps.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PHNUM_MAX 256
#define DYN_MAX 4096
#define DEPS_MAX 512
#define DIRS_MAX 64

/* The directories Debian's x86-64 loader searches without a cache (ld.so --help). */
static const char *const system_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib",
};

/* The file offset of virtual address [va, va+len) through the PT_LOAD segments, or -1. */
static int64_t va_to_off(const unsigned char *buf, size_t len, const Elf64_Ehdr *eh, uint64_t va,
			 uint64_t size)
{
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, buf + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || va < ph.p_vaddr || va - ph.p_vaddr >= ph.p_filesz)
			continue;
		if (size > ph.p_filesz - (va - ph.p_vaddr))
			return -1;
		if (ph.p_offset > len || va - ph.p_vaddr + size > len - ph.p_offset)
			return -1;
		return (int64_t)(ph.p_offset + (va - ph.p_vaddr));
	}
	return -1;
}

void elfdeps_dyn_free(struct elf_dyn *dyn)
{
	for (unsigned int i = 0; i < dyn->nr_needed; i++)
		free(dyn->needed[i]);
	free(dyn->rpath);
	free(dyn->runpath);
	memset(dyn, 0, sizeof(*dyn));
}

/* A NUL-terminated string at strtab offset off, copied; NULL if it runs past the table. */
static char *strtab_get(const unsigned char *tab, uint64_t tabsz, uint64_t off)
{
	const unsigned char *nul;

	if (off >= tabsz)
		return NULL;
	nul = memchr(tab + off, '\0', tabsz - off);
	return nul ? strdup((const char *)tab + off) : NULL;
}

int elfdeps_parse(const unsigned char *buf, size_t len, struct elf_dyn *dyn)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph, dynph = { 0 };
	uint64_t strtab = 0, strsz = 0, needed[128], rpath = UINT64_MAX, runpath = UINT64_MAX;
	unsigned int nr = 0;
	int64_t toff;
	bool have_dyn = false;

	memset(dyn, 0, sizeof(*dyn));
	if (len < sizeof(eh) || memcmp(buf, ELFMAG, SELFMAG))
		return -ENOEXEC;
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64)
		return 0; /* not ours: the loader skips such a file too */
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return -ENOEXEC;
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > PHNUM_MAX || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return -ENOEXEC;
	dyn->is_elf64_x86 = true;
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_INTERP) {
			if (ph.p_filesz == 0 || ph.p_filesz >= sizeof(dyn->interp) || ph.p_offset > len ||
			    ph.p_filesz > len - ph.p_offset)
				return -ENOEXEC;
			memcpy(dyn->interp, buf + ph.p_offset, ph.p_filesz);
			dyn->interp[ph.p_filesz] = '\0';
			if (strlen(dyn->interp) + 1 != ph.p_filesz || dyn->interp[0] != '/')
				return -ENOEXEC;
		} else if (ph.p_type == PT_DYNAMIC) {
			dynph = ph;
			have_dyn = true;
		}
	}
	if (!have_dyn)
		return 0;
	if (dynph.p_offset > len || dynph.p_filesz > len - dynph.p_offset ||
	    dynph.p_filesz / sizeof(Elf64_Dyn) > DYN_MAX)
		return -ENOEXEC;
	for (uint64_t i = 0; i < dynph.p_filesz / sizeof(Elf64_Dyn); i++) {
		Elf64_Dyn d;

		memcpy(&d, buf + dynph.p_offset + i * sizeof(d), sizeof(d));
		if (d.d_tag == DT_NULL)
			break;
		switch (d.d_tag) {
		case DT_STRTAB:
			strtab = d.d_un.d_ptr;
			break;
		case DT_STRSZ:
			strsz = d.d_un.d_val;
			break;
		case DT_NEEDED:
			if (nr == sizeof(needed) / sizeof(needed[0]))
				return -ENOEXEC;
			needed[nr++] = d.d_un.d_val;
			break;
		case DT_RPATH:
			rpath = d.d_un.d_val;
			break;
		case DT_RUNPATH:
			runpath = d.d_un.d_val;
			break;
		}
	}
	if (!nr && rpath == UINT64_MAX && runpath == UINT64_MAX)
		return 0;
	toff = va_to_off(buf, len, &eh, strtab, strsz);
	if (!strsz || toff < 0)
		return -ENOEXEC;
	for (unsigned int i = 0; i < nr; i++) {
		char *s = strtab_get(buf + toff, strsz, needed[i]);

		if (!s || !*s) {
			free(s);
			elfdeps_dyn_free(dyn);
			return -ENOEXEC;
		}
		dyn->needed[dyn->nr_needed++] = s;
	}
	if (rpath != UINT64_MAX && !(dyn->rpath = strtab_get(buf + toff, strsz, rpath)))
		goto bad;
	if (runpath != UINT64_MAX && !(dyn->runpath = strtab_get(buf + toff, strsz, runpath)))
		goto bad;
	return 0;
bad:
	elfdeps_dyn_free(dyn);
	return -ENOEXEC;
}

/* Map the file at path and parse it. 0, -errno or -ENOEXEC. */
static int parse_file(const char *path, struct elf_dyn *dyn)
{
	struct stat st;
	void *map;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return -ENOEXEC;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	ret = elfdeps_parse(map, (size_t)st.st_size, dyn);
	munmap(map, (size_t)st.st_size);
	return ret;
}

static bool is_system_dir(const char *dir)
{
	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++)
		if (!strcmp(dir, system_dirs[i]))
			return true;
	return false;
}

struct search {
	char *dirs[DIRS_MAX];
	unsigned int n;
};

static void search_add(struct search *s, const char *dir, size_t len)
{
	char *d;

	if (s->n == DIRS_MAX || len == 0 || dir[0] != '/')
		return; /* relative entries depend on the cwd at run time: the loader's problem */
	while (len > 1 && dir[len - 1] == '/')
		len--;
	d = strndup(dir, len);
	for (unsigned int i = 0; d && i < s->n; i++) {
		if (!strcmp(s->dirs[i], d)) {
			free(d);
			return;
		}
	}
	if (d)
		s->dirs[s->n++] = d;
}

/* Add a colon-separated path list, with $ORIGIN / ${ORIGIN} replaced by origin. */
static void search_add_list(struct search *s, const char *list, const char *origin)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ":");
		char item[1024];
		size_t o = 0;

		for (size_t i = 0; i < len && o < sizeof(item) - 1;) {
			if (!strncmp(p + i, "$ORIGIN", 7) || !strncmp(p + i, "${ORIGIN}", 9)) {
				o += (size_t)snprintf(item + o, sizeof(item) - o, "%s", origin);
				i += p[i + 1] == '{' ? 9 : 7;
			} else {
				item[o++] = p[i++];
			}
			if (o >= sizeof(item))
				o = sizeof(item) - 1;
		}
		item[o] = '\0';
		if (!strchr(item, '$')) /* $LIB and $PLATFORM: not expanded, left out */
			search_add(s, item, strlen(item));
		p += len;
		if (*p == ':')
			p++;
	}
}

/* /etc/ld.so.conf and the files it includes (one level of glob includes, as on Debian). */
static void search_add_ldconf(struct search *s, const char *file, int depth)
{
	FILE *f = fopen(file, "re");
	char line[1024];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");

		p[strcspn(p, "#\r\n")] = '\0';
		while (*p && (p[strlen(p) - 1] == ' ' || p[strlen(p) - 1] == '\t'))
			p[strlen(p) - 1] = '\0';
		if (!strncmp(p, "include", 7) && (p[7] == ' ' || p[7] == '\t') && depth < 2) {
			glob_t g;

			p += 8 + strspn(p + 8, " \t");
			if (glob(p, 0, NULL, &g) == 0) {
				for (size_t i = 0; i < g.gl_pathc; i++)
					search_add_ldconf(s, g.gl_pathv[i], depth + 1);
			}
			globfree(&g);
		} else if (*p == '/') {
			search_add(s, p, strlen(p));
		}
	}
	fclose(f);
}

static void search_free(struct search *s)
{
	for (unsigned int i = 0; i < s->n; i++)
		free(s->dirs[i]);
	s->n = 0;
}

static int deps_add(struct elfdeps *d, const char *guest, const char *host)
{
	char *real;

	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].guest, guest))
			return 0;
	if (d->n == DEPS_MAX)
		return -E2BIG;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct elfdep *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	real = realpath(host, NULL);
	if (!real)
		return -errno;
	d->v[d->n].guest = strdup(guest);
	d->v[d->n].host = real;
	if (!d->v[d->n].guest)
		return -ENOMEM;
	d->n++;
	return 0;
}

static bool has_name(const struct elfdeps *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++) {
		const char *slash = strrchr(d->v[i].guest, '/');

		if (!strcmp(slash ? slash + 1 : d->v[i].guest, name))
			return true;
	}
	return false;
}

static void note_extra_dir(struct elfdeps *d, const char *dir)
{
	size_t len = strlen(d->extra_path), dlen = strlen(dir);
	const char *p = d->extra_path;

	if (is_system_dir(dir))
		return;
	while (*p) { /* already listed? */
		size_t l = strcspn(p, ":");

		if (l == dlen && !strncmp(p, dir, l))
			return;
		p += l + (p[l] == ':');
	}
	if (len + dlen + 2 < sizeof(d->extra_path))
		snprintf(d->extra_path + len, sizeof(d->extra_path) - len, "%s%s", len ? ":" : "", dir);
}

/* Find a loadable x86-64 object called name in the search dirs. */
static int find_lib(const struct search *s, const char *name, char *out, size_t outlen,
		    const char **dir)
{
	for (unsigned int i = 0; i < s->n; i++) {
		struct elf_dyn probe;

		if ((size_t)snprintf(out, outlen, "%s/%s", s->dirs[i], name) >= outlen)
			continue;
		if (access(out, R_OK))
			continue;
		if (parse_file(out, &probe) == 0 && probe.is_elf64_x86) {
			elfdeps_dyn_free(&probe);
			*dir = s->dirs[i];
			return 0;
		}
		elfdeps_dyn_free(&probe);
	}
	return -ENOENT;
}

/* Walk one object's DT_NEEDED, depth first; the queue is out itself. */
static int walk(const char *obj, const char *prog_rpath, const struct search *base,
		struct elfdeps *out, char *why, size_t whylen)
{
	struct elf_dyn dyn;
	struct search s = { .n = 0 };
	char origin[4096], found[4096];
	int ret;

	ret = parse_file(obj, &dyn);
	if (ret) {
		snprintf(why, whylen, "%s: %s", obj,
			 ret == -ENOEXEC ? "not a well-formed x86-64 ELF file" : strerror(-ret));
		return ret;
	}
	snprintf(origin, sizeof(origin), "%s", obj);
	snprintf(origin, sizeof(origin), "%s", dirname(origin));
	/* DT_RPATH applies only where there is no DT_RUNPATH; the program's RPATH too. */
	if (!dyn.runpath) {
		if (dyn.rpath)
			search_add_list(&s, dyn.rpath, origin);
		if (prog_rpath)
			search_add_list(&s, prog_rpath, origin);
	} else {
		search_add_list(&s, dyn.runpath, origin);
	}
	for (unsigned int i = 0; i < base->n; i++)
		search_add(&s, base->dirs[i], strlen(base->dirs[i]));

	for (unsigned int i = 0; i < dyn.nr_needed && !ret; i++) {
		const char *name = dyn.needed[i], *dir = NULL;
		char guest[4096];

		if (strchr(name, '/')) {
			if (name[0] != '/' || access(name, R_OK)) {
				snprintf(why, whylen, "%s needs %s, which is not an absolute path to a file",
					 obj, name);
				ret = -ENOENT;
				break;
			}
			if (has_name(out, name))
				continue;
			snprintf(found, sizeof(found), "%s", name);
			snprintf(guest, sizeof(guest), "%s", name);
		} else {
			if (has_name(out, name))
				continue;
			if (find_lib(&s, name, found, sizeof(found), &dir)) {
				snprintf(why, whylen, "%s needs %s, which is in none of the loader's directories",
					 obj, name);
				ret = -ENOENT;
				break;
			}
			snprintf(guest, sizeof(guest), "%s/%s", dir, name);
			note_extra_dir(out, dir);
		}
		ret = deps_add(out, guest, found);
		if (!ret)
			ret = walk(found, prog_rpath, base, out, why, whylen);
	}
	search_free(&s);
	elfdeps_dyn_free(&dyn);
	return ret;
}

int elfdeps_collect(const char *path, struct elfdeps *out, char *why, size_t whylen)
{
	struct elf_dyn prog;
	struct search base = { .n = 0 };
	int ret;

	memset(out, 0, sizeof(*out));
	ret = parse_file(path, &prog);
	if (ret || !prog.is_elf64_x86) {
		snprintf(why, whylen, "%s: %s", path,
			 ret && ret != -ENOEXEC ? strerror(-ret) : "not a well-formed x86-64 ELF program");
		elfdeps_dyn_free(&prog);
		return ret ? ret : -ENOEXEC;
	}
	if (!prog.interp[0]) { /* static: nothing to collect */
		elfdeps_dyn_free(&prog);
		return 0;
	}
	ret = deps_add(out, prog.interp, prog.interp);
	if (ret) {
		snprintf(why, whylen, "%s needs the ELF interpreter %s: %s", path, prog.interp,
			 strerror(-ret));
		goto out;
	}
	search_add_ldconf(&base, "/etc/ld.so.conf", 0);
	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++)
		search_add(&base, system_dirs[i], strlen(system_dirs[i]));
	ret = walk(path, prog.runpath ? NULL : prog.rpath, &base, out, why, whylen);
out:
	if (ret == -E2BIG)
		snprintf(why, whylen, "%s needs more than %d shared objects", path, DEPS_MAX);
	search_free(&base);
	elfdeps_dyn_free(&prog);
	if (ret)
		elfdeps_free(out);
	return ret;
}

void elfdeps_free(struct elfdeps *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].guest);
		free(d->v[i].host);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}
