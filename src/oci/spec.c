// SPDX-License-Identifier: MIT
/* config.json of an OCI bundle (oci/spec.h): parsed, type-checked, bounded, mapped. */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cgroup.h"

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), -EINVAL)

bool oci_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > OCI_ID_MAX || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	for (const char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '+' || *c == '.' || *c == '-'))
			return false;
	return true;
}

__attribute__((format(printf, 3, 4))) static void say(struct oci_spec *s, bool debug,
							     const char *fmt, ...)
{
	va_list ap;

	if (s->nr_warnings == OCI_MAX_WARNINGS)
		return;
	s->warning_is_debug[s->nr_warnings] = debug;
	va_start(ap, fmt);
	vsnprintf(s->warnings[s->nr_warnings++], sizeof(s->warnings[0]), fmt, ap);
	va_end(ap);
}

/* No empty, "." or ".." component and no control character; abs: must start with '/'. */
static const char *path_problem(const char *p, bool abs)
{
	size_t n = strlen(p);

	if (n == 0)
		return "is empty";
	if (abs && p[0] != '/')
		return "is not an absolute path";
	if (n >= PATH_MAX)
		return "is longer than 4095 bytes";
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "holds a control character";
	for (const char *c = p; *c;) {
		size_t len;

		while (*c == '/')
			c++;
		len = strcspn(c, "/");
		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return "has a '.' or '..' component";
		c += len;
	}
	return NULL;
}

const char *oci_guest_path_problem(const char *p)
{
	const char *why = path_problem(p, true);

	if (why)
		return why;
	if (strstr(p, "//"))
		return "has an empty component";
	return NULL;
}

bool oci_mount_has_option(json_t *options, const char *opt)
{
	size_t i;
	json_t *v;

	json_array_foreach(options, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), opt))
			return true;
	return false;
}

/* An optional member of an object, of a required JSON type. */
static int member(json_t *obj, const char *key, json_type type, json_t **out, const char *where,
		  char *why, size_t whylen)
{
	static const char *const names[] = { "an object", "an array", "a string", "an integer",
					     "a number", "a boolean", "a boolean", "null" };
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_typeof(v) != type &&
	    !(type == JSON_TRUE && (json_is_true(v) || json_is_false(v))))
		return WHY("%s%s must be %s", where, key, names[type]);
	*out = v;
	return 0;
}

static int string_array(json_t *arr, const char *where, const char **out, size_t max, size_t *n,
			size_t *total, char *why, size_t whylen)
{
	size_t i;
	json_t *v;

	if (json_array_size(arr) > max)
		return WHY("%s has more than %zu entries", where, max);
	json_array_foreach(arr, i, v) {
		size_t len;

		if (!json_is_string(v))
			return WHY("%s[%zu] is not a string", where, i);
		len = json_string_length(v);
		if (len > OCI_STRING_MAX)
			return WHY("%s[%zu] is longer than %u bytes", where, i, OCI_STRING_MAX);
		*total += len + 1;
		if (*total > OCI_PROCESS_MAX_BYTES)
			return WHY("process.args and process.env hold more than %u bytes",
				   OCI_PROCESS_MAX_BYTES);
		out[(*n)++] = json_string_value(v);
	}
	return 0;
}

