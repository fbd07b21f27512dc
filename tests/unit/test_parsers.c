// SPDX-License-Identifier: MIT
/* Option parsing (arrow run, arrowh), the run configuration and the control stream. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proctcp.h"
#include "common/runcfg.h"
#include "lib/launch/runopts.h"
#include "unit.h"
#include "vmm/config.h"
#include "vmm/control.h"

static void test_runopts_basic(void **state)
{
	char *argv[] = { "run", "-m", "256", "--cpus", "2", "-e", "A=b c", "-e", "HOME",
			 "-w", "/tmp", "--timing", "prog", "--flag", "-m", "x", NULL };
	struct run_opts o;
	char err[256];

	(void)state;
	assert_int_equal(runopts_parse(&o, 16, argv, err, sizeof(err)), 0);
	assert_int_equal(o.memory_mib, 256);
	assert_int_equal(o.cpus, 2);
	assert_int_equal(o.nr_env, 2);
	assert_string_equal(o.env[0], "A=b c");
	assert_string_equal(o.env[1], "HOME");
	assert_string_equal(o.workdir, "/tmp");
	assert_true(o.timing);
	assert_string_equal(o.program, "prog");
	/* options after PROGRAM belong to the program */
	assert_int_equal(o.nr_args, 3);
	assert_string_equal(o.args[0], "--flag");
	assert_string_equal(o.args[2], "x");
}

static void expect_bad(int argc, char **argv, const char *needle)
{
	struct run_opts o;
	char err[256] = "";

	assert_int_equal(runopts_parse(&o, argc, argv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, needle));
}

static void test_runopts_errors(void **state)
{
	char *a1[] = { "run", NULL };
	char *a2[] = { "run", "--cpus", "0", "p", NULL };
	char *a3[] = { "run", "--cpus", "1.5", "p", NULL };
	char *a4[] = { "run", "-m", "lots", "p", NULL };
	char *a5[] = { "run", "-m", "16", "p", NULL };
	char *a6[] = { "run", "-e", "=x", "p", NULL };
	char *a7[] = { "run", "-w", "relative", "p", NULL };
	char *a8[] = { "run", "--bogus", "p", NULL };
	char *a9[] = { "run", "--hostname", "bad name", "p", NULL };

	(void)state;
	expect_bad(1, a1, "PROGRAM");
	expect_bad(4, a2, "--cpus");
	expect_bad(4, a3, "--cpus");
	expect_bad(4, a4, "--memory");
	expect_bad(4, a5, "--memory");
	expect_bad(4, a6, "--env");
	expect_bad(4, a7, "absolute");
	expect_bad(3, a8, "--bogus");
	expect_bad(4, a9, "--hostname");
}

static void test_config_files(void **state)
{
	struct run_opts o;
	char err[256] = "";
	char *ok[] = { "run", "--config", "/host/a.conf:/etc/app/a.conf", "--config",
		       "we:ird:/srv/b", "p", NULL };
	char *twice[] = { "run", "--config", "a:/etc/x", "--config", "b:/etc/x", "p", NULL };
	char *bad[][5] = {
		{ "run", "--config", "nocolon", "p", NULL },
		{ "run", "--config", ":/etc/x", "p", NULL },
		{ "run", "--config", "a:etc/x", "p", NULL },
		{ "run", "--config", "a:/etc/../x", "p", NULL },
		{ "run", "--config", "a:/etc//x", "p", NULL },
		{ "run", "--config", "a:/etc/./x", "p", NULL },
		{ "run", "--config", "a:/etc/x/", "p", NULL },
		{ "run", "--config", "a:/", "p", NULL },
		{ "run", "--config", "a:/proc/x", "p", NULL },
		{ "run", "--config", "a:/tmp", "p", NULL },
		{ "run", "--config", "a:/.arrow/config", "p", NULL },
		{ "run", "--config", "a:/init", "p", NULL },
		{ "run", "--config", "a:/etc/resolv.conf", "p", NULL },
	};

	(void)state;
	assert_int_equal(runopts_parse(&o, 6, ok, err, sizeof(err)), 0);
	assert_int_equal(o.nr_configs, 2);
	assert_string_equal(o.configs[0].host, "/host/a.conf");
	assert_string_equal(o.configs[0].guest, "/etc/app/a.conf");
	assert_string_equal(o.configs[1].host, "we:ird"); /* split at the last colon */
	assert_string_equal(o.configs[1].guest, "/srv/b");
	assert_null(runopts_config_path_ok("/procfile"));
	assert_null(runopts_config_path_ok("/etc/hosts.allow"));
	assert_null(runopts_config_path_ok("/a/..b/.c"));
	runopts_free(&o);
	expect_bad(6, twice, "twice");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad(4, bad[i], "--config");
}

