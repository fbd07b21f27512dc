// SPDX-License-Identifier: MIT
/* Functions: the store's validation, request routing, OpenFaaS deployments (no VM). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#include "gateway/api.h"
#include "gateway/route.h"
#include "lib/fn/fnstore.h"

static char tmpdir[] = "/tmp/arrow-fn-XXXXXX";

static void test_names(void **state)
{
	(void)state;
	assert_true(fnstore_valid_name("hello"));
	assert_true(fnstore_valid_name("a"));
	assert_true(fnstore_valid_name("a-1-b"));
	assert_true(fnstore_valid_name("012345678901234567890123456789012345678901234567"));
	assert_false(fnstore_valid_name("0123456789012345678901234567890123456789012345678"));
	assert_false(fnstore_valid_name(""));
	assert_false(fnstore_valid_name(NULL));
	assert_false(fnstore_valid_name("-a"));
	assert_false(fnstore_valid_name("a-"));
	assert_false(fnstore_valid_name("A"));
	assert_false(fnstore_valid_name("a_b"));
	assert_false(fnstore_valid_name("a.b"));
	assert_false(fnstore_valid_name("a/b"));
	assert_false(fnstore_valid_name(".."));
}

static void test_instance_names(void **state)
{
	char fn[FN_NAME_MAX + 1];

	(void)state;
	assert_true(fnstore_instance_of("fn-hello-12", fn, sizeof(fn)));
	assert_string_equal(fn, "hello");
	assert_true(fnstore_instance_of("fn-a-1-3", fn, sizeof(fn)));
	assert_string_equal(fn, "a-1");
	assert_true(fnstore_is_instance("fn-a-1-3", "a-1"));
	assert_false(fnstore_is_instance("fn-a-1-3", "a"));
	assert_false(fnstore_instance_of("fn-hello-deploy", fn, sizeof(fn)));
	assert_false(fnstore_instance_of("fn-hello-", fn, sizeof(fn)));
	assert_false(fnstore_instance_of("fn--1", fn, sizeof(fn)));
	assert_false(fnstore_instance_of("fn-1", fn, sizeof(fn)));
	assert_false(fnstore_instance_of("web-1", fn, sizeof(fn)));
	assert_false(fnstore_instance_of("fn-Bad-1", fn, sizeof(fn)));
}

/* Parse text as a function.json: 0 or -EINVAL, why filled. */
static int spec_of(const char *text, struct fn_spec *s, char *why, size_t len)
{
	json_t *j = json_loads(text, 0, NULL);
	int ret;

	fn_spec_init(s, NULL);
	ret = j ? fn_spec_from_json(j, s, why, len) : -1;
	json_decref(j);
	return ret;
}

static void test_spec_validation(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"program\": \"/x\"}",
		"{\"name\": \"Bad\", \"program\": \"/x\"}",
		"{\"name\": \"a\"}",
		"{\"name\": \"a\", \"program\": \"\"}",
		"{\"name\": \"a\", \"program\": \"/x\", \"port\": 0}",
		"{\"name\": \"a\", \"program\": \"/x\", \"port\": 65536}",
		"{\"name\": \"a\", \"program\": \"/x\", \"port\": \"80\"}",
		"{\"name\": \"a\", \"program\": \"/x\", \"max\": 0}",
		"{\"name\": \"a\", \"program\": \"/x\", \"max\": 65}",
		"{\"name\": \"a\", \"program\": \"/x\", \"min\": 3, \"max\": 2}",
		"{\"name\": \"a\", \"program\": \"/x\", \"concurrency\": 0}",
		"{\"name\": \"a\", \"program\": \"/x\", \"timeout\": 0}",
		"{\"name\": \"a\", \"program\": \"/x\", \"timeout\": 3601}",
		"{\"name\": \"a\", \"program\": \"/x\", \"queue\": -1}",
		"{\"name\": \"a\", \"program\": \"/x\", \"args\": \"x\"}",
		"{\"name\": \"a\", \"program\": \"/x\", \"args\": [1]}",
		"{\"name\": \"a\", \"program\": \"/x\", \"env\": [\"NOEQUALS\"]}",
		"{\"name\": \"a\", \"program\": \"/x\", \"env\": [\"=v\"]}",
		"{\"name\": \"a\", \"program\": \"/x\", \"fresh\": 1}",
	};
	struct fn_spec s;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_not_equal(spec_of(bad[i], &s, why, sizeof(why)), 0);
		assert_true(why[0] != '\0' || !strcmp(bad[i], "[]"));
		fn_spec_free(&s);
	}
	assert_int_equal(spec_of("{\"name\": \"a\", \"program\": \"/x\", \"port\": 80, \"min\": 1, "
				 "\"max\": 2, \"env\": [\"K=V\"], \"args\": [\"-v\"], \"fresh\": true}",
				 &s, why, sizeof(why)), 0);
	assert_int_equal(s.port, 80);
	assert_int_equal(s.min, 1);
	assert_int_equal(s.max, 2);
	assert_int_equal(s.concurrency, 1); /* defaults for what is not given */
	assert_int_equal(s.timeout_s, 30);
	assert_true(s.fresh);
	assert_string_equal(s.template, "fn-a");
	fn_spec_free(&s);
}

