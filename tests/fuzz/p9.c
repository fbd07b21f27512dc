// SPDX-License-Identifier: MIT
/*
 * The 9P2000.L volume server (src/vmm/p9) fed whole T-messages, as a hostile guest
 * writes them, against a small tree on a tmpfs. The first input byte picks a read-only
 * or a read-write volume and the reply buffer's size; the rest is a sequence of messages,
 * each cut at its size field (or at the end of the input when that field lies). A
 * read-write volume gets a fresh tree for every input. After each input the directory
 * around the share must be exactly as it was: nothing outside the share changed.
 */
#include <errno.h>

#include "fuzz.h"
#include "vmm/p9/server.h"

#define MAX_MSGS 64
#define SECRET "outside the share\n"

static char top[128], share[160], outside[160];
static uint8_t resp[P9_MSIZE_MAX];

static void mk(const char *rel, mode_t mode, const char *content)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", share, rel);
	if (S_ISDIR(mode)) {
		if (mkdir(path, mode & 07777) < 0 && errno != EEXIST)
			abort();
	} else if (S_ISLNK(mode)) {
		if (symlink(content, path) < 0)
			abort();
	} else {
		fz_write_file(path, content, strlen(content));
	}
}

static void build_share(void)
{
	fz_rm_tree(share);
	mk("", S_IFDIR | 0755, NULL);
	mk("file", S_IFREG, "hello, 9p\n");
	mk("empty", S_IFREG, "");
	mk("dir", S_IFDIR | 0755, NULL);
	mk("dir/sub", S_IFDIR | 0700, NULL);
	mk("dir/sub/deep", S_IFREG, "deep\n");
	mk("dir/ro", S_IFDIR | 0555, NULL);
	mk("up", S_IFLNK, "../outside/secret");
	mk("root", S_IFLNK, "/");
	mk("rel", S_IFLNK, "dir/sub");
	mk("dir/back", S_IFLNK, "..");
}

/* The directory around the share: exactly "share" and "outside/secret", untouched. */
static void check_outside(void)
{
	char buf[64] = "";
	DIR *d = opendir(top);
	struct dirent *e;
	FILE *f;
	size_t n;

	if (!d)
		abort();
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "share") && strcmp(e->d_name, "outside")) {
			fprintf(stderr, "p9 fuzz: '%s' appeared outside the share\n", e->d_name);
			abort();
		}
	closedir(d);
	snprintf(buf, sizeof(buf), "%s/secret", outside);
	f = fopen(buf, "rb");
	if (!f)
		abort();
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n != strlen(SECRET) || memcmp(buf, SECRET, n)) {
		fprintf(stderr, "p9 fuzz: the file outside the share changed\n");
		abort();
	}
}

/* A hash of every name, type, mode, size, mtime and link target in the share. */
static uint64_t tree_sum(int at, const char *name, uint64_t h)
{
	struct stat st;
	char target[256];
	ssize_t n;
	DIR *d;
	struct dirent *e;
	int fd;

	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return h * 31;
	h = (h ^ st.st_mode) * 0x100000001b3ull;
	h = (h ^ (uint64_t)st.st_size) * 0x100000001b3ull;
	h = (h ^ (uint64_t)st.st_mtim.tv_sec ^ (uint64_t)st.st_mtim.tv_nsec << 20) * 0x100000001b3ull;
	if (S_ISLNK(st.st_mode) && (n = readlinkat(at, name, target, sizeof(target))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (uint8_t)target[i]) * 0x100000001b3ull;
	if (!S_ISDIR(st.st_mode))
		return h;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return h;
	}
	while ((e = readdir(d))) /* order-independent: sum the children */
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			h += tree_sum(dirfd(d), e->d_name, 0xcbf29ce484222325ull);
	closedir(d);
	return h;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[512];

	(void)argc;
	(void)argv;
	fz_mkdtemp(top, sizeof(top), "p9");
	snprintf(share, sizeof(share), "%s/share", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	mkdir(outside, 0700);
	snprintf(path, sizeof(path), "%s/secret", outside);
	fz_write_file(path, SECRET, strlen(SECRET));
	build_share();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	struct p9_server s;
	uint8_t mode = (uint8_t)fz_int(&f, 1);
	bool ro = mode & 1;
	/* mostly the whole buffer; sometimes one too small for the reply or even an error */
	size_t cap = (mode & 0x0e) == 0x0e ? (size_t)(mode >> 4) * 3 : sizeof(resp);

	static bool dirty;
	uint64_t before = 0;

	if (!ro || dirty)
		build_share();
	dirty = !ro;
	if (ro)
		before = tree_sum(AT_FDCWD, share, 0xcbf29ce484222325ull);
	if (p9_server_init(&s, share, ro))
		abort();
	for (int i = 0; i < MAX_MSGS && fz_left(&f) >= 4; i++) {
		size_t len = (size_t)(f.p[f.off] | f.p[f.off + 1] << 8 | f.p[f.off + 2] << 16 |
				      (uint32_t)f.p[f.off + 3] << 24), got;
		const uint8_t *msg;
		size_t n;

		if (len < 4 || len > fz_left(&f))
			len = fz_left(&f);
		msg = fz_bytes(&f, len, &got);
		n = p9_handle(&s, msg, got, resp, cap);
		if (n > cap || (n && n < 7) ||
		    (n && (resp[0] | resp[1] << 8 | resp[2] << 16 | (size_t)resp[3] << 24) != n)) {
			fprintf(stderr, "p9 fuzz: reply of %zu bytes (cap %zu) is malformed\n", n, cap);
			abort();
		}
	}
	p9_server_free(&s);
	check_outside();
	if (ro && tree_sum(AT_FDCWD, share, 0xcbf29ce484222325ull) != before) {
		fprintf(stderr, "p9 fuzz: a read-only volume changed\n");
		abort();
	}
	return 0;
}
