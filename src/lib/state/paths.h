/* SPDX-License-Identifier: MIT */
/* Where Arrow's files live: next to the binary (build tree or PREFIX), and the cache. */
#ifndef ARROW_PATHS_H
#define ARROW_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Directory holding ainit, vmlinux and machine/: $ARROW_LIBDIR, else BINDIR/../lib/arrow. */
const char *arrow_libdir(void);
/* Directory of the running executable. */
const char *arrow_bindir(void);
/* Cache root: $ARROW_CACHE, $XDG_CACHE_HOME/arrow or $HOME/.cache/arrow; NULL if none. */
const char *arrow_cache_dir(void);
/*
 * A store under Arrow's data directory: $ENV_NAME if set; /var/lib/arrow/NAME for root;
 * else $XDG_DATA_HOME/arrow/NAME or ~/.local/share/arrow/NAME (built in buf).
 */
const char *arrow_data_dir(const char *env_name, const char *name, char *buf, size_t len);
/* Read a whole file into a malloc'ed buffer. Returns 0 or -errno. */
int read_whole_file(const char *path, void **buf, size_t *len);
/* mkdir -p: the parents 0755, path itself with mode (existing ones are kept). 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
/*
 * The names in dir that keep() accepts, sorted (a store's entries; temporary ones are left
 * out by keep). Count (0 when dir does not exist) or -errno; *names freed with names_free.
 */
int dir_names(const char *dir, bool (*keep)(const char *name), char ***names);
void names_free(char **names, int n);

#endif
