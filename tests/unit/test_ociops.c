// SPDX-License-Identifier: MIT
/*
 * arrow-oci's inputs beyond config.json, without a VM: exec's process JSON and --user,
 * hooks (parsing, and running them: state on stdin, argv/env, order, failures, timeouts),
 * and update's resources (tests/unit/ocitest.h: the shared bundle and parser).
 */
#include "ocitest.h"

static int process_with(const char *text)
{
	why[0] = '\0';
	return oci_process_parse(text, strlen(text), &spec, why, sizeof(why));
}

/* exec --process FILE: the process object alone, checked as config.json's process */
static void test_process_json(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "[]", "process must be an object" },
		{ "{\"cwd\":\"/\"}", "process.args" },
		{ "{\"args\":[],\"cwd\":\"/\"}", "process.args" },
		{ "{\"args\":[\"\"],\"cwd\":\"/\"}", "args[0] is empty" },
		{ "{\"args\":[1],\"cwd\":\"/\"}", "not a string" },
		{ "{\"args\":[\"sh\"]}", "process.cwd is required" },
		{ "{\"args\":[\"sh\"],\"cwd\":\"etc\"}", "absolute" },
		{ "{\"args\":[\"sh\"],\"cwd\":\"/a/../b\"}", "'..'" },
		{ "{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"NOEQ\"]}", "KEY=VALUE" },
		{ "{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":\"A=1\"}", "must be an array" },
		{ "{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":-1}}", "out of range" },
		{ "{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":4294967296}}",
		  "out of range" },
		{ "{\"args\":[\"sh\"],\"cwd\":\"/\",\"terminal\":1}", "boolean" },
		{ "{\"args\":[\"sh\"],\"args\":[\"x\"],\"cwd\":\"/\"}", "duplicate" },
		{ "{\"args\":[\"sh\"", "process:" },
	};
	char path[128], *big;
	FILE *f;

	(void)state;
	assert_int_equal(process_with("{\"args\":[\"sh\",\"-c\",\"x\"],\"env\":[\"PATH=/bin\"],"
				      "\"cwd\":\"/srv\",\"user\":{\"uid\":7,\"gid\":8},"
				      "\"terminal\":true,\"capabilities\":{},\"rlimits\":[]}"), 0);
	assert_int_equal(spec.nr_args, 3);
	assert_string_equal(spec.args[2], "x");
	assert_int_equal(spec.nr_env, 1);
	assert_string_equal(spec.cwd, "/srv");
	assert_true(spec.user_given);
	assert_int_equal(spec.uid, 7);
	assert_int_equal(spec.gid, 8);
	assert_true(spec.terminal);
	oci_spec_free(&spec);
	assert_int_equal(process_with("{\"args\":[\"true\"],\"cwd\":\"/\"}"), 0);
	assert_false(spec.user_given);
	assert_false(spec.terminal);
	oci_spec_free(&spec);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(process_with(bad[i].text) < 0);
		if (!strstr(why, bad[i].why))
			fail_msg("%s: '%s' does not say '%s'", bad[i].text, why, bad[i].why);
		assert_null(spec.doc);
	}
	/* the bounds: argument count, one argument's size */
	big = malloc(OCI_STRING_MAX + 64);
	assert_non_null(big);
	memcpy(big, "{\"args\":[\"", 10);
	memset(big + 10, 'a', OCI_STRING_MAX + 1);
	strcpy(big + 10 + OCI_STRING_MAX + 1, "\"],\"cwd\":\"/\"}");
	assert_true(oci_process_parse(big, strlen(big), &spec, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "longer than"));
	free(big);
	/* from a file: a regular one only */
	snprintf(path, sizeof(path), "%s/process.json", bundle);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"args\":[\"echo\",\"hi\"],\"cwd\":\"/\"}", f);
	fclose(f);
	assert_int_equal(oci_process_load(path, &spec, why, sizeof(why)), 0);
	assert_string_equal(spec.args[1], "hi");
	oci_spec_free(&spec);
	assert_true(oci_process_load(bundle, &spec, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "not a regular file"));
	snprintf(path, sizeof(path), "%s/nosuch.json", bundle);
	assert_int_equal(oci_process_load(path, &spec, why, sizeof(why)), -ENOENT);
}

