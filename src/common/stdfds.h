/* SPDX-License-Identifier: MIT */
/* Standard descriptors of a child about to exec, whatever the parent left open or closed. */
#ifndef ARROW_COMMON_STDFDS_H
#define ARROW_COMMON_STDFDS_H

/*
 * Make in, out and err the descriptors 0, 1 and 2 (any may be the same descriptor), open
 * across exec. Safe when a source already is 0, 1 or 2 (a parent started with stdin closed
 * gets its next open() as 0): the sources are lifted above 2 first, since dup2(fd, fd) would
 * keep fd's close-on-exec flag and another dup2 could clobber a source still to be copied.
 * The sources themselves are left open. 0, or -1 with errno set.
 */
int stdfds_install(int in, int out, int err);

#endif