static int id_number(json_t *obj, const char *key, uint32_t *out, char *why, size_t whylen)
{
	json_t *v;
	int ret = member(obj, key, JSON_INTEGER, &v, "process.user.", why, whylen);

	if (ret || !v)
		return ret;
	if (json_integer_value(v) < 0 || json_integer_value(v) > 0xfffffffeLL)
		return WHY("process.user.%s is out of range", key);
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int parse_process(struct oci_spec *s, json_t *proc, char *why, size_t whylen)
{
	json_t *args, *env, *cwd, *user, *term, *v;
	size_t total = 0;
	int ret;

	if (!json_is_object(proc))
		return WHY("process must be an object (it is required to create a container)");
	if ((ret = member(proc, "args", JSON_ARRAY, &args, "process.", why, whylen)) ||
	    (ret = member(proc, "env", JSON_ARRAY, &env, "process.", why, whylen)) ||
	    (ret = member(proc, "cwd", JSON_STRING, &cwd, "process.", why, whylen)) ||
	    (ret = member(proc, "user", JSON_OBJECT, &user, "process.", why, whylen)) ||
	    (ret = member(proc, "terminal", JSON_TRUE, &term, "process.", why, whylen)))
		return ret;
	if (!args || json_array_size(args) == 0)
		return WHY("process.args must name the program to run");
	ret = string_array(args, "process.args", s->args, OCI_MAX_ARGS, &s->nr_args, &total, why,
			   whylen);
	if (ret)
		return ret;
	if (!s->args[0][0])
		return WHY("process.args[0] is empty");
	if (env) {
		ret = string_array(env, "process.env", s->env, OCI_MAX_ENV, &s->nr_env, &total, why,
				   whylen);
		if (ret)
			return ret;
		for (size_t i = 0; i < s->nr_env; i++)
			if (!strchr(s->env[i], '=') || s->env[i][0] == '=')
				return WHY("process.env[%zu] is not KEY=VALUE", i);
	}
	if (!cwd)
		return WHY("process.cwd is required");
	s->cwd = json_string_value(cwd);
	if (oci_guest_path_problem(s->cwd))
		return WHY("process.cwd %s", oci_guest_path_problem(s->cwd));
	if (user) {
		s->user_given = true;
		if ((ret = id_number(user, "uid", &s->uid, why, whylen)) ||
		    (ret = id_number(user, "gid", &s->gid, why, whylen)))
			return ret;
		if ((ret = member(user, "additionalGids", JSON_ARRAY, &v, "process.user.", why,
				  whylen)))
			return ret;
		if (json_array_size(v))
			say(s, false, "process.user.additionalGids ignored: the app runs with uid %u and "
				"gid %u only", s->uid, s->gid);
		if (json_object_get(user, "username"))
			say(s, false, "process.user.username ignored: the numeric uid and gid are used");
	}
	s->terminal = term && json_is_true(term);
	return 0;
}

static int parse_root(struct oci_spec *s, json_t *root, const char *bundle, char *why,
		      size_t whylen)
{
	json_t *path, *ro;
	char *joined = NULL;
	const char *p, *problem;
	struct stat st;
	int ret;

	if (!json_is_object(root))
		return WHY("root must be an object with a path");
	if ((ret = member(root, "path", JSON_STRING, &path, "root.", why, whylen)) ||
	    (ret = member(root, "readonly", JSON_TRUE, &ro, "root.", why, whylen)))
		return ret;
	if (!path)
		return WHY("root.path is required");
	p = json_string_value(path);
	problem = path_problem(p, false);
	if (problem)
		return WHY("root.path %s", problem);
	if (p[0] != '/' && asprintf(&joined, "%s/%s", bundle, p) < 0)
		return -ENOMEM;
	s->root = realpath(joined ? joined : p, NULL);
	ret = errno;
	free(joined);
	if (!s->root)
		return WHY("root.path %s: %s", p, strerror(ret));
	if (stat(s->root, &st) < 0 || !S_ISDIR(st.st_mode))
		return WHY("root.path %s is not a directory", p);
	if (!strcmp(s->root, "/"))
		return WHY("root.path is the host's root directory");
	/* honoured: the share is read-only on both sides (docs/oci.md) */
	s->root_readonly = ro && json_is_true(ro);
	return 0;
}

/* Where ainit mounts its own file systems, or the Arrow's own files live. */
static bool arrow_owned(const char *dst)
{
	static const char *const owned[] = { "/proc", "/sys", "/dev", "/tmp", "/run", "/.arrow",
					     "/init" };

	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		size_t n = strlen(owned[i]);

		if (!strncmp(dst, owned[i], n) && (dst[n] == '\0' || dst[n] == '/'))
			return true;
	}
	return false;
}

