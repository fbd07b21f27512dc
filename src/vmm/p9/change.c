// SPDX-License-Identifier: MIT
/* The requests that change the shared tree (docs/volumes.md); see fid.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fid.h"

/* Tsetattr valid bits */
#define SA_MODE 0x1
#define SA_UID 0x2
#define SA_GID 0x4
#define SA_SIZE 0x8
#define SA_ATIME 0x10
#define SA_MTIME 0x20
#define SA_ATIME_SET 0x80
#define SA_MTIME_SET 0x100

/*
 * The checks every request that changes the tree makes, in order: a well-formed message
 * and name, a known fid, a writable volume.
 */
static int may_change(const struct p9_server *s, const struct rd *r, const struct p9_fid *f,
		      const char *name)
{
	if (r->bad || (name && !name_ok(name)))
		return -EINVAL;
	if (!f)
		return -EBADF;
	return s->read_only ? -EROFS : 0;
}


int p9_give(const struct p9_server *s, int dfd, const char *name, uint32_t uid, uint32_t gid)
{
	/* a server that is not root (rootless) cannot give files away: they stay its own */
	if (!s->guest_owns || geteuid() != 0)
		return 0;
	return fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH)) < 0
		       ? -errno
		       : 0;
}

int p9_lcreate(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	char name[NAME_MAX_LEN + 1], path[64];
	uint32_t flags, mode, gid;
	struct stat st;
	int fd, pfd, ret;

	rstr(r, name, sizeof(name));
	flags = r32(r);
	mode = r32(r);
	gid = r32(r); /* a volume's files belong to whoever runs arrowh; a rootfs's to the guest */
	ret = may_change(s, r, f, name);
	if (ret)
		return ret;
	fd = openat(f->fd, name, (int)(flags & OPEN_ALLOWED) | O_CREAT | O_EXCL | O_NOFOLLOW |
					 O_CLOEXEC | O_NOCTTY, mode & P9_MODE_MASK);
	if (fd < 0)
		return -errno;
	ret = p9_give(s, fd, "", f->uid, gid);
	if (ret) {
		close(fd);
		unlinkat(f->fd, name, 0);
		return ret;
	}
	fd_path(fd, path, sizeof(path));
	pfd = open(path, O_PATH | O_CLOEXEC); /* the new file itself, not whatever the name is now */
	if (pfd < 0 || fstat(fd, &st) < 0) {
		int ret = -errno;

		close(fd);
		if (pfd >= 0)
			close(pfd);
		return ret;
	}
	close(f->fd);
	if (f->open_fd >= 0)
		close(f->open_fd);
	f->fd = pfd;
	f->open_fd = fd;
	wqid(w, &st);
	w32(w, s->msize - 24);
	return 0;
}


int p9_write(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	uint64_t off = r64(r);
	uint32_t count = r32(r);
	const void *data = take(r, count);
	ssize_t n;

	if (r->bad || off > INT64_MAX)
		return -EINVAL;
	if (!f || f->open_fd < 0)
		return -EBADF;
	if (s->read_only)
		return -EROFS;
	n = pwrite(f->open_fd, data, count, (off_t)off);
	if (n < 0)
		return -errno;
	w32(w, (uint32_t)n);
	return 0;
}


/* Tmkdir, Tsymlink: a new entry in a directory fid; qid of what was made. */
int p9_make(struct p9_server *s, struct rd *r, struct wr *w, bool symlink)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	char name[NAME_MAX_LEN + 1], target[4096];
	uint32_t mode = 0, gid;
	struct stat st;
	int ret;

	rstr(r, name, sizeof(name));
	if (symlink)
		rstr(r, target, sizeof(target));
	else
		mode = r32(r);
	gid = r32(r);
	ret = may_change(s, r, f, name);
	if (ret)
		return ret;
	/* a symlink's target is only ever read back to the guest: it is never followed here */
	if ((symlink ? symlinkat(target, f->fd, name)
				 : mkdirat(f->fd, name, mode & P9_MODE_MASK)) < 0)
		return -errno;
	ret = p9_give(s, f->fd, name, f->uid, gid);
	if (ret) {
		unlinkat(f->fd, name, symlink ? 0 : AT_REMOVEDIR);
		return ret;
	}
	if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	wqid(w, &st);
	return 0;
}


int p9_unlinkat(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	char name[NAME_MAX_LEN + 1];
	uint32_t flags;
	int ret;

	(void)w;
	rstr(r, name, sizeof(name));
	flags = r32(r);
	ret = may_change(s, r, f, name);
	if (ret)
		return ret;
	return unlinkat(f->fd, name, (int)(flags & AT_REMOVEDIR)) < 0 ? -errno : 0;
}

