// SPDX-License-Identifier: MIT
/*
 * Snapshot memory files under running clones (docs/snapshots.md): sealed when a snapshot is
 * committed (0400, immutable where allowed), unsealed by removal; and arrowh's guard, which
 * turns a file that changed under a clone into status 125 and a message, never a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/state/snapstore.h"
#include "unit.h"
#include "vmm/snap/guard.h"

static char dir[] = "/tmp/arrow-guard-XXXXXX";

static void make_file(const char *path, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char page[4096];

	assert_true(fd >= 0);
	memset(page, 0x5a, sizeof(page));
	for (size_t off = 0; off < size; off += sizeof(page))
		assert_int_equal(write(fd, page, sizeof(page)), (ssize_t)sizeof(page));
	close(fd);
}

static void test_seal_on_commit_and_removal(void **state)
{
	char store[128], tmp[256], mem[300], final[300];
	struct stat st;
	int sealed;

	(void)state;
	snprintf(store, sizeof(store), "%s/snapshots", dir);
	setenv("ARROW_SNAPSHOTS", store, 1);
	assert_int_equal(mkdir(store, 0700), 0);
	snprintf(tmp, sizeof(tmp), "%s/.t.tmp-1", store);
	assert_int_equal(mkdir(tmp, 0700), 0);
	snprintf(mem, sizeof(mem), "%s/memory", tmp);
	make_file(mem, 8192);
	assert_int_equal(snapstore_commit(tmp, "t"), 0);
	snprintf(final, sizeof(final), "%s/t/memory", store);
	assert_int_equal(stat(final, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	/* sealing again says whether the flag could be set: 0 immutable, 1 read-only only */
	sealed = snapstore_seal(final);
	assert_true(sealed == 0 || sealed == 1);
	if (sealed == 0) {
		/* not even root may write, truncate, rename or remove it */
		assert_int_equal(open(final, O_WRONLY), -1);
		assert_int_equal(errno, EPERM);
		assert_int_equal(truncate(final, 0), -1);
		assert_int_equal(errno, EPERM);
		assert_int_equal(unlink(final), -1);
		assert_int_equal(errno, EPERM);
	} else {
		fprintf(stderr, "(no immutable flag here: uid %d, or the file system has none)\n",
			(int)getuid());
	}
	/* removal clears the flag first */
	snprintf(final, sizeof(final), "%s/t", store);
	assert_int_equal(snapstore_remove_dir(final), 0);
	assert_int_equal(access(final, F_OK), -1);
	/* unsealing a file that is not there, or not sealed, is fine */
	assert_int_equal(snapstore_unseal(mem), 0);
}

/*
 * In a child: map a file as a clone maps its memory, arm the guard, truncate the file under
 * the mapping and touch a page never touched before. Returns the wait status; the child's
 * stderr goes to err.
 */
static int clone_child(const char *file, bool truncate_it, bool touch, char *err, size_t errlen)
{
	int pipefd[2], status;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		int fd = open(file, O_RDONLY);
		volatile uint8_t *p;

		setrlimit(RLIMIT_CORE, &no_core);
		dup2(pipefd[1], STDERR_FILENO);
		if (fd < 0 || snap_guard_arm(file, fd, 1 << 20))
			_exit(2);
		p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			_exit(3);
		p[0] = 1; /* a page of its own (copy-on-write): survives the truncation */
		if (truncate_it && truncate(file, 4096) < 0)
			_exit(4);
		if (p[0] != 1)
			_exit(5);
		if (touch)
			(void)p[512 * 1024]; /* a page of the file that is gone: SIGBUS */
		else
			raise(SIGBUS); /* a SIGBUS that is not the file's doing */
		_exit(0);
	}
	close(pipefd[1]);
	n = read(pipefd[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_guard_sigbus(void **state)
{
	char file[128], err[4096], want[256];
	int status;

	(void)state;
	snprintf(file, sizeof(file), "%s/memory", dir);
	make_file(file, 1 << 20);
	status = clone_child(file, true, true, err, sizeof(err));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 125);
	snprintf(want, sizeof(want), "arrowh: snapshot memory file %s changed under this clone "
		 "(4096 bytes now, 1048576 mapped)", file);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "fault at 0x"));
	assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err)); /* one line */

	/* an unchanged file: a SIGBUS is what it always was */
	make_file(file, 1 << 20);
	status = clone_child(file, false, false, err, sizeof(err));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
	assert_string_equal(err, "");
}

static void test_guard_kvm_efault(void **state)
{
	char file[128];
	int fd;

	(void)state;
	snprintf(file, sizeof(file), "%s/memory2", dir);
	make_file(file, 1 << 20);
	fd = open(file, O_RDONLY);
	assert_int_equal(snap_guard_arm(file, fd, 1 << 20), 0);
	close(fd);
	assert_false(snap_guard_changed());
	assert_false(snap_guard_kvm_failed(EFAULT)); /* another cause: the usual message only */
	assert_int_equal(truncate(file, 0), 0);
	assert_true(snap_guard_changed());
	assert_false(snap_guard_kvm_failed(EINVAL));
	errno = 1234;
	assert_true(snap_guard_kvm_failed(EFAULT));
	assert_int_equal(errno, 1234); /* the caller prints strerror(errno) next */
	snap_guard_disarm();
	assert_false(snap_guard_changed());
	assert_false(snap_guard_kvm_failed(EFAULT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_on_commit_and_removal),
		cmocka_unit_test(test_guard_sigbus),
		cmocka_unit_test(test_guard_kvm_efault),
	};
	char cmd[128];
	int failed;

	if (!mkdtemp(dir))
		return 1;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "chattr -R -i %s 2>/dev/null; rm -rf %s", dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return failed;
}
