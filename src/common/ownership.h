/* SPDX-License-Identifier: MIT */
/* Files a jailed arrowh wrote as the jail's user, given back to the caller (docs/security.md). */
#ifndef ARROW_COMMON_OWNERSHIP_H
#define ARROW_COMMON_OWNERSHIP_H

/* chown the directory dir_fd and the entries directly in it (never following links) to
 * the caller's effective uid/gid. 0 or the first -errno. dir_fd stays open. */
int dir_give_back(int dir_fd);

#endif