static void test_hooks_parse(void **state)
{
	char extra[8192];
	size_t n;

	(void)state;
	assert_int_equal(parse_with(PROC, "\"hooks\":{\"prestart\":[{\"path\":\"/bin/a\","
				    "\"args\":[\"a\",\"1\"],\"env\":[\"X=1\"],\"timeout\":5}],"
				    "\"poststop\":[{\"path\":\"/bin/b\"}],\"createContainer\":[]}"),
			 0);
	assert_non_null(spec.hooks);
	assert_int_equal(json_array_size(json_object_get(spec.hooks, "prestart")), 1);
	oci_spec_free(&spec);
	/* empty lists: no hooks at all */
	assert_int_equal(parse_with(PROC, "\"hooks\":{\"poststart\":[]}"), 0);
	assert_null(spec.hooks);
	oci_spec_free(&spec);
	/* at most OCI_MAX_HOOKS of a kind */
	n = (size_t)snprintf(extra, sizeof(extra), "\"hooks\":{\"poststart\":[");
	for (int i = 0; i <= OCI_MAX_HOOKS; i++)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, "%s{\"path\":\"/x\"}",
				      i ? "," : "");
	snprintf(extra + n, sizeof(extra) - n, "]}");
	assert_true(parse_with(PROC, extra) < 0);
	assert_non_null(strstr(why, "more than 32 hooks"));
}

/* Hooks run with the state on stdin, their own args and env; failures and timeouts. */
static void test_hooks_run(void **state)
{
	char out[160], text[2048], hooks_json[2048];
	json_t *hooks, *st = json_pack("{s:s, s:s, s:i}", "id", "c1", "status", "creating", "pid", 42);
	FILE *f;

	(void)state;
	snprintf(out, sizeof(out), "%s/hooks.out", bundle);
	snprintf(hooks_json, sizeof(hooks_json),
		 "{\"prestart\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\","
		 "\"cat >%s; echo \\\" $0 $1 $X\\\" >>%s\",\"one\"],\"env\":[\"X=ex\"]},"
		 "{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"echo second >>%s\"]}],"
		 "\"poststart\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\","
		 "\"echo bad output; exit 3\"]},{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\","
		 "\"echo after >>%s\"]}],"
		 "\"poststop\":[{\"path\":\"/bin/sleep\",\"args\":[\"sleep\",\"30\"],\"timeout\":1}],"
		 "\"createRuntime\":[{\"path\":\"/nonexistent/hook\"}]}",
		 out, out, out, out);
	hooks = json_loads(hooks_json, 0, NULL);
	assert_non_null(hooks);
	assert_int_equal(oci_hooks_run(hooks, "prestart", st, true, why, sizeof(why)), 0);
	f = fopen(out, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
	fclose(f);
	/* the state JSON, then the hook's own argv ($0 is "one") and env, then the second hook */
	assert_non_null(strstr(text, "\"id\":\"c1\""));
	assert_non_null(strstr(text, "\"pid\":42"));
	if (!strstr(text, "} one  ex\nsecond\n"))
		fail_msg("hook output: '%s'", text);
	/* fatal kinds stop at the first failure; the others warn and go on */
	assert_int_equal(oci_hooks_run(hooks, "poststart", st, true, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "hooks.poststart[0]: /bin/sh exited with status 3: bad output"));
	assert_int_equal(oci_hooks_run(hooks, "poststart", st, false, why, sizeof(why)), 0);
	f = fopen(out, "r");
	text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
	fclose(f);
	assert_non_null(strstr(text, "second\nafter\n"));
	assert_int_equal(oci_hooks_run(hooks, "poststop", st, true, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "timed out after 1 s"));
	assert_int_equal(oci_hooks_run(hooks, "createRuntime", st, true, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "/nonexistent/hook exited with status 127"));
	assert_int_equal(oci_hooks_run(hooks, "nosuchkind", st, true, why, sizeof(why)), 0);
	assert_int_equal(oci_hooks_run(NULL, "prestart", st, true, why, sizeof(why)), 0);
	json_decref(hooks);
	json_decref(st);
}

static void test_update_parse(void **state)
{
	struct oci_update u;
	int64_t b;

	(void)state;
#define UPD(text) (memset(&u, 0, sizeof(u)), oci_update_parse(text, strlen(text), &u, why, \
							       sizeof(why)))
	assert_int_equal(UPD("{\"cpu\":{\"quota\":50000,\"period\":100000}}"), 0);
	assert_true(u.has_quota && u.has_period && !u.has_memory);
	assert_int_equal(u.cpu_quota, 50000);
	assert_int_equal(u.cpu_period, 100000);
	assert_string_equal(u.ignored, "");
	assert_int_equal(UPD("{\"memory\":{\"limit\":268435456,\"swap\":1},\"pids\":{\"limit\":9},"
			     "\"cpu\":{\"quota\":-1,\"shares\":512},\"blockIO\":{}}"), 0);
	assert_true(u.has_memory && u.has_quota && !u.has_period);
	assert_int_equal(u.memory_bytes, 268435456);
	assert_int_equal(u.cpu_quota, -1);
	assert_string_equal(u.ignored, "memory.swap, pids, cpu.shares");
	/* zeros mean "not given", as runc reads them */
	assert_int_equal(UPD("{\"memory\":{\"limit\":0},\"cpu\":{\"quota\":0,\"period\":0}}"), 0);
	assert_false(u.has_memory || u.has_quota || u.has_period);
	assert_true(UPD("[]") < 0);
	assert_non_null(strstr(why, "must be a JSON object"));
	assert_true(UPD("{\"cpu\":{\"quota\":\"5\"}}") < 0);
	assert_non_null(strstr(why, "cpu.quota must be an integer"));
	assert_true(UPD("{\"cpu\":{\"period\":10}}") < 0);
	assert_non_null(strstr(why, "cpu.period must be 1000 to 1000000"));
	assert_true(UPD("{\"cpu\":{\"quota\":5}}") < 0);
	assert_non_null(strstr(why, "at least 1000"));
	assert_true(UPD("{\"memory\":[]}") < 0);
	assert_true(UPD("{\"cpu\":{\"quota\":1,\"quota\":2}}") < 0);
	assert_true(UPD("{\"cpu\":") < 0);
