// SPDX-License-Identifier: MIT
/* /system/metrics (Prometheus text) and OpenFaaS FunctionStatus objects (pool.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"

static unsigned int count(const struct function *f, bool ready_only)
{
	unsigned int n = 0;

	for (const struct instance *i = f->instances; i; i = i->next)
		n += !i->retired && (!ready_only || i->ready);
	return n;
}

/* Lock held. */
static json_t *status_of(const struct function *f)
{
	char created[64], process[4096] = "", min[16], max[16];
	time_t t = (time_t)(f->spec.created_ns / 1000000000ull);
	json_t *env = json_object(), *v;
	struct tm tm;
	size_t i;

	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_array_foreach(f->spec.args, i, v) {
		size_t n = strlen(process);

		snprintf(process + n, sizeof(process) - n, "%s%s", n ? " " : "", json_string_value(v));
	}
	json_array_foreach(f->spec.env, i, v) {
		const char *kv = json_string_value(v), *eq = strchr(kv, '=');
		char key[FN_ARG_MAX];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		json_object_set_new(env, key, json_string(eq + 1));
	}
	snprintf(min, sizeof(min), "%u", f->spec.min);
	snprintf(max, sizeof(max), "%u", f->spec.max);
	return json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:s, s:o, s:{s:s, s:s, s:s}, s:{}, s:s}",
			 "name", f->spec.name, "image", f->spec.program, "namespace", "arrow",
			 "invocationCount", (json_int_t)f->invocations, "replicas",
			 (int)count(f, false), "availableReplicas", (int)count(f, true),
			 "envProcess", process, "envVars", env, "labels",
			 "com.openfaas.scale.min", min, "com.openfaas.scale.max", max, "com.arrow.fresh",
			 f->spec.fresh ? "true" : "false", "annotations", "createdAt", created);
}

json_t *pool_status_json(const char *name)
{
	json_t *out = name ? NULL : json_array();

	pthread_mutex_lock(&pool_lock);
	for (struct function *f = pool_functions; f; f = f->next) {
		json_t *s;

		if (f->removed || (name && strcmp(name, f->spec.name)))
			continue;
		s = status_of(f);
		if (name) {
			out = s;
			break;
		}
		json_array_append_new(out, s);
	}
	pthread_mutex_unlock(&pool_lock);
	return out;
}

/*
 * A process's share of anonymous memory in bytes (Pss_Anon of /proc/PID/smaps_rollup,
 * Linux 5.7): pages only it maps count whole, pages it shares copy-on-write with another
 * (a jailed VMM with its supervisor, which forked it) count in part, so the shares of an
 * instance's two processes add up to what they hold together. Not Private_*: a template page
 * that only one clone maps counts as private to it although the next clone shares it (a lone
 * first instance showed 6.9 MiB private, of which 1.6 MiB its own). Negative: unreadable
 * (the process is gone, or an older kernel).
 */
static long long pss_anon_bytes(int pid)
{
	char path[64], line[256];
	unsigned long long kb;
	long long ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	/* short lines only: the header (no path, "[rollup]") and "Name: value kB" fields */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss_Anon: %llu kB", &kb) == 1)
			ret = (long long)kb * 1024;
	if (ferror(f))
		ret = -1;
	fclose(f);
	return ret;
}

struct buf {
	char *p;
	size_t len;
	FILE *f;
};

static void counters(FILE *o, const char *metric, const char *help, const char *type,
		     size_t offset)
{
	fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
	for (struct function *f = pool_functions; f; f = f->next)
		if (!f->removed)
			fprintf(o, "%s{function=\"%s\"} %llu\n", metric, f->spec.name,
				(unsigned long long)*(const uint64_t *)((const char *)f + offset));
}

static void gauges(FILE *o)
{
	fputs("# HELP arrow_fn_queue_length Requests waiting for an instance.\n"
	      "# TYPE arrow_fn_queue_length gauge\n", o);
	for (struct function *f = pool_functions; f; f = f->next)
		if (!f->removed)
			fprintf(o, "arrow_fn_queue_length{function=\"%s\"} %u\n", f->spec.name,
				f->waiting);
	fputs("# HELP arrow_fn_instances Instances running (starting, serving or idle).\n"
	      "# TYPE arrow_fn_instances gauge\n", o);
	for (struct function *f = pool_functions; f; f = f->next)
		if (!f->removed)
			fprintf(o, "arrow_fn_instances{function=\"%s\"} %u\n", f->spec.name,
				count(f, false));
}

