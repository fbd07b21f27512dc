// SPDX-License-Identifier: MIT
/* The function store (fnstore.h): function.json per function, validated on read. */
#include "lib/fn/fnstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/statedir.h"
#include "lib/state/paths.h"

#define FN_JSON_MAX (1u << 20) /* a function.json larger than this is not one we wrote */

const char *fnstore_dir(void)
{
	static char dir[4096];

	return arrow_data_dir("ARROW_FUNCTIONS", "functions", dir, sizeof(dir));
}

bool fnstore_valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > FN_NAME_MAX || name[0] == '-' || name[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return false;
	return true;
}

void fn_spec_init(struct fn_spec *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
	snprintf(s->template, sizeof(s->template), "fn-%s", s->name);
	s->args = json_array();
	s->env = json_array();
	s->port = 8080;
	s->max = 4;
	s->concurrency = 1;
	s->queue = 100;
	s->idle_timeout_s = 300;
	s->timeout_s = 30;
}

void fn_spec_free(struct fn_spec *s)
{
	free(s->program);
	json_decref(s->args);
	json_decref(s->env);
	s->program = NULL;
	s->args = s->env = NULL;
}

/* An array of at most max strings, each shorter than FN_ARG_MAX; env entries hold '='. */
static const char *check_strings(json_t *a, size_t max, bool env)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a))
		return "is not an array";
	if (json_array_size(a) > max)
		return "has too many entries";
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		if (!s || strlen(s) >= FN_ARG_MAX)
			return "holds something other than a string of at most 4095 bytes";
		if (env && (!strchr(s, '=') || s[0] == '='))
			return "holds an entry that is not KEY=VALUE";
	}
	return NULL;
}

/* An integer member within [lo, hi] (absent: keep *out). NULL, or why not. */
static const char *get_uint(json_t *j, const char *key, uint64_t lo, uint64_t hi, uint64_t *out)
{
	json_t *v = json_object_get(j, key);

	if (!v)
		return NULL;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < lo || (uint64_t)json_integer_value(v) > hi)
		return key;
	*out = (uint64_t)json_integer_value(v);
	return NULL;
}

static int spec_numbers(json_t *j, struct fn_spec *s, char *why, size_t whylen)
{
	uint64_t port = s->port, mem = s->memory_mib, min = s->min, max = s->max;
	uint64_t conc = s->concurrency, queue = s->queue, idle = s->idle_timeout_s;
	uint64_t timeout = s->timeout_s, created = s->created_ns;
	const char *bad = get_uint(j, "port", 1, 65535, &port);

	if (!bad)
		bad = get_uint(j, "memory_mib", 0, 65536, &mem);
	if (!bad && mem && mem < 32)
		bad = "memory_mib";
	if (!bad)
		bad = get_uint(j, "min", 0, FN_MAX_INSTANCES, &min);
	if (!bad)
		bad = get_uint(j, "max", 1, FN_MAX_INSTANCES, &max);
	if (!bad)
		bad = get_uint(j, "concurrency", 1, FN_MAX_CONCURRENCY, &conc);
	if (!bad)
		bad = get_uint(j, "queue", 0, FN_MAX_QUEUE, &queue);
	if (!bad)
		bad = get_uint(j, "idle_timeout", 0, FN_MAX_IDLE_S, &idle);
	if (!bad)
		bad = get_uint(j, "timeout", 1, FN_MAX_TIMEOUT_S, &timeout);
	if (!bad)
		bad = get_uint(j, "created_ns", 0, INT64_MAX, &created);
	if (bad) {
		snprintf(why, whylen, "'%s' is not an integer in its range", bad);
		return -EINVAL;
	}
	if (min > max) {
		snprintf(why, whylen, "min (%llu) is larger than max (%llu)", (unsigned long long)min,
			 (unsigned long long)max);
		return -EINVAL;
	}
	s->port = (unsigned int)port;
	s->memory_mib = mem;
	s->min = (unsigned int)min;
	s->max = (unsigned int)max;
	s->concurrency = (unsigned int)conc;
	s->queue = (unsigned int)queue;
	s->idle_timeout_s = (unsigned int)idle;
	s->timeout_s = (unsigned int)timeout;
	s->created_ns = created;
	return 0;
}

int fn_spec_from_json(json_t *j, struct fn_spec *s, char *why, size_t whylen)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *prog = json_string_value(json_object_get(j, "program"));
	json_t *args = json_object_get(j, "args"), *env = json_object_get(j, "env");
	json_t *fresh = json_object_get(j, "fresh");
	const char *bad = NULL;

	if (!json_is_object(j)) {
		snprintf(why, whylen, "not a JSON object");
		return -EINVAL;
	}
	if (!fnstore_valid_name(name)) {
		snprintf(why, whylen, "'name' is missing or not a function name "
				      "([a-z0-9-], at most %d bytes)", FN_NAME_MAX);
		return -EINVAL;
	}
	if (!prog || !*prog || strlen(prog) >= FN_ARG_MAX) {
		snprintf(why, whylen, "'program' is missing, empty or too long");
		return -EINVAL;
	}
	if (args && (bad = check_strings(args, FN_MAX_ARGS, false))) {
		snprintf(why, whylen, "'args' %s", bad);
		return -EINVAL;
	}
	if (env && (bad = check_strings(env, FN_MAX_ENV, true))) {
		snprintf(why, whylen, "'env' %s", bad);
		return -EINVAL;
	}
	if (fresh && !json_is_boolean(fresh)) {
		snprintf(why, whylen, "'fresh' is not true or false");
		return -EINVAL;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->template, sizeof(s->template), "fn-%s", name);
	if (spec_numbers(j, s, why, whylen))
		return -EINVAL;
	free(s->program);
	s->program = strdup(prog);
	if (args) {
		json_decref(s->args);
		s->args = json_deep_copy(args);
	}
	if (env) {
		json_decref(s->env);
		s->env = json_deep_copy(env);
	}
	s->fresh = json_is_true(fresh);
	return s->program && s->args && s->env ? 0 : -ENOMEM;
}