static bool kernel_fs(const char *type)
{
	static const char *const types[] = { "proc", "sysfs", "devpts", "mqueue", "tmpfs", "cgroup",
					     "cgroup2", "devtmpfs", "shm", "securityfs" };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(type, types[i]))
			return true;
	return false;
}

static int parse_bind(struct oci_spec *s, const char *src, const char *dst, json_t *options,
		      size_t idx, char *why, size_t whylen)
{
	const char *problem = src ? path_problem(src, true) : "is missing";
	struct oci_bind *b;
	struct stat st;
	char *real;

	if (problem)
		return WHY("mounts[%zu].source %s", idx, problem);
	if (!strcmp(dst, "/"))
		return WHY("mounts[%zu]: a bind mount over / cannot be honoured (use root.path)", idx);
	if (arrow_owned(dst)) {
		say(s, true, "mount %s ignored: the Arrow mounts its own file system there", dst);
		return 0;
	}
	real = realpath(src, NULL);
	if (!real || stat(real, &st) < 0) {
		int e = errno;

		free(real);
		return WHY("mounts[%zu]: bind mount source %s: %s", idx, src, strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		if (s->nr_volumes == OCI_MAX_VOLUMES) {
			free(real);
			return WHY("more than %d directory bind mounts (each is a volume of the Arrow)",
				   OCI_MAX_VOLUMES);
		}
		for (unsigned int i = 0; i < s->nr_volumes; i++)
			if (!strcmp(s->volumes[i].guest, dst)) {
				free(real);
				return WHY("two bind mounts on %s", dst);
			}
		b = &s->volumes[s->nr_volumes++];
	} else if (S_ISREG(st.st_mode)) {
		if (s->nr_files == OCI_MAX_FILES) {
			free(real);
			return WHY("more than %d file bind mounts", OCI_MAX_FILES);
		}
		if (st.st_size > OCI_FILE_MAX_BYTES) {
			free(real);
			return WHY("mounts[%zu]: %s is larger than 4 MiB: a file bind mount is copied "
				   "into the Arrow; bind mount its directory instead", idx, src);
		}
		b = &s->files[s->nr_files++];
	} else {
		say(s, false, "mount %s ignored: %s is neither a directory nor a regular file", dst, src);
		free(real);
		return 0;
	}
	b->host = real;
	b->guest = strdup(dst);
	b->read_only = oci_mount_has_option(options, "ro");
	return b->guest ? 0 : -ENOMEM;
}

static int parse_mounts(struct oci_spec *s, json_t *mounts, char *why, size_t whylen)
{
	size_t i;
	json_t *m;

	if (json_array_size(mounts) > OCI_MAX_MOUNTS)
		return WHY("more than %d mounts", OCI_MAX_MOUNTS);
	json_array_foreach(mounts, i, m) {
		json_t *dst, *type, *src, *opts;
		const char *d, *t, *problem;
		char where[32];
		int ret;

		snprintf(where, sizeof(where), "mounts[%zu].", i);
		if (!json_is_object(m))
			return WHY("mounts[%zu] is not an object", i);
		if ((ret = member(m, "destination", JSON_STRING, &dst, where, why, whylen)) ||
		    (ret = member(m, "type", JSON_STRING, &type, where, why, whylen)) ||
		    (ret = member(m, "source", JSON_STRING, &src, where, why, whylen)) ||
		    (ret = member(m, "options", JSON_ARRAY, &opts, where, why, whylen)))
			return ret;
		if (!dst)
			return WHY("mounts[%zu].destination is required", i);
		d = json_string_value(dst);
		problem = oci_guest_path_problem(d);
		if (problem)
			return WHY("mounts[%zu].destination %s", i, problem);
		for (size_t k = 0; k < json_array_size(opts); k++)
			if (!json_is_string(json_array_get(opts, k)))
				return WHY("mounts[%zu].options[%zu] is not a string", i, k);
		t = type ? json_string_value(type) : "";
		if (!strcmp(t, "bind") || oci_mount_has_option(opts, "bind") ||
		    oci_mount_has_option(opts, "rbind")) {
			ret = parse_bind(s, src ? json_string_value(src) : NULL, d, opts, i, why, whylen);
			if (ret)
				return ret;
		} else if (kernel_fs(t)) {
			if (!arrow_owned(d))
				say(s, false, "mount %s (%s) ignored: an Arrow's kernel file systems are ainit's own; "
					"%s keeps what the rootfs has there", d, t, d);
		} else {
			return WHY("mounts[%zu]: a mount of type '%s' on %s cannot be honoured by an "
				   "Arrow (bind mounts of host directories and files can)", i,
				   t[0] ? t : "(none)", d);
		}
	}
	return 0;
}

static int parse_resources(struct oci_spec *s, json_t *res, char *why, size_t whylen)
{
	json_t *mem, *cpu, *limit, *quota, *period;
	int ret;

	if ((ret = member(res, "memory", JSON_OBJECT, &mem, "linux.resources.", why, whylen)) ||
	    (ret = member(res, "cpu", JSON_OBJECT, &cpu, "linux.resources.", why, whylen)) ||
	    (ret = member(mem, "limit", JSON_INTEGER, &limit, "linux.resources.memory.", why,
			  whylen)) ||
	    (ret = member(cpu, "quota", JSON_INTEGER, &quota, "linux.resources.cpu.", why, whylen)) ||
	    (ret = member(cpu, "period", JSON_INTEGER, &period, "linux.resources.cpu.", why,
			  whylen)))
		return ret;
	if (limit && json_integer_value(limit) > 0) {
		json_int_t mib = json_integer_value(limit) >> 20;

		if (mib < OCI_MIN_MEMORY_MIB || mib > OCI_MAX_MEMORY_MIB)
			return WHY("linux.resources.memory.limit must be %u MiB to %u GiB (the Arrow's "
				   "memory)", OCI_MIN_MEMORY_MIB, OCI_MAX_MEMORY_MIB >> 10);
		s->memory_mib = (uint64_t)mib;
	}
	if (quota && json_integer_value(quota) > 0) {
		json_int_t p = period ? json_integer_value(period) : CGROUP_CPU_PERIOD_US;
		json_int_t q = json_integer_value(quota);

		if (p <= 0 || p > 1000000000)
			return WHY("linux.resources.cpu.period is out of range");
		q = (q + p - 1) / p;
		s->cpus = q > OCI_MAX_CPUS ? OCI_MAX_CPUS : (unsigned int)q;
	}
	return 0;
}

static int check_cgroups_path(const char *p, char *why, size_t whylen)
{
	const char *c1 = strchr(p, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *problem;

	if (strlen(p) > 1024)
		return WHY("linux.cgroupsPath is longer than 1024 bytes");
	if (!c1) {
		problem = cgroup_path_problem(p);
		return problem ? WHY("linux.cgroupsPath %s", problem) : 0;
	}
	/* systemd's form, slice:prefix:name */
	if (!c2 || strchr(c2 + 1, ':') || strchr(p, '/') || strstr(p, ".."))
		return WHY("linux.cgroupsPath '%s' is neither a path nor slice:prefix:name", p);
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return WHY("linux.cgroupsPath holds a control character");
	return 0;
}

static int parse_linux(struct oci_spec *s, json_t *lx, char *why, size_t whylen)
{
	static const char *const ns_types[] = { "pid", "network", "mount", "ipc", "uts",
						"user", "cgroup", "time" };
	json_t *nss, *res, *cg, *ns;
	size_t i;
	int ret;

	if (!lx)
		return 0;
	if (!json_is_object(lx))
		return WHY("linux must be an object");
	if ((ret = member(lx, "namespaces", JSON_ARRAY, &nss, "linux.", why, whylen)) ||
	    (ret = member(lx, "resources", JSON_OBJECT, &res, "linux.", why, whylen)) ||
	    (ret = member(lx, "cgroupsPath", JSON_STRING, &cg, "linux.", why, whylen)))
		return ret;
	json_array_foreach(nss, i, ns) {
		json_t *type, *path;
		bool known = false;

		if (!json_is_object(ns))
			return WHY("linux.namespaces[%zu] is not an object", i);
		if ((ret = member(ns, "type", JSON_STRING, &type, "linux.namespaces[].", why, whylen)) ||
		    (ret = member(ns, "path", JSON_STRING, &path, "linux.namespaces[].", why, whylen)))
			return ret;
		for (size_t k = 0; type && k < sizeof(ns_types) / sizeof(ns_types[0]); k++)
			known |= !strcmp(json_string_value(type), ns_types[k]);
		if (!known)
			return WHY("linux.namespaces[%zu].type is not a namespace type", i);
		if (!strcmp(json_string_value(type), "network") && (s->netns_path || s->netns_fresh))
			return WHY("linux.namespaces[%zu]: a second network namespace", i);
		if (path && !strcmp(json_string_value(type), "network")) {
			const char *p = json_string_value(path);

			/* joined at create (lib/net/netns.c): the guest takes its interface */
			if (p[0] != '/' || oci_guest_path_problem(p))
				return WHY("linux.namespaces[%zu].path must be an absolute path", i);
			s->netns_path = p;
		} else if (!strcmp(json_string_value(type), "network")) {
			s->netns_fresh = true;
		} else if (path)
			say(s, false, "%s namespace %.120s not joined: the Arrow is a VM with its own kernel",
			     json_string_value(type), json_string_value(path));
	}
	if (res && (ret = parse_resources(s, res, why, whylen)))
		return ret;
	if (cg) {
		ret = check_cgroups_path(json_string_value(cg), why, whylen);
		if (ret)
			return ret;
		s->cgroups_path = json_string_value(cg);
	}
	return 0;
}

/* One hook: path (absolute), args, env (KEY=VALUE), timeout (seconds > 0). */
static int check_hook(json_t *h, const char *kind, size_t i, char *why, size_t whylen)
{
	json_t *path, *args, *env, *timeout, *v;
	const char *problem, *k;
	char where[64];
	size_t n;
	int ret;

	snprintf(where, sizeof(where), "hooks.%s[%zu].", kind, i);
	if (!json_is_object(h))
		return WHY("hooks.%s[%zu] is not an object", kind, i);
	if ((ret = member(h, "path", JSON_STRING, &path, where, why, whylen)) ||
	    (ret = member(h, "args", JSON_ARRAY, &args, where, why, whylen)) ||
	    (ret = member(h, "env", JSON_ARRAY, &env, where, why, whylen)) ||
	    (ret = member(h, "timeout", JSON_INTEGER, &timeout, where, why, whylen)))
		return ret;
	json_object_foreach(h, k, v)
		if (strcmp(k, "path") && strcmp(k, "args") && strcmp(k, "env") && strcmp(k, "timeout"))
			return WHY("%s%.40s is not a member of a hook", where, k);
	if (!path)
		return WHY("%spath is required", where);
	problem = path_problem(json_string_value(path), true);
	if (problem)
		return WHY("%spath %s", where, problem);
	if (json_array_size(args) > OCI_HOOK_MAX_ARGS || json_array_size(env) > OCI_HOOK_MAX_ARGS)
		return WHY("%sargs or env has more than %d entries", where, OCI_HOOK_MAX_ARGS);
	json_array_foreach(args, n, v)
		if (!json_is_string(v) || json_string_length(v) > OCI_STRING_MAX)
			return WHY("%sargs[%zu] is not a string of at most 64 KiB", where, n);
	json_array_foreach(env, n, v)
		if (!json_is_string(v) || json_string_length(v) > OCI_STRING_MAX ||
		    !strchr(json_string_value(v), '=') || json_string_value(v)[0] == '=')
			return WHY("%senv[%zu] is not KEY=VALUE", where, n);
	if (timeout && (json_integer_value(timeout) <= 0 ||
			json_integer_value(timeout) > OCI_HOOK_MAX_TIMEOUT))
		return WHY("%stimeout must be 1 to %d seconds", where, OCI_HOOK_MAX_TIMEOUT);
	return 0;
}

/*
 * Hooks run on the host (docs/oci.md). createContainer and startContainer are to run in
 * the container's namespaces, which for an Arrow are inside a VM that boots only at
 * start: they are refused rather than run somewhere they were not meant to.
 */
static int parse_hooks(struct oci_spec *s, json_t *hooks, char *why, size_t whylen)
{
	static const char *const kinds[] = { "prestart", "createRuntime", "poststart",
					     "poststop" };
	const char *key;
	json_t *v;
	size_t total = 0;

	if (!hooks || json_is_null(hooks))
		return 0;
	if (!json_is_object(hooks))
		return WHY("hooks must be an object");
	json_object_foreach(hooks, key, v) {
		bool known = false;
		size_t i;
		json_t *h;

		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			known |= !strcmp(key, kinds[k]);
		if (!json_is_array(v))
			return WHY("hooks.%.40s must be an array", key);
		if (!json_array_size(v))
			continue;
		if (!strcmp(key, "createContainer") || !strcmp(key, "startContainer"))
			return WHY("hooks.%s: these hooks run inside the container's namespaces, which "
				   "for an Arrow are a VM not yet booted: not supported (docs/oci.md)",
				   key);
		if (!known)
			return WHY("hooks.%.40s is not a kind of hook", key);
		if (json_array_size(v) > OCI_MAX_HOOKS)
			return WHY("hooks.%s has more than %d hooks", key, OCI_MAX_HOOKS);
		json_array_foreach(v, i, h) {
			int ret = check_hook(h, key, i, why, whylen);

			if (ret)
				return ret;
		}
		total += json_array_size(v);
	}
	if (total)
		s->hooks = json_incref(hooks);
	return 0;
}

static bool valid_hostname(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 64 || h[0] == '-' || h[0] == '.')
		return false;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
		      *h == '-' || *h == '.' || *h == '_'))
			return false;
	return true;
}

