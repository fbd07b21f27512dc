// SPDX-License-Identifier: MIT
/*
 * The 9P2000.L volume server, driven with raw messages as a hostile guest would send
 * them: the path-escape suite ("..", symlinks to /, a symlink swapped in mid-walk),
 * read-only enforcement, and malformed messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p9msg.h"
#include "unit.h"
#include "vmm/p9/server.h"

#define RLERROR 7

static char dir[64];
static uint8_t resp[P9_MSIZE_MAX];

static void start(struct msg *m, uint8_t type)
{
	start_tag(m, type, 1);
}

/* Send m; returns the reply type; *err gets the errno of an Rlerror. */
static uint8_t send(struct p9_server *s, struct msg *m, uint32_t *err)
{
	size_t n;

	for (int i = 0; i < 4; i++)
		m->b[i] = (uint8_t)(m->n >> (8 * i));
	n = p9_handle(s, m->b, m->n, resp, sizeof(resp));
	assert_true(n >= 7);
	assert_int_equal(resp[0] | resp[1] << 8 | resp[2] << 16 | (uint32_t)resp[3] << 24, n);
	assert_int_equal(resp[5], 1); /* the tag comes back */
	if (err)
		*err = resp[4] == RLERROR ? (uint32_t)(resp[7] | resp[8] << 8 | resp[9] << 16) : 0;
	return resp[4];
}

static uint32_t walk(struct p9_server *s, uint32_t fid, uint32_t newfid, int n, const char **names)
{
	struct msg m;
	uint32_t err;

	start(&m, 110);
	put(&m, fid, 4);
	put(&m, newfid, 4);
	put(&m, (uint64_t)n, 2);
	for (int i = 0; i < n; i++)
		put_s(&m, names[i]);
	if (send(s, &m, &err) == RLERROR)
		return err;
	/* a partial walk answers with fewer qids than names */
	return (resp[7] | resp[8] << 8) == n ? 0 : ENOENT;
}

static void attach(struct p9_server *s, uint32_t fid)
{
	struct msg m;

	start(&m, 100);
	put(&m, 65536, 4);
	put_s(&m, "9P2000.L");
	assert_int_equal(send(s, &m, NULL), 101);
	start(&m, 104);
	put(&m, fid, 4);
	put(&m, ~0u, 4);
	put_s(&m, "root");
	put_s(&m, "");
	put(&m, 0, 4);
	assert_int_equal(send(s, &m, NULL), 105);
}

static uint32_t lopen(struct p9_server *s, uint32_t fid, uint32_t flags)
{
	struct msg m;
	uint32_t err;

	start(&m, 12);
	put(&m, fid, 4);
	put(&m, flags, 4);
	send(s, &m, &err);
	return err;
}

static uint32_t lcreate(struct p9_server *s, uint32_t fid, const char *name)
{
	struct msg m;
	uint32_t err;

	start(&m, 14);
	put(&m, fid, 4);
	put_s(&m, name);
	put(&m, O_RDWR, 4);
	put(&m, 0644, 4);
	put(&m, 0, 4);
	send(s, &m, &err);
	return err;
}

static uint32_t rw(struct p9_server *s, uint8_t type, uint32_t fid, const char *data, char *out)
{
	struct msg m;
	uint32_t err;

	start(&m, type);
	put(&m, fid, 4);
	put(&m, 0, 8);
	if (type == 118) {
		put(&m, strlen(data), 4);
		memcpy(m.b + m.n, data, strlen(data));
		m.n += strlen(data);
	} else {
		put(&m, 4096, 4);
	}
	send(s, &m, &err);
	if (!err && out) {
		uint32_t n = resp[7] | resp[8] << 8;

		memcpy(out, resp + 11, n);
		out[n] = '\0';
	}
	return err;
}

static void clunk(struct p9_server *s, uint32_t fid)
{
	struct msg m;

	start(&m, 120);
	put(&m, fid, 4);
	assert_int_equal(send(s, &m, NULL), 121);
}

