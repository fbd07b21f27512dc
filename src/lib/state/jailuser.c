// SPDX-License-Identifier: MIT
#include "lib/state/jailuser.h"

#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <unistd.h>

#define NOBODY 65534

void jail_user_ids(uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam("arrow");

	if (pw && pw->pw_uid != 0 && pw->pw_gid != 0) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	} else {
		*uid = NOBODY;
		*gid = NOBODY;
	}
}

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, chown_uid, chown_gid) < 0 ? -errno : 0;
}

int jail_user_chown_tree(const char *dir)
{
	int ret;

	jail_user_ids(&chown_uid, &chown_gid);
	ret = nftw(dir, chown_one, 32, FTW_PHYS | FTW_MOUNT);
	return ret > 0 ? -ret : ret < 0 ? -errno : 0;
}
