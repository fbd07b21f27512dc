// SPDX-License-Identifier: MIT
/*
 * arrow-oci without a VM: config.json parsing and validation (src/oci/spec.c) on bundles
 * made in a temporary directory, the state object and derived status (container.c), the
 * signal and cgroupsPath parsers, and the rootfs as a cpio piece (src/lib/image/rootfs.c) read
 * back entry by entry; config.json's spec generator. The front end's objects are not in
 * the unit-test link: tests/unit/ocitest.h includes its files. Exec, hooks and update:
 * test_ociops.c.
 */
#include <pthread.h>
#include <sys/syscall.h>

#include "ocitest.h"

static void test_spec_minimal(void **state)
{
	(void)state;
	assert_int_equal(parse_with(PROC, NULL), 0);
	assert_int_equal(spec.nr_args, 3);
	assert_string_equal(spec.args[0], "sh");
	assert_string_equal(spec.args[2], "echo hi");
	assert_int_equal(spec.nr_env, 2);
	assert_string_equal(spec.cwd, "/");
	assert_false(spec.terminal);
	assert_int_equal(spec.uid, 0);
	assert_non_null(strstr(spec.root, "/rootfs"));
	assert_true(json_is_object(spec.annotations));
	oci_spec_free(&spec);
}

static void test_spec_full(void **state)
{
	char extra[2048];

	(void)state;
	snprintf(extra, sizeof(extra),
		 "\"hostname\":\"box1\",\"annotations\":{\"k\":\"v\"},"
		 "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		 "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\"},"
		 "{\"destination\":\"/srv\",\"type\":\"bind\",\"source\":\"%s/data\","
		 "\"options\":[\"rbind\",\"ro\"]},"
		 "{\"destination\":\"/etc/motd\",\"source\":\"%s/file\",\"options\":[\"bind\"]},"
		 "{\"destination\":\"/run/.containerenv\",\"type\":\"bind\",\"source\":\"%s/file\"}],"
		 "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\","
		 "\"path\":\"/run/netns/x\"}],\"resources\":{\"memory\":{\"limit\":268435456},"
		 "\"cpu\":{\"quota\":150000,\"period\":100000}},\"cgroupsPath\":\"/arrow-oci/c1\","
		 "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"}},\"hooks\":{\"prestart\":[]}",
		 bundle, bundle, bundle);
	assert_int_equal(parse_with("{\"args\":[\"/bin/x\"],\"cwd\":\"/w\",\"terminal\":true,"
				    "\"user\":{\"uid\":1000,\"gid\":100}}", extra), 0);
	assert_true(spec.terminal);
	assert_int_equal(spec.uid, 1000);
	assert_int_equal(spec.gid, 100);
	assert_string_equal(spec.hostname, "box1");
	assert_int_equal(spec.memory_mib, 256);
	assert_int_equal(spec.cpus, 2);
	assert_string_equal(spec.cgroups_path, "/arrow-oci/c1");
	assert_int_equal(spec.nr_volumes, 1);
	assert_string_equal(spec.volumes[0].guest, "/srv");
	assert_true(spec.volumes[0].read_only);
	assert_int_equal(spec.nr_files, 1);
	assert_string_equal(spec.files[0].guest, "/etc/motd");
	assert_false(spec.files[0].read_only);
	/* the network namespace is joined at create (lib/net/netns.c); the bind mount under /run
	 * is said */
	assert_string_equal(spec.netns_path, "/run/netns/x");
	assert_false(spec.netns_fresh);
	assert_int_equal(spec.nr_warnings, 1);
	assert_non_null(strstr(spec.warnings[0], "/run/.containerenv"));
	assert_true(spec.warning_is_debug[0]); /* podman always sends it: --debug only */
	assert_string_equal(json_string_value(json_object_get(spec.annotations, "k")), "v");
	oci_spec_free(&spec);
	/* a network namespace without a path: the container process makes a fresh one */
	assert_int_equal(parse_with(PROC, "\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}"), 0);
	assert_true(spec.netns_fresh);
	assert_null(spec.netns_path);
	oci_spec_free(&spec);
	assert_int_equal(parse_with(PROC, "\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}"), 0);
	assert_false(spec.netns_fresh);
	oci_spec_free(&spec);
}

