// SPDX-License-Identifier: MIT
/*
 * arrow-oci update: change a running container's limits (docs/oci.md). The CPU time an
 * Arrow may use is its cgroup's cpu.max, which changes at once. Its memory is the guest's
 * RAM, fixed when the VM booted: a new memory limit is refused unless it is the current one.
 * Limits of host tasks (pids, block I/O, cpusets...) mean nothing for one VM: ignored with
 * a warning, as create ignores them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cgroup.h"
#include "common/statedir.h"
#include "container.h"
#include "log.h"
#include "oci.h"

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), -EINVAL)
#define PERIOD_MIN_US 1000u
#define PERIOD_MAX_US 1000000u

int oci_parse_bytes(const char *s, int64_t *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!strcmp(s, "-1")) {
		*out = -1;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		switch (*end | 0x20) {
		case 'k':
			mul = 1ull << 10;
			break;
		case 'm':
			mul = 1ull << 20;
			break;
		case 'g':
			mul = 1ull << 30;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if ((*end | 0x20) == 'b')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (v > (unsigned long long)INT64_MAX / mul)
		return -EINVAL;
	*out = (int64_t)(v * mul);
	return 0;
}

static void note_ignored(struct oci_update *u, const char *name)
{
	size_t n = strlen(u->ignored);

	if (n + strlen(name) + 3 < sizeof(u->ignored))
		snprintf(u->ignored + n, sizeof(u->ignored) - n, "%s%s", n ? ", " : "", name);
}

/* Is v set to something (not absent, null, 0, false, empty)? Only those are reported. */
static bool given(json_t *v)
{
	return v && !json_is_null(v) && !json_is_false(v) &&
	       !(json_is_integer(v) && json_integer_value(v) == 0) &&
	       !(json_is_string(v) && !json_string_length(v)) &&
	       !(json_is_array(v) && !json_array_size(v)) &&
	       !(json_is_object(v) && !json_object_size(v));
}

static int int_member(json_t *obj, const char *key, const char *where, bool *has, int64_t *out,
		      char *why, size_t whylen)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return WHY("%s.%s must be an integer", where, key);
	*has = true;
	*out = json_integer_value(v);
	return 0;
}

static int parse_memory(json_t *mem, struct oci_update *u, char *why, size_t whylen)
{
	const char *key;
	json_t *v;
	int ret;

	if (!json_is_object(mem))
		return WHY("memory must be an object");
	ret = int_member(mem, "limit", "memory", &u->has_memory, &u->memory_bytes, why, whylen);
	if (ret)
		return ret;
	if (u->has_memory && u->memory_bytes == 0)
		u->has_memory = false; /* 0: not given, as runc reads it */
	json_object_foreach(mem, key, v)
		if (strcmp(key, "limit") && given(v))
			note_ignored(u, !strcmp(key, "swap") ? "memory.swap" :
					!strcmp(key, "reservation") ? "memory.reservation" : "memory.*");
	return 0;
}

static int parse_cpu(json_t *cpu, struct oci_update *u, char *why, size_t whylen)
{
	int64_t period = 0;
	const char *key;
	json_t *v;
	int ret;

	if (!json_is_object(cpu))
		return WHY("cpu must be an object");
	ret = int_member(cpu, "quota", "cpu", &u->has_quota, &u->cpu_quota, why, whylen);
	if (!ret)
		ret = int_member(cpu, "period", "cpu", &u->has_period, &period, why, whylen);
	if (ret)
		return ret;
	if (u->has_period && period == 0)
		u->has_period = false;
	if (u->has_quota && u->cpu_quota == 0)
		u->has_quota = false;
	if (u->has_period && (period < PERIOD_MIN_US || period > PERIOD_MAX_US))
		return WHY("cpu.period must be %u to %u microseconds", PERIOD_MIN_US, PERIOD_MAX_US);
	if (u->has_quota && u->cpu_quota != -1 && u->cpu_quota < (int64_t)PERIOD_MIN_US)
		return WHY("cpu.quota must be -1 (no limit) or at least %u microseconds",
			   PERIOD_MIN_US);
	if (u->has_quota && u->cpu_quota > (int64_t)PERIOD_MAX_US * 1024)
		return WHY("cpu.quota is too large");
	u->cpu_period = (uint64_t)period;
	json_object_foreach(cpu, key, v)
		if (strcmp(key, "quota") && strcmp(key, "period") && given(v))
			note_ignored(u, !strcmp(key, "shares") ? "cpu.shares" :
					!strcmp(key, "cpus") ? "cpu.cpus" : "cpu.*");
	return 0;
}

