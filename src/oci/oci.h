/* SPDX-License-Identifier: MIT */
/* arrow-oci's commands (docs/oci.md): runc's command line over the Arrow library. */
#ifndef ARROW_OCI_H
#define ARROW_OCI_H

#include <stdbool.h>
#include <stddef.h>

/* What runc's callers pass before the command (--systemd-cgroup: cgroupsPath is
 * slice:prefix:name). */
struct oci_globals {
	bool systemd_cgroup;
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
int oci_start(const char *id);
int oci_state(const char *id);
int oci_kill(const char *id, const char *signal, bool all);
int oci_delete(const char *id, bool force);
int oci_list(bool quiet, bool json);
int oci_ps(const char *id, bool json);
int oci_features(void);

struct oci_spec;
/* process.args[0] as a path inside the rootfs (absolute; along process.env's PATH for a
 * bare name) into out. 0, -ENOENT (found nowhere) or -ENAMETOOLONG. */
int oci_resolve_program(const struct oci_spec *s, char *out, size_t len);
/* "TERM", "SIGTERM", "15" -> 15; 0 if not a signal. */
int oci_parse_signal(const char *s);
/* slice:prefix:name (systemd's form) as the cgroupfs path systemd gives it, or a plain path
 * as it is, into out. 0 or -EINVAL. */
int oci_cgroup_rel(const char *cgroups_path, bool systemd, char *out, size_t len);

#endif