static void expect_refused(const char *process, const char *extra, const char *reason)
{
	int ret = parse_with(process, extra);

	if (ret == 0)
		oci_spec_free(&spec);
	assert_int_not_equal(ret, 0);
	if (!strstr(why, reason))
		fail_msg("expected '%s' in '%s'", reason, why);
}

static void test_spec_refused(void **state)
{
	char extra[512];

	(void)state;
	expect_refused(NULL, NULL, "process must be an object");
	expect_refused("{\"args\":[],\"cwd\":\"/\"}", NULL, "process.args must name");
	expect_refused("{\"args\":[\"a\",7],\"cwd\":\"/\"}", NULL, "process.args[1] is not a string");
	expect_refused("{\"args\":\"sh\",\"cwd\":\"/\"}", NULL, "process.args must be an array");
	expect_refused("{\"args\":[\"sh\"]}", NULL, "process.cwd is required");
	expect_refused("{\"args\":[\"sh\"],\"cwd\":\"rel\"}", NULL, "not an absolute path");
	expect_refused("{\"args\":[\"sh\"],\"cwd\":\"/a/../b\"}", NULL, "'..' component");
	expect_refused("{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"NOEQUALS\"]}", NULL,
		       "not KEY=VALUE");
	expect_refused("{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":-1}}", NULL,
		       "out of range");
	expect_refused("{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":\"0\"}}", NULL,
		       "must be an integer");
	expect_refused("{\"args\":[\"sh\"],\"cwd\":\"/\",\"terminal\":\"yes\"}", NULL,
		       "must be a boolean");
	expect_refused(PROC, "\"hooks\":{\"createContainer\":[{\"path\":\"/bin/true\"}]}",
		       "hooks.createContainer: these hooks run inside the container");
	expect_refused(PROC, "\"hooks\":{\"startContainer\":[{\"path\":\"/bin/true\"}]}",
		       "not supported");
	expect_refused(PROC, "\"hooks\":{\"prestart\":[{\"path\":\"true\"}]}",
		       "hooks.prestart[0].path is not an absolute path");
	expect_refused(PROC, "\"hooks\":{\"prestart\":[{\"args\":[\"x\"]}]}", "path is required");
	expect_refused(PROC, "\"hooks\":{\"poststop\":[{\"path\":\"/a/../b\"}]}", "'..'");
	expect_refused(PROC, "\"hooks\":{\"poststart\":{}}", "must be an array");
	expect_refused(PROC, "\"hooks\":[]", "hooks must be an object");
	expect_refused(PROC, "\"hooks\":{\"later\":[{\"path\":\"/x\"}]}", "not a kind of hook");
	expect_refused(PROC, "\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"timeout\":0}]}",
		       "timeout must be 1 to 3600");
	expect_refused(PROC, "\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"timeout\":99999}]}",
		       "timeout must be");
	expect_refused(PROC, "\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"env\":[\"A\"]}]}",
		       "env[0] is not KEY=VALUE");
	expect_refused(PROC, "\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"args\":[1]}]}",
		       "args[0] is not a string");
	expect_refused(PROC, "\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"when\":1}]}",
		       "when is not a member");
	expect_refused(PROC, "\"mounts\":[{\"destination\":\"/x\",\"type\":\"nfs\"}]",
		       "type 'nfs'");
	expect_refused(PROC, "\"mounts\":[{\"destination\":\"/x/../etc\",\"type\":\"bind\","
			     "\"source\":\"/tmp\"}]", "'..' component");
	expect_refused(PROC, "\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\","
			     "\"source\":\"/tmp/../etc\"}]", "'..' component");
	expect_refused(PROC, "\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\","
			     "\"source\":\"/nonexistent-arrow\"}]", "No such file");
	expect_refused(PROC, "\"mounts\":[{\"destination\":\"/\",\"type\":\"bind\","
			     "\"source\":\"/tmp\"}]", "over /");
	expect_refused(PROC, "\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\","
			     "\"source\":\"/tmp\",\"options\":[1]}]", "options[0] is not a string");
	expect_refused(PROC, "\"linux\":{\"resources\":{\"memory\":{\"limit\":1024}}}",
		       "memory.limit");
	expect_refused(PROC, "\"linux\":{\"cgroupsPath\":\"a/../b\"}", "cgroupsPath");
	expect_refused(PROC, "\"linux\":{\"cgroupsPath\":\"a:b\"}", "cgroupsPath");
	expect_refused(PROC, "\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}",
		       "not a namespace type");
	expect_refused(PROC, "\"linux\":{\"namespaces\":[{\"type\":\"network\"},"
		       "{\"type\":\"network\",\"path\":\"/run/netns/x\"}]}",
		       "a second network namespace");
	expect_refused(PROC, "\"hostname\":\"bad host\"", "hostname");
	expect_refused(PROC, "\"annotations\":{\"a\":1}", "annotations.a");
	expect_refused(PROC, "\"ociVersion\":\"1.0.2\"", "duplicate");
	/* root.path: '..', missing, a file, the host's root */
	snprintf(extra, sizeof(extra), "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"../x\"},"
		 "\"process\":" PROC "}");
	assert_int_not_equal(oci_spec_parse(extra, strlen(extra), bundle, &spec, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "'..' component"));
	snprintf(extra, sizeof(extra), "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"file\"},"
		 "\"process\":" PROC "}");
	assert_int_not_equal(oci_spec_parse(extra, strlen(extra), bundle, &spec, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "not a directory"));
	snprintf(extra, sizeof(extra), "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"/\"},"
		 "\"process\":" PROC "}");
	assert_int_not_equal(oci_spec_parse(extra, strlen(extra), bundle, &spec, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "host's root"));
	snprintf(extra, sizeof(extra), "{\"ociVersion\":\"2.0.0\",\"root\":{\"path\":\"rootfs\"},"
		 "\"process\":" PROC "}");
	assert_int_not_equal(oci_spec_parse(extra, strlen(extra), bundle, &spec, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "ociVersion"));
	assert_int_not_equal(oci_spec_parse("[1,2]", 5, bundle, &spec, why, sizeof(why)), 0);
	assert_int_not_equal(oci_spec_parse("{\"a\":", 5, bundle, &spec, why, sizeof(why)), 0);
	/* an embedded NUL is not a string jansson accepts */
	assert_int_not_equal(oci_spec_parse("{\"ociVersion\":\"1.\\u0000\"}", 24, bundle, &spec,
					    why, sizeof(why)), 0);
}

