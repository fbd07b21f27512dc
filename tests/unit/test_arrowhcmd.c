// SPDX-License-Identifier: MIT
/*
 * The launch description (lib/launch/arrowh_cmd.h): the one place arrowh's command line is made
 * for `arrow run`, clones, templates and arrow-oci. A boot and a clone, the sandbox or not,
 * a tap or passt's socket, the exit hook, limits and the boot deadline's sources.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/launch/arrowh_cmd.h"
#include "unit.h"

/* The value after opt in argv, or NULL; count: how many times opt appears. */
static const char *opt_value(const struct arrowh_argv *a, const char *opt, int *count)
{
	const char *v = NULL;

	*count = 0;
	for (int i = 1; i < a->n; i++)
		if (!strcmp(a->v[i], opt)) {
			(*count)++;
			v = i + 1 < a->n ? a->v[i + 1] : "";
		}
	return v;
}

static const char *one(const struct arrowh_argv *a, const char *opt)
{
	int count;
	const char *v = opt_value(a, opt, &count);

	assert_int_equal(count, v ? 1 : 0);
	return v;
}

static void boot_desc(struct arrowh_desc *d)
{
	arrowh_desc_init(d);
	d->kernel = "/k/vmlinux";
	d->initrds[d->nr_initrds++] = "/p/base";
	d->initrds[d->nr_initrds++] = "/p/config";
	d->state_dir = "/s/id";
	d->memory_mib = 256;
	d->cpus = 2;
	d->boot_timeout_s = 60;
}

static void test_boot(void **state)
{
	struct arrowh_desc d;
	struct arrowh_argv *a = calloc(1, sizeof(*a));
	int count;

	(void)state;
	boot_desc(&d);
	d.root_share = "/b/rootfs:ro";
	d.volumes[d.nr_volumes++] = "/h/v:arrowvol0:ro";
	d.vsock_uds = "/s/id/vsock.sock";
	d.tty = true;
	assert_int_equal(arrowh_argv_build(&d, a), 0);
	assert_string_equal(a->v[0], "arrowh");
	assert_null(a->v[a->n]);
	assert_string_equal(one(a, "--kernel"), "/k/vmlinux");
	/* the pieces in their order: ainit's base first, the run configuration last */
	opt_value(a, "--initrd", &count);
	assert_int_equal(count, 2);
	for (int i = 0, seen = 0; i < a->n; i++)
		if (!strcmp(a->v[i], "--initrd"))
			assert_string_equal(a->v[i + 1], seen++ ? "/p/config" : "/p/base");
	assert_string_equal(one(a, "--root-share"), "/b/rootfs:ro");
	assert_string_equal(one(a, "--volume"), "/h/v:arrowvol0:ro");
	assert_string_equal(one(a, "--memory"), "256");
	assert_string_equal(one(a, "--cpus"), "2");
	assert_string_equal(one(a, "--boot-timeout"), "60");
	assert_string_equal(one(a, "--state-dir"), "/s/id");
	assert_string_equal(one(a, "--vsock-uds"), "/s/id/vsock.sock");
	assert_non_null(one(a, "--tty"));
	/* jailed unless told otherwise; nothing that was not asked for */
	assert_non_null(one(a, "--jail-user"));
	assert_null(one(a, "--no-sandbox"));
	assert_null(one(a, "--restore"));
	assert_null(one(a, "--tap-fd"));
	assert_null(one(a, "--net-stream-fd"));
	assert_null(one(a, "--exit-hook"));
	assert_null(one(a, "--cgroup"));
	assert_null(one(a, "--detached"));
	assert_null(one(a, "--seccomp-selftest"));
	free(a);
}

static void test_clone_tap_hook_cgroup(void **state)
{
	struct arrowh_desc d;
	struct arrowh_argv *a = calloc(1, sizeof(*a));
	int count;

	(void)state;
	arrowh_desc_init(&d);
	d.restore = "/snap/t";
	d.identity = "/s/id/identity";
	d.state_dir = "/s/id";
	d.tap_fd = 7;
	d.mac = "02:00:00:00:00:01";
	d.release_id = "0123abcd";
	d.cgroup = "/sys/fs/cgroup/arrow/0123abcd";
	d.detached = d.attach_stdin = true;
	d.no_sandbox = true;
	d.seccomp_selftest = true; /* only ever with the sandbox */
	assert_int_equal(arrowh_argv_build(&d, a), 0);
	assert_string_equal(one(a, "--restore"), "/snap/t");
	assert_string_equal(one(a, "--identity"), "/s/id/identity");
	assert_null(one(a, "--kernel"));
	assert_null(one(a, "--initrd"));
	assert_string_equal(one(a, "--tap-fd"), "7");
	assert_string_equal(one(a, "--mac"), "02:00:00:00:00:01");
	assert_string_equal(one(a, "--cgroup"), "/sys/fs/cgroup/arrow/0123abcd");
	assert_non_null(one(a, "--no-sandbox"));
	assert_null(one(a, "--jail-user"));
	assert_null(one(a, "--seccomp-selftest"));
	assert_non_null(one(a, "--detached"));
	assert_non_null(one(a, "--attach-stdin"));
	/* `arrow _release ID` when it ends */
	opt_value(a, "--exit-hook", &count);
	assert_int_equal(count, 3);
	for (int i = 0, k = 0; i < a->n; i++)
		if (!strcmp(a->v[i], "--exit-hook")) {
			if (k == 0)
				assert_non_null(strstr(a->v[i + 1], "/arrow"));
			else
				assert_string_equal(a->v[i + 1], k == 1 ? "_release" : "0123abcd");
			k++;
		}
	/* passt's socket instead of a tap: --net-stream-fd */
	d.net_stream_fd = 9;
	d.tap_fd = -1;
	d.release_id = NULL;
	assert_int_equal(arrowh_argv_build(&d, a), 0);
	assert_string_equal(one(a, "--net-stream-fd"), "9");
	assert_null(one(a, "--tap-fd"));
	assert_null(one(a, "--exit-hook"));
	/* --ready-fd and the like go after */
	assert_int_equal(arrowh_argv_add(a, "--ready-fd", "5"), 0);
	assert_string_equal(one(a, "--ready-fd"), "5");
	assert_null(a->v[a->n]);
	free(a);
}

