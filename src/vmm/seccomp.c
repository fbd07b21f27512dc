// SPDX-License-Identifier: MIT
/*
 * The jailed VMM's seccomp filters (libseccomp), see jail.h and docs/security.md.
 * Everything not listed kills the whole process (SECCOMP_RET_KILL_PROCESS).
 *
 * The VMM filter covers every thread: the I/O loop, the vCPUs (which run device
 * emulation, the 9P server included, when the guest notifies a queue) and the NIC's
 * receive thread. A thread kind that needs less stacks a narrower filter on it.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "jail.h"

static bool installed;

struct rule {
	int nr;
	const char *why; /* the comment the brief asks for, kept with the rule */
};

/* Allowed with any arguments. */
static const struct rule vmm_rules[] = {
	/* I/O: the console, logs, attach clients, stdin/stdout, the tap, the 9P server */
	{ SCMP_SYS(read), "stdin, eventfds, signalfd, timerfds, the tap" },
	{ SCMP_SYS(write), "stdout/stderr, the log, eventfds, the tap" },
	{ SCMP_SYS(readv), "the tap (vnet header + frame)" },
	{ SCMP_SYS(writev), "console output, log records, the tap" },
	{ SCMP_SYS(pread64), "9P Tread, KVM stats descriptors" },
	{ SCMP_SYS(pwrite64), "9P Twrite, snapshot memory file" },
	{ SCMP_SYS(preadv), "9P reads (glibc may use it)" },
	{ SCMP_SYS(pwritev), "9P writes (glibc may use it)" },
	{ SCMP_SYS(lseek), "9P readdir offsets" },
	{ SCMP_SYS(close), "fids, clients, timers" },
	{ SCMP_SYS(fcntl), "F_DUPFD_CLOEXEC (spare fd), F_SETFL, 9P byte-range locks" },
	{ SCMP_SYS(flock), "9P Tlock fallback" },
	{ SCMP_SYS(fsync), "9P Tfsync, snapshot files" },
	{ SCMP_SYS(fdatasync), "9P Tfsync" },
	{ SCMP_SYS(ftruncate), "snapshot memory file" },
	{ SCMP_SYS(truncate), "9P Tsetattr size (through /proc/self/fd)" },
	/* the 9P server's file system calls, all relative to descriptors it holds */
	{ SCMP_SYS(openat), "9P walk/open/create, snapshot files (relative to held fds)" },
	{ SCMP_SYS(open), "glibc's open() on some paths" },
	{ SCMP_SYS(newfstatat), "9P getattr, fstat" },
	{ SCMP_SYS(fstat), "fstat" },
	{ SCMP_SYS(statx), "glibc's stat family" },
	{ SCMP_SYS(statfs), "9P Tstatfs" },
	{ SCMP_SYS(fstatfs), "9P Tstatfs" },
	{ SCMP_SYS(getdents64), "9P Treaddir" },
	{ SCMP_SYS(readlinkat), "9P Treadlink" },
	{ SCMP_SYS(mkdirat), "9P Tmkdir" },
	{ SCMP_SYS(symlinkat), "9P Tsymlink" },
	{ SCMP_SYS(linkat), "9P Tlink" },
	{ SCMP_SYS(unlinkat), "9P Tunlinkat, snapshot temporary files" },
	{ SCMP_SYS(renameat), "9P Trenameat, snapshot files" },
	{ SCMP_SYS(renameat2), "9P Trenameat (glibc)" },
	{ SCMP_SYS(fchmod), "9P: clearing setuid/setgid" },
	{ SCMP_SYS(fchmodat), "9P Tsetattr mode" },
	{ SCMP_SYS(chmod), "9P Tsetattr mode (through /proc/self/fd)" },
	{ SCMP_SYS(fchownat), "9P Tsetattr owner (policy-checked, no capability)" },
	{ SCMP_SYS(utimensat), "9P Tsetattr times" },
	/* events and time */
	{ SCMP_SYS(epoll_wait), "the I/O loop" },
	{ SCMP_SYS(epoll_pwait), "the I/O loop (glibc)" },
	{ SCMP_SYS(epoll_ctl), "the I/O loop: clients, stdin, timers" },
	{ SCMP_SYS(epoll_create1), "the I/O loop's epoll set (made when the guest starts)" },
	{ SCMP_SYS(signalfd4), "the I/O loop's forwarded signals" },
	{ SCMP_SYS(poll), "the NIC's receive thread, back-off pauses, waiting for the rootfs sidecar" },
	{ SCMP_SYS(ppoll), "poll (glibc)" },
	{ SCMP_SYS(select), "a slow stdout reader" },
	{ SCMP_SYS(pselect6), "select (glibc)" },
	{ SCMP_SYS(timerfd_create), "accept back-off timer" },
	{ SCMP_SYS(timerfd_settime), "boot deadline, accept back-off" },
	{ SCMP_SYS(clock_gettime), "timestamps (when the vDSO is not used)" },
	{ SCMP_SYS(clock_nanosleep), "short pauses" },
	{ SCMP_SYS(nanosleep), "short pauses" },
	{ SCMP_SYS(sched_yield), "spin-wait back-off" },
	{ SCMP_SYS(getrandom), "glibc" },
	/* the control socket and attach clients */
	{ SCMP_SYS(accept4), "control socket" },
	{ SCMP_SYS(recvfrom), "control requests" },
	{ SCMP_SYS(recvmsg), "control requests with a descriptor (snapshot), the broker, the rootfs sidecar's replies (vCPU threads)" },
	{ SCMP_SYS(sendto), "replies, the broker" },
	{ SCMP_SYS(sendmsg), "stream records to attach clients, 9P requests to the rootfs sidecar" },
	{ SCMP_SYS(setsockopt), "client timeouts and buffer sizes" },
	{ SCMP_SYS(shutdown), "cutting off a slow attach client" },
	/* memory and threads */
	{ SCMP_SYS(brk), "malloc" },
	{ SCMP_SYS(munmap), "malloc, thread stacks, guest memory at exit" },
	{ SCMP_SYS(mremap), "malloc" },
	{ SCMP_SYS(madvise), "malloc_trim, thread exit" },
	{ SCMP_SYS(futex), "mutexes, joins" },
	{ SCMP_SYS(set_robust_list), "new threads" },
	{ SCMP_SYS(rseq), "new threads (glibc)" },
	{ SCMP_SYS(rt_sigprocmask), "threads start with signals blocked" },
	{ SCMP_SYS(rt_sigaction), "glibc" },
	{ SCMP_SYS(rt_sigreturn), "the vCPU kick signal handler returns" },
	{ SCMP_SYS(sigaltstack), "glibc thread set-up" },
	{ SCMP_SYS(gettid), "glibc" },
	{ SCMP_SYS(getpid), "glibc, pthread_kill" },
	{ SCMP_SYS(tgkill), "kicking a vCPU out of KVM_RUN (pthread_kill)" },
	{ SCMP_SYS(getuid), "the 9P ownership policy" },
	{ SCMP_SYS(geteuid), "the 9P ownership policy" },
	{ SCMP_SYS(getgid), "the 9P ownership policy" },
	{ SCMP_SYS(getegid), "the 9P ownership policy" },
	{ SCMP_SYS(prlimit64), "getrlimit" },
	{ SCMP_SYS(sched_getaffinity), "glibc" },
	{ SCMP_SYS(restart_syscall), "interrupted sleeps" },
	{ SCMP_SYS(exit), "thread exit" },
	{ SCMP_SYS(exit_group), "arrowh's exit" },
	{ SCMP_SYS(seccomp), "a thread kind adding its narrower filter (only ever restricts)" },
};

