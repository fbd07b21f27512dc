// SPDX-License-Identifier: MIT
#include "fid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Message types (9P2000.L; T is even, its R is T + 1). */
enum {
	P9_RLERROR = 7,
	P9_TSTATFS = 8,
	P9_TLOPEN = 12,
	P9_TLCREATE = 14,
	P9_TSYMLINK = 16,
	P9_TMKNOD = 18,
	P9_TRENAME = 20,
	P9_TREADLINK = 22,
	P9_TGETATTR = 24,
	P9_TSETATTR = 26,
	P9_TXATTRWALK = 30,
	P9_TXATTRCREATE = 32,
	P9_TREADDIR = 40,
	P9_TFSYNC = 50,
	P9_TLOCK = 52,
	P9_TGETLOCK = 54,
	P9_TLINK = 70,
	P9_TMKDIR = 72,
	P9_TRENAMEAT = 74,
	P9_TUNLINKAT = 76,
	P9_TVERSION = 100,
	P9_TAUTH = 102,
	P9_TATTACH = 104,
	P9_TFLUSH = 108,
	P9_TWALK = 110,
	P9_TREAD = 116,
	P9_TWRITE = 118,
	P9_TCLUNK = 120,
	P9_TREMOVE = 122,
};

#define HDR 7           /* size[4] type[1] tag[2] */
#define MAX_WALK 16

struct p9_fid *p9_fid_get(struct p9_server *s, uint32_t id)
{
	for (struct p9_fid *f = s->fids[id % 256]; f; f = f->next)
		if (f->id == id)
			return f;
	return NULL;
}

static int fid_add(struct p9_server *s, uint32_t id, int fd, uint32_t uid)
{
	struct p9_fid *f;

	if (p9_fid_get(s, id) || s->nr_fids >= s->max_fids) {
		close(fd);
		return p9_fid_get(s, id) ? -EBADF : -ENFILE;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->id = id;
	f->fd = fd;
	f->open_fd = -1;
	f->uid = uid;
	f->next = s->fids[id % 256];
	s->fids[id % 256] = f;
	s->nr_fids++;
	return 0;
}

static void fid_del(struct p9_server *s, uint32_t id)
{
	for (struct p9_fid **pp = &s->fids[id % 256]; *pp; pp = &(*pp)->next) {
		struct p9_fid *f = *pp;

		if (f->id != id)
			continue;
		*pp = f->next;
		close(f->fd);
		if (f->open_fd >= 0)
			close(f->open_fd);
		free(f);
		s->nr_fids--;
		return;
	}
}

int p9_server_init(struct p9_server *s, const char *path, bool read_only)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0)
		return -errno;
	if (fstat(s->root_fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		close(s->root_fd);
		return -ENOTDIR;
	}
	s->read_only = read_only;
	s->msize = P9_MSIZE_MAX;
	s->max_fids = P9_MAX_FIDS;
	s->root_dev = st.st_dev;
	s->root_ino = st.st_ino;
	return 0;
}

void p9_server_reset(struct p9_server *s)
{
	for (unsigned int b = 0; b < 256; b++)
		while (s->fids[b])
			fid_del(s, s->fids[b]->id);
}

void p9_server_free(struct p9_server *s)
{
	p9_server_reset(s);
	if (s->root_fd >= 0)
		close(s->root_fd);
	s->root_fd = -1;
}

static int reply_stat(struct wr *w, int fd)
{
	struct stat st;
	int ret = statfd(fd, &st);

	if (!ret)
		wqid(w, &st);
	return ret;
}

static int t_version(struct p9_server *s, struct rd *r, struct wr *w)
{
	uint32_t msize = r32(r);
	char version[32];

	rstr(r, version, sizeof(version));
	if (r->bad || msize < 4096)
		return -EINVAL;
	p9_server_reset(s);
	s->msize = msize < P9_MSIZE_MAX ? msize : P9_MSIZE_MAX;
	w32(w, s->msize);
	wstr(w, strcmp(version, "9P2000.L") ? "unknown" : "9P2000.L");
	return 0;
}