static void test_spec_bounds(void **state)
{
	size_t cap = OCI_PROCESS_MAX_BYTES + 4096;
	char *text = malloc(cap), *p = text;
	char mounts[4096];
	int ret;

	(void)state;
	/* more arguments than allowed */
	p += sprintf(p, "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"rootfs\"},\"process\":"
		     "{\"cwd\":\"/\",\"args\":[");
	for (int i = 0; i <= OCI_MAX_ARGS; i++)
		p += sprintf(p, "%s\"a\"", i ? "," : "");
	p += sprintf(p, "]}}");
	ret = oci_spec_parse(text, (size_t)(p - text), bundle, &spec, why, sizeof(why));
	assert_int_not_equal(ret, 0);
	assert_non_null(strstr(why, "more than"));
	/* one argument too long */
	p = text + sprintf(text, "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"rootfs\"},"
			   "\"process\":{\"cwd\":\"/\",\"args\":[\"");
	memset(p, 'x', OCI_STRING_MAX + 1);
	p += OCI_STRING_MAX + 1;
	p += sprintf(p, "\"]}}");
	assert_int_not_equal(oci_spec_parse(text, (size_t)(p - text), bundle, &spec, why,
					    sizeof(why)), 0);
	assert_non_null(strstr(why, "longer than"));
	/* a document over the size cap is refused before parsing */
	assert_int_equal(oci_spec_parse(text, OCI_CONFIG_MAX_BYTES + 1, bundle, &spec, why,
					sizeof(why)), -EFBIG);
	free(text);
	/* nine directory bind mounts: one more than an Arrow's volumes */
	p = mounts;
	for (int i = 0; i < OCI_MAX_VOLUMES + 1; i++)
		p += sprintf(p, "%s{\"destination\":\"/v%d\",\"type\":\"bind\",\"source\":\"%s/data\"}",
			     i ? "," : "", i, bundle);
	{
		char extra[5000];

		snprintf(extra, sizeof(extra), "\"mounts\":[%s]", mounts);
		expect_refused(PROC, extra, "directory bind mounts");
	}
}