int oci_spec_parse(const char *text, size_t len, const char *bundle, struct oci_spec *s,
		   char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *ver, *host, *ann, *v;
	const char *key;
	int ret;

	memset(s, 0, sizeof(*s));
	if (len > OCI_CONFIG_MAX_BYTES) {
		snprintf(why, whylen, "config.json is larger than %u MiB", OCI_CONFIG_MAX_BYTES >> 20);
		return -EFBIG;
	}
	s->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!s->doc) {
		snprintf(why, whylen, "config.json: %s (line %d)", jerr.text, jerr.line);
		return -EINVAL;
	}
	if (!json_is_object(s->doc)) {
		ret = WHY("config.json is not a JSON object");
		goto fail;
	}
	if ((ret = member(s->doc, "ociVersion", JSON_STRING, &ver, "", why, whylen)) ||
	    (ret = member(s->doc, "hostname", JSON_STRING, &host, "", why, whylen)) ||
	    (ret = member(s->doc, "annotations", JSON_OBJECT, &ann, "", why, whylen)) ||
	    (ret = member(s->doc, "mounts", JSON_ARRAY, &v, "", why, whylen)))
		goto fail;
	if (!ver || strncmp(json_string_value(ver), "1.", 2)) {
		ret = WHY("ociVersion must be 1.x (runtime-spec 1)");
		goto fail;
	}
	s->oci_version = json_string_value(ver);
	if ((ret = parse_root(s, json_object_get(s->doc, "root"), bundle, why, whylen)) ||
	    (ret = parse_process(s, json_object_get(s->doc, "process"), why, whylen)) ||
	    (ret = parse_mounts(s, v, why, whylen)) ||
	    (ret = parse_linux(s, json_object_get(s->doc, "linux"), why, whylen)) ||
	    (ret = parse_hooks(s, json_object_get(s->doc, "hooks"), why, whylen)))
		goto fail;
	if (host) {
		if (!valid_hostname(json_string_value(host))) {
			ret = WHY("hostname is not a valid host name (letters, digits, '-', '.', at "
				  "most 64)");
			goto fail;
		}
		s->hostname = json_string_value(host);
	}
	json_object_foreach(ann, key, v) {
		if (!json_is_string(v)) {
			ret = WHY("annotations.%.60s is not a string", key);
			goto fail;
		}
	}
	s->annotations = ann ? json_incref(ann) : json_object();
	return s->annotations ? 0 : -ENOMEM;