static void test_memory_units(void **state)
{
	(void)state;
	assert_int_equal(runopts_parse_memory("512"), 512);
	assert_int_equal(runopts_parse_memory("512m"), 512);
	assert_int_equal(runopts_parse_memory("512MiB"), 512);
	assert_int_equal(runopts_parse_memory("1g"), 1024);
	assert_int_equal(runopts_parse_memory("2GB"), 2048);
	assert_int_equal(runopts_parse_memory("262144k"), 256);
	assert_int_equal(runopts_parse_memory("1000k"), 0); /* not whole MiB */
	assert_int_equal(runopts_parse_memory("12x"), 0);
	assert_int_equal(runopts_parse_memory("-1"), 0);
	assert_int_equal(runopts_parse_memory(""), 0);
	assert_int_equal(runopts_parse_memory("99999999999999999999"), 0);
}

static void test_runcfg_roundtrip(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	struct runcfg *cfg = malloc(sizeof(*cfg));

	(void)state;
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_PROGRAM, "/app/hello"), 0);
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_ARG, "hello"), 0);
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_ARG, "with space 'q' \"dq\" ünï"), 0);
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_ARG, ""), 0);
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_ENV, "K=v=w"), 0);
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_WORKDIR, "/tmp"), 0);
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_UID, "1000"), 0);
	assert_int_equal(runcfg_parse(buf, len, cfg), 0);
	assert_string_equal(cfg->program, "/app/hello");
	assert_int_equal(cfg->argc, 3);
	assert_string_equal(cfg->argv[1], "with space 'q' \"dq\" ünï");
	assert_string_equal(cfg->argv[2], "");
	assert_null(cfg->argv[3]);
	assert_int_equal(cfg->envc, 1);
	assert_string_equal(cfg->envp[0], "K=v=w");
	assert_string_equal(cfg->workdir, "/tmp");
	assert_int_equal(cfg->uid, 1000);
	assert_false(cfg->root_share);
	assert_false(cfg->hold);
	free(buf);
	/* a root share and its bound files */
	buf = NULL;
	len = 0;
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_PROGRAM, "/bin/sh"), 0);
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_ARG, "sh"), 0);
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_ROOT, "ro"), 0);
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_BIND, "/etc/hostname"), 0);
	assert_int_equal(runcfg_append(&buf, &len, RUNCFG_HOLD, "1"), 0);
	assert_int_equal(runcfg_parse(buf, len, cfg), 0);
	assert_true(cfg->hold);
	assert_true(cfg->root_share);
	assert_true(cfg->root_read_only);
	assert_int_equal(cfg->nr_binds, 1);
	assert_string_equal(cfg->binds[0], "/etc/hostname");
	free(buf);
	free(cfg);
}

static void expect_runcfg_bad(const char *data, size_t len)
{
	struct runcfg *cfg = malloc(sizeof(*cfg));
	char *copy = malloc(len + 1);

	memcpy(copy, data, len);
	assert_int_equal(runcfg_parse(copy, len, cfg), -EINVAL);
	free(copy);
	free(cfg);
}

static void test_runcfg_malformed(void **state)
{
	(void)state;
	expect_runcfg_bad("p/app/x", 7);                      /* no NUL */
	expect_runcfg_bad("p/app/x\0", 8);                    /* no argv[0] */
	expect_runcfg_bad("ahello\0", 7);                     /* no program */
	expect_runcfg_bad("p/x\0ax\0z?\0", 11);               /* unknown tag */
	expect_runcfg_bad("p/x\0ax\0eNOEQUALS\0", 17);        /* env without = */
	expect_runcfg_bad("p/x\0ax\0urootish\0", 16);         /* uid not a number */
	expect_runcfg_bad("p/x\0ax\0wrelative\0", 17);        /* workdir not absolute */
	expect_runcfg_bad("prelative\0ax\0", 13);             /* program not absolute */
	expect_runcfg_bad("p/x\0ax\0Ryes\0", 12);             /* root share neither rw nor ro */
	expect_runcfg_bad("p/x\0ax\0betc/x\0", 14);           /* bound file not absolute */
	expect_runcfg_bad("p/x\0ax\0b/a/../b\0", 16);         /* bound file with .. */
	expect_runcfg_bad("p/x\0ax\0b/..\0", 12);             /* bound file .. */
	expect_runcfg_bad("p/x\0ax\0b/\0", 10);               /* bound file / */
}