static void test_spec_load(void **state)
{
	char path[128];
	FILE *f;

	(void)state;
	assert_int_not_equal(oci_spec_load(bundle, &spec, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "config.json"));
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	f = fopen(path, "w");
	fprintf(f, "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},\"process\":%s}", PROC);
	fclose(f);
	assert_int_equal(oci_spec_load(bundle, &spec, why, sizeof(why)), 0);
	oci_spec_free(&spec);
	unlink(path);
	mkdir(path, 0755); /* not a regular file */
	assert_int_not_equal(oci_spec_load(bundle, &spec, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "not a regular file"));
	rmdir(path);
}

static bool file_has(const char *path, const char *needle)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

/* `arrow-oci spec`: what it writes is a config.json create takes; it never overwrites one. */
static void test_spec_generated(void **state)
{
	char path[128];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	for (int rootless = 0; rootless < 2; rootless++) {
		assert_int_equal(oci_spec_write(bundle, rootless), 0);
		assert_true(file_has(path, "\"ociVersion\": \"" OCI_SPEC_BUNDLE_VERSION "\""));
		assert_int_equal(oci_spec_load(bundle, &spec, why, sizeof(why)), 0);
		assert_string_equal(spec.args[0], "sh");
		assert_true(spec.terminal && spec.root_readonly);
		assert_string_equal(spec.hostname, "arrow");
		for (unsigned int i = 0; i < spec.nr_warnings; i++) /* nothing it wrote is refused */
			assert_null(strstr(spec.warnings[i], "refused"));
		oci_spec_free(&spec);
		assert_int_equal(stat(path, &st), 0);
		/* a second spec leaves the first alone */
		assert_int_equal(oci_spec_write(bundle, rootless), 1);
		assert_int_equal(stat(path, &st), 0);
		unlink(path);
	}
	/* a symlink in its place is not followed */
	assert_int_equal(symlink("/nonexistent-arrow-target", path), 0);
	assert_int_equal(oci_spec_write(bundle, false), 1);
	assert_int_equal(access("/nonexistent-arrow-target", F_OK), -1);
	unlink(path);
}

