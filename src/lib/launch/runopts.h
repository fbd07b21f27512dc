/* SPDX-License-Identifier: MIT */
/* `arrow run` options, parsed the way docker users expect. */
#ifndef ARROW_RUNOPTS_H
#define ARROW_RUNOPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/net/netaddr.h"

#define RUNOPTS_MAX_ENV 1024
#define RUNOPTS_MAX_PORTS 64
#define RUNOPTS_MAX_DNS 3
#define RUNOPTS_MAX_CONFIGS 32
#define RUNOPTS_CONFIG_MAX_BYTES (4u << 20) /* one --config file */

/* --config FILE:GUESTPATH: one host file placed in the Arrow's root filesystem */
struct config_file {
	char *host; /* malloc'ed copy of FILE */
	const char *guest; /* absolute, checked by runopts_config_path_ok(); inside host's buffer */
};

#define RUNOPTS_MAX_VOLUMES 8

/* -v HOSTDIR:GUESTDIR[:ro|rw] (docs/volumes.md) */
struct volume_opt {
	char *host;        /* malloc'ed copy of the argument, cut at the colons */
	const char *guest; /* absolute, checked; inside host's buffer */
	bool read_only;
	bool chown;        /* :U: chown -R to the jail's user before the Arrow starts */
};

struct run_opts {
	uint64_t memory_mib;
	unsigned int cpus;
	const char *env[RUNOPTS_MAX_ENV];
	unsigned int nr_env;
	char *env_owned[RUNOPTS_MAX_ENV]; /* the env[] entries read from --env-file (malloc'ed) */
	unsigned int nr_env_owned;
	const char *workdir;
	const char *kernel;
	const char *hostname;
	const char *kernel_args; /* extra kernel command line, space-joined */
	const char *name;     /* --name */
	const char *argv0;    /* --argv0: what the app sees as argv[0] */
	const char *user;     /* --user UID[:GID], validated */
	unsigned int uid, gid;
	bool detach;          /* -d */
	bool remove;          /* --rm */
	bool interactive;     /* -i: keep stdin open (for attach when detached) */
	bool tty;             /* -t */
	uint64_t log_max_size; /* --log-opt max-size=, 0: default */
	unsigned int log_max_files; /* --log-opt max-file=, 0: default */
	/* network (docs/network.md) */
	const char *network;  /* --network NAME; "none"; NULL: the default for this user */
	const char *ip;       /* --ip */
	const char *mac;      /* --mac-address */
	struct port_map ports[RUNOPTS_MAX_PORTS]; /* -p */
	unsigned int nr_ports;
	const char *dns[RUNOPTS_MAX_DNS]; /* --dns */
	unsigned int nr_dns;
	struct config_file configs[RUNOPTS_MAX_CONFIGS]; /* --config */
	unsigned int nr_configs;
	struct volume_opt volumes[RUNOPTS_MAX_VOLUMES]; /* -v */
	unsigned int nr_volumes;
	bool timing;
	int boot_timeout_s;   /* --boot-timeout; -1: not given (ARROW_BOOT_TIMEOUT or the default) */
	bool debug_console;
	/* cgroup v2 (docs/cgroups.md) */
	const char *cgroup_parent; /* --cgroup-parent, else $ARROW_CGROUP_PARENT; NULL: default */
	bool no_cgroup;            /* --cgroup none */
	bool no_sandbox;           /* --no-sandbox: passed to arrowh */
	/* snapshots (docs/snapshots.md) */
	const char *from;     /* --from/--template NAME: start a clone of this snapshot */
	const char *fixed_by_snapshot; /* the first option a clone cannot take, if any */
	bool help;
	const char *program;  /* as the user typed it */
	char *const *args;    /* arguments after PROGRAM */
	int nr_args;
};

/*
 * Parse `arrow run` arguments (argv[0] is "run"). Options stop at PROGRAM.
 * Returns 0, or -EINVAL with a one-line reason in err.
 */
int runopts_parse(struct run_opts *o, int argc, char *const argv[], char *err, unsigned int errlen);
/* What runopts_parse allocated (the --config copies); a failed parse frees it itself. */
void runopts_free(struct run_opts *o);
/* "512", "512m", "1g", "262144k" -> MiB; 0 on error. */
uint64_t runopts_parse_memory(const char *s);
/*
 * May --config place a file at this guest path? Absolute, no empty, "." or ".."
 * component, at most 255 bytes, and not where the Arrow's own files or the
 * file systems ainit mounts would hide or replace it. NULL: yes; else why not.
 */
const char *runopts_config_path_ok(const char *path);
/* Arrow names: [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127} */
bool runopts_valid_name(const char *s);
extern const char runopts_usage[];

#endif
