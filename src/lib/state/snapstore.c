// SPDX-License-Identifier: MIT
#include "lib/state/snapstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/state/paths.h"
#include "lib/launch/runopts.h"

const char *snapstore_dir(void)
{
	static char dir[4096];

	return arrow_data_dir("ARROW_SNAPSHOTS", "snapshots", dir, sizeof(dir));
}

int snapstore_path(const char *name, char *out, size_t len)
{
	return snprintf(out, len, "%s/%s", snapstore_dir(), name) >= (int)len ? -ENAMETOOLONG : 0;
}

/* mkdir -p for the store itself (0700: memory images hold everything the guests held). */
int snapstore_begin(const char *name, json_t *meta, char *tmp, size_t len)
{
	char final[4200], path[4200];
	int ret = mkdir_p(snapstore_dir(), 0700);

	if (ret)
		return ret;
	if (!runopts_valid_name(name))
		return -EINVAL;
	ret = snapstore_path(name, final, sizeof(final));
	if (ret)
		return ret;
	if (access(final, F_OK) == 0)
		return -EEXIST;
	if (snprintf(tmp, len, "%s/.%s.tmp-%d", snapstore_dir(), name, (int)getpid()) >= (int)len)
		return -ENAMETOOLONG;
	snapstore_remove_dir(tmp); /* a leftover of a killed run with our pid */
	if (mkdir(tmp, 0700) < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", tmp, SNAP_META_FILE);
	if (json_dump_file(meta, path, JSON_INDENT(2)) < 0) {
		snapstore_remove_dir(tmp);
		return -EIO;
	}
	return 0;
}

/* FS_IOC_GETFLAGS and SETFLAGS take an int, whatever their definition says (ioctl_iflags(2)). */
static int get_flags(int fd, int *flags)
{
	return ioctl(fd, FS_IOC_GETFLAGS, flags) < 0 ? -errno : 0;
}

int snapstore_seal(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), flags = 0, ret = 0;
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = errno ? -errno : -EINVAL;
	} else if (get_flags(fd, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
		ret = 0; /* sealed already (and its mode cannot change now) */
	} else if (fchmod(fd, 0400) < 0) {
		ret = -errno;
	} else {
		flags |= FS_IMMUTABLE_FL;
		/* EPERM without CAP_LINUX_IMMUTABLE, ENOTTY or EOPNOTSUPP where the file system has
		 * no such flag: read-only is all there is then */
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
			ret = errno == EPERM || errno == ENOTTY || errno == EOPNOTSUPP ||
					      errno == EINVAL ? 1 : -errno;
	}
	close(fd);
	return ret;
}

int snapstore_unseal(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), flags = 0, ret = 0;

	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -errno;
	if (!get_flags(fd, &flags) && (flags & FS_IMMUTABLE_FL)) {
		flags &= ~FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
			ret = -errno;
	}
	close(fd);
	return ret;
}

int snapstore_commit(const char *tmp, const char *name)
{
	char final[4200], mem[4300];
	int ret = snapstore_path(name, final, sizeof(final));

	if (ret)
		return ret;
	/* clones map the memory file: nobody may change it under them (docs/snapshots.md) */
	snprintf(mem, sizeof(mem), "%s/%s", tmp, SNAP_MEMORY_NAME);
	ret = snapstore_seal(mem);
	if (ret < 0)
		return ret;
	/* RENAME_NOREPLACE: a snapshot of the same name made meanwhile is never replaced */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) < 0)
		return -errno;
	return 0;
}

int snapstore_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int ret = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char path[4400];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		/* a sealed memory file: immutable until it is cleared (root only) */
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno == EPERM) {
			int err = snapstore_unseal(path);

			if (err || unlinkat(dirfd(d), e->d_name, 0) < 0)
				ret = err ? err : -errno;
		}
	}
	closedir(d);
	if (ret)
		return ret;
	return rmdir(dir) < 0 ? -errno : 0;
}

json_t *snapstore_meta(const char *name, int *err)
{
	char path[4200];
	json_t *meta;

	*err = 0;
	if (!runopts_valid_name(name)) {
		*err = -EINVAL;
		return NULL;
	}
	if (snprintf(path, sizeof(path), "%s/%s/%s", snapstore_dir(), name, SNAP_META_FILE) >=
	    (int)sizeof(path)) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	if (access(path, R_OK) < 0) {
		*err = -errno;
		return NULL;
	}
	meta = json_load_file(path, 0, NULL);
	if (!meta || !json_is_object(meta)) {
		json_decref(meta);
		*err = -EBADMSG;
		return NULL;
	}
	return meta;
}

static bool keep_snapshot(const char *name)
{
	/* not temporary directories of snapshots being made */
	return name[0] != '.' && runopts_valid_name(name);
}

int snapstore_list(char ***names)
{
	return dir_names(snapstore_dir(), keep_snapshot, names);
}
