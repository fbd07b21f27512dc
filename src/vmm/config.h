/* SPDX-License-Identifier: MIT */
/* arrowh's command line. `arrow run` builds it; people rarely type it. */
#ifndef ARROW_VMM_CONFIG_H
#define ARROW_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define ARROWH_MAX_INITRDS 64
#define ARROWH_MAX_HOOK_ARGS 16
#define ARROWH_MAX_VOLUMES 8
#define ARROWH_ROOT_TAG "arrowroot"

/* A host directory served to the guest over virtio-9p (docs/volumes.md). */
struct arrowh_volume {
	char tag[32];        /* the mount tag the guest mounts */
	const char *path;    /* host directory */
	bool read_only;
};

struct arrowh_config {
	const char *kernel;
	const char *initrds[ARROWH_MAX_INITRDS];
	unsigned int nr_initrds;
	const char *cmdline_extra;
	const char *console_log; /* file that receives the guest's hvc0 output */
	uint64_t memory_mib;
	unsigned int cpus;
	bool debug_console;
	bool timing;
	unsigned int boot_timeout_s; /* stop a guest that has not reached ainit by then; 0: never */
	uint64_t t0_ns; /* when `arrow run` started (CLOCK_MONOTONIC), 0 if unknown */
	/* Managed Arrows (docs/lifecycle.md) */
	const char *state_dir; /* state, log and control socket live here */
	bool detached;         /* no stdio: output to the log and attach clients only */
	bool attach_stdin;     /* the app's stdin comes from an attach client */
	bool remove;           /* --rm: delete state_dir at exit */
	uint64_t log_max_size; /* bytes per log file; 0: no rotation */
	unsigned int log_max_files;
	int ready_fd;          /* written once the vCPUs run (with hold: once the guest waits at
				  the start gate), then closed; -1 if none */
	bool hold;             /* --hold: the app starts on HOSTCTL_START */
	bool tty;              /* the app's stdio is a terminal (hvc1) */
	/* Network (docs/network.md): a virtio-net NIC on a tap */
	int tap_fd;            /* inherited tap descriptor, or -1 */
	const char *tap_name;  /* or a tap interface to open */
	int net_stream_fd;     /* or a unix stream socket in passt's framing (docs/rootless.md), or -1 */
	bool has_mac;
	uint8_t mac[6];
	/* run once the Arrow ended, before the state lock is released */
	const char *exit_hook[ARROWH_MAX_HOOK_ARGS + 1];
	unsigned int nr_exit_hook;
	struct arrowh_volume volumes[ARROWH_MAX_VOLUMES];
	unsigned int nr_volumes;
	/* --root-share: the container's root over virtio-9p, tag ARROWH_ROOT_TAG, served by a
	 * sidecar process (docs/oci.md, docs/volumes.md) */
	const char *root_share;
	bool root_read_only;
	/* Snapshots (docs/snapshots.md) */
	const char *restore_dir;  /* --restore: start from this snapshot */
	const char *identity;     /* --identity: runcfg records for the clone's ainit */
	const char *template_out; /* --template-out: snapshot here at the template point */
	const char *cgroup;       /* --cgroup DIR: join this cgroup v2 first (docs/cgroups.md) */
	bool no_sandbox;          /* --no-sandbox: no jail, no seccomp filter (debugging) */
	const char *vsock_uds;    /* --vsock-uds: virtio-vsock's host socket (docs/vsock.md) */
	unsigned int jail_uid, jail_gid; /* --jail-user: who the jailed VMM runs as (docs/security.md) */
	bool seccomp_selftest;    /* tests only: a HOSTCTL_SELFTEST request makes a forbidden call */
	bool help;
	bool version;
};

/*
 * Parse argv. Returns 0, or -EINVAL with a one-line message in err (size
 * errlen) saying what is wrong.
 */
int arrowh_config_parse(struct arrowh_config *cfg, int argc, char *const argv[], char *err,
			unsigned int errlen);
extern const char arrowh_usage[];

#endif