static void test_refused(void **state)
{
	struct arrowh_desc d;
	struct arrowh_argv *a = calloc(1, sizeof(*a));

	(void)state;
	boot_desc(&d);
	d.restore = "/snap/t"; /* a boot and a clone at once */
	assert_int_equal(arrowh_argv_build(&d, a), -EINVAL);
	boot_desc(&d);
	d.kernel = NULL; /* nothing to start */
	assert_int_equal(arrowh_argv_build(&d, a), -EINVAL);
	boot_desc(&d);
	d.state_dir = NULL;
	assert_int_equal(arrowh_argv_build(&d, a), -EINVAL);
	boot_desc(&d);
	d.nr_initrds = ARROWH_MAX_INITRDS + 1;
	assert_int_equal(arrowh_argv_build(&d, a), -EINVAL);
	/* the most an image can have still fits, with everything else asked for */
	boot_desc(&d);
	d.nr_initrds = 0;
	for (unsigned int i = 0; i < ARROWH_MAX_INITRDS; i++)
		d.initrds[d.nr_initrds++] = "/p/layer";
	for (unsigned int i = 0; i < ARROWH_MAX_VOLUMES; i++)
		d.volumes[d.nr_volumes++] = "/h:arrowvol0";
	d.root_share = "/r:rw";
	d.template_out = "/t";
	d.vsock_uds = "/v";
	d.log_max_size = d.log_max_files = 1;
	d.remove = d.tty = d.detached = d.attach_stdin = d.timing = d.debug_console = true;
	d.cmdline = "quiet";
	d.tap_fd = 3;
	d.mac = "02:00:00:00:00:02";
	d.release_id = "x";
	d.cgroup = "/c";
	d.hold = true;
	assert_int_equal(arrowh_argv_build(&d, a), 0);
	assert_true(a->n <= ARROWH_ARGV_MAX);
	{
		bool hold = false;

		for (int i = 0; i < a->n; i++)
			hold |= !strcmp(a->v[i], "--hold");
		assert_true(hold);
	}
	while (a->n + 2 <= ARROWH_ARGV_MAX)
		assert_int_equal(arrowh_argv_add(a, "--x", "y"), 0);
	assert_int_equal(arrowh_argv_add(a, "--x", "y"), -E2BIG);
	free(a);
}

static void test_boot_timeout(void **state)
{
	bool ignored;

	(void)state;
	unsetenv("ARROW_IN_MACHINE");
	unsetenv("ARROW_BOOT_TIMEOUT");
	assert_int_equal(arrowh_boot_timeout(-1, &ignored), 60);
	assert_false(ignored);
	assert_int_equal(arrowh_boot_timeout(5, &ignored), 5);
	setenv("ARROW_IN_MACHINE", "1", 1);
	assert_int_equal(arrowh_boot_timeout(-1, &ignored), 600);
	setenv("ARROW_BOOT_TIMEOUT", "17", 1);
	assert_int_equal(arrowh_boot_timeout(-1, &ignored), 17);
	assert_int_equal(arrowh_boot_timeout(0, &ignored), 0); /* an explicit value wins */
	for (const char *const *bad = (const char *const[]){ "-1", "x", "86401", "1 ", NULL };
	     *bad; bad++) {
		setenv("ARROW_BOOT_TIMEOUT", *bad, 1);
		assert_int_equal(arrowh_boot_timeout(-1, &ignored), 600);
		assert_true(ignored);
	}
	unsetenv("ARROW_IN_MACHINE");
	unsetenv("ARROW_BOOT_TIMEOUT");
	setenv("ARROW_NO_SANDBOX", "1", 1);
	assert_true(arrowh_no_sandbox_env());
	setenv("ARROW_NO_SANDBOX", "yes", 1);
	assert_false(arrowh_no_sandbox_env());
	unsetenv("ARROW_NO_SANDBOX");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot),
		cmocka_unit_test(test_clone_tap_hook_cgroup),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_boot_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
