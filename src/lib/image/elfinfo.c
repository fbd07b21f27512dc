// SPDX-License-Identifier: MIT
#include "lib/image/elfinfo.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEAD_MAX 65536

int elfinfo_classify(const unsigned char *buf, size_t len, struct elf_info *info)
{
	Elf64_Ehdr eh;

	memset(info, 0, sizeof(*info));
	info->kind = ELF_NOT_ELF;
	if (len >= 2 && buf[0] == '#' && buf[1] == '!') {
		info->kind = ELF_SCRIPT;
		return 0;
	}
	if (len < sizeof(eh) || memcmp(buf, ELFMAG, SELFMAG))
		return 0;
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64) {
		info->kind = ELF_WRONG_ARCH;
		return 0;
	}
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
		info->kind = ELF_NOT_EXEC;
		return 0;
	}
	info->kind = ELF_STATIC;
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return -EINVAL;
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t off = eh.e_phoff + (uint64_t)i * sizeof(ph);

		if (off > len || len - off < sizeof(ph))
			return -EINVAL; /* program headers beyond what we read */
		memcpy(&ph, buf + off, sizeof(ph));
		if (ph.p_type != PT_INTERP)
			continue;
		info->kind = ELF_DYNAMIC;
		if (ph.p_offset < len && ph.p_filesz < sizeof(info->interp) &&
		    ph.p_filesz <= len - ph.p_offset) {
			memcpy(info->interp, buf + ph.p_offset, ph.p_filesz);
			info->interp[ph.p_filesz] = '\0';
		}
		break;
	}
	return 0;
}

int elfinfo_file(const char *path, struct elf_info *info)
{
	unsigned char *buf = malloc(HEAD_MAX);
	ssize_t n;
	int fd, ret;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		free(buf);
		return ret;
	}
	n = pread(fd, buf, HEAD_MAX, 0);
	ret = n < 0 ? -errno : elfinfo_classify(buf, (size_t)n, info);
	close(fd);
	free(buf);
	return ret;
}
