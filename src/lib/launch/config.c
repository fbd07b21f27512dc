// SPDX-License-Identifier: MIT
/*
 * arrow run's per-run initramfs piece: ainit's configuration records, plus the
 * host files given with --config FILE:GUESTPATH (configuration kept apart from
 * the app: the same cached app piece, different files per run).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "common/protocol.h"
#include "lib/image/piece.h"
#include "lib/launch/runopts.h"

/* Every directory above the configuration files, once each, parents first. */
#define MAX_ENTRIES (2 + RUNOPTS_MAX_CONFIGS * 32)

struct entries {
	struct piece_file f[MAX_ENTRIES];
	char *dirs[MAX_ENTRIES]; /* owned copies of directory names */
	size_t n, nr_dirs;
};

static int add_parents(struct entries *e, const char *path)
{
	for (const char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		char *dir = strndup(path + 1, (size_t)(s - path - 1));
		bool seen = false;

		if (!dir)
			return -ENOMEM;
		for (size_t i = 0; i < e->nr_dirs && !seen; i++)
			seen = !strcmp(e->dirs[i], dir);
		if (seen || e->n == MAX_ENTRIES) {
			free(dir);
			if (!seen)
				return -E2BIG;
			continue;
		}
		e->dirs[e->nr_dirs++] = dir;
		e->f[e->n++] = (struct piece_file){ dir, S_IFDIR | 0755 };
	}
	return 0;
}

/* Read a --config file: a regular file of at most RUNOPTS_CONFIG_MAX_BYTES. */
static int read_config(const struct config_file *c, void **data, size_t *len, mode_t *mode)
{
	struct stat st;
	int fd = open(c->host, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "arrow: cannot read --config %s: %s\n", c->host, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > RUNOPTS_CONFIG_MAX_BYTES) {
		fprintf(stderr, "arrow: --config %s: %s\n", c->host,
			S_ISREG(st.st_mode) ? "larger than 4 MiB" : "not a regular file");
		goto fail;
	}
	*data = malloc((size_t)st.st_size + 1);
	if (!*data)
		goto fail;
	got = read(fd, *data, (size_t)st.st_size + 1); /* one more: notice a file that grew */
	if (got != st.st_size) {
		fprintf(stderr, "arrow: cannot read --config %s: %s\n", c->host,
			got < 0 ? strerror(errno) : "it changed while being read");
		free(*data);
		goto fail;
	}
	*len = (size_t)got;
	*mode = st.st_mode & 0777;
	close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

int run_config_piece(const struct run_opts *o, const void *cfg, size_t cfg_len, char **path)
{
	struct entries *e = calloc(1, sizeof(*e));
	void *data[RUNOPTS_MAX_CONFIGS] = { 0 };
	unsigned int nr_data = 0;
	int ret = EXIT_ARROW_ERROR;

	if (!e)
		return EXIT_ARROW_ERROR;
	e->f[e->n++] = (struct piece_file){ ".arrow", S_IFDIR | 0700 };
	e->f[e->n++] = (struct piece_file){ &ARROW_CONFIG_PATH[1], S_IFREG | 0600, cfg, cfg_len };
	for (unsigned int i = 0; i < o->nr_configs; i++) {
		const struct config_file *c = &o->configs[i];
		size_t len;
		mode_t mode;

		if (read_config(c, &data[nr_data], &len, &mode))
			goto out;
		nr_data++;
		if (add_parents(e, c->guest) || e->n == MAX_ENTRIES) {
			fprintf(stderr, "arrow: too many directories above the --config files\n");
			goto out;
		}
		e->f[e->n++] = (struct piece_file){ c->guest + 1, S_IFREG | mode, data[nr_data - 1],
						    len };
	}
	ret = piece_memfd(e->f, e->n, path);
	if (ret) {
		fprintf(stderr, "arrow: cannot assemble the initramfs: %s\n", strerror(-ret));
		ret = EXIT_ARROW_ERROR;
		goto out;
	}
out:
	for (unsigned int i = 0; i < nr_data; i++)
		free(data[i]);
	for (size_t i = 0; i < e->nr_dirs; i++)
		free(e->dirs[i]);
	free(e);
	return ret;
}