fail:
	oci_spec_free(s);
	return ret;
}

/* A regular file of at most OCI_CONFIG_MAX_BYTES, read whole (malloc'ed, NUL-ended). */
static int read_document(const char *path, char **out, size_t *outlen, char *why, size_t whylen)
{
	struct stat st;
	ssize_t got;
	char *buf;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > OCI_CONFIG_MAX_BYTES) {
		close(fd);
		snprintf(why, whylen, "%s: %s", path,
			 S_ISREG(st.st_mode) ? "larger than 4 MiB" : "not a regular file");
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	got = read(fd, buf, (size_t)st.st_size + 1);
	close(fd);
	if (got != st.st_size) {
		free(buf);
		snprintf(why, whylen, "%s: %s", path, got < 0 ? strerror(errno) : "changed while read");
		return -EIO;
	}
	buf[got] = '\0';
	*out = buf;
	*outlen = (size_t)got;
	return 0;
}

int oci_spec_load(const char *bundle, struct oci_spec *s, char *why, size_t whylen)
{
	char path[PATH_MAX + 16], *buf;
	size_t len;
	int ret;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	ret = read_document(path, &buf, &len, why, whylen);
	if (ret)
		return ret;
	ret = oci_spec_parse(buf, len, bundle, s, why, whylen);
	free(buf);
	return ret;
}

