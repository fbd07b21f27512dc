/* SPDX-License-Identifier: MIT */
/*
 * arrow-oci's state (docs/oci.md): ROOT/<id>/ per container, holding
 *   oci.json   id, bundle, rootfs, pid and its start time, created, annotations, cgroup
 *   created    an empty file, present while the container is created: the guest has
 *              booted and waits; `start` asks arrowh to run the process, then removes it
 *   arrow/     arrowh's state directory (state.json, ctl.sock, arrowh.lock, log)
 * The status is derived, never stored: the pid (checked against its start time, a zombie
 * counts as gone) and that file say created, running or stopped.
 */
#ifndef ARROW_OCI_CONTAINER_H
#define ARROW_OCI_CONTAINER_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec.h"

#define OCI_SPEC_VERSION "1.2.0"
/*
 * The ociVersion `spec` writes: every field it writes is in 1.0, and runtimes refuse versions
 * newer than they know (Debian 12's crun 1.8.1: "unknown version specified" for 1.2.0), so the
 * bundle stays usable with any of them, as runc's and crun's own `spec` output is.
 */
#define OCI_SPEC_BUNDLE_VERSION "1.0.2"
#define OCI_RECORD_FILE "oci.json"
#define OCI_CREATED_FILE "created"
#define OCI_ARROW_DIR "arrow"

enum oci_status { OCI_CREATING, OCI_CREATED, OCI_RUNNING, OCI_STOPPED, OCI_PAUSED };

struct oci_container {
	char id[OCI_ID_MAX + 1];
	char dir[PATH_MAX];
	json_t *rec;            /* oci.json; NULL while creating (or after a failed create) */
	pid_t pid;
	unsigned long long pid_start; /* /proc/PID/stat field 22 when it was created */
	enum oci_status status;
};

/* --root, else /run/arrow-oci as root, $XDG_RUNTIME_DIR/arrow-oci otherwise. */
const char *oci_root(void);
void oci_set_root(const char *root);
/* mkdir -p the root (0711). 0 or -errno. */
int oci_root_ensure(void);

/* Start time (clock ticks since boot) and state letter of pid from /proc. 0 or -errno. */
int oci_proc_stat(pid_t pid, unsigned long long *start, char *state);
/* Is pid still the process that started at start: not a zombie, or a zombie leader whose
 * other threads have not all exited yet? */
bool oci_proc_alive(pid_t pid, unsigned long long start);

/* Load ROOT/id: 0, -ENOENT (no such container), -EINVAL (bad id or record). */
int oci_container_load(const char *id, struct oci_container *c);
void oci_container_free(struct oci_container *c);
/* Work out c->status again (the process may have ended since). */
void oci_container_refresh(struct oci_container *c);
const char *oci_status_name(enum oci_status st);
/* created, running or paused: the container process is there */
static inline bool oci_status_alive(enum oci_status st)
{
	return st == OCI_CREATED || st == OCI_RUNNING || st == OCI_PAUSED;
}
/* One request to the container's arrowh (ROOT/ID/arrow/ctl.sock, common/streamrec.h): its
 * reply status, or -errno (e.g. not serving yet). */
int oci_arrowh_request(const struct oci_container *c, uint32_t type, uint32_t arg);
/* The runtime-spec state object (ociVersion, id, status, pid, bundle, annotations...). */
json_t *oci_state_json(const struct oci_container *c);
/* A new oci.json record. */
json_t *oci_record_new(const char *id, const char *bundle, const struct oci_spec *s, pid_t pid,
		       unsigned long long pid_start, const char *cgroup);
/* "2026-12-01T10:40:00.123456789Z" for CLOCK_REALTIME ns. */
void oci_rfc3339(unsigned long long ns, char *out, size_t len);

#endif