int p9_renameat(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *of = p9_fid_get(s, r32(r)), *nf;
	char oldname[NAME_MAX_LEN + 1], newname[NAME_MAX_LEN + 1];

	(void)w;
	rstr(r, oldname, sizeof(oldname));
	nf = p9_fid_get(s, r32(r));
	rstr(r, newname, sizeof(newname));
	if (r->bad || !name_ok(oldname) || !name_ok(newname))
		return -EINVAL;
	if (!of || !nf)
		return -EBADF;
	if (s->read_only)
		return -EROFS;
	return renameat(of->fd, oldname, nf->fd, newname) < 0 ? -errno : 0;
}

int p9_link(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *d = p9_fid_get(s, r32(r)), *f = p9_fid_get(s, r32(r));
	char name[NAME_MAX_LEN + 1], path[64];
	struct stat st;

	(void)w;
	rstr(r, name, sizeof(name));
	if (r->bad || !name_ok(name))
		return -EINVAL;
	if (!d || !f)
		return -EBADF;
	if (s->read_only)
		return -EROFS;
	if (statfd(f->fd, &st) || !S_ISREG(st.st_mode))
		return -EPERM;
	fd_path(f->fd, path, sizeof(path));
	return linkat(AT_FDCWD, path, d->fd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

/*
 * Tsetattr's ownership policy: the shared directory's own metadata stays the host's, and
 * on a volume a file's owner may only be "changed" to what it is already or to the
 * server's own uid/gid (the ids this Arrow was given): never to root or anyone else. In a
 * rootfs (guest_owns) any owner: the tree is the container's, and with no setuid/setgid
 * bit and no device node an owner is no privilege on the host.
 */
static int may_set(const struct p9_server *s, const struct stat *st, uint32_t valid,
		   uint32_t uid, uint32_t gid)
{
	if (st->st_dev == s->root_dev && st->st_ino == s->root_ino &&
	    (valid & (SA_MODE | SA_UID | SA_GID | SA_SIZE | SA_ATIME | SA_MTIME)))
		return -EPERM;
	if (s->guest_owns)
		return 0;
	if ((valid & SA_UID) && uid != st->st_uid && uid != (uint32_t)geteuid())
		return -EPERM;
	if ((valid & SA_GID) && gid != st->st_gid && gid != (uint32_t)getegid())
		return -EPERM;
	return 0;
}

int p9_setattr(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	uint32_t valid = r32(r), mode = r32(r), uid = r32(r), gid = r32(r);
	uint64_t size = r64(r), as = r64(r), ans = r64(r), ms = r64(r), mns = r64(r);
	char path[64];
	struct stat st;
	int ret;

	(void)w;
	if (r->bad)
		return -EINVAL;
	if (!f)
		return -EBADF;
	if (s->read_only)
		return -EROFS;
	ret = statfd(f->fd, &st);
	if (ret)
		return ret;
	ret = may_set(s, &st, valid, uid, gid);
	if (ret)
		return ret;
	fd_path(f->fd, path, sizeof(path));
	if ((valid & (SA_MODE | SA_SIZE | SA_ATIME | SA_MTIME)) && S_ISLNK(st.st_mode))
		return -EOPNOTSUPP;
	if ((valid & SA_MODE) && chmod(path, mode & P9_MODE_MASK) < 0)
		return -errno;
	/* on a volume an owner change is only ever a no-op (see may_set); the kernel drops
	 * the setuid/setgid bits of a chowned file, and so do we, whoever runs us */
	if ((valid & (SA_UID | SA_GID)) &&
	    fchownat(f->fd, "", valid & SA_UID ? uid : (uint32_t)-1, valid & SA_GID ? gid : (uint32_t)-1,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if ((valid & (SA_UID | SA_GID)) && S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)) &&
	    chmod(path, st.st_mode & P9_MODE_MASK) < 0)
		return -errno;
	if (valid & SA_SIZE) {
		if (!S_ISREG(st.st_mode) || size > INT64_MAX)
			return -EINVAL;
		if (truncate(path, (off_t)size) < 0)
			return -errno;
	}
	if (valid & (SA_ATIME | SA_MTIME)) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };

		if (valid & SA_ATIME)
			ts[0] = valid & SA_ATIME_SET ? (struct timespec){ (time_t)as, (long)(ans % 1000000000) }
						     : (struct timespec){ 0, UTIME_NOW };
		if (valid & SA_MTIME)
			ts[1] = valid & SA_MTIME_SET ? (struct timespec){ (time_t)ms, (long)(mns % 1000000000) }
						     : (struct timespec){ 0, UTIME_NOW };
		if (utimensat(AT_FDCWD, path, ts, 0) < 0)
			return -errno;
	}
	return 0;
}

