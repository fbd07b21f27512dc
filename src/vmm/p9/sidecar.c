// SPDX-License-Identifier: MIT
/* The rootfs sidecar: a jailed process of its own serving one 9P tree; see sidecar.h. */
#include "sidecar.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "../jail.h"
#include "remote.h"
#include "server.h"

#define SOCK_BUF (2 * (P9_REMOTE_HDR + P9_MSIZE_MAX)) /* one whole message each way */

/* an AddressSanitizer build (gcc says so with a macro, clang with __has_feature) */
#if defined(__SANITIZE_ADDRESS__)
#define SIDECAR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIDECAR_ASAN 1
#endif
#endif

struct rule {
	int nr;
	const char *why;
};

/* Allowed with any arguments: the 9P server's calls (server.c, change.c) and its socket. */
static const struct rule sidecar_rules[] = {
	{ SCMP_SYS(recvmsg), "the next request from arrowh" },
	{ SCMP_SYS(sendmsg), "the reply to arrowh" },
	{ SCMP_SYS(openat), "walk, open, create: relative to held descriptors or /proc/self/fd" },
	{ SCMP_SYS(close), "clunk, failed opens" },
	{ SCMP_SYS(newfstatat), "getattr, qids (fstatat with AT_EMPTY_PATH)" },
	{ SCMP_SYS(fstat), "lcreate's qid (glibc's fstat)" },
	{ SCMP_SYS(statx), "glibc's stat family on some versions" },
	{ SCMP_SYS(fstatfs), "Tstatfs" },
	{ SCMP_SYS(pread64), "Tread" },
	{ SCMP_SYS(pwrite64), "Twrite" },
	{ SCMP_SYS(lseek), "Treaddir offsets" },
	{ SCMP_SYS(getdents64), "Treaddir" },
	{ SCMP_SYS(readlinkat), "Treadlink" },
	{ SCMP_SYS(mkdirat), "Tmkdir" },
	{ SCMP_SYS(symlinkat), "Tsymlink" },
	{ SCMP_SYS(linkat), "Tlink" },
	{ SCMP_SYS(unlinkat), "Tunlinkat" },
	{ SCMP_SYS(renameat), "Trenameat" },
	{ SCMP_SYS(renameat2), "Trenameat (glibc)" },
	{ SCMP_SYS(fchmod), "clearing setuid/setgid of a file opened for writing" },
	{ SCMP_SYS(chmod), "Tsetattr mode (through /proc/self/fd)" },
	{ SCMP_SYS(fchmodat), "Tsetattr mode (glibc's chmod)" },
	{ SCMP_SYS(fchownat), "the guest's owner for what it creates, Tsetattr owner" },
	{ SCMP_SYS(truncate), "Tsetattr size (through /proc/self/fd)" },
	{ SCMP_SYS(utimensat), "Tsetattr times" },
	{ SCMP_SYS(fsync), "Tfsync" },
	{ SCMP_SYS(fdatasync), "Tfsync with datasync" },
	{ SCMP_SYS(geteuid), "whether created files can be given to the guest" },
	{ SCMP_SYS(getegid), "the volume ownership policy (shared code)" },
	{ SCMP_SYS(brk), "malloc (fids)" },
	{ SCMP_SYS(munmap), "free" },
	{ SCMP_SYS(mremap), "realloc" },
	{ SCMP_SYS(madvise), "free (glibc trims)" },
	{ SCMP_SYS(rt_sigreturn), "no handler is installed; kept for the kernel's restarts" },
	{ SCMP_SYS(restart_syscall), "an interrupted call restarted" },
	{ SCMP_SYS(exit_group), "the end: arrowh closed the socket" },
	{ SCMP_SYS(exit), "the end" },
#ifdef SIDECAR_ASAN
	{ SCMP_SYS(sigaltstack), "ASan builds only: the sanitizer runtime's _exit" },
#endif
};

int p9_sidecar_seccomp(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int ret = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; !ret && i < sizeof(sidecar_rules) / sizeof(sidecar_rules[0]); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sidecar_rules[i].nr, 0);
	/* F_DUPFD_CLOEXEC of fids, nothing else: F_SETOWN/F_SETSIG would let it signal others */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				       SCMP_A1(SCMP_CMP_EQ, F_DUPFD_CLOEXEC));
	/* malloc's arenas: memory never executable */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

static int fail(const char *what)
{
	int ret = errno ? -errno : -EPERM;

	fprintf(stderr, "arrowh: rootfs sidecar: %s: %s\n", what, strerror(-ret));
	return ret;
}