static void test_ids(void **state)
{
	char longid[OCI_ID_MAX + 2];

	(void)state;
	assert_true(oci_id_valid("abc"));
	assert_true(oci_id_valid("a.b_c+d-1"));
	assert_true(oci_id_valid("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(oci_id_valid(""));
	assert_false(oci_id_valid("."));
	assert_false(oci_id_valid(".."));
	assert_false(oci_id_valid("a/b"));
	assert_false(oci_id_valid("../x"));
	assert_false(oci_id_valid("a b"));
	assert_false(oci_id_valid("a\nb"));
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_false(oci_id_valid(longid));
}

static void test_signals(void **state)
{
	(void)state;
	assert_int_equal(oci_parse_signal("SIGTERM"), SIGTERM);
	assert_int_equal(oci_parse_signal("TERM"), SIGTERM);
	assert_int_equal(oci_parse_signal("kill"), SIGKILL);
	assert_int_equal(oci_parse_signal("9"), 9);
	assert_int_equal(oci_parse_signal("SIGWINCH"), SIGWINCH);
	assert_int_equal(oci_parse_signal("0"), 0);
	assert_int_equal(oci_parse_signal("65"), 0);
	assert_int_equal(oci_parse_signal("9x"), 0);
	assert_int_equal(oci_parse_signal("SIGNOPE"), 0);
	assert_int_equal(oci_parse_signal(""), 0);
}

static void test_cgroup_paths(void **state)
{
	char out[1024];

	(void)state;
	assert_int_equal(oci_cgroup_rel("/arrow-oci/c1", false, out, sizeof(out)), 0);
	assert_string_equal(out, "/arrow-oci/c1");
	assert_int_equal(oci_cgroup_rel("machine.slice:libpod:abc", true, out, sizeof(out)), 0);
	assert_string_equal(out, "machine.slice/libpod-abc.scope");
	assert_int_equal(oci_cgroup_rel("user-1000.slice:podman:x", true, out, sizeof(out)), 0);
	assert_string_equal(out, "user.slice/user-1000.slice/podman-x.scope");
	assert_int_equal(oci_cgroup_rel(":crio:x", true, out, sizeof(out)), 0);
	assert_string_equal(out, "system.slice/crio-x.scope");
	assert_int_equal(oci_cgroup_rel("-.slice:p:x", true, out, sizeof(out)), 0);
	assert_string_equal(out, "p-x.scope");
	assert_int_equal(oci_cgroup_rel("a.slice:p:b.slice", true, out, sizeof(out)), 0);
	assert_string_equal(out, "a.slice/b.slice");
	assert_int_equal(oci_cgroup_rel("/plain", true, out, sizeof(out)), -EINVAL);
	assert_int_equal(oci_cgroup_rel("notaslice:p:x", true, out, sizeof(out)), -EINVAL);
	assert_int_equal(oci_cgroup_rel("a.slice:p:", true, out, sizeof(out)), -EINVAL);
}

static void test_resolve_program(void **state)
{
	char path[256], out[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/rootfs/usr", bundle);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/rootfs/usr/bin", bundle);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/rootfs/usr/bin/tool", bundle);
	assert_int_equal(symlink("/bin/busybox", path), 0); /* dangling on the host: fine */
	assert_int_equal(parse_with("{\"args\":[\"tool\"],\"cwd\":\"/w\"}", NULL), 0);
	assert_int_equal(oci_resolve_program(&spec, out, sizeof(out)), 0);
	assert_string_equal(out, "/usr/bin/tool");
	oci_spec_free(&spec);
	/* along process.env's PATH only */
	assert_int_equal(parse_with("{\"args\":[\"tool\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin:/sbin\"]}",
				    NULL), 0);
	assert_int_equal(oci_resolve_program(&spec, out, sizeof(out)), -ENOENT);
	oci_spec_free(&spec);
	/* a PATH directory that is a symlink resolves inside the rootfs, never on the host:
	 * rootfs/hostbin -> /usr/bin reaches rootfs/usr/bin (tool), not the host's (env) */
	snprintf(path, sizeof(path), "%s/rootfs/hostbin", bundle);
	assert_int_equal(symlink("/usr/bin", path), 0);
	assert_int_equal(access("/usr/bin/env", X_OK), 0); /* what the host has */
	assert_int_equal(parse_with("{\"args\":[\"env\"],\"cwd\":\"/\",\"env\":[\"PATH=/hostbin\"]}",
				    NULL), 0);
	assert_int_equal(oci_resolve_program(&spec, out, sizeof(out)), -ENOENT);
	oci_spec_free(&spec);
	assert_int_equal(parse_with("{\"args\":[\"tool\"],\"cwd\":\"/\",\"env\":[\"PATH=/hostbin\"]}",
				    NULL), 0);
	assert_int_equal(oci_resolve_program(&spec, out, sizeof(out)), 0);
	assert_string_equal(out, "/hostbin/tool");
	oci_spec_free(&spec);
	/* a directory of that name is not a program */
	assert_int_equal(parse_with("{\"args\":[\"bin\"],\"cwd\":\"/\",\"env\":[\"PATH=/usr\"]}",
				    NULL), 0);
	assert_int_equal(oci_resolve_program(&spec, out, sizeof(out)), -ENOENT);
	oci_spec_free(&spec);
	assert_int_equal(parse_with("{\"args\":[\"/abs/x\"],\"cwd\":\"/\"}", NULL), 0);
	assert_int_equal(oci_resolve_program(&spec, out, sizeof(out)), 0);
	assert_string_equal(out, "/abs/x");
	oci_spec_free(&spec);
	assert_int_equal(parse_with("{\"args\":[\"./run.sh\"],\"cwd\":\"/app\"}", NULL), 0);
	assert_int_equal(oci_resolve_program(&spec, out, sizeof(out)), 0);
	assert_string_equal(out, "/app/./run.sh");
	oci_spec_free(&spec);
}

static void test_state_json(void **state)
{
	char root[128], dir[256], fifo[300], *text;
	struct oci_container c;
	json_t *rec, *st;
	pid_t child;
	unsigned long long start;
	char letter;
	int status;

	(void)state;
	snprintf(root, sizeof(root), "%s/state", bundle);
	oci_set_root(root);
	assert_int_equal(oci_root_ensure(), 0);
	assert_int_equal(oci_container_load("nope", &c), -ENOENT);
	assert_int_equal(oci_container_load("../x", &c), -EINVAL);
	snprintf(dir, sizeof(dir), "%s/c1", root);
	mkdir(dir, 0700);
	/* no record yet: creating */
	assert_int_equal(oci_container_load("c1", &c), 0);
	assert_int_equal(c.status, OCI_CREATING);
	oci_container_free(&c);
	/* a live process and the created file: created; without it: running; gone: stopped */
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(oci_proc_stat(child, &start, &letter), 0);
	assert_int_equal(parse_with(PROC, "\"annotations\":{\"org.x\":\"y\"}"), 0);
	rec = oci_record_new("c1", bundle, &spec, child, start, NULL);
	oci_spec_free(&spec);
	text = json_dumps(rec, 0);
	json_decref(rec);
	assert_int_equal(statedir_write_file(dir, OCI_RECORD_FILE, text, strlen(text)), 0);
	free(text);
	assert_int_equal(statedir_write_file(dir, OCI_CREATED_FILE, "", 0), 0);
	snprintf(fifo, sizeof(fifo), "%s/%s", dir, OCI_CREATED_FILE);
	assert_int_equal(oci_container_load("c1", &c), 0);
	assert_int_equal(c.status, OCI_CREATED);
	st = oci_state_json(&c);
	assert_string_equal(json_string_value(json_object_get(st, "status")), "created");
	assert_string_equal(json_string_value(json_object_get(st, "id")), "c1");
	assert_string_equal(json_string_value(json_object_get(st, "ociVersion")), OCI_SPEC_VERSION);
	assert_int_equal(json_integer_value(json_object_get(st, "pid")), child);
	assert_string_equal(json_string_value(json_object_get(st, "bundle")), bundle);
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "annotations"),
							      "org.x")), "y");
	assert_non_null(strchr(json_string_value(json_object_get(st, "created")), 'T'));
	json_decref(st);
	unlink(fifo);
	oci_container_refresh(&c);
	assert_int_equal(c.status, OCI_RUNNING);
	/* a zombie is stopped; so is a pid whose start time differs (reused) */
	kill(child, SIGKILL);
	for (int i = 0; i < 1000; i++) { /* up to 10 s: a loaded CI machine under ASan */
		oci_container_refresh(&c);
		if (c.status == OCI_STOPPED)
			break;
		usleep(10000);
	}
	assert_int_equal(c.status, OCI_STOPPED);
	st = oci_state_json(&c);
	assert_string_equal(json_string_value(json_object_get(st, "status")), "stopped");
	assert_int_equal(json_integer_value(json_object_get(st, "pid")), 0);
	json_decref(st);
	waitpid(child, &status, 0);
	assert_false(oci_proc_alive(getpid(), start + 1));
	{ /* the start time is field 22, read here the plain way */
		unsigned long long want = 0;
		FILE *f = fopen("/proc/self/stat", "r");

		assert_non_null(f);
		assert_int_equal(fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
					"%*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &want), 1);
		fclose(f);
		assert_int_equal(oci_proc_stat(getpid(), &start, &letter), 0);
		assert_true(want > 0);
		assert_int_equal(start, want);
	}
	assert_true(oci_proc_stat(getpid(), &start, &letter) == 0 && oci_proc_alive(getpid(), start));
	oci_container_free(&c);
	/* a damaged record */
	assert_int_equal(statedir_write_file(dir, OCI_RECORD_FILE, "{\"pid\":\"x\"}", 11), 0);
	assert_int_equal(oci_container_load("c1", &c), -EINVAL);
	oci_container_free(&c);
}