static void mkpath(const char *rel, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char p[256];

	(void)state;
	strcpy(dir, "/tmp/arrow-p9-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/share", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/share/sub", dir);
	mkdir(p, 0755);
	mkpath("share/sub/file", "inside\n");
	mkpath("secret", "outside\n");
	snprintf(p, sizeof(p), "%s/share/to-root", dir);
	assert_int_equal(symlink("/", p), 0);
	snprintf(p, sizeof(p), "%s/share/to-secret", dir);
	assert_int_equal(symlink("../secret", p), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void share_path(char *out, size_t len)
{
	snprintf(out, len, "%s/share", dir);
}

static void test_walk_read_and_escapes(void **state)
{
	struct p9_server s;
	char path[256], out[4096];
	const char *file[] = { "sub", "file" }, *up[] = { ".." }, *upup[] = { "sub", "..", "..", "secret" };
	const char *via_root[] = { "to-root", "etc", "passwd" }, *slash[] = { "sub/file" };
	const char *sec[] = { "to-secret" }, *dot[] = { "." };

	(void)state;
	share_path(path, sizeof(path));
	assert_int_equal(p9_server_init(&s, path, false), 0);
	attach(&s, 1);
	assert_int_equal(walk(&s, 1, 2, 2, file), 0);
	assert_int_equal(lopen(&s, 2, O_RDONLY), 0);
	assert_int_equal(rw(&s, 116, 2, NULL, out), 0);
	assert_string_equal(out, "inside\n");

	/* nothing the guest names leaves the shared directory */
	assert_int_equal(walk(&s, 1, 3, 1, up), ENOENT);
	assert_int_equal(walk(&s, 1, 3, 4, upup), ENOENT);
	assert_int_equal(walk(&s, 1, 3, 1, dot), ENOENT);
	assert_int_equal(walk(&s, 1, 3, 1, slash), ENOENT);
	/* a symlink is never followed: walking through it fails, opening it fails */
	assert_int_not_equal(walk(&s, 1, 3, 3, via_root), 0);
	assert_int_equal(walk(&s, 1, 3, 1, sec), 0);
	assert_int_equal(lopen(&s, 3, O_RDONLY), ELOOP);
	{ /* readlink gives the guest the target text, to resolve in its own tree */
		struct msg m;

		start(&m, 22);
		put(&m, 3, 4);
		assert_int_equal(send(&s, &m, NULL), 23);
		assert_memory_equal(resp + 9, "../secret", 9);
	}
	p9_server_free(&s);
}

static void test_symlink_swapped_mid_walk(void **state)
{
	struct p9_server s;
	char path[256], a[256], b[256], out[4096];
	const char *sub[] = { "sub" }, *file[] = { "file" }, *secret[] = { "secret" };

	(void)state;
	share_path(path, sizeof(path));
	assert_int_equal(p9_server_init(&s, path, false), 0);
	attach(&s, 1);
	assert_int_equal(walk(&s, 1, 2, 1, sub), 0);
	/* the host-side directory is swapped for a symlink to the parent of the share */
	snprintf(a, sizeof(a), "%s/share/sub", dir);
	snprintf(b, sizeof(b), "%s/share/sub-moved", dir);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(symlink(dir, a), 0);
	/* the fid still names the directory it walked to, not what the name means now */
	assert_int_equal(walk(&s, 2, 3, 1, file), 0);
	assert_int_equal(lopen(&s, 3, O_RDONLY), 0);
	assert_int_equal(rw(&s, 116, 3, NULL, out), 0);
	assert_string_equal(out, "inside\n");
	assert_int_equal(walk(&s, 2, 4, 1, secret), ENOENT);
	/* a fresh walk meets the symlink and stops there */
	assert_int_not_equal(walk(&s, 1, 5, 2, (const char *[]){ "sub", "secret" }), 0);
	unlink(a);
	assert_int_equal(rename(b, a), 0);
	p9_server_free(&s);
}

static void test_write_create_and_read_only(void **state)
{
	struct p9_server s, ro;
	char path[256], out[4096];
	const char *sub[] = { "sub" }, *file[] = { "sub", "file" };
	struct msg m;
	uint32_t err;

	(void)state;
	share_path(path, sizeof(path));
	assert_int_equal(p9_server_init(&s, path, false), 0);
	attach(&s, 1);
	assert_int_equal(walk(&s, 1, 2, 1, sub), 0);
	assert_int_equal(lcreate(&s, 2, "new"), 0);
	assert_int_equal(rw(&s, 118, 2, "written by the guest", NULL), 0);
	clunk(&s, 2);
	snprintf(out, sizeof(out), "%s/share/sub/new", dir);
	{
		FILE *f = fopen(out, "r");
		char line[64] = "";

		assert_non_null(f);
		assert_non_null(fgets(line, sizeof(line), f));
		fclose(f);
		assert_string_equal(line, "written by the guest");
	}
	assert_int_equal(walk(&s, 1, 2, 1, sub), 0);
	assert_int_equal(lcreate(&s, 2, "../escape"), EINVAL);
	assert_int_equal(lcreate(&s, 2, "new"), EEXIST); /* O_EXCL: never through a planted link */
	p9_server_free(&s);

	assert_int_equal(p9_server_init(&ro, path, true), 0);
	attach(&ro, 1);
	assert_int_equal(walk(&ro, 1, 2, 1, sub), 0);
	assert_int_equal(lcreate(&ro, 2, "other"), EROFS);
	assert_int_equal(walk(&ro, 1, 3, 2, file), 0);
	assert_int_equal(lopen(&ro, 3, O_WRONLY), EROFS);
	assert_int_equal(lopen(&ro, 3, O_RDONLY | O_TRUNC), EROFS);
	assert_int_equal(lopen(&ro, 3, O_RDONLY), 0);
	assert_int_equal(rw(&ro, 118, 3, "x", NULL), EROFS);
	start(&m, 76); /* unlinkat */
	put(&m, 2, 4);
	put_s(&m, "new");
	put(&m, 0, 4);
	send(&ro, &m, &err);
	assert_int_equal(err, EROFS);
	start(&m, 72); /* mkdir */
	put(&m, 2, 4);
	put_s(&m, "d");
	put(&m, 0755, 4);
	put(&m, 0, 4);
	send(&ro, &m, &err);
	assert_int_equal(err, EROFS);
	start(&m, 26); /* setattr: size */
	put(&m, 3, 4);
	put(&m, 0x8, 4);
	for (int i = 0; i < 3; i++)
		put(&m, 0, 4);
	for (int i = 0; i < 5; i++)
		put(&m, 0, 8);
	send(&ro, &m, &err);
	assert_int_equal(err, EROFS);
	p9_server_free(&ro);
	assert_int_equal(access(out, F_OK), 0); /* still there */
}

static void test_malformed_messages(void **state)
{
	struct p9_server s;
	char path[256];
	struct msg m;
	uint32_t err;

	(void)state;
	share_path(path, sizeof(path));
	assert_int_equal(p9_server_init(&s, path, false), 0);
	attach(&s, 1);
	/* a string longer than the message */
	start(&m, 110);
	put(&m, 1, 4);
	put(&m, 2, 4);
	put(&m, 1, 2);
	put(&m, 60000, 2);
	assert_int_equal(send(&s, &m, &err), RLERROR);
	assert_int_equal(err, EINVAL);
	/* too many walk names, unknown fids, odd (reply) types, unknown types */
	start(&m, 110);
	put(&m, 1, 4);
	put(&m, 2, 4);
	put(&m, 17, 2);
	assert_int_equal(send(&s, &m, &err), RLERROR);
	assert_int_equal(lopen(&s, 999, O_RDONLY), EBADF);
	start(&m, 101);
	assert_int_equal(send(&s, &m, &err), RLERROR);
	start(&m, 200);
	assert_int_equal(send(&s, &m, &err), RLERROR);
	start(&m, 18); /* mknod: never */
	put(&m, 1, 4);
	put_s(&m, "dev");
	for (int i = 0; i < 4; i++)
		put(&m, 0, 4);
	assert_int_equal(send(&s, &m, &err), RLERROR);
	assert_int_equal(err, EPERM);
	/* every truncation of a valid message is answered, never crashes */
	start(&m, 110);
	put(&m, 1, 4);
	put(&m, 9, 4);
	put(&m, 2, 2);
	put_s(&m, "sub");
	put_s(&m, "file");
	for (size_t cut = 0; cut < m.n; cut++) {
		size_t n = p9_handle(&s, m.b, cut, resp, sizeof(resp));

		assert_true(n >= 7);
	}
	/* the size field may not claim more than was sent */
	start(&m, 120);
	put(&m, 1, 4);
	m.b[0] = 0xff;
	assert_true(p9_handle(&s, m.b, m.n, resp, sizeof(resp)) >= 7);
	assert_int_equal(resp[4], RLERROR);
	p9_server_free(&s);
}

/* Tsetattr with the given valid bits, mode, uid and gid; the errno of the reply. */
static uint32_t setattr(struct p9_server *s, uint32_t fid, uint32_t valid, uint32_t mode,
			uint32_t uid, uint32_t gid)
{
	struct msg m;
	uint32_t err;

	start(&m, 26);
	put(&m, fid, 4);
	put(&m, valid, 4);
	put(&m, mode, 4);
	put(&m, uid, 4);
	put(&m, gid, 4);
	for (int i = 0; i < 5; i++)
		put(&m, 0, 8);
	send(s, &m, &err);
	return err;
}

static mode_t mode_of(const char *rel)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode;
}

/* The ownership policy: no setuid/setgid file, no chown to other ids, the root's own metadata stays. */
static void test_ownership_policy(void **state)
{
	struct p9_server s;
	char path[256], host[256];
	const char *sub[] = { "sub" }, *suid[] = { "sub", "suid" };
	struct stat before, after;
	struct msg m;
	uint32_t err;

	(void)state;
	share_path(path, sizeof(path));
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(p9_server_init(&s, path, false), 0);
	attach(&s, 1);
	/* Tlcreate with mode 06755: created without the setuid/setgid bits */
	assert_int_equal(walk(&s, 1, 2, 1, sub), 0);
	start(&m, 14);
	put(&m, 2, 4);
	put_s(&m, "made-suid");
	put(&m, O_RDWR, 4);
	put(&m, 06755, 4);
	put(&m, 0, 4);
	send(&s, &m, &err);
	assert_int_equal(err, 0);
	clunk(&s, 2);
	assert_int_equal(mode_of("share/sub/made-suid") & 07777, 0755);
	/* Tmkdir with 06777 | sticky: sticky kept, setuid/setgid never asked for */
	assert_int_equal(walk(&s, 1, 2, 1, sub), 0);
	start(&m, 72);
	put(&m, 2, 4);
	put_s(&m, "d");
	put(&m, 07777, 4);
	put(&m, 0, 4);
	send(&s, &m, &err);
	assert_int_equal(err, 0);
	assert_int_equal(mode_of("share/sub/d") & (S_ISUID), 0);
	/* Tsetattr mode 04755 on a file: stored as 0755 */
	mkpath("share/sub/suid", "#!/bin/sh\n");
	assert_int_equal(walk(&s, 1, 3, 2, suid), 0);
	assert_int_equal(setattr(&s, 3, 0x1, 04755, 0, 0), 0);
	assert_int_equal(mode_of("share/sub/suid") & 07777, 0755);
	/* chown to an id that is neither the file's nor the server's: refused */
	assert_int_equal(setattr(&s, 3, 0x2, 0, 4242, 0), EPERM);
	assert_int_equal(setattr(&s, 3, 0x4, 0, 0, 4242), EPERM);
	/* a setuid file the host put there loses the bit once the guest opens it for writing */
	snprintf(host, sizeof(host), "%s/share/sub/suid", dir);
	assert_int_equal(chmod(host, 04755), 0);
	assert_int_equal(lopen(&s, 3, O_WRONLY), 0);
	assert_int_equal(mode_of("share/sub/suid") & 07777, 0755);
	clunk(&s, 3);
	/* the shared directory's own mode, owner and times are the host's */
	assert_int_equal(walk(&s, 1, 4, 0, NULL), 0);
	assert_int_equal(setattr(&s, 4, 0x1, 02777, 0, 0), EPERM);
	assert_int_equal(setattr(&s, 4, 0x6, 0, before.st_uid, before.st_gid), EPERM);
	assert_int_equal(setattr(&s, 4, 0x30, 0, 0, 0), EPERM);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_mode, before.st_mode);
	assert_int_equal(after.st_uid, before.st_uid);
	p9_server_free(&s);
}

static struct stat stat_of(const char *rel)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_int_equal(lstat(p, &st), 0);
	return st;
}