/* In the sidecar's namespace: the tmpfs root, the rootfs (dfd) and /proc, then pivot_root. */
static int sidecar_mounts(int dfd, bool read_only, bool rootless)
{
	char src[64];

	if (mount("arrowroot", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=16k,nr_inodes=8,mode=0755") < 0)
		return fail("mounting the sidecar's root");
	if (chdir("/tmp") < 0 || mkdir("rootfs", 0755) < 0 || mkdir("proc", 0555) < 0 ||
	    mkdir("old", 0700) < 0)
		return fail("preparing the sidecar's root");
	snprintf(src, sizeof(src), "/proc/self/fd/%d", dfd);
	if (mount(src, "rootfs", NULL, MS_BIND, NULL) < 0)
		return fail("bind-mounting the rootfs");
	/* the server refuses every change of a read-only root; the mount is a second wall
	 * (rootless, the mount's locked flags may forbid the remount: the server's wall stays) */
	if (read_only && mount(NULL, "rootfs", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID |
				      MS_NODEV, NULL) < 0 && !rootless)
		return fail("making the rootfs read-only");
	/*
	 * /proc is there for /proc/self/fd (reopening a fid's O_PATH descriptor): read-only,
	 * processes only (no /proc/sys, whose files a root sidecar could write: core_pattern),
	 * and only its own PID namespace's processes visible.
	 */
	if (mount("proc", "proc", "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "subset=pid,hidepid=invisible") < 0)
		return fail("mounting /proc");
	{
		const char *step;
		int ret = jail_pivot_here(&step);

		if (ret)
			errno = -ret;
		return ret ? fail(step) : 0;
	}
}

/*
 * The sidecar's root: a read-only tmpfs with the rootfs (dir) at /rootfs and a private
 * /proc, nothing else; the host's root is detached.
 */
static int sidecar_root(const char *dir, bool read_only, bool rootless)
{
	int dfd, ret;

	if (unshare(CLONE_NEWNS) < 0)
		return fail("a mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail("making mounts private");
	/* opened in the new namespace (a bind's source must be one of its mounts) and before
	 * the tmpfs, which may hide the rootfs's path but never the descriptor */
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(dir);
	ret = sidecar_mounts(dfd, read_only, rootless);
	close(dfd);
	return ret;
}

/* Root: only the file server's capabilities; rootless: none. Bounding set included. */
static int keep_file_caps(bool rootless)
{
	const unsigned int keep[] = { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER };
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uint32_t mask = 0;

	if (!rootless)
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			mask |= 1u << keep[i];
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap) >= 0; cap++)
		if ((cap >= 32 || !(mask & (1u << cap))) && prctl(PR_CAPBSET_DROP, cap) < 0)
			return fail("dropping the capability bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return fail("clearing ambient capabilities");
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = mask;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return fail("capset");
	return 0;
}

/* Close every descriptor but the n in keep (ascending). */
static void close_others(const int *keep, int n)
{
	int from = 0;

	for (int i = 0; i < n; from = keep[i++] + 1)
		if (keep[i] > from && keep[i] >= 0)
			syscall(SYS_close_range, from, keep[i] - 1, 0);
	syscall(SYS_close_range, from, ~0u, 0);
}

static void __attribute__((noreturn)) sidecar_main(int sock, pid_t parent, const char *dir,
						   bool read_only, bool jail)
{
	static struct p9_server s;
	bool rootless = geteuid() != 0;
	uint8_t *buf, *out;
	struct rlimit rl;
	int ret;

	/* arrowh gone (even before this was armed): gone too */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(125);
	/* a session of its own: a terminal's ^C or ^Z for arrowh's group is not for it */
	setsid();
	umask(0); /* the guest applied its umask to the modes it sends */
	if (jail && sidecar_root(dir, read_only, rootless))
		_exit(125);
	ret = p9_server_init(&s, jail ? "/rootfs" : dir, read_only);
	if (ret) {
		fprintf(stderr, "arrowh: rootfs sidecar: serving %s: %s\n", dir, strerror(-ret));
		_exit(125);
	}
	s.guest_owns = true;
	/* each fid holds up to two descriptors; a few are the sidecar's own */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rl.rlim_cur - 16) / 2 < s.max_fids)
		s.max_fids = rl.rlim_cur > 32 ? (unsigned int)(rl.rlim_cur - 16) / 2 : 8;
	buf = malloc(P9_REMOTE_HDR + P9_MSIZE_MAX);
	out = malloc(P9_REMOTE_HDR + P9_MSIZE_MAX);
	if (!buf || !out)
		_exit(125);
	if (jail && keep_file_caps(rootless))
		_exit(125);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fail("no_new_privs");
		_exit(125);
	}
	/* root: no core dump (a SECCOMP_RET_KILL_PROCESS dumps core through core_pattern) and
	 * no ptrace or /proc access by same-uid processes. Rootless it stays dumpable, or its
	 * own /proc/self/fd would belong to the namespace's owner and be closed to it. */
	if (jail && !rootless && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		fail("not dumpable");
		_exit(125);
	}
	{
		int keep[3] = { STDERR_FILENO, sock, s.root_fd };

		for (int i = 1; i < 3; i++) /* ascending */
			for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
				int t = keep[j];

				keep[j] = keep[j - 1];
				keep[j - 1] = t;
			}
		close_others(keep, 3);
	}
	if (jail && (ret = p9_sidecar_seccomp())) {
		fprintf(stderr, "arrowh: rootfs sidecar: seccomp: %s\n", strerror(-ret));
		_exit(125);
	}
	close(STDERR_FILENO); /* nothing is said from here on */
	_exit(p9_remote_serve(&s, sock, buf, out) ? 1 : 0);
}

int p9_sidecar_spawn(const char *dir, bool read_only, bool jail, pid_t *pid)
{
	int sv[2], size = SOCK_BUF;
	pid_t parent = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	for (int i = 0; i < 2; i++)
		if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0 ||
		    setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0) {
			int ret = -errno;

			close(sv[0]);
			close(sv[1]);
			return ret;
		}
	fflush(NULL);
	*pid = fork();
	if (*pid < 0) {
		int ret = -errno;

		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	if (*pid == 0) {
		close(sv[0]);
		sidecar_main(sv[1], parent, dir, read_only, jail);
	}
	close(sv[1]);
	return sv[0];
}
