// SPDX-License-Identifier: MIT
/*
 * cgroup v2 (src/common/cgroup.c) against a fake cgroup tree in a temporary directory
 * (ARROW_CGROUP_ROOT): path checks and building, the limits of an Arrow, controller
 * enabling down the ancestors, limit files, joining, removal and reading usage; and the
 * cgroup options of `arrow run` and arrowh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "lib/launch/runopts.h"
#include "unit.h"
#include "vmm/config.h"

static char root[64];

static int make_root(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/arrow-cgroup-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	setenv("ARROW_CGROUP_ROOT", root, 1);
	return 0;
}

static int remove_root(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	unsetenv("ARROW_CGROUP_ROOT");
	return system(cmd);
}

static void put(const char *dir, const char *file, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *dir, const char *file)
{
	static char buf[512];
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A fake cgroup directory: what the kernel would put in it. */
static void fake_cgroup(const char *dir, const char *controllers, const char *enabled)
{
	assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
	put(dir, "cgroup.controllers", controllers);
	put(dir, "cgroup.subtree_control", enabled);
	put(dir, "cgroup.procs", "");
}

static void test_path_checks_and_building(void **state)
{
	static const char *const good[] = { "arrow", "/arrow", "a/b/c", "user.slice/x@1.service",
					     "", "/", "a.b", "..a", "a..", "-x" };
	static const char *const bad[] = { "..", "a/..", "../a", "a/./b", "a//b", "a/", "//a",
					   "a/b/", "a\nb", "x\ty" };
	char out[256], longp[1100];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(cgroup_path_problem(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(cgroup_path_problem(bad[i]));
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_non_null(strstr(cgroup_path_problem(longp), "1024"));

	assert_int_equal(cgroup_dir("/sys/fs/cgroup", "arrow", "abc", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/arrow/abc");
	assert_int_equal(cgroup_dir("/sys/fs/cgroup", "/machine/arrows", "abc", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/machine/arrows/abc");
	assert_int_equal(cgroup_dir("/sys/fs/cgroup", "/", "abc", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/abc");
	assert_int_equal(cgroup_dir("/r", "oci/path", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/r/oci/path");
	assert_int_equal(cgroup_dir("/r", "a/../b", "x", out, sizeof(out)), -EINVAL);
	assert_int_equal(cgroup_dir("/r", "a", "x/y", out, sizeof(out)), -EINVAL);
	assert_int_equal(cgroup_dir("/r", "a", "..", out, sizeof(out)), -EINVAL);
	assert_int_equal(cgroup_dir("/r", "arrow", "abcdefgh", out, 12), -ENAMETOOLONG);
}

static void test_limits_of_an_arrow(void **state)
{
	struct cgroup_limits l;

	(void)state;
	cgroup_limits_for(&l, 128, 1);
	/* 128 MiB + 32 MiB + 1 MiB per vCPU + 1/128 of RAM */
	assert_int_equal(l.memory_max, (128ull + 32 + 1 + 1) << 20);
	assert_true(l.no_swap);
	assert_true(l.oom_group);
	assert_int_equal(l.cpu_period_us, 100000);
	assert_int_equal(l.cpu_quota_us, 100000);
	assert_int_equal(l.pids_max, 3 + 1 + 16);

	cgroup_limits_for(&l, 4096, 4);
	assert_int_equal(l.memory_max, (4096ull + 32 + 4 + 32) << 20);
	assert_int_equal(l.cpu_quota_us, 400000);
	assert_int_equal(l.pids_max, 3 + 4 + 16);
	cgroup_limits_for(&l, 65536, 32);
	assert_int_equal(l.memory_max, (65536ull + 32 + 32 + 512) << 20);
	assert_int_equal(l.cpu_quota_us, 3200000);
}

static void test_create_enables_controllers_down_the_tree(void **state)
{
	char a[256], b[256], leaf[256], why[512] = "";
	struct stat st;

	(void)state;
	fake_cgroup(root, "cpuset cpu io memory hugetlb pids rdma misc\n", "");
	snprintf(a, sizeof(a), "%s/arrow", root);
	fake_cgroup(a, "cpu memory pids\n", "memory\n"); /* memory already enabled here */
	snprintf(b, sizeof(b), "%s/arrow/team", root);
	fake_cgroup(b, "cpu memory pids\n", "cpu memory pids\n"); /* all enabled here */
	put(b, "cgroup.subtree_control", "cpu memory pids\n");

	assert_int_equal(cgroup_create(root, "/arrow/team/0123abcd", why, sizeof(why)), 0);
	snprintf(leaf, sizeof(leaf), "%s/arrow/team/0123abcd", root);
	assert_int_equal(stat(leaf, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* each ancestor got exactly what it lacked; a fully enabled one was not written */
	assert_string_equal(get(root, "cgroup.subtree_control"), "+memory +cpu +pids");
	assert_string_equal(get(a, "cgroup.subtree_control"), "+cpu +pids");
	assert_string_equal(get(b, "cgroup.subtree_control"), "cpu memory pids\n");
	/* an existing cgroup is fine (an OCI caller may have made it) */
	assert_int_equal(cgroup_create(root, "arrow/team/0123abcd", why, sizeof(why)), 0);
	/* the root itself: nothing to make */
	assert_int_equal(cgroup_create(root, "/", why, sizeof(why)), 0);
}

static void test_create_refusals(void **state)
{
	char dir[256], why[512] = "";

	(void)state;
	/* the root has every controller, nopids lacks one: its children cannot be limited */
	snprintf(dir, sizeof(dir), "%s/nopids", root);
	fake_cgroup(dir, "cpu memory\n", "");
	assert_int_equal(cgroup_create(root, "nopids/z", why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "pids controller is not available"));
	assert_non_null(strstr(why, "nopids"));
	snprintf(dir, sizeof(dir), "%s/nopids/z", root);
	assert_int_equal(access(dir, F_OK), -1); /* nothing made */
	/* a directory that is no cgroup (no interface files) */
	snprintf(dir, sizeof(dir), "%s/bare2", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(cgroup_create(root, "bare2/x", why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "bare2/cgroup.controllers"));
	assert_int_equal(cgroup_create(root, "a/../b", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "'..'"));
	/* a parent that is a file, not a cgroup */
	put(root, "plainfile", "x");
	assert_int_not_equal(cgroup_create(root, "plainfile/x", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "plainfile"));
}

static void test_set_limits_writes_the_files(void **state)
{
	char dir[256], why[512] = "";
	struct cgroup_limits l;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/limits", root);
	fake_cgroup(dir, "", "");
	put(dir, "memory.max", "max\n");
	put(dir, "memory.oom.group", "0\n");
	put(dir, "cpu.max", "max 100000\n");
	put(dir, "pids.max", "max\n");
	cgroup_limits_for(&l, 256, 2);
	/* no memory.swap.max (a kernel without swap accounting): skipped */
	assert_int_equal(cgroup_set_limits(dir, &l, why, sizeof(why)), 0);
	assert_string_equal(get(dir, "memory.max"), "306184192"); /* (256+32+2+2) MiB */
	assert_string_equal(get(dir, "memory.oom.group"), "1");
	assert_string_equal(get(dir, "cpu.max"), "200000 100000");
	assert_string_equal(get(dir, "pids.max"), "21");
	put(dir, "memory.swap.max", "max\n");
	assert_int_equal(cgroup_set_limits(dir, &l, why, sizeof(why)), 0);
	assert_string_equal(get(dir, "memory.swap.max"), "0");
	/* unlimited values are written as the kernel spells them */
	l.memory_max = l.pids_max = l.cpu_quota_us = CGROUP_UNLIMITED;
	assert_int_equal(cgroup_set_limits(dir, &l, why, sizeof(why)), 0);
	assert_string_equal(get(dir, "memory.max"), "max");
	assert_string_equal(get(dir, "cpu.max"), "max 100000");
	assert_string_equal(get(dir, "pids.max"), "max");
	/* a missing interface file (no such controller here) is an error naming it */
	snprintf(dir, sizeof(dir), "%s/bare", root);
	fake_cgroup(dir, "", "");
	assert_int_equal(cgroup_set_limits(dir, &l, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "/bare/memory.max"));
}

static void test_join_writes_the_callers_pid(void **state)
{
	char dir[256], want[32];

	(void)state;
	assert_int_equal(cgroup_join(NULL), 0);
	snprintf(dir, sizeof(dir), "%s/joined", root);
	fake_cgroup(dir, "", "");
	assert_int_equal(cgroup_join(dir), 0);
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	assert_string_equal(get(dir, "cgroup.procs"), want);
	snprintf(dir, sizeof(dir), "%s/missing", root);
	assert_int_equal(cgroup_join(dir), -ENOENT);
}

static void test_remove_only_below_the_root(void **state)
{
	char dir[256], other[64];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/gone", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(cgroup_remove(dir, 0), 0);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(cgroup_remove(dir, 0), 0); /* already gone */
	/* a state file could name anything: only paths below the cgroup root are removed */
	snprintf(other, sizeof(other), "/tmp/arrow-notcg-XXXXXX");
	assert_non_null(mkdtemp(other));
	assert_int_equal(cgroup_remove(other, 0), -EINVAL);
	assert_int_equal(access(other, F_OK), 0);
	snprintf(dir, sizeof(dir), "%s/../%s", root, strrchr(other, '/') + 1);
	assert_int_equal(cgroup_remove(dir, 0), -EINVAL);
	assert_int_equal(access(other, F_OK), 0);
	rmdir(other);
	assert_int_equal(cgroup_remove(root, 0), -EINVAL); /* never the root itself */
	snprintf(dir, sizeof(dir), "%sx/y", root);          /* a sibling sharing the prefix */
	assert_int_equal(cgroup_remove(dir, 0), -EINVAL);
	snprintf(dir, sizeof(dir), "%s/full", root);
	fake_cgroup(dir, "", ""); /* plain files inside: a real cgroupfs would allow it */
	assert_int_equal(cgroup_remove(dir, 0), -ENOTEMPTY);
}

static void test_reading_usage(void **state)
{
	char dir[256];
	struct cgroup_usage u;
	uint64_t v;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/usage", root);
	fake_cgroup(dir, "", "");
	put(dir, "memory.current", "12345678\n");
	put(dir, "memory.max", "max\n");
	put(dir, "cpu.stat", "usage_usec_total 1\nusage_usec 4242\nuser_usec 4000\n");
	put(dir, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 1\n");
	put(dir, "pids.current", "3\n");
	put(dir, "pids.max", "20\n");
	assert_int_equal(cgroup_usage_read(dir, &u), 0);
	assert_int_equal(u.memory_current, 12345678);
	assert_true(u.memory_max == CGROUP_UNLIMITED);
	assert_true(u.memory_peak == CGROUP_UNLIMITED); /* not there: not given */
	assert_int_equal(u.cpu_usage_usec, 4242);
	assert_int_equal(u.oom_kill, 2);
	assert_int_equal(u.pids_current, 3);
	assert_int_equal(u.pids_max, 20);
	/* keys are whole words; malformed numbers are refused */
	assert_int_equal(cgroup_read_key(dir, "cpu.stat", "usage", &v), -ENOENT);
	assert_int_equal(cgroup_read_key(dir, "memory.events", "oom", &v), 0);
	assert_int_equal(v, 1);
	put(dir, "memory.current", "12x\n");
	assert_int_equal(cgroup_read_u64(dir, "memory.current", &v), -EINVAL);
	put(dir, "memory.current", "-1\n");
	assert_int_equal(cgroup_read_u64(dir, "memory.current", &v), -EINVAL);
	put(dir, "memory.current", "99999999999999999999999\n");
	assert_int_equal(cgroup_read_u64(dir, "memory.current", &v), -EINVAL);
	put(dir, "cpu.stat", "usage_usec lots\n");
	assert_int_equal(cgroup_read_key(dir, "cpu.stat", "usage_usec", &v), -EINVAL);
	assert_int_equal(cgroup_read_u64(dir, "nothing", &v), -ENOENT);
	snprintf(dir, sizeof(dir), "%s/absent", root);
	assert_int_equal(cgroup_usage_read(dir, &u), -ENOENT);
}

static void test_mount_check(void **state)
{
	(void)state;
	assert_int_equal(cgroup_v2_mounted(root), -ENOTSUP); /* a tmp directory */
	assert_int_equal(cgroup_v2_mounted("/nonexistent-arrow-cgroup"), -ENOENT);
	assert_string_equal(cgroup_root(), root);
}

static void test_run_and_arrowh_options(void **state)
{
	char *a1[] = { "run", "--cgroup-parent", "/machine/arrows", "--no-sandbox", "p", NULL };
	char *a2[] = { "run", "--cgroup", "none", "p", NULL };
	char *b1[] = { "run", "--cgroup-parent", "a/../b", "p", NULL };
	char *b2[] = { "run", "--cgroup", "/sys/fs/cgroup/x", "p", NULL };
	char *b3[] = { "run", "--cgroup", "none", "--cgroup-parent", "x", "p", NULL };
	char *h1[] = { "arrowh", "--kernel", "k", "--initrd", "i", "--cgroup", "/sys/fs/cgroup/a/b",
		       "--no-sandbox", NULL };
	char *h2[] = { "arrowh", "--kernel", "k", "--initrd", "i", "--cgroup", "a/b", NULL };
	struct arrowh_config cfg;
	struct run_opts o;
	char err[256] = "";

	(void)state;
	assert_int_equal(runopts_parse(&o, 5, a1, err, sizeof(err)), 0);
	assert_string_equal(o.cgroup_parent, "/machine/arrows");
	assert_true(o.no_sandbox);
	assert_false(o.no_cgroup);
	assert_int_equal(runopts_parse(&o, 4, a2, err, sizeof(err)), 0);
	assert_true(o.no_cgroup);
	assert_null(o.cgroup_parent);
	assert_false(o.no_sandbox);
	assert_int_equal(runopts_parse(&o, 4, b1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--cgroup-parent"));
	assert_int_equal(runopts_parse(&o, 4, b2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--cgroup"));
	assert_int_equal(runopts_parse(&o, 6, b3, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "contradict"));

	assert_int_equal(arrowh_config_parse(&cfg, 8, h1, err, sizeof(err)), 0);
	assert_string_equal(cfg.cgroup, "/sys/fs/cgroup/a/b");
	assert_true(cfg.no_sandbox);
	assert_int_equal(arrowh_config_parse(&cfg, 7, h2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "absolute"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_checks_and_building),
		cmocka_unit_test(test_limits_of_an_arrow),
		cmocka_unit_test(test_create_enables_controllers_down_the_tree),
		cmocka_unit_test(test_create_refusals),
		cmocka_unit_test(test_set_limits_writes_the_files),
		cmocka_unit_test(test_join_writes_the_callers_pid),
		cmocka_unit_test(test_remove_only_below_the_root),
		cmocka_unit_test(test_reading_usage),
		cmocka_unit_test(test_mount_check),
		cmocka_unit_test(test_run_and_arrowh_options),
	};

	return cmocka_run_group_tests(tests, make_root, remove_root);
}