/* Tattach as the guest's uid (n_uname), on a fresh Tversion. */
static void attach_as(struct p9_server *s, uint32_t fid, uint32_t uid)
{
	struct msg m;

	start(&m, 100);
	put(&m, 65536, 4);
	put_s(&m, "9P2000.L");
	assert_int_equal(send(s, &m, NULL), 101);
	start(&m, 104);
	put(&m, fid, 4);
	put(&m, ~0u, 4);
	put_s(&m, "");
	put_s(&m, "");
	put(&m, uid, 4);
	assert_int_equal(send(s, &m, NULL), 105);
}

/* Tlcreate / Tmkdir / Tsymlink / Tmknod in dir fid of name, with mode and gid. */
static uint32_t make(struct p9_server *s, uint8_t type, uint32_t fid, const char *name,
		     uint32_t mode, uint32_t gid)
{
	struct msg m;
	uint32_t err;

	start(&m, type);
	put(&m, fid, 4);
	put_s(&m, name);
	if (type == 14) /* Tlcreate: flags, mode, gid */
		put(&m, O_RDWR, 4);
	if (type == 16) /* Tsymlink: target, gid */
		put_s(&m, "/bin/true");
	else
		put(&m, mode, 4);
	if (type == 18) { /* Tmknod: mode, major, minor, gid */
		put(&m, 1, 4);
		put(&m, 3, 4);
	}
	put(&m, gid, 4);
	send(s, &m, &err);
	return err;
}

