// SPDX-License-Identifier: MIT
/* cgroup v2 for Arrows: create, limit, join, leave, read and remove (docs/cgroups.md). */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CGROUP_PATH_MAX 1024

/* The controllers an Arrow's limits need, as cgroup.controllers spells them. */
static const char *const wanted[] = { "memory", "cpu", "pids" };
#define NR_WANTED (sizeof(wanted) / sizeof(wanted[0]))

/* Where cgroup_join found the caller (from /proc/self/cgroup), for cgroup_leave. */
static char joined_from[PATH_MAX];

const char *cgroup_root(void)
{
	const char *r = getenv("ARROW_CGROUP_ROOT");

	return r && *r ? r : CGROUP_DEFAULT_ROOT;
}

int cgroup_v2_mounted(const char *root)
{
	struct statfs sf;

	if (statfs(root, &sf) < 0)
		return -errno;
	return sf.f_type == CGROUP2_SUPER_MAGIC ? 0 : -ENOTSUP;
}

const char *cgroup_path_problem(const char *rel)
{
	const char *c;

	if (strlen(rel) > CGROUP_PATH_MAX)
		return "is longer than 1024 bytes";
	if (rel[0] == '/')
		rel++;
	for (c = rel; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "has a control character";
	if (!*rel)
		return NULL; /* the root itself */
	for (c = rel; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		size_t len = strcspn(c, "/");

		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && !strncmp(c, "..", 2)))
			return "has an empty, '.' or '..' component";
	}
	return NULL;
}

int cgroup_dir(const char *root, const char *parent, const char *name, char *out, size_t len)
{
	int n;

	if (cgroup_path_problem(parent) || (name && (cgroup_path_problem(name) || strchr(name, '/'))))
		return -EINVAL;
	while (*parent == '/')
		parent++;
	if (name && *name)
		n = snprintf(out, len, "%s%s%s/%s", root, *parent ? "/" : "", parent, name);
	else
		n = snprintf(out, len, "%s%s%s", root, *parent ? "/" : "", parent);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void cgroup_limits_for(struct cgroup_limits *l, uint64_t memory_mib, unsigned int cpus)
{
	uint64_t ram = memory_mib << 20;

	l->memory_max = ram + CGROUP_VMM_BASE_BYTES + cpus * CGROUP_VMM_PER_VCPU_BYTES +
			ram / CGROUP_VMM_RAM_DIVISOR;
	l->no_swap = true;
	l->oom_group = true;
	l->cpu_period_us = CGROUP_CPU_PERIOD_US;
	l->cpu_quota_us = (uint64_t)cpus * CGROUP_CPU_PERIOD_US;
	l->pids_max = CGROUP_VMM_TASKS + cpus + CGROUP_TASKS_MARGIN;
}

/* dir/file's contents (at most len - 1 bytes, NUL-terminated). Length or -errno. */
static ssize_t read_small(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

/* Write text to dir/file, an existing file (cgroup interface files are never created). */
static int write_small(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX];
	size_t len = strlen(text);
	ssize_t n;
	int fd, ret = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

int cgroup_set_cpu_max(const char *dir, uint64_t quota_us, uint64_t period_us)
{
	char v[64];

	if (quota_us == CGROUP_UNLIMITED)
		snprintf(v, sizeof(v), "max %llu", (unsigned long long)period_us);
	else
		snprintf(v, sizeof(v), "%llu %llu", (unsigned long long)quota_us,
			 (unsigned long long)period_us);
	return write_small(dir, "cpu.max", v);
}

/* Is word one of the space-separated words of list? */
static bool has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += wl)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n'))
			return true;
	return false;
}

