/* SPDX-License-Identifier: MIT */
/*
 * Run configuration handed from `arrow run` to ainit inside the initramfs.
 *
 * The file is a sequence of records, each one tag byte followed by the value
 * and a terminating NUL. Values therefore may hold any byte but NUL, which is
 * exactly what argv and environment strings allow.
 */
#ifndef ARROW_RUNCFG_H
#define ARROW_RUNCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RUNCFG_MAX_ITEMS 4096

enum runcfg_tag {
	RUNCFG_PROGRAM = 'p',  /* path of the program inside the guest */
	RUNCFG_ARG = 'a',      /* one argv entry, in order, argv[0] first */
	RUNCFG_ENV = 'e',      /* one KEY=VALUE entry */
	RUNCFG_WORKDIR = 'w',  /* working directory */
	RUNCFG_UID = 'u',      /* decimal uid */
	RUNCFG_GID = 'g',      /* decimal gid */
	RUNCFG_HOSTNAME = 'h', /* hostname */
	RUNCFG_TTY = 't',      /* "1": the app's stdio is the terminal /dev/hvc1 */
	RUNCFG_ADDRESS = 'i',  /* eth0's IPv4 address with prefix: "10.201.0.5/16" */
	RUNCFG_GATEWAY = 'r',  /* the default route's gateway: "10.201.0.1" */
	RUNCFG_DNS = 'd',      /* one nameserver for /etc/resolv.conf */
	RUNCFG_HOST = 'H',     /* one /etc/hosts line: "IP NAME [ALIAS...]" */
	RUNCFG_TEMPLATE = 'T', /* "1": stop at the template point until a clone's identity comes */
	RUNCFG_HOLD = 'W',     /* "1": everything set up, wait for ARROW_CTL_START before the app
				  (arrow-oci create boots, start runs the process) */
	RUNCFG_MAC = 'm',      /* identity only: eth0's MAC, "02:00:0a:c9:00:05" */
	RUNCFG_SEED = 's',     /* identity only: 64 hex digits for the kernel's RNG */
	RUNCFG_VOLUME = 'v',   /* a 9p volume to mount: "TAG:ro:/guest/dir" or "TAG:rw:..." */
	RUNCFG_ROOT = 'R',     /* "rw" or "ro": the root is the 9p share "arrowroot" (docs/oci.md) */
	RUNCFG_BIND = 'b',     /* with a root share: a file of the initramfs ("/etc/hostname")
				  bound over the share at the same path */
};

#define RUNCFG_ROOT_TAG "arrowroot"
#define RUNCFG_MAX_BINDS 64

#define RUNCFG_MAX_VOLUMES 8

#define RUNCFG_MAX_DNS 3
#define RUNCFG_MAX_HOSTS 1024

struct runcfg {
	const char *program;
	const char *workdir;
	const char *hostname;
	uid_t uid;
	gid_t gid;
	bool tty;
	const char *address; /* NULL: no eth0 to configure */
	const char *gateway;
	bool template;       /* RUNCFG_TEMPLATE */
	bool hold;           /* RUNCFG_HOLD */
	const char *mac;     /* from an identity: eth0's new MAC */
	const char *seed;    /* from an identity: RNG seed, hex */
	size_t nr_dns, nr_hosts, nr_volumes;
	const char *volumes[RUNCFG_MAX_VOLUMES]; /* RUNCFG_VOLUME values */
	bool root_share, root_read_only; /* RUNCFG_ROOT */
	size_t nr_binds;
	const char *binds[RUNCFG_MAX_BINDS]; /* RUNCFG_BIND values: absolute, no ".." */
	const char *dns[RUNCFG_MAX_DNS];
	const char *hosts[RUNCFG_MAX_HOSTS];
	size_t argc;
	size_t envc;
	const char *argv[RUNCFG_MAX_ITEMS + 1]; /* NULL-terminated */
	const char *envp[RUNCFG_MAX_ITEMS + 1]; /* NULL-terminated */
};

/*
 * Parse buf (len bytes, modified in place: strings point into it).
 * Returns 0, or -EINVAL for a malformed file (unknown tag, missing NUL,
 * bad number, no program, no argv[0]) or -E2BIG for too many items.
 */
int runcfg_parse(char *buf, size_t len, struct runcfg *cfg);

/*
 * A clone's identity (ARROW_CTL_IDENTITY) over an already parsed cfg: only the tags
 * hostname, address, gateway, DNS, host, MAC and seed; DNS and host lists given
 * replace the old ones. buf must outlive cfg. 0, -EINVAL or -E2BIG.
 */
int runcfg_parse_identity(char *buf, size_t len, struct runcfg *cfg);

/* Append one record to *buf (realloc'ed). Returns 0 or -ENOMEM/-EINVAL. */
int runcfg_append(char **buf, size_t *len, char tag, const char *value);

#endif
