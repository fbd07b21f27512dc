// SPDX-License-Identifier: MIT
#include "lib/state/paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *arrow_bindir(void)
{
	static char dir[PATH_MAX];
	ssize_t n;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n <= 0) {
		strcpy(dir, ".");
		return dir;
	}
	dir[n] = '\0';
	*strrchr(dir, '/') = '\0';
	return dir;
}

const char *arrow_libdir(void)
{
	static char dir[PATH_MAX + 32];
	const char *env = getenv("ARROW_LIBDIR");

	if (env && *env)
		return env;
	if (!dir[0])
		snprintf(dir, sizeof(dir), "%s/../lib/arrow", arrow_bindir());
	return dir;
}

const char *arrow_cache_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("ARROW_CACHE");

	if (env && *env)
		return env;
	if (dir[0])
		return dir;
	env = getenv("XDG_CACHE_HOME");
	if (env && *env) {
		snprintf(dir, sizeof(dir), "%s/arrow", env);
		return dir;
	}
	env = getenv("HOME");
	if (!env || !*env)
		return NULL;
	snprintf(dir, sizeof(dir), "%s/.cache/arrow", env);
	return dir;
}

int read_whole_file(const char *path, void **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t done = 0;
	char *p;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int err = S_ISREG(st.st_mode) ? -errno : -EINVAL;

		close(fd);
		return err;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, p + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			free(p);
			return n < 0 ? -errno : -EIO;
		}
		done += (size_t)n;
	}
	close(fd);
	p[done] = '\0';
	*buf = p;
	*len = done;
	return 0;
}

const char *arrow_data_dir(const char *env_name, const char *name, char *buf, size_t len)
{
	const char *env = getenv(env_name);

	if (env && *env)
		return env;
	if (geteuid() == 0)
		snprintf(buf, len, "/var/lib/arrow/%s", name);
	else if ((env = getenv("XDG_DATA_HOME")) && *env)
		snprintf(buf, len, "%s/arrow/%s", env, name);
	else
		snprintf(buf, len, "%s/.local/share/arrow/%s", getenv("HOME") ? getenv("HOME") : "/",
			 name);
	return buf;
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dir_names(const char *dir, bool (*keep)(const char *name), char ***names)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	int n = 0;

	*names = NULL;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char **nv;

		if (!keep(e->d_name))
			continue;
		nv = realloc(v, (size_t)(n + 1) * sizeof(*v));
		if (!nv || !(nv[n] = strdup(e->d_name))) {
			names_free(nv ? nv : v, n);
			closedir(d);
			return -ENOMEM;
		}
		v = nv;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, (size_t)n, sizeof(*v), by_name);
	*names = v;
	return n;
}

void names_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