static void test_store_roundtrip(void **state)
{
	char dir[512], path[600], why[256];
	struct fn_spec s, t;
	char **names;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/functions", tmpdir);
	setenv("ARROW_FUNCTIONS", dir, 1);
	assert_int_equal(fnstore_list(&names), 0); /* no store yet: none */
	fn_spec_init(&s, "web");
	s.program = strdup("/bin/web");
	s.port = 8000;
	s.max = 7;
	json_array_append_new(s.env, json_string("A=b"));
	assert_int_equal(fnstore_save(&s), 0);
	assert_int_equal(fnstore_load("web", &t, why, sizeof(why)), 0);
	assert_int_equal(t.port, 8000);
	assert_int_equal(t.max, 7);
	assert_string_equal(t.program, "/bin/web");
	assert_string_equal(json_string_value(json_array_get(t.env, 0)), "A=b");
	fn_spec_free(&t);
	fn_spec_free(&s);
	assert_int_equal(fnstore_list(&names), 1);
	assert_string_equal(names[0], "web");
	fnstore_free_list(names, 1);
	assert_int_equal(fnstore_load("nope", &t, why, sizeof(why)), -ENOENT);
	fn_spec_free(&t);
	assert_int_equal(fnstore_load("../web", &t, why, sizeof(why)), -EINVAL);
	fn_spec_free(&t);
	/* a file naming another function, a damaged one, a FIFO: refused with a reason */
	snprintf(path, sizeof(path), "%s/web/function.json", dir);
	f = fopen(path, "w");
	fputs("{\"name\": \"other\", \"program\": \"/x\"}", f);
	fclose(f);
	assert_int_equal(fnstore_load("web", &t, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "names another function"));
	fn_spec_free(&t);
	f = fopen(path, "w");
	fputs("{\"name\": \"web\", \"program\": \"/x\"", f);
	fclose(f);
	assert_int_equal(fnstore_load("web", &t, why, sizeof(why)), -EINVAL);
	fn_spec_free(&t);
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(fnstore_load("web", &t, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	fn_spec_free(&t);
	assert_int_equal(fnstore_remove("web"), 0);
	assert_int_equal(fnstore_list(&names), 0);
}

static void route_is(const char *uri, enum route_kind kind, const char *name, const char *path)
{
	struct route r;

	route_parse(uri, &r);
	assert_int_equal(r.kind, kind);
	if (name)
		assert_string_equal(r.name, name);
	if (path)
		assert_string_equal(r.path, path);
}

static void test_routes(void **state)
{
	char long_uri[ROUTE_URI_MAX + 10];

	(void)state;
	route_is("/function/hello", ROUTE_FUNCTION, "hello", "/");
	route_is("/function/hello/", ROUTE_FUNCTION, "hello", "/");
	route_is("/function/hello/a/b?x=1", ROUTE_FUNCTION, "hello", "/a/b?x=1");
	route_is("/function/hello?x=1", ROUTE_FUNCTION, "hello", "/?x=1");
	route_is("/function/Hello", ROUTE_BAD_NAME, NULL, NULL);
	route_is("/function/", ROUTE_BAD_NAME, NULL, NULL);
	route_is("/function//x", ROUTE_BAD_NAME, NULL, NULL);
	route_is("/function/a_b/x", ROUTE_BAD_NAME, NULL, NULL);
	route_is("/function/..", ROUTE_BAD_NAME, NULL, NULL);
	route_is("/functions/x", ROUTE_NONE, NULL, NULL);
	route_is("/system/functions", ROUTE_SYS_FUNCTIONS, NULL, NULL);
	route_is("/system/functions/", ROUTE_SYS_FUNCTIONS, NULL, NULL);
	route_is("/system/functions?namespace=x", ROUTE_SYS_FUNCTIONS, NULL, NULL);
	route_is("/system/functionsx", ROUTE_NONE, NULL, NULL);
	route_is("/system/function/web", ROUTE_SYS_FUNCTION, "web", NULL);
	route_is("/system/function/web/x", ROUTE_NONE, NULL, NULL);
	route_is("/system/function/WEB", ROUTE_BAD_NAME, NULL, NULL);
	route_is("/system/scale-function/web", ROUTE_SYS_SCALE, "web", NULL);
	route_is("/system/info", ROUTE_SYS_INFO, NULL, NULL);
	route_is("/system/metrics", ROUTE_SYS_METRICS, NULL, NULL);
	route_is("/system/namespaces", ROUTE_SYS_NAMESPACES, NULL, NULL);
	route_is("/healthz", ROUTE_HEALTHZ, NULL, NULL);
	route_is("/", ROUTE_NONE, NULL, NULL);
	route_is("", ROUTE_NONE, NULL, NULL);
	route_is("function/x", ROUTE_NONE, NULL, NULL);
	route_is(NULL, ROUTE_NONE, NULL, NULL);
	memset(long_uri, 'a', sizeof(long_uri) - 1);
	long_uri[sizeof(long_uri) - 1] = '\0';
	memcpy(long_uri, "/function/x/", 12);
	route_is(long_uri, ROUTE_NONE, NULL, NULL);
}

static int openfaas(const char *text, struct fn_spec *s, char *why, size_t len)
{
	json_t *j = json_loads(text, 0, NULL);
	int ret;

	fn_spec_init(s, NULL);
	ret = api_spec_from_openfaas(j, s, why, len);
	json_decref(j);
	return ret;
}

static void test_openfaas_deployments(void **state)
{
	static const char *const bad[] = {
		"[1]",
		"{\"image\": \"x\"}",
		"{\"service\": \"x\"}",
		"{\"service\": \"X\", \"image\": \"x\"}",
		"{\"service\": \"x\", \"image\": 1}",
		"{\"service\": \"x\", \"image\": \"y\", \"envVars\": [\"a\"]}",
		"{\"service\": \"x\", \"image\": \"y\", \"envVars\": {\"a\": 1}}",
		"{\"service\": \"x\", \"image\": \"y\", \"envVars\": {\"a=b\": \"c\"}}",
		"{\"service\": \"x\", \"image\": \"y\", \"labels\": {\"com.openfaas.scale.max\": \"z\"}}",
		"{\"service\": \"x\", \"image\": \"y\", \"labels\": {\"com.openfaas.scale.max\": \"99\"}}",
		"{\"service\": \"x\", \"image\": \"y\", \"limits\": {\"memory\": \"lots\"}}",
	};
	struct fn_spec s;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(openfaas(bad[i], &s, why, sizeof(why)), -EINVAL);
		fn_spec_free(&s);
	}
	assert_int_equal(openfaas("{\"service\": \"web\", \"image\": \"redis\", \"envProcess\": "
				  "\"redis-server --port 80\", \"envVars\": {\"K\": \"V\"}, "
				  "\"labels\": {\"com.openfaas.scale.min\": \"1\", "
				  "\"com.openfaas.scale.max\": \"3\", \"com.arrow.port\": \"80\", "
				  "\"com.arrow.fresh\": \"true\"}, \"limits\": {\"memory\": \"256Mi\"}}",
				  &s, why, sizeof(why)), 0);
	assert_string_equal(s.name, "web");
	assert_string_equal(s.program, "redis");
	assert_int_equal(json_array_size(s.args), 3);
	assert_string_equal(json_string_value(json_array_get(s.args, 0)), "redis-server");
	assert_string_equal(json_string_value(json_array_get(s.env, 0)), "K=V");
	assert_int_equal(s.min, 1);
	assert_int_equal(s.max, 3);
	assert_int_equal(s.port, 80);
	assert_int_equal(s.memory_mib, 256);
	assert_true(s.fresh);
	fn_spec_free(&s);
}

/* The API's answers that need no deployment: health, info, errors. */
static void test_api_replies(void **state)
{
	struct route rt;
	struct reply r;

	(void)state;
	setenv("ARROW_FUNCTIONS", tmpdir, 1);
	route_parse("/healthz", &rt);
	memset(&r, 0, sizeof(r));
	api_handle(&rt, "GET", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	free(r.body);
	route_parse("/system/functions", &rt);
	memset(&r, 0, sizeof(r));
	api_handle(&rt, "POST", "{bad", 4, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "malformed JSON"));
	free(r.body);
	memset(&r, 0, sizeof(r));
	api_handle(&rt, "PATCH", "", 0, &r);
	assert_int_equal(r.status, 405);
	free(r.body);
	memset(&r, 0, sizeof(r));
	api_handle(&rt, "DELETE", "{\"functionName\": \"../x\"}", 24, &r);
	assert_int_equal(r.status, 400);
	free(r.body);
	route_parse("/system/scale-function/web", &rt);
	memset(&r, 0, sizeof(r));
	api_handle(&rt, "POST", "{\"replicas\": 1000}", 18, &r);
	assert_int_equal(r.status, 400);
	free(r.body);
	route_parse("/system/info", &rt);
	memset(&r, 0, sizeof(r));
	api_handle(&rt, "GET", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"provider\":\"arrow\""));
	free(r.body);
}

