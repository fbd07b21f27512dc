/* SPDX-License-Identifier: MIT */
/*
 * The 9P server's insides, shared by server.c (the protocol, fids, reading) and
 * change.c (the requests that change the shared tree, all refused on a read-only volume).
 */
#ifndef ARROW_P9_FID_H
#define ARROW_P9_FID_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "server.h"
#include "wire.h"

#define NAME_MAX_LEN 255

/* open flags the guest may ask for (Linux values on x86, as 9P2000.L carries them) */
#define OPEN_ALLOWED (O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | \
		      O_DIRECTORY | O_LARGEFILE)

struct p9_fid {
	uint32_t id;
	int fd;      /* O_PATH, O_NOFOLLOW: the object itself (a symlink stays a symlink) */
	int open_fd; /* after Tlopen/Tlcreate, else -1 */
	uint32_t uid; /* Tattach's n_uname, inherited by walks: who creates (guest_owns) */
	struct p9_fid *next;
};

/* The fid the guest calls id, or NULL. */
struct p9_fid *p9_fid_get(struct p9_server *s, uint32_t id);

static inline void wqid(struct wr *w, const struct stat *st)
{
	w8(w, S_ISDIR(st->st_mode) ? 0x80 : S_ISLNK(st->st_mode) ? 0x02 : 0);
	w32(w, (uint32_t)st->st_mtim.tv_nsec ^ (uint32_t)st->st_mtim.tv_sec);
	w64(w, (uint64_t)st->st_ino ^ ((uint64_t)st->st_dev << 48));
}

/* A name the guest may use: one component, not "." or "..". */
static inline bool name_ok(const char *n)
{
	return n[0] && !strchr(n, '/') && strcmp(n, ".") && strcmp(n, "..");
}

/* stat of the object an O_PATH fd names, never following it */
static inline int statfd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* /proc/self/fd/N: reopening an O_PATH fd reaches the same inode, no path lookup. */
static inline void fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* guest_owns: give what was just made (name in directory dfd) to uid/gid. 0 or -errno. */
int p9_give(const struct p9_server *s, int dfd, const char *name, uint32_t uid, uint32_t gid);

/* change.c: Tlcreate, Twrite, Tmkdir and Tsymlink, Tunlinkat, Trenameat, Tlink, Tsetattr */
int p9_lcreate(struct p9_server *s, struct rd *r, struct wr *w);
int p9_write(struct p9_server *s, struct rd *r, struct wr *w);
int p9_make(struct p9_server *s, struct rd *r, struct wr *w, bool symlink);
int p9_unlinkat(struct p9_server *s, struct rd *r, struct wr *w);
int p9_renameat(struct p9_server *s, struct rd *r, struct wr *w);
int p9_link(struct p9_server *s, struct rd *r, struct wr *w);
int p9_setattr(struct p9_server *s, struct rd *r, struct wr *w);

#endif