#undef UPD
	assert_int_equal(oci_parse_bytes("1048576", &b), 0);
	assert_int_equal(b, 1048576);
	assert_int_equal(oci_parse_bytes("512k", &b), 0);
	assert_int_equal(b, 512 << 10);
	assert_int_equal(oci_parse_bytes("64m", &b), 0);
	assert_int_equal(b, 64 << 20);
	assert_int_equal(oci_parse_bytes("2GB", &b), 0);
	assert_int_equal(b, 2ll << 30);
	assert_int_equal(oci_parse_bytes("-1", &b), 0);
	assert_int_equal(b, -1);
	assert_int_equal(oci_parse_bytes("-2", &b), -EINVAL);
	assert_int_equal(oci_parse_bytes("12x", &b), -EINVAL);
	assert_int_equal(oci_parse_bytes("m", &b), -EINVAL);
	assert_int_equal(oci_parse_bytes("99999999999999999999", &b), -EINVAL);
	assert_int_equal(oci_parse_bytes("9999999999999g", &b), -EINVAL);
}

static void test_exec_user(void **state)
{
	uint32_t u = 1, g = 1;

	(void)state;
	assert_int_equal(exec_parse_user("1000", &u, &g), 0);
	assert_int_equal(u, 1000);
	assert_int_equal(g, 1000);
	assert_int_equal(exec_parse_user("0:5", &u, &g), 0);
	assert_int_equal(u, 0);
	assert_int_equal(g, 5);
	assert_int_equal(exec_parse_user("-1", &u, &g), -1);
	assert_int_equal(exec_parse_user("1:-1", &u, &g), -1);
	assert_int_equal(exec_parse_user("root", &u, &g), -1);
	assert_int_equal(exec_parse_user("1:", &u, &g), -1);
	assert_int_equal(exec_parse_user("", &u, &g), -1);
	assert_int_equal(exec_parse_user("4294967295", &u, &g), -1);
	assert_int_equal(exec_parse_user("1:2:3", &u, &g), -1);
}
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_json), cmocka_unit_test(test_exec_user),
		cmocka_unit_test(test_hooks_parse),  cmocka_unit_test(test_hooks_run),
		cmocka_unit_test(test_update_parse),
	};

	/* as arrow-oci's main: a hook that exits without reading its state must not kill
	 * the writer (test_hooks_run's failing hook; it died of SIGPIPE under ASan now and then) */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, make_bundle, remove_bundle);
}
