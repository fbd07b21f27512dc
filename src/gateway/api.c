// SPDX-License-Identifier: MIT
/*
 * OpenFaaS faas-provider endpoints (docs/functions.md, "OpenFaaS"), /system/metrics and
 * /healthz. Request bodies are untrusted JSON: parsed with limits, validated as the
 * function store validates its files, refused with 400 and a reason.
 */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fn/fndeploy.h"
#include "lib/launch/runopts.h"
#include "pool.h"

void reply_text(struct reply *r, int status, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&r->body, fmt, ap);
	va_end(ap);
	r->status = status;
	r->len = n > 0 ? (size_t)n : 0;
	if (n < 0)
		r->body = NULL;
	r->type = "text/plain; charset=utf-8";
}

static void reply_json(struct reply *r, int status, json_t *j)
{
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!r->body) {
		reply_text(r, 500, "cannot encode the answer\n");
		return;
	}
	r->status = status;
	r->len = strlen(r->body);
	r->type = "application/json";
}

/* A label or annotation of the deployment request. */
static const char *label(json_t *req, const char *key)
{
	const char *v = json_string_value(json_object_get(json_object_get(req, "labels"), key));

	return v ? v : json_string_value(json_object_get(json_object_get(req, "annotations"), key));
}

/* Copy an integer label into j[key]; a label that is not a plain number: why. */
static const char *int_label(json_t *req, const char *lab, json_t *j, const char *key)
{
	const char *v = label(req, lab);
	char *end;
	long n;

	if (!v)
		return NULL;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 0)
		return lab;
	json_object_set_new(j, key, json_integer(n));
	return NULL;
}

/* envProcess "prog a b": words, as the program's arguments */
static json_t *split_words(const char *s)
{
	json_t *a = json_array();
	char *copy = strdup(s ? s : ""), *save = NULL;

	for (char *w = strtok_r(copy, " \t", &save); w && a; w = strtok_r(NULL, " \t", &save))
		json_array_append_new(a, json_string(w));
	free(copy);
	return a;
}

static json_t *env_array(json_t *vars)
{
	json_t *a = json_array(), *v;
	const char *k;

	json_object_foreach(vars, k, v) {
		char *kv;

		if (!json_is_string(v) || !*k || strchr(k, '=') ||
		    asprintf(&kv, "%s=%s", k, json_string_value(v)) < 0) {
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, json_string(kv));
		free(kv);
	}
	return a;
}

static const char *openfaas_numbers(json_t *req, json_t *j)
{
	static const char *const map[][2] = {
		{ "com.openfaas.scale.min", "min" }, { "com.openfaas.scale.max", "max" },
		{ "com.arrow.port", "port" }, { "com.arrow.concurrency", "concurrency" },
		{ "com.arrow.queue", "queue" }, { "com.arrow.timeout", "timeout" },
		{ "com.arrow.idle-timeout", "idle_timeout" },
	};
	const char *mem = json_string_value(json_object_get(json_object_get(req, "limits"), "memory"));
	const char *bad = NULL;

	for (size_t i = 0; !bad && i < sizeof(map) / sizeof(map[0]); i++)
		bad = int_label(req, map[i][0], j, map[i][1]);
	if (!bad && mem) {
		char m[32];
		size_t n = strlen(mem);

		/* Kubernetes quantities: "128Mi", "1Gi"; arrow's "128m", "1g" */
		snprintf(m, sizeof(m), "%.*s", (int)(n && mem[n - 1] == 'i' ? n - 1 : n), mem);
		if (!runopts_parse_memory(m))
			return "limits.memory";
		json_object_set_new(j, "memory_mib", json_integer((json_int_t)runopts_parse_memory(m)));
	}
	return bad;
}

int api_spec_from_openfaas(json_t *req, struct fn_spec *s, char *why, size_t whylen)
{
	const char *fresh = label(req, "com.arrow.fresh"), *bad;
	json_t *env, *j;
	int ret;

	if (!json_is_object(req)) {
		snprintf(why, whylen, "the body is not a JSON object");
		return -EINVAL;
	}
	env = json_object_get(req, "envVars");
	if (env && !json_is_object(env)) {
		snprintf(why, whylen, "'envVars' is not an object of strings");
		return -EINVAL;
	}
	env = env_array(env);
	j = json_pack("{s:O?, s:O?, s:o, s:o?, s:b}", "name", json_object_get(req, "service"),
		      "program", json_object_get(req, "image"), "args",
		      split_words(json_string_value(json_object_get(req, "envProcess"))), "env", env,
		      "fresh", fresh && !strcmp(fresh, "true"));
	if (!j || !env) {
		json_decref(j);
		snprintf(why, whylen, "'envVars' is not an object of strings");
		return -EINVAL;
	}
	bad = openfaas_numbers(req, j);
	if (bad) {
		json_decref(j);
		snprintf(why, whylen, "'%s' is not a number", bad);
		return -EINVAL;
	}
	ret = fn_spec_from_json(j, s, why, whylen);
	json_decref(j);
	return ret;
}

static json_t *parse_body(const char *body, size_t len, struct reply *r)
{
	json_error_t err;
	json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &err);

	if (!j)
		reply_text(r, 400, "malformed JSON: %s (line %d)\n", err.text, err.line);
	else if (!json_is_object(j))
		reply_text(r, 400, "malformed request: the body is not a JSON object\n");
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