/* Read one newc header at *off of buf: name, mode, size; advances past the data. */
static int cpio_next(const unsigned char *buf, size_t len, size_t *off, char *name, size_t namelen,
		     unsigned int *mode, unsigned int *size)
{
	char field[9] = { 0 };
	unsigned int nsize;

	if (*off + 110 > len || memcmp(buf + *off, "070701", 6))
		return -1;
	memcpy(field, buf + *off + 14, 8);
	*mode = (unsigned int)strtoul(field, NULL, 16);
	memcpy(field, buf + *off + 54, 8);
	*size = (unsigned int)strtoul(field, NULL, 16);
	memcpy(field, buf + *off + 94, 8);
	nsize = (unsigned int)strtoul(field, NULL, 16);
	if (nsize > namelen || *off + 110 + nsize > len)
		return -1;
	memcpy(name, buf + *off + 110, nsize);
	*off = (*off + 110 + nsize + 3) & ~(size_t)3;
	*off = (*off + *size + 3) & ~(size_t)3;
	return 0;
}

/* Bounded, so that a failed assertion below leaves no process behind for long. */
static void *sleeper(void *arg)
{
	(void)arg;
	sleep(60);
	return NULL;
}

/*
 * A leader thread that has exited while another thread of its process still runs is a
 * zombie in /proc but not gone (arrowh's last threads tearing the VM down): alive until the
 * last thread exits, stopped from then on, before its parent reaps it.
 */