json_t *fn_spec_to_json(const struct fn_spec *s)
{
	return json_pack("{s:s, s:s, s:O, s:O, s:i, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:s, s:I}",
			 "name", s->name, "program", s->program, "args", s->args, "env", s->env,
			 "port", (int)s->port, "memory_mib", (json_int_t)s->memory_mib, "min",
			 (int)s->min, "max", (int)s->max, "concurrency", (int)s->concurrency, "queue",
			 (int)s->queue, "idle_timeout", (int)s->idle_timeout_s, "timeout",
			 (int)s->timeout_s, "fresh", s->fresh, "template", s->template, "created_ns",
			 (json_int_t)s->created_ns);
}

static int fn_path(const char *name, const char *file, char *out, size_t len)
{
	if (!fnstore_valid_name(name))
		return -EINVAL;
	if (snprintf(out, len, "%s/%s%s%s", fnstore_dir(), name, file ? "/" : "", file ? file : "") >=
	    (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* A regular file of at most FN_JSON_MAX bytes (never a FIFO that would block). */
static json_t *load_file(const char *path, char *why, size_t whylen, int *err)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	json_error_t jerr;
	struct stat st;
	json_t *j;
	FILE *f;

	if (fd < 0) {
		*err = -errno;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FN_JSON_MAX) {
		close(fd);
		*err = -EINVAL;
		snprintf(why, whylen, "%s is not a regular file of at most %u bytes", path,
			 FN_JSON_MAX);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		*err = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	j = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (!j) {
		*err = -EINVAL;
		snprintf(why, whylen, "%s: %s", path, jerr.text);
	}
	return j;
}

int fnstore_load(const char *name, struct fn_spec *s, char *why, size_t whylen)
{
	char path[4200];
	json_t *j;
	int ret;

	fn_spec_init(s, name);
	ret = fn_path(name, FN_FILE, path, sizeof(path));
	if (ret) {
		snprintf(why, whylen, "'%s' is not a function name", name);
		return ret;
	}
	j = load_file(path, why, whylen, &ret);
	if (!j) {
		if (ret == -ENOENT)
			snprintf(why, whylen, "no function named '%s'", name);
		return ret == -ENOENT ? ret : -EINVAL;
	}
	ret = fn_spec_from_json(j, s, why, whylen);
	json_decref(j);
	if (!ret && strcmp(s->name, name)) {
		snprintf(why, whylen, "%s names another function (%s)", path, s->name);
		ret = -EINVAL;
	}
	return ret;
}

int fnstore_save(const struct fn_spec *s)
{
	char dir[4200];
	json_t *j = fn_spec_to_json(s);
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	int ret = fn_path(s->name, NULL, dir, sizeof(dir));

	json_decref(j);
	if (!ret && !text)
		ret = -ENOMEM;
	/* the environment may hold secrets: the store is the owner's only */
	if (!ret)
		ret = mkdir_p(fnstore_dir(), 0700);
	if (!ret)
		ret = mkdir_p(dir, 0700);
	if (!ret)
		ret = statedir_write_file(dir, FN_FILE, text, strlen(text));
	free(text);
	return ret;
}

int fnstore_remove(const char *name)
{
	char dir[4200], file[4300];
	int ret = fn_path(name, NULL, dir, sizeof(dir));

	if (ret)
		return ret;
	snprintf(file, sizeof(file), "%s/%s", dir, FN_FILE);
	if (unlink(file) < 0 && errno != ENOENT)
		return -errno;
	if (rmdir(dir) < 0)
		return -errno;
	return 0;
}

static bool keep_function(const char *name)
{
	return fnstore_valid_name(name); /* not ".", "..", temporary files */
}

int fnstore_list(char ***names)
{
	return dir_names(fnstore_dir(), keep_function, names);
}

void fnstore_free_list(char **names, int n)
{
	names_free(names, n);
}

bool fnstore_instance_of(const char *arrow_name, char *out, size_t len)
{
	const char *dash;
	size_t n;

	if (!arrow_name || strncmp(arrow_name, "fn-", 3))
		return false;
	dash = strrchr(arrow_name, '-');
	if (dash == arrow_name + 2 || !dash[1])
		return false;
	for (const char *p = dash + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	n = (size_t)(dash - (arrow_name + 3));
	if (n == 0 || n >= len || n > FN_NAME_MAX)
		return false;
	memcpy(out, arrow_name + 3, n);
	out[n] = '\0';
	return fnstore_valid_name(out);
}

bool fnstore_is_instance(const char *arrow_name, const char *fn)
{
	char name[FN_NAME_MAX + 1];

	return fnstore_instance_of(arrow_name, name, sizeof(name)) && !strcmp(name, fn);
}
