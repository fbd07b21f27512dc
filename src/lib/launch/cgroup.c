// SPDX-License-Identifier: MIT
/*
 * The Arrow's cgroup v2 (docs/cgroups.md): `arrow run` makes it and writes its limits,
 * arrowh joins it (--cgroup DIR) and removes it when it ends; `arrow rm` removes what a
 * killed arrowh left; `ps` and `inspect` read its usage.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "common/cgroup.h"
#include "common/kvmprobe.h"
#include "common/statedir.h"
#include "lib/launch/runopts.h"

static char cgroup_arg[PATH_MAX]; /* arrowh's --cgroup DIR, until the exec */

/* config.json's "cgroup": the directory, once it exists and has its limits. */
static int record_cgroup(const struct new_arrow *a, const char *dir)
{
	char path[4200], *text;
	json_t *cfg;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", a->dir, STATE_CONFIG_FILE);
	cfg = json_load_file(path, 0, NULL);
	if (!cfg)
		return -EIO;
	json_object_set_new(cfg, "cgroup", json_string(dir));
	text = json_dumps(cfg, JSON_INDENT(2));
	ret = text ? statedir_write_file(a->dir, STATE_CONFIG_FILE, text, strlen(text)) : -ENOMEM;
	free(text);
	json_decref(cfg);
	return ret;
}

/* Does err mean this host or user has no cgroup v2 to give (rather than a real failure)? */
static bool unavailable(int err)
{
	return err == -ENOENT || err == -ENOTSUP || err == -EACCES || err == -EPERM ||
	       err == -EROFS;
}

static void warn_without(const char *why)
{
	fprintf(stderr, "arrow: warning: %s; the Arrow runs without a cgroup (no memory, CPU or "
			"task limits; docs/cgroups.md, --cgroup none to say so)\n", why);
}

int run_cgroup(const struct run_opts *o, const struct new_arrow *a, struct arrowh_desc *d)
{
	const char *root = cgroup_root(), *parent = o->cgroup_parent, *env, *problem;
	bool asked = parent != NULL; /* an explicit parent is an error when it cannot be had */
	struct cgroup_limits l;
	char rel[PATH_MAX], why[PATH_MAX + 256];
	int ret;

	/* arrowh is about to refuse this host's /dev/kvm in one line: no cgroup, no warning */
	if (o->no_cgroup || kvm_unusable_reason())
		return 0;
	env = getenv("ARROW_CGROUP_PARENT");
	if (!parent && env && *env) {
		problem = cgroup_path_problem(env);
		if (problem) {
			fprintf(stderr, "arrow: ARROW_CGROUP_PARENT='%s' %s\n", env, problem);
			return EXIT_ARROW_ERROR;
		}
		parent = env;
		asked = true;
	}
	if (!parent)
		parent = CGROUP_DEFAULT_PARENT;
	ret = cgroup_v2_mounted(root);
	if (ret) {
		snprintf(why, sizeof(why), "%s is %s", root,
			 ret == -ENOTSUP ? "not a cgroup v2 mount (a cgroup v1 or hybrid host)"
					 : strerror(-ret));
		if (!asked && unavailable(ret)) {
			warn_without(why);
			return 0;
		}
		fprintf(stderr, "arrow: cannot place the Arrow in cgroup parent '%s': %s\n", parent,
			why);
		return EXIT_ARROW_ERROR;
	}
	if (snprintf(rel, sizeof(rel), "%s/%s", parent, a->id) >= (int)sizeof(rel) ||
	    cgroup_dir(root, parent, a->id, cgroup_arg, sizeof(cgroup_arg))) {
		fprintf(stderr, "arrow: the cgroup parent '%s' is too long\n", parent);
		return EXIT_ARROW_ERROR;
	}
	ret = cgroup_create(root, rel, why, sizeof(why));
	if (ret) {
		cgroup_remove(cgroup_arg, 0); /* if it was made before a later step failed */
		if (!asked && unavailable(ret)) {
			warn_without(why);
			return 0;
		}
		fprintf(stderr, "arrow: cannot create the Arrow's cgroup below '%s': %s\n", parent, why);
		return EXIT_ARROW_ERROR;
	}
	cgroup_limits_for(&l, o->memory_mib, o->cpus);
	ret = cgroup_set_limits(cgroup_arg, &l, why, sizeof(why));
	if (!ret && (ret = record_cgroup(a, cgroup_arg)))
		snprintf(why, sizeof(why), "cannot record it in %s/%s: %s", a->dir, STATE_CONFIG_FILE,
			 strerror(-ret));
	if (ret) {
		cgroup_remove(cgroup_arg, 0);
		fprintf(stderr, "arrow: cannot limit the Arrow's cgroup: %s\n", why);
		return EXIT_ARROW_ERROR;
	}
	d->cgroup = cgroup_arg;
	return 0;
}

