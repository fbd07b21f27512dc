// SPDX-License-Identifier: MIT
/* The state root, the log with rotation, and the run options of managed Arrows. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/statedir.h"
#include "common/streamrec.h"
#include "lib/launch/runopts.h"
#include "lib/state/store.h"
#include "unit.h"
#include "vmm/logfile.h"

static char root[64];

static int setup_root(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/arrow-unit-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	setenv("ARROW_ROOT", root, 1);
	return 0;
}

static int remove_root(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void test_log_rotation_caps_every_file(void **state)
{
	char path[128], rotated[140];
	char chunk[1000];
	struct iovec v = { chunk, sizeof(chunk) };
	struct logfile l;
	struct streamrec_hdr h;
	int fd;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	snprintf(path, sizeof(path), "%s/log", root);
	assert_int_equal(logfile_open(&l, path, 4096, 3), 0);
	for (int i = 0; i < 50; i++)
		logfile_write(&l, i % 2 ? STREAM_STDERR : STREAM_STDOUT, &v, 1, sizeof(chunk));
	logfile_close(&l);
	/* 4096 bytes hold 4 records of 16 + 1000 bytes; three files, the oldest dropped */
	assert_true(file_size(path) <= 4096);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	assert_int_equal(file_size(rotated), 4 * (16 + 1000));
	snprintf(rotated, sizeof(rotated), "%s.2", path);
	assert_int_equal(file_size(rotated), 4 * (16 + 1000));
	snprintf(rotated, sizeof(rotated), "%s.3", path);
	assert_int_equal(file_size(rotated), -1);
	/* records are whole and well-formed */
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, &h, sizeof(h)), sizeof(h));
	assert_int_equal(h.magic, STREAMREC_MAGIC);
	assert_int_equal(h.len, sizeof(chunk));
	assert_true(h.stream == STREAM_STDOUT || h.stream == STREAM_STDERR);
	assert_true(h.time_ns > 0);
	close(fd);
}

static void test_log_without_rotation_keeps_everything(void **state)
{
	char path[128], rotated[140];
	char chunk[100] = { 0 };
	struct iovec v = { chunk, sizeof(chunk) };
	struct logfile l;

	(void)state;
	snprintf(path, sizeof(path), "%s/log-all", root);
	assert_int_equal(logfile_open(&l, path, 0, 1), 0);
	for (int i = 0; i < 100; i++)
		logfile_write(&l, STREAM_STDOUT, &v, 1, sizeof(chunk));
	logfile_write(&l, STREAM_STDOUT, &v, 1, 0); /* empty writes leave no record */
	logfile_close(&l);
	assert_int_equal(file_size(path), 100 * (16 + 100));
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	assert_int_equal(file_size(rotated), -1);
}

static void make_arrow(const char *name, char id[ARROW_ID_LEN + 1])
{
	char dir[4096], fname[160], cfg[512];
	int lock = store_lock();

	assert_true(lock >= 0);
	assert_int_equal(store_create(name, id, dir, sizeof(dir), fname, sizeof(fname)), 0);
	snprintf(cfg, sizeof(cfg), "{\"id\": \"%s\", \"name\": \"%s\", \"created_ns\": 5, "
		 "\"program\": \"/bin/x\", \"args\": []}", id, fname);
	assert_int_equal(statedir_write_file(dir, STATE_CONFIG_FILE, cfg, strlen(cfg)), 0);
	store_unlock(lock);
}

static void test_store_names_ids_and_prefixes(void **state)
{
	char a[ARROW_ID_LEN + 1], b[ARROW_ID_LEN + 1], got[ARROW_ID_LEN + 1], dir[4096],
		name[160];
	struct arrow_rec r;
	int lock;

	(void)state;
	make_arrow("alpha", a);
	make_arrow(NULL, b);
	assert_int_equal(strlen(a), ARROW_ID_LEN);
	assert_string_not_equal(a, b);
	assert_int_equal(store_resolve("alpha", got), 0);
	assert_string_equal(got, a);
	assert_int_equal(store_resolve(a, got), 0);
	assert_int_equal(store_resolve("nope", got), -ENOENT);
	/* a prefix long enough to be unique resolves; the empty one is ambiguous */
	memcpy(got, b, 12);
	got[12] = '\0';
	assert_int_equal(store_resolve(got, got), 0);
	assert_string_equal(got, b);
	assert_int_equal(store_resolve("", got), -ENOENT);
	lock = store_lock();
	assert_int_equal(store_create("alpha", got, dir, sizeof(dir), name, sizeof(name)), -EEXIST);
	store_unlock(lock);
	assert_int_equal(store_load(a, &r), 0);
	assert_string_equal(store_name(&r), "alpha");
	assert_int_equal(r.status, ST_CREATED);
	assert_int_equal(store_remove(&r), 0);
	store_free(&r);
	assert_int_equal(store_resolve("alpha", got), -ENOENT);
}