static void test_arrowh_config(void **state)
{
	char *ok[] = { "arrowh", "--kernel", "k", "--initrd", "a", "--initrd", "b",
		       "--memory", "64", "--cpus", "4", "--timing", NULL };
	char *no_kernel[] = { "arrowh", "--initrd", "a", NULL };
	char *bad_cpus[] = { "arrowh", "--kernel", "k", "--initrd", "a", "--cpus", "33", NULL };
	char *bad_mem[] = { "arrowh", "--kernel", "k", "--initrd", "a", "--memory", "8", NULL };
	struct arrowh_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(arrowh_config_parse(&cfg, 12, ok, err, sizeof(err)), 0);
	assert_int_equal(cfg.nr_initrds, 2);
	assert_int_equal(cfg.memory_mib, 64);
	assert_int_equal(cfg.cpus, 4);
	assert_true(cfg.timing);
	assert_int_equal(arrowh_config_parse(&cfg, 3, no_kernel, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--kernel"));
	assert_int_equal(arrowh_config_parse(&cfg, 7, bad_cpus, err, sizeof(err)), -EINVAL);
	assert_int_equal(arrowh_config_parse(&cfg, 7, bad_mem, err, sizeof(err)), -EINVAL);
	{
		char share[] = "/srv/root:ro", twice_a[] = "/a", twice_b[] = "/b";
		char *root_ok[] = { "arrowh", "--kernel", "k", "--initrd", "a", "--root-share", share,
				    NULL };
		char *root_twice[] = { "arrowh", "--kernel", "k", "--initrd", "a", "--root-share",
				       twice_a, "--root-share", twice_b, NULL };
		char *root_template[] = { "arrowh", "--kernel", "k", "--initrd", "a", "--root-share",
					  twice_a, "--template-out", "/t", NULL };

		assert_int_equal(arrowh_config_parse(&cfg, 7, root_ok, err, sizeof(err)), 0);
		assert_string_equal(cfg.root_share, "/srv/root");
		assert_true(cfg.root_read_only);
		assert_int_equal(arrowh_config_parse(&cfg, 9, root_twice, err, sizeof(err)), -EINVAL);
		assert_int_equal(arrowh_config_parse(&cfg, 9, root_template, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "snapshots"));
	}
	{
		/* --hold: a booted Arrow with a control socket for the start request */
		char *hold_ok[] = { "arrowh", "--kernel", "k", "--initrd", "a", "--state-dir", "/s",
				    "--hold", "--ready-fd", "5", NULL };
		char *hold_no_state[] = { "arrowh", "--kernel", "k", "--initrd", "a", "--hold", NULL };
		char *hold_restore[] = { "arrowh", "--restore", "/r", "--state-dir", "/s", "--hold",
					 NULL };

		assert_int_equal(arrowh_config_parse(&cfg, 10, hold_ok, err, sizeof(err)), 0);
		assert_true(cfg.hold);
		assert_int_equal(cfg.ready_fd, 5);
		assert_int_equal(arrowh_config_parse(&cfg, 6, hold_no_state, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "--hold"));
		assert_int_equal(arrowh_config_parse(&cfg, 6, hold_restore, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "--restore"));
	}
}

static int seen_type[8], seen_arg[8], seen;

static void record(void *opaque, const struct arrow_ctl_msg *m)
{
	(void)opaque;
	seen_type[seen] = m->type;
	seen_arg[seen] = (int)m->arg;
	seen++;
}

static void test_control_stream(void **state)
{
	struct ctl_stream s;
	struct arrow_ctl_msg m[2];
	uint8_t bytes[sizeof(m)];
	struct iovec iov[3];

	(void)state;
	seen = 0;
	ctl_stream_init(&s, record, NULL);
	ctl_encode(&m[0], ARROW_CTL_HELLO, 0, 5);
	ctl_encode(&m[1], ARROW_CTL_EXIT, 7, 9);
	memcpy(bytes, m, sizeof(m));
	/* records split at odd places across segments */
	iov[0] = (struct iovec){ bytes, 5 };
	iov[1] = (struct iovec){ bytes + 5, 30 };
	iov[2] = (struct iovec){ bytes + 35, sizeof(bytes) - 35 };
	assert_int_equal(ctl_stream_feed(&s, iov, 3), 2);
	assert_int_equal(seen, 2);
	assert_int_equal(seen_type[0], ARROW_CTL_HELLO);
	assert_int_equal(seen_type[1], ARROW_CTL_EXIT);
	assert_int_equal(seen_arg[1], 7);
}

static void test_control_hostile(void **state)
{
	struct ctl_stream s;
	struct arrow_ctl_msg m;
	struct iovec iov = { &m, sizeof(m) };

	(void)state;
	seen = 0;
	ctl_stream_init(&s, record, NULL);
	ctl_encode(&m, ARROW_CTL_EXIT, 300, 0); /* status out of range */
	assert_int_equal(ctl_stream_feed(&s, &iov, 1), 0);
	assert_true(s.dead);
	ctl_encode(&m, ARROW_CTL_EXIT, 0, 0); /* nothing after a bad record is trusted */
	assert_int_equal(ctl_stream_feed(&s, &iov, 1), 0);

	ctl_stream_init(&s, record, NULL);
	ctl_encode(&m, ARROW_CTL_SIGNAL, SIGTERM, 0); /* a host-only record from the guest */
	assert_int_equal(ctl_stream_feed(&s, &iov, 1), 0);
	ctl_stream_init(&s, record, NULL);
	ctl_encode(&m, ARROW_CTL_START, 0, 0); /* the guest cannot start itself */
	assert_int_equal(ctl_stream_feed(&s, &iov, 1), 0);
	assert_true(s.dead);
	ctl_stream_init(&s, record, NULL);
	ctl_encode(&m, ARROW_CTL_READY, 0, 0); /* it may say it waits; the host decides */
	assert_int_equal(ctl_stream_feed(&s, &iov, 1), 1);
	seen = 0;
	ctl_stream_init(&s, record, NULL);
	ctl_encode(&m, ARROW_CTL_HELLO, 0, 0);
	m.magic = 0xdeadbeef;
	assert_int_equal(ctl_stream_feed(&s, &iov, 1), 0);
	assert_int_equal(seen, 0);
}

/* ainit waits before power-off while TCP still has something to deliver. */
static void test_proctcp_unsent(void **state)
{
	const char *hdr = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
			  "retrnsmt   uid  timeout inode\n";
	static const struct {
		const char *sockets;
		bool unsent;
	} cases[] = {
		{ "", false },
		/* listening, and established with nothing queued */
		{ "   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n"
		  "   1: 0200C90A:D6DA 0100C90A:A9FD 01 00000000:00000000 00:00000000 00000000 0 0 2 1\n",
		  false },
		/* data still queued */
		{ "   0: 0200C90A:D6DA 0100C90A:A9FD 01 0001F000:00000000 01:00000014 00000000 0 0 2 1\n",
		  true },
		/* FIN not acknowledged yet: FIN_WAIT1, LAST_ACK */
		{ "   0: 0200C90A:D6DA 0100C90A:A9FD 04 00000000:00000000 01:00000014 00000000 0 0 0 1\n",
		  true },
		{ "   0: 0200C90A:D6DA 0100C90A:A9FD 09 00000000:00000000 01:00000014 00000000 0 0 0 1\n",
		  true },
		/* FIN_WAIT2 and TIME_WAIT: the peer has everything */
		{ "   0: 0200C90A:D6DA 0100C90A:A9FD 05 00000000:00000000 00:00000000 00000000 0 0 0 1\n"
		  "   1: 0200C90A:D6DB 0100C90A:A9FD 06 00000000:00000000 03:00000100 00000000 0 0 0 3\n",
		  false },
	};
	char text[1024];

	(void)state;
	assert_false(proctcp_unsent(""));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", hdr, cases[i].sockets);
		assert_int_equal(proctcp_unsent(text), cases[i].unsent);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runopts_basic),   cmocka_unit_test(test_runopts_errors),
		cmocka_unit_test(test_memory_units),    cmocka_unit_test(test_runcfg_roundtrip),
		cmocka_unit_test(test_runcfg_malformed), cmocka_unit_test(test_arrowh_config),
		cmocka_unit_test(test_control_stream),  cmocka_unit_test(test_control_hostile),
		cmocka_unit_test(test_proctcp_unsent), cmocka_unit_test(test_config_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