void run_cgroup_remove(json_t *config, const char *verb)
{
	const char *dir = json_string_value(json_object_get(config, "cgroup"));
	int ret;

	if (!dir)
		return;
	ret = cgroup_remove(dir, 500);
	if (ret)
		fprintf(stderr, "arrow %s: the cgroup %s stays%s: %s\n", verb, dir,
			ret == -EBUSY ? " (processes still in it)" : "", strerror(-ret));
}

void run_cgroup_unregister(const char *state_dir)
{
	char path[4200];
	json_t *cfg;

	snprintf(path, sizeof(path), "%s/%s", state_dir, STATE_CONFIG_FILE);
	cfg = json_load_file(path, 0, NULL);
	run_cgroup_remove(cfg, "run");
	json_decref(cfg);
}

/* The usage of the Arrow's cgroup while it exists; false when there is none. */
static bool usage(json_t *config, struct cgroup_usage *u)
{
	const char *dir = json_string_value(json_object_get(config, "cgroup"));

	return dir && cgroup_usage_read(dir, u) == 0;
}

static json_t *num(uint64_t v)
{
	return v == CGROUP_UNLIMITED ? json_null() : json_integer((json_int_t)v);
}

json_t *run_cgroup_json(json_t *config)
{
	json_t *path = json_object_get(config, "cgroup"), *o;
	struct cgroup_usage u;

	if (!path)
		return json_null();
	o = json_pack("{s:O}", "Path", path);
	if (o && usage(config, &u)) {
		json_object_set_new(o, "MemoryCurrent", num(u.memory_current));
		json_object_set_new(o, "MemoryMax", num(u.memory_max));
		json_object_set_new(o, "MemoryPeak", num(u.memory_peak));
		json_object_set_new(o, "CpuUsageUsec", num(u.cpu_usage_usec));
		json_object_set_new(o, "PidsCurrent", num(u.pids_current));
		json_object_set_new(o, "PidsMax", num(u.pids_max));
		json_object_set_new(o, "OomKills", num(u.oom_kill));
	}
	return o ? o : json_null();
}

static void mib(uint64_t v, char *out, size_t len)
{
	if (v == CGROUP_UNLIMITED)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.1fMiB", (double)v / (1 << 20));
}

void run_cgroup_usage_text(json_t *config, char *mem, size_t memlen, char *cpu, size_t cpulen)
{
	struct cgroup_usage u;
	char cur[32], max[32];

	mem[0] = cpu[0] = '\0';
	if (!usage(config, &u))
		return;
	mib(u.memory_current, cur, sizeof(cur));
	mib(u.memory_max, max, sizeof(max));
	snprintf(mem, memlen, "%s / %s", cur, max);
	if (u.cpu_usage_usec != CGROUP_UNLIMITED)
		snprintf(cpu, cpulen, "%.2fs", (double)u.cpu_usage_usec / 1e6);
}

void run_cgroup_ps_json(json_t *row, json_t *config)
{
	struct cgroup_usage u;

	if (!usage(config, &u))
		return;
	json_object_set_new(row, "Cgroup", json_incref(json_object_get(config, "cgroup")));
	json_object_set_new(row, "MemoryUsage", num(u.memory_current));
	json_object_set_new(row, "MemoryLimit", num(u.memory_max));
	json_object_set_new(row, "CpuUsageUsec", num(u.cpu_usage_usec));
}