/* Enable the wanted controllers in dir's cgroup.subtree_control where they are not yet. */
static int enable_controllers(const char *dir, char *why, size_t whylen)
{
	char avail[512], enabled[512], add[64] = "";
	ssize_t n;
	int ret;

	n = read_small(dir, "cgroup.controllers", avail, sizeof(avail));
	if (n < 0) {
		snprintf(why, whylen, "cannot read %s/cgroup.controllers: %s", dir, strerror((int)-n));
		return (int)n;
	}
	n = read_small(dir, "cgroup.subtree_control", enabled, sizeof(enabled));
	if (n < 0) {
		snprintf(why, whylen, "cannot read %s/cgroup.subtree_control: %s", dir,
			 strerror((int)-n));
		return (int)n;
	}
	for (size_t i = 0; i < NR_WANTED; i++) {
		if (has_word(enabled, wanted[i]))
			continue;
		if (!has_word(avail, wanted[i])) {
			snprintf(why, whylen, "the %s controller is not available in %s "
					      "(cgroup.controllers: '%.*s')", wanted[i], dir,
				 (int)strcspn(avail, "\n"), avail);
			return -ENOTSUP;
		}
		snprintf(add + strlen(add), sizeof(add) - strlen(add), "%s+%s", *add ? " " : "",
			 wanted[i]);
	}
	if (!*add)
		return 0;
	ret = write_small(dir, "cgroup.subtree_control", add);
	if (ret)
		snprintf(why, whylen, "cannot enable %s in %s/cgroup.subtree_control: %s%s", add, dir,
			 strerror(-ret), ret == -EBUSY ? " (that cgroup has processes of its own; "
						       "choose a parent without any)" : "");
	return ret;
}

int cgroup_create(const char *root, const char *rel, char *why, size_t whylen)
{
	char dir[PATH_MAX];
	const char *problem = cgroup_path_problem(rel);
	size_t len;
	int ret;

	if (problem) {
		snprintf(why, whylen, "the cgroup path '%s' %s", rel, problem);
		return -EINVAL;
	}
	while (*rel == '/')
		rel++;
	if (snprintf(dir, sizeof(dir), "%s", root) >= (int)sizeof(dir)) {
		snprintf(why, whylen, "the cgroup path is too long");
		return -ENAMETOOLONG;
	}
	/* down from the root: each ancestor enables the controllers for the next level */
	while (*rel) {
		size_t seg = strcspn(rel, "/");

		ret = enable_controllers(dir, why, whylen);
		if (ret)
			return ret;
		len = strlen(dir);
		if (len + 1 + seg >= sizeof(dir)) {
			snprintf(why, whylen, "the cgroup path is too long");
			return -ENAMETOOLONG;
		}
		dir[len] = '/';
		memcpy(dir + len + 1, rel, seg);
		dir[len + 1 + seg] = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			ret = -errno;
			snprintf(why, whylen, "cannot create the cgroup %s: %s", dir, strerror(errno));
			return ret;
		}
		rel += seg;
		while (*rel == '/')
			rel++;
	}
	return 0;
}

int cgroup_set_limits(const char *dir, const struct cgroup_limits *l, char *why, size_t whylen)
{
	char v[64];
	const char *file;
	int ret;

	file = "memory.max";
	if (l->memory_max == CGROUP_UNLIMITED)
		snprintf(v, sizeof(v), "max");
	else
		snprintf(v, sizeof(v), "%llu", (unsigned long long)l->memory_max);
	ret = write_small(dir, file, v);
	if (!ret && l->no_swap) {
		file = "memory.swap.max";
		ret = write_small(dir, file, "0");
		if (ret == -ENOENT) /* no swap accounting in this kernel: nothing to swap to */
			ret = 0;
	}
	if (!ret && l->oom_group) {
		file = "memory.oom.group";
		ret = write_small(dir, file, "1");
		if (ret == -ENOENT)
			ret = 0;
	}
	if (!ret) {
		file = "cpu.max";
		if (l->cpu_quota_us == CGROUP_UNLIMITED)
			snprintf(v, sizeof(v), "max %llu", (unsigned long long)l->cpu_period_us);
		else
			snprintf(v, sizeof(v), "%llu %llu", (unsigned long long)l->cpu_quota_us,
				 (unsigned long long)l->cpu_period_us);
		ret = write_small(dir, file, v);
	}
	if (!ret) {
		file = "pids.max";
		if (l->pids_max == CGROUP_UNLIMITED)
			snprintf(v, sizeof(v), "max");
		else
			snprintf(v, sizeof(v), "%llu", (unsigned long long)l->pids_max);
		ret = write_small(dir, file, v);
	}
	if (ret)
		snprintf(why, whylen, "cannot write %s/%s: %s", dir, file, strerror(-ret));
	return ret;
}