struct deploy_job {
	struct fn_spec *spec;
	bool replace;
	const char *name; /* to remove */
};

static int deploy_job(void *arg)
{
	struct deploy_job *j = arg;

	return j->spec ? fn_deploy(j->spec, j->replace) : fn_undeploy(j->name);
}

static void deploy(json_t *req, bool replace, struct reply *r)
{
	struct deploy_job job = { .replace = replace };
	struct fn_spec s;
	char why[512];
	int ret;

	fn_spec_init(&s, NULL);
	if (api_spec_from_openfaas(req, &s, why, sizeof(why))) {
		reply_text(r, 400, "bad deployment: %s\n", why);
		fn_spec_free(&s);
		return;
	}
	job.spec = &s;
	ret = pool_isolated(deploy_job, &job);
	if (ret == -EEXIST)
		reply_text(r, 409, "function %s exists; update it with PUT\n", s.name);
	else if (ret)
		reply_text(r, 500, "function %s was not deployed: %s (the gateway's log says why)\n",
			   s.name, strerror(-ret));
	else
		reply_text(r, replace ? 200 : 202, "%s\n", s.name);
	fn_spec_free(&s);
	pool_sync();
}

static void functions(const char *method, const char *body, size_t len, struct reply *r)
{
	const char *name;
	json_t *req;
	int ret;

	if (!strcmp(method, "GET")) {
		reply_json(r, 200, pool_status_json(NULL));
		return;
	}
	if (strcmp(method, "POST") && strcmp(method, "PUT") && strcmp(method, "DELETE")) {
		reply_text(r, 405, "use GET, POST, PUT or DELETE on /system/functions\n");
		return;
	}
	req = parse_body(body, len, r);
	if (!req)
		return;
	if (!strcmp(method, "DELETE")) {
		name = json_string_value(json_object_get(req, "functionName"));
		if (!fnstore_valid_name(name)) {
			reply_text(r, 400, "'functionName' is missing or not a function name\n");
		} else {
			struct deploy_job job = { .name = name };

			ret = pool_isolated(deploy_job, &job);
			pool_sync();
			if (ret == -ENOENT)
				reply_text(r, 404, "no function named %s\n", name);
			else
				reply_text(r, ret ? 500 : 200, "%s\n", ret ? strerror(-ret) : name);
		}
	} else {
		deploy(req, !strcmp(method, "PUT"), r);
	}
	json_decref(req);
}

static void scale(const struct route *rt, const char *method, const char *body, size_t len,
		  struct reply *r)
{
	json_t *req, *replicas;
	int ret;

	if (strcmp(method, "POST")) {
		reply_text(r, 405, "use POST on /system/scale-function/NAME\n");
		return;
	}
	req = parse_body(body, len, r);
	if (!req)
		return;
	replicas = json_object_get(req, "replicas");
	if (!json_is_integer(replicas) || json_integer_value(replicas) < 0 ||
	    json_integer_value(replicas) > FN_MAX_INSTANCES) {
		reply_text(r, 400, "'replicas' is missing or not 0 to %d\n", FN_MAX_INSTANCES);
	} else {
		ret = pool_scale(rt->name, (unsigned int)json_integer_value(replicas));
		if (ret == 404)
			reply_text(r, 404, "no function named %s\n", rt->name);
		else
			reply_text(r, ret ? 500 : 202, "%s\n", ret ? "cannot save the scale" : rt->name);
	}
	json_decref(req);
}

void api_handle(const struct route *rt, const char *method, const char *body, size_t len,
		struct reply *r)
{
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	json_t *j;

	switch (rt->kind) {
	case ROUTE_HEALTHZ:
		reply_text(r, 200, "OK\n");
		return;
	case ROUTE_SYS_INFO:
		if (!get)
			break;
		reply_json(r, 200, json_pack("{s:s, s:s, s:{s:s, s:s}, s:s}", "provider", "arrow",
					      "orchestration", "arrow", "version", "release",
					      ARROW_VERSION, "sha", "", "arch", "x86_64"));
		return;
	case ROUTE_SYS_NAMESPACES:
		if (!get)
			break;
		/* one namespace: functions are not divided (faas-cli asks before listing) */
		reply_json(r, 200, json_pack("[s]", "arrow"));
		return;
	case ROUTE_SYS_METRICS:
		if (!get)
			break;
		r->body = pool_metrics();
		r->status = r->body ? 200 : 500;
		r->len = r->body ? strlen(r->body) : 0;
		r->type = "text/plain; version=0.0.4";
		return;
	case ROUTE_SYS_FUNCTIONS:
		functions(method, body, len, r);
		return;
	case ROUTE_SYS_FUNCTION:
		if (!get)
			break;
		j = pool_status_json(rt->name);
		if (!j && pool_get(rt->name, &(int){ 0 }))
			j = pool_status_json(rt->name);
		if (j)
			reply_json(r, 200, j);
		else
			reply_text(r, 404, "no function named %s\n", rt->name);
		return;
	case ROUTE_SYS_SCALE:
		scale(rt, method, body, len, r);
		return;
	case ROUTE_BAD_NAME:
		reply_text(r, 400, "bad function name: lower-case letters, digits and inner '-', "
				   "at most %d\n", FN_NAME_MAX);
		return;
	default:
		reply_text(r, 404, "not found\n");
		return;
	}
	reply_text(r, 405, "method %s is not allowed here\n", method);
}