/* ioctl: only these requests, each a run-time need (creating VMs, vCPUs, memory slots,
 * irqfds or taps is done before the jail and is not allowed after) */
static const unsigned long vmm_ioctls[] = {
	KVM_RUN,
	KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, /* stall reports, PIO/MMIO */
	KVM_GET_LAPIC, KVM_GET_MP_STATE, KVM_GET_VCPU_EVENTS, KVM_GET_DEBUGREGS, KVM_GET_XCRS,
	KVM_GET_XSAVE, KVM_GET_FPU, KVM_GET_MSRS, KVM_GET_TSC_KHZ, KVM_GET_CPUID2, /* snapshots */
	KVM_GET_CLOCK, KVM_GET_PIT2, KVM_GET_IRQCHIP, KVM_IRQ_LINE,         /* snapshots */
	KVM_GET_XSAVE2, KVM_GET_MSR_INDEX_LIST, KVM_CHECK_EXTENSION,         /* snapshots */
	KVM_SET_SIGNAL_MASK, KVM_KVMCLOCK_CTRL,
	TUNSETOFFLOAD,                 /* the guest negotiated its NIC's offloads */
	TCGETS, TCSETS, TCSETSW, TIOCGWINSZ, /* -t: the host terminal's mode and size */
	FIONBIO,
};

static const int netrx_rules[] = {
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(poll),
	SCMP_SYS(ppoll), SCMP_SYS(futex), SCMP_SYS(madvise), SCMP_SYS(munmap), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(rt_sigprocmask), SCMP_SYS(tgkill), SCMP_SYS(getpid),
	SCMP_SYS(gettid), SCMP_SYS(clock_gettime), SCMP_SYS(restart_syscall), SCMP_SYS(brk),
	SCMP_SYS(mmap), SCMP_SYS(mremap), SCMP_SYS(rt_sigreturn), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(close),
	SCMP_SYS(sendmsg), /* transmit to a stream peer (passt), since kicks are eventfds */
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), /* the snapshot guard's SIGBUS handler (snap/guard.c) */
};