/* The caller's cgroup v2 path from /proc/self/cgroup ("0::/a/b"), into out. */
static int own_cgroup(char *out, size_t len)
{
	char buf[PATH_MAX + 64], *line;
	ssize_t n = read_small("/proc/self", "cgroup", buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, "0::", 3)) {
			size_t l = strcspn(line + 3, "\n");

			if (l >= len)
				return -ENAMETOOLONG;
			memcpy(out, line + 3, l);
			out[l] = '\0';
			return 0;
		}
	return -ENOENT;
}

int cgroup_join(const char *dir)
{
	char pid[32];

	if (!dir)
		return 0;
	if (own_cgroup(joined_from, sizeof(joined_from)))
		joined_from[0] = '\0';
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	return write_small(dir, "cgroup.procs", pid);
}

void cgroup_leave(const char *dir)
{
	char home[PATH_MAX], pid[32];
	int ret;

	if (!dir)
		return;
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (joined_from[0] && snprintf(home, sizeof(home), "%s%s", cgroup_root(),
				       strcmp(joined_from, "/") ? joined_from : "") < (int)sizeof(home))
		write_small(home, "cgroup.procs", pid); /* if not, cgroup_remove says so */
	ret = cgroup_remove(dir, 1000);
	if (ret)
		fprintf(stderr, "%s: the cgroup %s stays%s: %s\n", program_invocation_short_name, dir,
			ret == -EBUSY ? " (processes still in it)" : "", strerror(-ret));
}

int cgroup_remove(const char *dir, unsigned int wait_ms)
{
	const char *root = cgroup_root();
	size_t rl = strlen(root);
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	unsigned int waited = 0;

	if (strncmp(dir, root, rl) || dir[rl] != '/' || !dir[rl + 1] ||
	    cgroup_path_problem(dir + rl))
		return -EINVAL;
	for (;;) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || waited >= wait_ms)
			return -errno;
		nanosleep(&pause, NULL);
		waited += 10;
	}
}

int cgroup_read_u64(const char *dir, const char *file, uint64_t *v)
{
	char buf[64], *end;
	ssize_t n = read_small(dir, file, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	if (!strcmp(buf, "max\n") || !strcmp(buf, "max")) {
		*v = CGROUP_UNLIMITED;
		return 0;
	}
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno || (*end && *end != '\n'))
		return -EINVAL;
	return 0;
}

int cgroup_read_key(const char *dir, const char *file, const char *key, uint64_t *v)
{
	char buf[4096], *line, *end;
	size_t kl = strlen(key);
	ssize_t n = read_small(dir, file, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, kl) || line[kl] != ' ')
			continue;
		if (line[kl + 1] < '0' || line[kl + 1] > '9')
			return -EINVAL;
		errno = 0;
		*v = strtoull(line + kl + 1, &end, 10);
		if (errno || (*end && *end != '\n'))
			return -EINVAL;
		return 0;
	}
	return -ENOENT;
}

int cgroup_usage_read(const char *dir, struct cgroup_usage *u)
{
	struct stat st;

	memset(u, 0xff, sizeof(*u)); /* every field CGROUP_UNLIMITED: not given */
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	cgroup_read_u64(dir, "memory.current", &u->memory_current);
	cgroup_read_u64(dir, "memory.max", &u->memory_max);
	cgroup_read_u64(dir, "memory.peak", &u->memory_peak);
	cgroup_read_key(dir, "cpu.stat", "usage_usec", &u->cpu_usage_usec);
	cgroup_read_u64(dir, "pids.current", &u->pids_current);
	cgroup_read_u64(dir, "pids.max", &u->pids_max);
	cgroup_read_key(dir, "memory.events", "oom_kill", &u->oom_kill);
	return 0;
}