static int t_attach(struct p9_server *s, struct rd *r, struct wr *w)
{
	uint32_t fid = r32(r);
	char uname[256], aname[256];
	uint32_t uid;
	int fd, ret;

	skip(r, 4); /* afid: no authentication */
	rstr(r, uname, sizeof(uname));
	rstr(r, aname, sizeof(aname));
	uid = r32(r); /* n_uname: the guest user this attach is for (only guest_owns uses it) */
	if (r->bad)
		return -EINVAL;
	if (uid == ~0u)
		uid = 65534; /* no numeric user: nobody */
	fd = fcntl(s->root_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = fid_add(s, fid, fd, uid);
	return ret ? ret : reply_stat(w, s->root_fd);
}

static int t_walk(struct p9_server *s, struct rd *r, struct wr *w)
{
	uint32_t fid = r32(r), newfid = r32(r);
	uint16_t n = r16(r);
	char names[MAX_WALK][NAME_MAX_LEN + 1];
	struct p9_fid *f = p9_fid_get(s, fid);
	struct stat qids[MAX_WALK];
	int cur, next, done = 0, err = 0;

	if (n > MAX_WALK)
		return -E2BIG;
	for (unsigned int i = 0; i < n; i++)
		rstr(r, names[i], sizeof(names[i]));
	if (r->bad)
		return -EINVAL;
	if (!f)
		return -EBADF;
	if (newfid != fid && p9_fid_get(s, newfid))
		return -EBADF;
	cur = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -errno;
	for (; done < n; done++) {
		if (!name_ok(names[done])) {
			err = -ENOENT; /* ".." and "." never leave or name the directory here */
			break;
		}
		/* one component, from a directory we hold, never following a symlink */
		next = openat(cur, names[done], O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			err = -errno;
			break;
		}
		close(cur);
		cur = next;
		if (statfd(cur, &qids[done])) {
			err = -EIO;
			done++;
			break;
		}
	}
	if (done == 0 && n > 0) {
		close(cur);
		return err;
	}
	w16(w, done);
	for (int i = 0; i < done; i++)
		wqid(w, &qids[i]);
	if (done < n) { /* a partial walk: the qids so far, newfid not made */
		close(cur);
		return 0;
	}
	if (newfid == fid) {
		close(f->fd);
		if (f->open_fd >= 0)
			close(f->open_fd);
		f->fd = cur;
		f->open_fd = -1;
		return 0;
	}
	return fid_add(s, newfid, cur, f->uid);
}

static int t_getattr(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	struct stat st;
	int ret;

	skip(r, 8); /* request mask: everything basic is always sent */
	if (r->bad)
		return -EINVAL;
	if (!f)
		return -EBADF;
	ret = statfd(f->fd, &st);
	if (ret)
		return ret;
	w64(w, 0x7ff); /* P9_GETATTR_BASIC */
	wqid(w, &st);
	w32(w, st.st_mode);
	w32(w, st.st_uid);
	w32(w, st.st_gid);
	w64(w, st.st_nlink);
	w64(w, st.st_rdev);
	w64(w, (uint64_t)st.st_size);
	w64(w, (uint64_t)st.st_blksize);
	w64(w, (uint64_t)st.st_blocks);
	w64(w, (uint64_t)st.st_atim.tv_sec);
	w64(w, (uint64_t)st.st_atim.tv_nsec);
	w64(w, (uint64_t)st.st_mtim.tv_sec);
	w64(w, (uint64_t)st.st_mtim.tv_nsec);
	w64(w, (uint64_t)st.st_ctim.tv_sec);
	w64(w, (uint64_t)st.st_ctim.tv_nsec);
	w64(w, 0); /* btime, gen, data_version: not reported */
	w64(w, 0);
	w64(w, 0);
	w64(w, 0);
	return 0;
}

static int t_lopen(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	uint32_t flags = r32(r);
	char path[64];
	struct stat st;
	int fd, ret;

	if (r->bad)
		return -EINVAL;
	if (!f)
		return -EBADF;
	if (f->open_fd >= 0)
		return -EBUSY;
	ret = statfd(f->fd, &st);
	if (ret)
		return ret;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return -EPERM; /* devices, FIFOs, sockets of the host are not the guest's */
	flags &= OPEN_ALLOWED;
	if (s->read_only && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return -EROFS;
	fd_path(f->fd, path, sizeof(path));
	fd = open(path, (int)flags | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/* a guest that may write a setuid/setgid file must not keep its privilege: clear the
	 * bits as the kernel does for a writer without CAP_FSETID (arrowh may hold it) */
	if ((flags & O_ACCMODE) != O_RDONLY && S_ISREG(st.st_mode) &&
	    (st.st_mode & (S_ISUID | S_ISGID)) && fchmod(fd, st.st_mode & P9_MODE_MASK) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	f->open_fd = fd;
	wqid(w, &st);
	w32(w, s->msize - 24); /* iounit */
	return 0;
}

static int t_read(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	uint64_t off = r64(r);
	uint32_t count = r32(r);
	size_t room;
	ssize_t n;

	if (r->bad)
		return -EINVAL;
	if (!f || f->open_fd < 0)
		return -EBADF;
	room = w->cap - w->off - 4;
	if (count > room)
		count = (uint32_t)room;
	if (off > INT64_MAX)
		return -EINVAL;
	n = pread(f->open_fd, w->p + w->off + 4, count, (off_t)off);
	if (n < 0)
		return -errno;
	w32(w, (uint32_t)n);
	w->off += (size_t)n;
	return 0;
}

static int t_clunk(struct p9_server *s, struct rd *r, struct wr *w)
{
	uint32_t id = r32(r);

	(void)w;
	if (r->bad)
		return -EINVAL;
	if (!p9_fid_get(s, id))
		return -EBADF;
	fid_del(s, id);
	return 0;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int t_readdir(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	uint64_t off = r64(r);
	uint32_t count = r32(r);
	size_t count_at, start;
	char buf[8192];
	long n;

	if (r->bad || off > INT64_MAX)
		return -EINVAL;
	if (!f || f->open_fd < 0)
		return -EBADF;
	if (count > w->cap - w->off - 4)
		count = (uint32_t)(w->cap - w->off - 4);
	if (lseek(f->open_fd, (off_t)off, SEEK_SET) < 0)
		return -errno;
	count_at = w->off;
	w32(w, 0);
	start = w->off;
	n = syscall(SYS_getdents64, f->open_fd, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	for (long pos = 0; pos < n;) {
		struct linux_dirent64 *d = (void *)(buf + pos);
		size_t nl = strnlen(d->d_name, (size_t)d->d_reclen);
		size_t need = 13 + 8 + 1 + 2 + nl;

		if (d->d_reclen == 0 || (size_t)pos + d->d_reclen > (size_t)n)
			break;
		if (w->off - start + need > count)
			break; /* the rest comes with the next Treaddir, from this entry's offset */
		w8(w, d->d_type == DT_DIR ? 0x80 : d->d_type == DT_LNK ? 0x02 : 0);
		w32(w, 0);
		w64(w, d->d_ino);
		w64(w, (uint64_t)d->d_off);
		w8(w, d->d_type);
		w16(w, nl);
		wbytes(w, d->d_name, nl);
		pos += d->d_reclen;
	}
	{ /* patch the count */
		uint32_t c = (uint32_t)(w->off - start);

		for (int i = 0; i < 4; i++)
			w->p[count_at + i] = (uint8_t)(c >> (8 * i));
	}
	return 0;
}

static int t_statfs(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	struct statfs sf;

	if (r->bad)
		return -EINVAL;
	if (!f)
		return -EBADF;
	if (fstatfs(f->fd, &sf) < 0)
		return -errno;
	w32(w, (uint32_t)sf.f_type);
	w32(w, (uint32_t)sf.f_bsize);
	w64(w, sf.f_blocks);
	w64(w, sf.f_bfree);
	w64(w, sf.f_bavail);
	w64(w, sf.f_files);
	w64(w, sf.f_ffree);
	w64(w, 0); /* fsid */
	w32(w, (uint32_t)sf.f_namelen);
	return 0;
}

static int t_readlink(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	char target[4096];
	ssize_t n;

	if (r->bad)
		return -EINVAL;
	if (!f)
		return -EBADF;
	n = readlinkat(f->fd, "", target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	wstr(w, target);
	return 0;
}

static int t_fsync(struct p9_server *s, struct rd *r, struct wr *w)
{
	struct p9_fid *f = p9_fid_get(s, r32(r));
	uint32_t datasync = r32(r);

	(void)w;
	if (r->bad)
		return -EINVAL;
	if (!f || f->open_fd < 0)
		return -EBADF;
	return (datasync ? fdatasync(f->open_fd) : fsync(f->open_fd)) < 0 ? -errno : 0;
}

/* Locks are the guest's business (one guest per volume is what Arrow sets up). */
static int t_lock(struct p9_server *s, struct rd *r, struct wr *w, uint8_t type)
{
	uint32_t fid = r32(r);
	uint8_t ltype = r8(r);
	uint32_t flags = type == P9_TLOCK ? r32(r) : 0;
	uint64_t start = r64(r), length = r64(r);
	uint32_t proc = r32(r);
	char client[256];

	(void)flags;
	rstr(r, client, sizeof(client));
	if (r->bad)
		return -EINVAL;
	if (!p9_fid_get(s, fid))
		return -EBADF;
	if (type == P9_TLOCK) {
		w8(w, 0); /* P9_LOCK_SUCCESS */
		return 0;
	}
	(void)ltype;
	w8(w, F_UNLCK);
	w64(w, start);
	w64(w, length);
	w32(w, proc);
	wstr(w, client);
	return 0;
}

static int dispatch(struct p9_server *s, uint8_t type, struct rd *r, struct wr *w)
{
	switch (type) {
	case P9_TVERSION: return t_version(s, r, w);
	case P9_TATTACH: return t_attach(s, r, w);
	case P9_TWALK: return t_walk(s, r, w);
	case P9_TGETATTR: return t_getattr(s, r, w);
	case P9_TLOPEN: return t_lopen(s, r, w);
	case P9_TLCREATE: return p9_lcreate(s, r, w);
	case P9_TREAD: return t_read(s, r, w);
	case P9_TWRITE: return p9_write(s, r, w);
	case P9_TCLUNK: return t_clunk(s, r, w);
	case P9_TREADDIR: return t_readdir(s, r, w);
	case P9_TSTATFS: return t_statfs(s, r, w);
	case P9_TMKDIR: return p9_make(s, r, w, false);
	case P9_TSYMLINK: return p9_make(s, r, w, true);
	case P9_TREADLINK: return t_readlink(s, r, w);
	case P9_TUNLINKAT: return p9_unlinkat(s, r, w);
	case P9_TRENAMEAT: return p9_renameat(s, r, w);
	case P9_TLINK: return p9_link(s, r, w);
	case P9_TSETATTR: return p9_setattr(s, r, w);
	case P9_TFSYNC: return t_fsync(s, r, w);
	case P9_TLOCK: return t_lock(s, r, w, P9_TLOCK);
	case P9_TGETLOCK: return t_lock(s, r, w, P9_TGETLOCK);
	case P9_TFLUSH: return 0; /* requests are answered in order: nothing to cancel */
	case P9_TXATTRWALK:
	case P9_TXATTRCREATE:
	case P9_TRENAME:  /* the kernel falls back from Trenameat only if that fails */
	case P9_TREMOVE:  /* unlinkat is what 9P2000.L clients use */
		return -EOPNOTSUPP;
	case P9_TMKNOD:
	case P9_TAUTH:
	default:
		return -EPERM;
	}
}

size_t p9_handle(struct p9_server *s, const uint8_t *req, size_t req_len, uint8_t *resp,
		 size_t resp_cap)
{
	struct rd r = { req, req_len, 0, false };
	uint32_t size = r32(&r);
	uint8_t type = r8(&r);
	uint16_t tag = r16(&r);
	struct wr w = { resp, resp_cap < s->msize ? resp_cap : s->msize, HDR, false };
	int ret;

	if (resp_cap < HDR + 4)
		return 0;
	if (type == P9_TVERSION) /* msize is what it negotiates: answer it in full */
		w.cap = resp_cap < P9_MSIZE_MAX ? resp_cap : P9_MSIZE_MAX;
	if (r.bad || size < HDR || size > req_len || (type & 1))
		ret = -EINVAL;
	else {
		r.len = size;
		ret = dispatch(s, type, &r, &w);
	}
	if (!ret && w.bad)
		ret = -ENOBUFS;
	if (ret) {
		w.off = HDR;
		w.bad = false;
		w32(&w, (uint32_t)-ret);
		type = P9_RLERROR - 1;
	}
	resp[0] = (uint8_t)w.off;
	resp[1] = (uint8_t)(w.off >> 8);
	resp[2] = (uint8_t)(w.off >> 16);
	resp[3] = (uint8_t)(w.off >> 24);
	resp[4] = (uint8_t)(type + 1);
	resp[5] = (uint8_t)tag;
	resp[6] = (uint8_t)(tag >> 8);
	return w.off;
}