/* The vsock device thread: its epoll set, host clients' sockets, the broker, malloc. */
static const int vsock_rules[] = {
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(close), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(accept4), SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(shutdown),
	SCMP_SYS(futex), SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(mprotect), SCMP_SYS(munmap),
	SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(clock_gettime), SCMP_SYS(restart_syscall),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(tgkill), SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(sched_yield),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), /* the snapshot guard's SIGBUS handler (snap/guard.c) */
};

static bool trap_mode(void)
{
	const char *e = getenv("ARROWH_SECCOMP_TRAP");

	return e && *e == '1';
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[96];
	int n;

	(void)sig;
	(void)uc;
	n = snprintf(msg, sizeof(msg), "arrowh: seccomp (trap mode): system call %d refused\n",
		     si->si_syscall);
	if (write(STDERR_FILENO, msg, (size_t)n) < 0) {
		/* nothing to do */
	}
}

static int load(scmp_filter_ctx ctx)
{
	int ret = seccomp_load(ctx);

	seccomp_release(ctx);
	return ret;
}

int seccomp_install_vmm(const struct arrowh_config *cfg)
{
	uint32_t dflt = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	int ret = 0;

	(void)cfg;
	if (trap_mode()) {
		/* development only: report refused calls (they fail with ENOSYS) */
		struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

		sigaction(SIGSYS, &sa, NULL);
		dflt = SCMP_ACT_TRAP;
		fprintf(stderr, "arrowh: warning: seccomp in trap mode (ARROWH_SECCOMP_TRAP=1)\n");
	}
	ctx = seccomp_init(dflt);
	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; !ret && i < sizeof(vmm_rules) / sizeof(vmm_rules[0]); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, vmm_rules[i].nr, 0);
	for (size_t i = 0; !ret && i < sizeof(vmm_ioctls) / sizeof(vmm_ioctls[0]); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, vmm_ioctls[i] & 0xffffffffu));
	/* new threads only (no new processes); clone3 hides its flags from the filter, so it
	 * says ENOSYS and glibc falls back to clone */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* memory: never executable (no JIT here); thread stacks and malloc arenas only */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* prctl: only what libseccomp asks when a thread adds its filter */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				       SCMP_A0(SCMP_CMP_EQ, PR_GET_NO_NEW_PRIVS));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				       SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS));
	if (ret) {
		seccomp_release(ctx);
		fprintf(stderr, "arrowh: sandbox: building the seccomp filter: %s\n", strerror(-ret));
		return ret;
	}
	ret = load(ctx);
	if (ret) {
		fprintf(stderr, "arrowh: sandbox: loading the seccomp filter: %s\n", strerror(-ret));
		return ret;
	}
	installed = true;
	return 0;
}

/*
 * What only the I/O loop does (accepting and reading control requests, its epoll set,
 * signalfd and timers, the host terminal's mode): a vCPU thread, which runs device
 * emulation for the guest, loses these on top of the VMM filter.
 */
static const int io_only[] = {
	SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(setsockopt), SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(signalfd4),
	SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime),
};

static void install_vcpu(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int ret = 0;

	if (!ctx)
		return;
	for (size_t i = 0; !ret && i < sizeof(io_only) / sizeof(io_only[0]); i++)
		ret = seccomp_rule_add(ctx, trap_mode() ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS,
				       io_only[i], 0);
	if (ret) {
		seccomp_release(ctx);
		return;
	}
	if (load(ctx))
		fprintf(stderr, "arrowh: sandbox: a vCPU thread's filter did not load\n");
}

void seccomp_install_thread(enum jail_thread kind)
{
	const int *rules = kind == JAIL_THREAD_VSOCK ? vsock_rules : netrx_rules;
	size_t n = kind == JAIL_THREAD_VSOCK ? sizeof(vsock_rules) / sizeof(vsock_rules[0])
					     : sizeof(netrx_rules) / sizeof(netrx_rules[0]);
	scmp_filter_ctx ctx;
	int ret = 0;

	if (!installed)
		return;
	if (kind == JAIL_THREAD_VCPU) {
		install_vcpu();
		return;
	}
	ctx = seccomp_init(trap_mode() ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return;
	for (size_t i = 0; !ret && i < n; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rules[i], 0);
	if (!ret && kind == JAIL_THREAD_NET_RX)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, (unsigned long)TUNSETOFFLOAD));
	if (ret) {
		seccomp_release(ctx);
		return;
	}
	if (load(ctx))
		fprintf(stderr, "arrowh: sandbox: a device thread's filter did not load\n");
}

void seccomp_selftest(void)
{
	/* a raw socket: nothing arrowh ever needs after set-up */
	syscall(SYS_socket, 2 /* AF_INET */, 3 /* SOCK_RAW */, 0);
}