/* The API's guard against web pages: Host names (DNS rebinding) and non-JSON bodies. */
static void test_api_guard(void **state)
{
	(void)state;
	assert_true(route_host_ok(NULL));
	assert_true(route_host_ok(""));
	assert_true(route_host_ok("127.0.0.1"));
	assert_true(route_host_ok("127.0.0.1:8080"));
	assert_true(route_host_ok("localhost:8080"));
	assert_true(route_host_ok("LocalHost"));
	assert_true(route_host_ok("[::1]:8080"));
	assert_true(route_host_ok("10.1.2.3:80"));
	assert_false(route_host_ok("evil.example"));
	assert_false(route_host_ok("evil.example:8080"));
	assert_false(route_host_ok("localhost.evil.example"));
	assert_false(route_host_ok("127.0.0.1.nip.io:8080"));
	assert_false(route_host_ok("127.0.0.1:80x"));
	assert_false(route_host_ok("[::1"));
	assert_false(route_host_ok("[::1]x"));
	assert_false(route_host_ok("[evil]:80"));
	assert_false(route_host_ok(":80"));
	assert_true(route_json_type("application/json"));
	assert_true(route_json_type("Application/JSON; charset=utf-8"));
	assert_false(route_json_type(NULL));
	assert_false(route_json_type("text/plain"));
	assert_false(route_json_type("application/x-www-form-urlencoded"));
	assert_false(route_json_type("application/jsonx"));
	assert_false(route_json_type("multipart/form-data; boundary=application/json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_instance_names),
		cmocka_unit_test(test_spec_validation),
		cmocka_unit_test(test_store_roundtrip),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_openfaas_deployments),
		cmocka_unit_test(test_api_replies),
		cmocka_unit_test(test_api_guard),
	};
	char cmd[128];
	int failed;

	if (!mkdtemp(tmpdir))
		return 1;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failed;
}
