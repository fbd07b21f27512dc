/* SPDX-License-Identifier: MIT */
/*
 * One launch path (docs/design.md): `arrow run`, clones, templates, snapshots of running
 * Arrows and the functions gateway start and end Arrows through these calls
 * (src/lib/launch/). Errors are printed to stderr (one line, "arrow: ...") and returned as
 * an exit status: 125 Arrow failed, 126 the program cannot run, 127 it was not found.
 */
#ifndef ARROW_LAUNCH_H
#define ARROW_LAUNCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/launch/runopts.h"
#include "lib/state/store.h"

#define LAUNCH_EXIT_ERROR 125
#define LAUNCH_EXIT_CANNOT_INVOKE 126
#define LAUNCH_EXIT_NOT_FOUND 127

struct launched {
	char id[ARROW_ID_LEN + 1];
	char name[160];
	char dir[4096]; /* its state directory: config.json (with "network": {"ip", ...}) */
};

/*
 * Start an Arrow as `arrow run` does: o->from set, a clone of that snapshot or template;
 * else o->program, a host program or an image. With o->detach: returns 0 once arrowh runs,
 * *out filled. Without: arrowh takes over this process (returns only on failure).
 */
int launch_arrow(struct run_opts *o, struct launched *out);
/* `arrow template create NAME`: boot o->program to ainit's template point and store it. */
int launch_template(struct run_opts *o, const char *name);
/* `arrow snapshot REF NAME`: the running Arrow REF's whole state as snapshot NAME. */
int launch_snapshot(const char *ref, const char *name);
/* Stop a running Arrow now (arrowh ends the VM, SIGKILL if it does not answer): 0 or -errno. */
int launch_hard_stop(const struct arrow_rec *r);
/* Remove a stopped Arrow's state (force: stop it first): 0, or 125 after printing why. */
int launch_remove(const struct arrow_rec *r, bool force, const char *verb);

/* Find an executable: a path with '/' as is, else along $PATH. malloc'ed, or NULL. */
char *find_program(const char *name);
/* The arrowh binary into out; 0 or 125 after printing why. */
int find_arrowh(char *out, size_t len);

/* An Arrow's cgroup as `ps` and `inspect` show it (launch/cgroup.c, docs/cgroups.md) */
/* Remove the cgroup config names (arrowh gone); says so when it has to stay. */
void run_cgroup_remove(json_t *config, const char *verb);
/* inspect's "Cgroup": path and usage; null without one. */
json_t *run_cgroup_json(json_t *config);
/* ps's columns: "12.3MiB / 200.0MiB" and "1.52s"; empty without a cgroup. */
void run_cgroup_usage_text(json_t *config, char *mem, size_t memlen, char *cpu, size_t cpulen);
/* ps --format json: Cgroup, MemoryUsage, MemoryLimit, CpuUsageUsec while it exists. */
void run_cgroup_ps_json(json_t *row, json_t *config);

#endif