static void test_store_notices_a_dead_arrowh(void **state)
{
	char id[ARROW_ID_LEN + 1], path[4200];
	const char *running = "{\"status\": \"running\", \"pid\": 99999, \"started_ns\": 7}";
	struct arrow_rec r;
	int fd;

	(void)state;
	make_arrow("ghost", id);
	snprintf(path, sizeof(path), "%s/%s", root, id);
	assert_int_equal(statedir_write_file(path, STATE_FILE, running, strlen(running)), 0);
	/* while the lock is held, it is running */
	snprintf(path, sizeof(path), "%s/%s/%s", root, id, STATE_LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT, 0644);
	assert_int_equal(statedir_claim(fd), 0);
	assert_int_equal(store_load(id, &r), 0);
	assert_int_equal(r.status, ST_RUNNING);
	store_free(&r);
	/* the holder is gone: exited, 137, and it is written down */
	close(fd);
	assert_int_equal(store_load(id, &r), 0);
	assert_int_equal(r.status, ST_EXITED);
	assert_int_equal(r.exit_code, 137);
	store_free(&r);
	assert_int_equal(store_load(id, &r), 0);
	assert_int_equal(r.exit_code, 137);
	store_free(&r);
}

static void test_run_options_of_managed_arrows(void **state)
{
	char envfile[128];
	char *argv[] = { "run", "-d", "-i", "-t", "--rm", "--name", "web.1", "-u", "1000:50",
			 "--argv0", "sh", "--log-opt", "max-size=2m", "--log-opt", "max-file=5",
			 "--env-file", envfile, "prog", NULL };
	struct run_opts o;
	char err[256];
	FILE *f;

	(void)state;
	snprintf(envfile, sizeof(envfile), "%s/env", root);
	f = fopen(envfile, "w");
	fputs("# c\n\n  A=1 2\nB\n", f);
	fclose(f);
	assert_int_equal(runopts_parse(&o, 18, argv, err, sizeof(err)), 0);
	assert_true(o.detach && o.interactive && o.tty && o.remove);
	assert_string_equal(o.name, "web.1");
	assert_int_equal(o.uid, 1000);
	assert_int_equal(o.gid, 50);
	assert_string_equal(o.argv0, "sh");
	assert_int_equal(o.log_max_size, 2 << 20);
	assert_int_equal(o.log_max_files, 5);
	assert_int_equal(o.nr_env, 2);
	assert_string_equal(o.env[0], "A=1 2");
	assert_string_equal(o.env[1], "B");
	runopts_free(&o);
}

static void expect_bad(char *opt, char *value, const char *needle)
{
	char *argv[] = { "run", opt, value, "prog", NULL };
	struct run_opts o;
	char err[256] = "";

	assert_int_equal(runopts_parse(&o, 4, argv, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_run_options_refused(void **state)
{
	(void)state;
	expect_bad("--name", "-x", "invalid --name");
	expect_bad("--name", "a/b", "invalid --name");
	expect_bad("-u", "root", "invalid --user");
	expect_bad("-u", "1:", "invalid --user");
	expect_bad("-u", "1:x", "invalid --user");
	expect_bad("--log-opt", "max-size=1", "invalid --log-opt");
	expect_bad("--log-opt", "max-file=0", "invalid --log-opt");
	expect_bad("--log-opt", "compress=true", "invalid --log-opt");
	expect_bad("--env-file", "/nonexistent/env", "cannot read --env-file");
	expect_bad("--argv0", "", "--argv0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_rotation_caps_every_file),
		cmocka_unit_test(test_log_without_rotation_keeps_everything),
		cmocka_unit_test(test_store_names_ids_and_prefixes),
		cmocka_unit_test(test_store_notices_a_dead_arrowh),
		cmocka_unit_test(test_run_options_of_managed_arrows),
		cmocka_unit_test(test_run_options_refused),
	};

	return cmocka_run_group_tests(tests, setup_root, remove_root);
}
