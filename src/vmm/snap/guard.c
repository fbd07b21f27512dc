// SPDX-License-Identifier: MIT
#include "guard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Everything the SIGBUS handler reads is prepared when the guard is armed; the handler
 * itself only calls fstat, write and _exit (async-signal-safe, and in the VMM's seccomp
 * allowlist). It never returns into the code that faulted: after a guest-memory fault
 * there is no sound way back into a device model half-way through an access.
 */
static struct {
	int fd; /* -1: not armed */
	uint64_t size;
	struct timespec mtime;
	char path[4096];
	int reported; /* the message was written */
} guard = { .fd = -1 };

static bool differs(const struct stat *st)
{
	return (uint64_t)st->st_size != guard.size || st->st_mtim.tv_sec != guard.mtime.tv_sec ||
	       st->st_mtim.tv_nsec != guard.mtime.tv_nsec;
}

bool snap_guard_changed(void)
{
	struct stat st;

	if (guard.fd < 0)
		return false;
	return fstat(guard.fd, &st) < 0 || differs(&st);
}

/* Decimal or hex without stdio (signal handler). */
static size_t fmt_u64(char *out, uint64_t v, unsigned int base)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	size_t len = strlen(s);

	if (len > cap - at)
		len = cap - at;
	memcpy(buf + at, s, len);
	return at + len;
}

/* The one line, built from async-signal-safe pieces. fault: the address, or 0. */
static void report(const struct stat *st, bool have_st, uintptr_t fault)
{
	char buf[4400], num[24];
	size_t n = 0;

	if (__atomic_exchange_n(&guard.reported, 1, __ATOMIC_SEQ_CST))
		return;
	n = put(buf, n, sizeof(buf), "arrowh: snapshot memory file ");
	n = put(buf, n, sizeof(buf), guard.path);
	n = put(buf, n, sizeof(buf), " changed under this clone (");
	if (have_st) {
		num[fmt_u64(num, (uint64_t)st->st_size, 10)] = '\0';
		n = put(buf, n, sizeof(buf), num);
		n = put(buf, n, sizeof(buf), " bytes now, ");
	}
	num[fmt_u64(num, guard.size, 10)] = '\0';
	n = put(buf, n, sizeof(buf), num);
	n = put(buf, n, sizeof(buf), " mapped); guest memory that was there is gone");
	if (fault) {
		n = put(buf, n, sizeof(buf), " (fault at 0x");
		num[fmt_u64(num, fault, 16)] = '\0';
		n = put(buf, n, sizeof(buf), num);
		n = put(buf, n, sizeof(buf), ")");
	}
	n = put(buf, n, sizeof(buf), ": stopping it. Snapshot memory files must not change while "
				     "clones run (docs/snapshots.md)\n");
	while (n) {
		ssize_t w = write(STDERR_FILENO, buf, n);

		if (w <= 0)
			break;
		memmove(buf, buf + w, n - (size_t)w);
		n -= (size_t)w;
	}
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct stat st = { 0 };
	bool have = guard.fd >= 0 && fstat(guard.fd, &st) == 0;

	(void)uc;
	if (guard.fd >= 0 && (!have || differs(&st))) {
		report(&st, have, (uintptr_t)si->si_addr);
		_exit(SNAP_GUARD_STATUS);
	}
	/*
	 * Not the memory file's doing: SA_RESETHAND has restored the default action, so a fault
	 * repeats when this returns and kills as it always did (a core dump to look at). A
	 * SIGBUS somebody sent is raised again.
	 */
	if (si->si_code <= 0)
		raise(sig);
	errno = saved;
}

int snap_guard_arm(const char *path, int fd, uint64_t size)
{
	struct sigaction sa;
	struct stat st;
	int copy;

	if (fstat(fd, &st) < 0)
		return -errno;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0) {
		int ret = -errno;

		close(copy);
		return ret;
	}
	snprintf(guard.path, sizeof(guard.path), "%s", path);
	guard.size = size;
	guard.mtime = st.st_mtim;
	guard.reported = 0;
	__atomic_store_n(&guard.fd, copy, __ATOMIC_SEQ_CST);
	return 0;
}

bool snap_guard_kvm_failed(int err)
{
	int saved = errno;
	struct stat st = { 0 };
	bool have, changed;

	if (err != EFAULT || guard.fd < 0)
		return false;
	have = fstat(guard.fd, &st) == 0;
	changed = !have || differs(&st);
	if (changed)
		report(&st, have, 0);
	errno = saved;
	return changed;
}

void snap_guard_disarm(void)
{
	int fd = __atomic_exchange_n(&guard.fd, -1, __ATOMIC_SEQ_CST);

	if (fd >= 0)
		close(fd);
	signal(SIGBUS, SIG_DFL);
}