/*
 * The rootfs policy (guest_owns): what the guest makes is its uid's and the gid it names,
 * chown to any id is allowed, setuid/setgid never made, device nodes never; an image's
 * setuid program keeps its bit until the guest writes it. A volume keeps its policy.
 */
static void test_rootfs_policy(void **state)
{
	struct p9_server s;
	char path[256], host[256];
	const char *sub[] = { "sub" }, *suid[] = { "sub", "img-suid" }, *mine[] = { "sub", "mine" };
	struct stat st;

	(void)state;
	if (geteuid() != 0)
		skip(); /* giving files away needs root: reported as SKIPPED, not passed */
	share_path(path, sizeof(path));
	assert_int_equal(p9_server_init(&s, path, false), 0);
	s.guest_owns = true;
	attach_as(&s, 1, 1000);
	assert_int_equal(walk(&s, 1, 2, 1, sub), 0);
	/* created as the guest's uid and the gid it asks for */
	assert_int_equal(make(&s, 14, 2, "mine", 0644, 1001), 0);
	clunk(&s, 2);
	st = stat_of("share/sub/mine");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1001);
	assert_int_equal(walk(&s, 1, 2, 1, sub), 0);
	assert_int_equal(make(&s, 72, 2, "mydir", 0755, 1000), 0);
	st = stat_of("share/sub/mydir");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(make(&s, 16, 2, "mylink", 0, 1002), 0);
	st = stat_of("share/sub/mylink");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1002);
	/* setuid/setgid asked for at creation: masked */
	assert_int_equal(make(&s, 14, 2, "suid-made", 06755, 0), 0);
	clunk(&s, 2);
	assert_int_equal(mode_of("share/sub/suid-made") & 07777, 0755);
	/* no device node, whatever the owner */
	assert_int_equal(walk(&s, 1, 2, 1, sub), 0);
	assert_int_equal(make(&s, 18, 2, "null", S_IFCHR | 0666, 0), EPERM);
	snprintf(host, sizeof(host), "%s/share/sub/null", dir);
	assert_int_equal(access(host, F_OK), -1);
	/* chown to any id: allowed in the container's own tree */
	assert_int_equal(walk(&s, 1, 3, 2, mine), 0);
	assert_int_equal(setattr(&s, 3, 0x6, 0, 4242, 4343), 0);
	st = stat_of("share/sub/mine");
	assert_int_equal(st.st_uid, 4242);
	assert_int_equal(st.st_gid, 4343);
	assert_int_equal(setattr(&s, 3, 0x6, 0, 0, 0), 0);
	assert_int_equal(stat_of("share/sub/mine").st_uid, 0);
	/* ... but never a setuid/setgid mode, even on a root-owned file */
	assert_int_equal(setattr(&s, 3, 0x1, 06755, 0, 0), 0);
	assert_int_equal(mode_of("share/sub/mine") & 07777, 0755);
	clunk(&s, 3);
	/* the image's setuid program: read and run as it is, its bit kept; written: dropped */
	mkpath("share/sub/img-suid", "#!/bin/sh\n");
	snprintf(host, sizeof(host), "%s/share/sub/img-suid", dir);
	assert_int_equal(chmod(host, 04755), 0);
	assert_int_equal(walk(&s, 1, 4, 2, suid), 0);
	assert_int_equal(lopen(&s, 4, O_RDONLY), 0);
	clunk(&s, 4);
	assert_int_equal(mode_of("share/sub/img-suid") & 07777, 04755);
	assert_int_equal(walk(&s, 1, 4, 2, suid), 0);
	assert_int_equal(lopen(&s, 4, O_WRONLY), 0);
	clunk(&s, 4);
	assert_int_equal(mode_of("share/sub/img-suid") & 07777, 0755);
	/* the share's own metadata stays the host's here too */
	assert_int_equal(walk(&s, 1, 5, 0, NULL), 0);
	assert_int_equal(setattr(&s, 5, 0x6, 0, 1000, 1000), EPERM);
	p9_server_free(&s);

	/* the same requests on a volume (no guest_owns): the server's own ids, no chown */
	assert_int_equal(p9_server_init(&s, path, false), 0);
	attach_as(&s, 1, 1000);
	assert_int_equal(walk(&s, 1, 2, 1, sub), 0);
	assert_int_equal(make(&s, 14, 2, "vol-file", 0644, 1001), 0);
	clunk(&s, 2);
	st = stat_of("share/sub/vol-file");
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_gid, getegid());
	assert_int_equal(walk(&s, 1, 3, 2, mine), 0);
	assert_int_equal(setattr(&s, 3, 0x2, 0, 4242, 0), EPERM);
	p9_server_free(&s);
}

/* The fid table is capped: past max_fids a walk fails with ENFILE and holds nothing more. */
static void test_fid_cap(void **state)
{
	struct p9_server s;
	char path[256];
	const char *sub[] = { "sub" };
	unsigned int held;

	(void)state;
	share_path(path, sizeof(path));
	assert_int_equal(p9_server_init(&s, path, false), 0);
	s.max_fids = 16;
	attach(&s, 1);
	for (uint32_t fid = 2; fid < 40; fid++) {
		uint32_t err = walk(&s, 1, fid, 1, sub);

		assert_int_equal(err, fid <= 16 ? 0 : ENFILE);
	}
	held = s.nr_fids;
	assert_int_equal(held, 16);
	p9_server_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_read_and_escapes),
		cmocka_unit_test(test_symlink_swapped_mid_walk),
		cmocka_unit_test(test_write_create_and_read_only),
		cmocka_unit_test(test_malformed_messages),
		cmocka_unit_test(test_ownership_policy),
		cmocka_unit_test(test_fid_cap),
		cmocka_unit_test(test_rootfs_policy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
