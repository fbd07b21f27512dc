/* SPDX-License-Identifier: MIT */
/* arrow-oci's commands (docs/oci.md): runc's command line over the Arrow library. */
#ifndef ARROW_OCI_H
#define ARROW_OCI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What runc's callers pass before the command (--systemd-cgroup: cgroupsPath is
 * slice:prefix:name; crun's --cgroup-manager disabled, which conmon passes for podman's
 * --cgroups=disabled: no cgroup at all). */
struct oci_globals {
	bool systemd_cgroup;
	bool no_cgroups;
	bool debug;
};

struct oci_create_opts {
	const char *id;
	const char *bundle;         /* default "." */
	const char *pid_file;
	const char *console_socket;
	unsigned int preserve_fds;
};

/* Each returns the process exit status (0, or 1 after logging why). */
int oci_create(const struct oci_globals *g, const struct oci_create_opts *o);
/* create, and the container process's pid (our child) into *pid when not NULL */
int oci_create_pid(const struct oci_globals *g, const struct oci_create_opts *o, pid_t *pid);
/* create + start; foreground (!detach): wait for the app, delete unless keep, and return its
 * exit status. */
int oci_run(const struct oci_globals *g, const struct oci_create_opts *o, bool detach,
	    bool keep);

/* `update`: what changes (a limit not given stays as it is) */
struct oci_update {
	bool has_memory;
	int64_t memory_bytes;   /* -1: unlimited */
	bool has_quota, has_period;
	int64_t cpu_quota;      /* -1 (or 0): unlimited */
	uint64_t cpu_period;
	char ignored[256];      /* names of limits that have no effect on an Arrow */
};
/* linux.resources-style JSON (runc update --resources) into u. 0, or -EINVAL with why. */
int oci_update_parse(const char *text, size_t len, struct oci_update *u, char *why,
		     size_t whylen);
/* "1048576", "512k", "64m", "2g" (runc's --memory); -1 stays -1. 0 or -EINVAL. */
int oci_parse_bytes(const char *s, int64_t *out);
int oci_update(const char *id, const struct oci_update *u);
int oci_start(const char *id);
int oci_state(const char *id);
int oci_kill(const char *id, const char *signal, bool all);
int oci_delete(const char *id, bool force);
int oci_list(bool quiet, bool json);
int oci_ps(const char *id, bool json);
int oci_features(void);
/* `spec`: a runc-shaped starting config.json (specgen.c); never overwrites one. 0 or 1. */
json_t *oci_default_spec(bool rootless);
int oci_spec_write(const char *bundle, bool rootless);
/* pause (true) or resume (false): the Arrow's vCPUs stop, or run again. */
int oci_pause(const char *id, bool pause);

/* The pty master to a --console-socket with SCM_RIGHTS (the message: the pty's name), as
 * runc does. 0 or -errno. */
int oci_send_console(const char *sock_path, int master, const char *name);
/* A /tmp/arrow-oci-XXXXXX directory create made for a too deep vsock socket, and the
 * socket in it (anything else: nothing is done). */
void oci_vsock_dir_remove(const char *dir);
/* The pid into path (written beside it and renamed). 0 or -errno. */
int oci_write_pid_file(const char *path, pid_t pid);

struct oci_exec_opts {
	const char *id;
	const char *process;        /* --process FILE, else args */
	const char *const *args;
	int nr_args;
	const char *const *env;     /* --env K=V, added to (or replacing) the process's */
	int nr_env;
	const char *cwd, *user, *pid_file, *console_socket;
	bool detach, tty;
	unsigned int preserve_fds;
};
/* The process's exit status (foreground) or 0 (detached); 1 when arrow-oci failed. */
int oci_exec(const struct oci_exec_opts *o);

struct oci_spec;
/* process.args[0] as a path inside the rootfs (absolute; along process.env's PATH for a
 * bare name) into out. 0, -ENOENT (found nowhere) or -ENAMETOOLONG. */
int oci_resolve_program(const struct oci_spec *s, char *out, size_t len);

struct netns_nic;
/* ainit's run configuration for the container's process (guestcfg.c): 0 or -errno. */
int oci_guest_runcfg(const struct oci_spec *s, const struct netns_nic *nic, const char *program,
		     char **buf, size_t *len);
/* The per-run piece: that configuration and the bind-mounted files, in a memfd. */
int oci_guest_config_piece(const struct oci_spec *s, const void *cfg, size_t cfglen, char **path);
/*
 * The mount points ainit needs in root.path, made on the host as runc makes them: /proc,
 * /sys, /dev, /tmp and /run, and an empty file for /etc/hosts, /etc/resolv.conf (net) and
 * each bound file (resolved inside the rootfs, never out of it). A read-only root cannot
 * get them from the guest. 0 or -errno.
 */
int oci_root_mountpoints(const struct oci_spec *s, bool net);
/* "TERM", "SIGTERM", "15" -> 15; 0 if not a signal. */
int oci_parse_signal(const char *s);
/* slice:prefix:name (systemd's form) as the cgroupfs path systemd gives it, or a plain path
 * as it is, into out. 0 or -EINVAL. */
int oci_cgroup_rel(const char *cgroups_path, bool systemd, char *out, size_t len);

#endif