static void test_zombie_leader(void **state)
{
	unsigned long long start;
	pthread_t t;
	int status;
	char letter;
	pid_t child;

	(void)state;
	child = fork();
	if (child == 0) {
		int null = open("/dev/null", O_RDWR);

		/* nothing of the test runner's output held open by the child */
		if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
		    pthread_create(&t, NULL, sleeper, NULL))
			_exit(1);
		syscall(SYS_exit, 0); /* this thread only: the process lives on in sleeper */
	}
	assert_true(child > 0);
	assert_int_equal(oci_proc_stat(child, &start, &letter), 0);
	for (int i = 0; i < 1000 && letter != 'Z'; i++) { /* until the leader has exited */
		usleep(10000);
		assert_int_equal(oci_proc_stat(child, &start, &letter), 0);
	}
	assert_int_equal(letter, 'Z');
	assert_true(oci_proc_alive(child, start));
	kill(child, SIGKILL);
	for (int i = 0; i < 1000 && oci_proc_alive(child, start); i++)
		usleep(10000);
	assert_false(oci_proc_alive(child, start));
	assert_int_equal(oci_proc_stat(child, &start, &letter), 0); /* not reaped yet */
	assert_int_equal(letter, 'Z');
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
}

static void test_rootfs_cpio(void **state)
{
	struct rootfs_limits lim = { .max_bytes = 1 << 20, .max_entries = 100, .max_depth = 8 };
	struct rootfs_stats st;
	char dir[128], path[256], name[256], *piece;
	unsigned char *buf;
	unsigned int mode, size;
	size_t off = 0;
	int fd, seen = 0;
	struct stat sb;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tree", bundle);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/bin", dir);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/bin/hello", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0755);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
	snprintf(path, sizeof(path), "%s/bin/sh", dir);
	assert_int_equal(symlink("hello", path), 0);
	snprintf(path, sizeof(path), "%s/init", dir); /* never replaces ainit */
	close(open(path, O_CREAT | O_WRONLY, 0755));
	snprintf(path, sizeof(path), "%s/fifo", dir); /* skipped */
	assert_int_equal(mkfifo(path, 0600), 0);

	fd = rootfs_piece_memfd(dir, &lim, &st, &piece, why, sizeof(why));
	assert_true(fd >= 0);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.bytes, 5);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(fstat(fd, &sb), 0);
	buf = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(buf != MAP_FAILED);
	while (cpio_next(buf, (size_t)sb.st_size, &off, name, sizeof(name), &mode, &size) == 0) {
		if (!strcmp(name, "TRAILER!!!")) {
			seen |= 8;
			break;
		}
		if (!strcmp(name, "bin")) {
			assert_int_equal(mode, S_IFDIR | 0750);
			seen |= 1;
		} else if (!strcmp(name, "bin/hello")) {
			assert_int_equal(mode, S_IFREG | 0755);
			assert_int_equal(size, 5);
			seen |= 2;
		} else if (!strcmp(name, "bin/sh")) {
			assert_int_equal(mode & S_IFMT, S_IFLNK);
			assert_int_equal(size, 5);
			seen |= 4;
		} else {
			fail_msg("unexpected entry %s", name);
		}
	}
	assert_int_equal(seen, 15);
	assert_int_equal(off, (size_t)sb.st_size); /* the trailer ends it */
	munmap(buf, (size_t)sb.st_size);
	close(fd);
	free(piece);

	/* the bounds: bytes, entries, depth */
	lim.max_bytes = 4;
	assert_int_equal(rootfs_piece_memfd(dir, &lim, &st, &piece, why, sizeof(why)), -EFBIG);
	lim.max_bytes = 1 << 20;
	lim.max_entries = 2;
	assert_int_equal(rootfs_piece_memfd(dir, &lim, &st, &piece, why, sizeof(why)), -E2BIG);
	lim.max_entries = 100;
	lim.max_depth = 0;
	assert_int_equal(rootfs_piece_memfd(dir, &lim, &st, &piece, why, sizeof(why)), -ELOOP);
	snprintf(path, sizeof(path), "%s/missing", bundle);
	assert_true(rootfs_piece_memfd(path, &lim, &st, &piece, why, sizeof(why)) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_minimal),   cmocka_unit_test(test_spec_full),
		cmocka_unit_test(test_spec_refused),   cmocka_unit_test(test_spec_bounds),
		cmocka_unit_test(test_spec_load),      cmocka_unit_test(test_ids),
		cmocka_unit_test(test_signals),	       cmocka_unit_test(test_cgroup_paths),
		cmocka_unit_test(test_resolve_program), cmocka_unit_test(test_state_json),
		cmocka_unit_test(test_rootfs_cpio),     cmocka_unit_test(test_spec_generated),
		cmocka_unit_test(test_zombie_leader),
	};

	return cmocka_run_group_tests(tests, make_bundle, remove_bundle);
}
