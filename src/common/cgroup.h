/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 for Arrows (docs/cgroups.md): each Arrow's arrowh, and with it the guest's RAM,
 * in a cgroup of its own with memory, CPU and task limits. Shared by the CLI (create, set
 * limits, read usage, remove) and arrowh (join at the start of set-up, leave and remove at
 * the end). Nothing here is specific to `arrow run`: an OCI runtime's cgroupsPath goes
 * through the same calls.
 *
 * Paths: ROOT is the cgroup2 mount ($ARROW_CGROUP_ROOT, else /sys/fs/cgroup; the unit tests
 * point it at a fake tree). A relative cgroup path ("arrow/ID", or "/arrow/ID" as OCI
 * writes it) names ROOT/arrow/ID.
 */
#ifndef ARROW_CGROUP_H
#define ARROW_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CGROUP_DEFAULT_ROOT "/sys/fs/cgroup"
#define CGROUP_DEFAULT_PARENT "arrow"
#define CGROUP_UNLIMITED UINT64_MAX /* "max" in a limit file */
#define CGROUP_CPU_PERIOD_US 100000u

/*
 * What arrowh needs besides guest RAM, measured in the helper VM (docs/cgroups.md) with a
 * guest touching 85 % of its RAM: 5.9 MiB at 128 MiB and 1 vCPU, 7.5 MiB at 512 MiB, 7.1 MiB
 * at 512 MiB and 4 vCPUs, 12.7 MiB at 2 GiB. That is arrowh's own memory (~2-3 MiB), page
 * cache of the kernel file (~3 MiB, reclaimable), and kernel memory growing with touched RAM
 * (page tables and KVM's NPT/EPT tables, 0.37 % of RAM) and with vCPUs (~0.25 MiB each).
 * The limit adds, with a margin for devices (network, volumes, logs) and buffers:
 * 32 MiB + 1 MiB per vCPU + 1/128 of guest RAM (twice the measured page-table share).
 */
#define CGROUP_VMM_BASE_BYTES (32ull << 20)
#define CGROUP_VMM_PER_VCPU_BYTES (1ull << 20)
#define CGROUP_VMM_RAM_DIVISOR 128
/* arrowh's threads besides its vCPUs: main, one more measured, the NIC's receive thread;
 * plus a margin (pids.max counts threads) */
#define CGROUP_VMM_TASKS 3u
#define CGROUP_TASKS_MARGIN 16u

struct cgroup_limits {
	uint64_t memory_max;    /* bytes, or CGROUP_UNLIMITED */
	bool no_swap;           /* memory.swap.max = 0 (where the kernel has swap accounting) */
	bool oom_group;         /* memory.oom.group = 1: an OOM kill takes every task in it */
	uint64_t cpu_quota_us;  /* per period, or CGROUP_UNLIMITED */
	uint64_t cpu_period_us;
	uint64_t pids_max;      /* or CGROUP_UNLIMITED */
};

/* Usage as read from a cgroup; a field the kernel did not give is CGROUP_UNLIMITED. */
struct cgroup_usage {
	uint64_t memory_current, memory_max, memory_peak;
	uint64_t cpu_usage_usec;
	uint64_t pids_current, pids_max;
	uint64_t oom_kill; /* memory.events */
};

/* $ARROW_CGROUP_ROOT if set, else /sys/fs/cgroup. */
const char *cgroup_root(void);
/* Is root a cgroup2 mount? 0; -ENOENT (nothing there); -ENOTSUP (something else, such as
 * the tmpfs of a v1 host). */
int cgroup_v2_mounted(const char *root);
/*
 * May rel name a cgroup below the root? At most 1024 bytes, no empty, "." or ".."
 * component, no control characters; one leading '/' is allowed (OCI). NULL: yes; else why.
 */
const char *cgroup_path_problem(const char *rel);
/* root/parent/name (parent may be "" or "/": the root itself) into out. 0 or -errno. */
int cgroup_dir(const char *root, const char *parent, const char *name, char *out, size_t len);
/*
 * The limits of an Arrow with this much guest RAM and these vCPUs: memory.max = RAM plus
 * arrowh's overhead, no swap, OOM as a group, cpu.max = cpus periods per period,
 * pids.max = arrowh's threads plus a margin.
 */
void cgroup_limits_for(struct cgroup_limits *l, uint64_t memory_mib, unsigned int cpus);
/*
 * Make root/rel, each missing ancestor too, with memory, cpu and pids enabled in every
 * ancestor's cgroup.subtree_control (root included). An existing cgroup is fine.
 * 0 or -errno with a one-line reason (which file, what to do) in why.
 */
int cgroup_create(const char *root, const char *rel, char *why, size_t whylen);
/* Write l into the cgroup dir. 0 or -errno with the file that failed in why. */
int cgroup_set_limits(const char *dir, const struct cgroup_limits *l, char *why, size_t whylen);
/* cpu.max alone: quota (CGROUP_UNLIMITED: "max") per period, in microseconds. 0 or -errno. */
int cgroup_set_cpu_max(const char *dir, uint64_t quota_us, uint64_t period_us);
/*
 * Move the calling process (all its threads) into the cgroup dir; NULL dir: nothing to do.
 * Memory is charged to the cgroup a page is first touched in, so call it before guest RAM
 * exists, in the process that will run the VM (a forked VMM child joins itself).
 * 0 or -errno.
 */
int cgroup_join(const char *dir);
/*
 * At the end of a process that joined dir: move back to the cgroup it came from, then
 * remove dir (cgroup_remove, briefly retried). Says on stderr when the cgroup had to stay.
 * NULL dir: nothing to do.
 */
void cgroup_leave(const char *dir);
/*
 * rmdir the cgroup dir, which must lie below cgroup_root() (it may come from a state file).
 * While tasks are still inside (EBUSY), retry for up to wait_ms. 0 (also when it is already
 * gone), -EBUSY (tasks remain), -EINVAL (not below the root) or -errno.
 */
int cgroup_remove(const char *dir, unsigned int wait_ms);
/* One number from dir/file ("max": CGROUP_UNLIMITED). 0 or -errno. */
int cgroup_read_u64(const char *dir, const char *file, uint64_t *v);
/* The value of "key N" in a flat keyed file (cpu.stat, memory.events). 0 or -errno. */
int cgroup_read_key(const char *dir, const char *file, const char *key, uint64_t *v);
/* What cgroup_usage says of dir; 0 or -errno when dir cannot be read at all. */
int cgroup_usage_read(const char *dir, struct cgroup_usage *u);

#endif