int oci_update_parse(const char *text, size_t len, struct oci_update *u, char *why,
		     size_t whylen)
{
	json_error_t jerr;
	const char *key;
	json_t *doc, *v;
	int ret = 0;

	if (len > OCI_CONFIG_MAX_BYTES)
		return WHY("the resources are larger than %u MiB", OCI_CONFIG_MAX_BYTES >> 20);
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return WHY("resources: %s (line %d)", jerr.text, jerr.line);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return WHY("resources must be a JSON object");
	}
	json_object_foreach(doc, key, v) {
		if (!strcmp(key, "memory") && !json_is_null(v))
			ret = parse_memory(v, u, why, whylen);
		else if (!strcmp(key, "cpu") && !json_is_null(v))
			ret = parse_cpu(v, u, why, whylen);
		else if (given(v))
			note_ignored(u, key);
		if (ret)
			break;
	}
	json_decref(doc);
	return ret;
}

static int64_t rec_int(const struct oci_container *c, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(c->rec, key);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* The new cpu.max into the container's cgroup and its record. 0 or 1 (said). */
static int update_cpu(struct oci_container *c, const struct oci_update *u)
{
	const char *cg = json_string_value(json_object_get(c->rec, "cgroup"));
	int64_t quota = u->has_quota ? u->cpu_quota : rec_int(c, "cpu_quota", -1);
	uint64_t period = u->has_period ? u->cpu_period
					: (uint64_t)rec_int(c, "cpu_period", CGROUP_CPU_PERIOD_US);
	char *text;
	int ret;

	if (!cg) {
		oci_error("container %s has no cgroup (no linux.cgroupsPath at create): its CPU "
			  "limit cannot change", c->id);
		return 1;
	}
	if (quota <= 0)
		quota = -1;
	ret = cgroup_set_cpu_max(cg, quota < 0 ? CGROUP_UNLIMITED : (uint64_t)quota, period);
	if (ret) {
		oci_error("container %s: cannot write %s/cpu.max: %s", c->id, cg, strerror(-ret));
		return 1;
	}
	json_object_set_new(c->rec, "cpu_quota", json_integer(quota));
	json_object_set_new(c->rec, "cpu_period", json_integer((json_int_t)period));
	text = json_dumps(c->rec, JSON_INDENT(2));
	if (!text || statedir_write_file(c->dir, OCI_RECORD_FILE, text, strlen(text)))
		oci_warn("container %s: cpu.max changed, but its record could not be", c->id);
	free(text);
	return 0;
}

int oci_update(const char *id, const struct oci_update *u)
{
	struct oci_container c;
	int64_t mib;
	int ret = 1;

	if (oci_container_load(id, &c)) {
		oci_error(oci_id_valid(id) ? "container %s does not exist" :
					     "invalid container id '%.80s'", id);
		return 1;
	}
	if (!oci_status_alive(c.status)) {
		oci_error("cannot update container %s: it is %s", id, oci_status_name(c.status));
		goto out;
	}
	mib = rec_int(&c, "memory_mib", 0);
	if (u->has_memory && (u->memory_bytes < 0 || u->memory_bytes >> 20 != mib)) {
		oci_error("cannot update container %s: its memory is the VM's RAM (%lld MiB), fixed "
			  "when it booted; the memory limit cannot change", id, (long long)mib);
		goto out;
	}
	if (u->ignored[0])
		oci_warn("update of %s: %s ignored (limits of host tasks; the container is one VM)",
			 id, u->ignored);
	ret = u->has_quota || u->has_period ? update_cpu(&c, u) : 0;
out:
	oci_container_free(&c);
	return ret;
}