static void histogram(FILE *o)
{
	fputs("# HELP arrow_fn_start_seconds From starting a clone to its first accepted "
	      "connection.\n# TYPE arrow_fn_start_seconds histogram\n", o);
	for (struct function *f = pool_functions; f; f = f->next) {
		if (f->removed)
			continue;
		for (int b = 0; b < POOL_START_BUCKETS; b++)
			fprintf(o, "arrow_fn_start_seconds_bucket{function=\"%s\",le=\"%g\"} %llu\n",
				f->spec.name, pool_start_buckets[b],
				(unsigned long long)f->start_hist[b]);
		fprintf(o, "arrow_fn_start_seconds_bucket{function=\"%s\",le=\"+Inf\"} %llu\n"
			   "arrow_fn_start_seconds_sum{function=\"%s\"} %.6f\n"
			   "arrow_fn_start_seconds_count{function=\"%s\"} %llu\n",
			f->spec.name, (unsigned long long)f->start_count, f->spec.name,
			f->start_sum_s, f->spec.name, (unsigned long long)f->start_count);
	}
}

/* Memory per instance: read outside the lock from the list taken under it. */
static void memory(FILE *o, const char *list)
{
	char fn[FN_NAME_MAX + 1], name[FN_NAME_MAX + 32], id[ARROW_ID_LEN + 1];
	const char *p = list;
	int used;

	fputs("# HELP arrow_fn_instance_private_bytes Anonymous memory of an instance's VMM and "
	      "its supervisor (Pss_Anon, summed): guest RAM it wrote, their heaps, stacks and data. "
	      "Not counted: template and binary pages it maps (shared with other instances), "
	      "page tables and KVM's kernel memory.\n"
	      "# TYPE arrow_fn_instance_private_bytes gauge\n", o);
	while (sscanf(p, "%48s %79s %64s\n%n", fn, name, id, &used) == 3) {
		struct arrow_rec r;

		p += used;
		if (store_load(id, &r))
			continue;
		/* the whole cost of an instance: a jailed VMM's supervisor is a process of its
		 * own (docs/security.md); an instance one of whose processes cannot be read is
		 * left out rather than shown smaller than it is */
		if (r.status == ST_RUNNING) {
			long long vmm = pss_anon_bytes(r.vmm_pid > 0 ? r.vmm_pid : r.pid);
			long long sup = r.vmm_pid > 0 && r.vmm_pid != r.pid ? pss_anon_bytes(r.pid) : 0;

			if (vmm >= 0 && sup >= 0)
				fprintf(o, "arrow_fn_instance_private_bytes{function=\"%s\","
					   "instance=\"%s\"} %lld\n", fn, name, vmm + sup);
		}
		store_free(&r);
	}
}

char *pool_metrics(void)
{
	struct buf b = { 0 }, l = { 0 };

	b.f = open_memstream(&b.p, &b.len);
	l.f = open_memstream(&l.p, &l.len);
	if (!b.f || !l.f) {
		if (b.f)
			fclose(b.f);
		free(b.p);
		return NULL;
	}
	pthread_mutex_lock(&pool_lock);
	counters(b.f, "arrow_fn_invocations_total", "Requests answered for a function.",
		 "counter", offsetof(struct function, invocations));
	counters(b.f, "arrow_fn_errors_total", "Requests answered with 429 or 5xx.", "counter",
		 offsetof(struct function, errors));
	counters(b.f, "arrow_fn_clone_starts_total", "Instances started (clones of the template).",
		 "counter", offsetof(struct function, clone_starts));
	counters(b.f, "arrow_fn_start_failures_total", "Instances that did not start.", "counter",
		 offsetof(struct function, start_failures));
	gauges(b.f);
	histogram(b.f);
	for (struct function *f = pool_functions; f; f = f->next)
		for (struct instance *i = f->instances; i && !f->removed; i = i->next)
			if (i->ready && !i->retired)
				fprintf(l.f, "%s %s %s\n", f->spec.name, i->name, i->id);
	pthread_mutex_unlock(&pool_lock);
	fclose(l.f);
	memory(b.f, l.p ? l.p : "");
	free(l.p);
	fclose(b.f);
	return b.p;
}
