/* SPDX-License-Identifier: MIT */
/*
 * Who a jailed arrowh runs as (docs/security.md): the `arrow` system user that
 * `make install` and scripts/setup.sh create, else nobody:nogroup (65534:65534).
 */
#ifndef ARROW_LIB_JAILUSER_H
#define ARROW_LIB_JAILUSER_H

#include <sys/types.h>

void jail_user_ids(uid_t *uid, gid_t *gid);
/* -v DIR:GUEST:U: give DIR and everything below it (never following symlinks) to the
 * jail's user, as podman's :U does. 0 or -errno. */
int jail_user_chown_tree(const char *dir);

#endif