int oci_process_parse(const char *text, size_t len, struct oci_spec *s, char *why,
		      size_t whylen)
{
	json_error_t jerr;
	int ret;

	memset(s, 0, sizeof(*s));
	if (len > OCI_CONFIG_MAX_BYTES) {
		snprintf(why, whylen, "the process is larger than %u MiB", OCI_CONFIG_MAX_BYTES >> 20);
		return -EFBIG;
	}
	s->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!s->doc) {
		snprintf(why, whylen, "process: %s (line %d)", jerr.text, jerr.line);
		return -EINVAL;
	}
	ret = parse_process(s, s->doc, why, whylen);
	if (ret)
		oci_spec_free(s);
	return ret;
}

int oci_process_load(const char *path, struct oci_spec *s, char *why, size_t whylen)
{
	char *buf;
	size_t len;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = read_document(path, &buf, &len, why, whylen);
	if (ret)
		return ret;
	ret = oci_process_parse(buf, len, s, why, whylen);
	free(buf);
	return ret;
}

void oci_spec_free(struct oci_spec *s)
{
	for (unsigned int i = 0; i < s->nr_volumes; i++) {
		free(s->volumes[i].host);
		free(s->volumes[i].guest);
	}
	for (unsigned int i = 0; i < s->nr_files; i++) {
		free(s->files[i].host);
		free(s->files[i].guest);
	}
	free(s->root);
	json_decref(s->annotations);
	json_decref(s->hooks);
	json_decref(s->doc);
	memset(s, 0, sizeof(*s));
}
