// SPDX-License-Identifier: MIT
/* The base initramfs piece (lib/image/guestbase.h); the same bytes as `arrow run`'s, so the
 * cached piece is shared. */
#include "lib/image/guestbase.h"

#include <sys/stat.h>

#include "lib/image/piece.h"

static const char base_passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
				  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
static const char base_group[] = "root:x:0:\nnogroup:x:65534:\n";
static const char base_hosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost\n";

int guestbase_piece(const char *cache, const void *ainit, size_t ainit_len, char **path)
{
	const struct piece_file files[] = {
		{ "dev", S_IFDIR | 0755 },
		{ "dev/console", S_IFCHR | 0600, .rdev_major = 5, .rdev_minor = 1 },
		{ "proc", S_IFDIR | 0555 },
		{ "sys", S_IFDIR | 0555 },
		{ "tmp", S_IFDIR | 01777 },
		{ "run", S_IFDIR | 0755 },
		{ "root", S_IFDIR | 0700 },
		{ "app", S_IFDIR | 0755 },
		{ ".arrow", S_IFDIR | 0700 },
		{ "etc", S_IFDIR | 0755 },
		{ "etc/passwd", S_IFREG | 0644, base_passwd, sizeof(base_passwd) - 1 },
		{ "etc/group", S_IFREG | 0644, base_group, sizeof(base_group) - 1 },
		{ "etc/hosts", S_IFREG | 0644, base_hosts, sizeof(base_hosts) - 1 },
		{ "init", S_IFREG | 0755, ainit, ainit_len },
	};

	return piece_cached(cache, files, sizeof(files) / sizeof(files[0]), path);
}
