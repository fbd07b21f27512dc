/* SPDX-License-Identifier: MIT */
/*
 * arrowh's sandbox (docs/security.md). With it, one arrowh is two processes:
 *
 *  - the supervisor, the process the caller started: it stays outside, as the caller's
 *    user, and only waits. It forwards signals sent to it, writes the Arrow's state file,
 *    rotates the log on request, and does what needs the host's file system once the VMM
 *    is gone (the state record, the control socket, --rm, the exit hook).
 *  - the VMM, its child: PID 1 of a new PID namespace. It opens everything it needs
 *    (/dev/kvm, the tap, volumes, kernel, snapshot files) as the caller, then jails
 *    itself before the guest runs a single instruction: new mount, network, IPC and UTS
 *    namespaces, an empty read-only root with only a private /proc, an unprivileged
 *    uid/gid, no capabilities (bounding set included), no new privileges, no core dumps,
 *    and a seccomp allowlist (seccomp.c) whose default is to kill the process.
 *
 * The two talk over a SOCK_SEQPACKET pair ("the broker"): fixed-size requests from the
 * VMM, a reply (and for a log rotation, the new log's descriptor) from the supervisor.
 * The supervisor trusts nothing the VMM sends: a request names no path, only an action
 * the supervisor already knows how to do for this one Arrow.
 */
#ifndef ARROW_VMM_JAIL_H
#define ARROW_VMM_JAIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct session;
struct arrowh_config;

enum jail_req_type {
	JAIL_REQ_RUNNING = 1, /* the guest runs: write the state file (no reply) */
	JAIL_REQ_ROTATE_LOG,  /* the log is full: rotate it, reply with the new log's fd */
	JAIL_REQ_VSOCK_CONNECT, /* arg: a port P; reply with a socket connected to
				   "<--vsock-uds>_P" (docs/vsock.md) */
};

struct jail_req {
	uint32_t type;
	uint32_t seq; /* echoed in the reply */
	uint64_t arg;
};

struct jail_reply {
	int32_t status; /* 0 or -errno */
	uint32_t seq;   /* the request's: a reply that came too late is told apart */
};

/* How long the VMM waits for the supervisor to take a request and to answer it. */
#define JAIL_BROKER_TIMEOUT_MS 5000

/* Whether this arrowh jails its VMM: always but with --no-sandbox (rootless too: jail.c). */
bool jail_wanted(const struct arrowh_config *cfg);
/* The VMM's end of the broker (-1 when not jailed): logfile and loop use it. */
extern int jail_broker_fd;

/*
 * Fork the VMM into a new PID namespace. Returns 0 in the VMM, the VMM's pid in the
 * supervisor, -errno if it could not.
 */
pid_t jail_spawn(void);
/*
 * The supervisor's life: serve the broker and forward signals until the VMM is gone.
 * Returns arrowh's exit status (the VMM's, or 128 + signal with a message).
 */
int jail_supervise(struct session *s, pid_t vmm);
/* In the VMM, after session_setup and before any thread starts: lock it in. 0 or -errno. */
int jail_enter(struct session *s);
/*
 * In a new mount namespace whose cwd is the jail's new root (holding an empty "old"):
 * pivot_root there, detach and remove the old root, remount the new one read-only (also
 * nosuid, nodev, noexec). 0, or -errno with *step naming what failed.
 */
int jail_pivot_here(const char **step);
/*
 * The VMM's end of the broker is fd: a request neither sent nor answered within
 * timeout_ms fails (-ETIMEDOUT) instead of blocking the thread that asked (the vsock
 * thread holds its device's lock meanwhile). 0 or -errno.
 */
int jail_broker_attach(int fd, unsigned int timeout_ms);
/*
 * Ask the supervisor (from the VMM). The reply's status, -ETIMEDOUT if none came in time;
 * *fd gets a passed descriptor.
 */
int jail_request(uint32_t type, uint64_t arg, int *fd);

/* seccomp.c: the filters. Whole process (before threads start), then per thread kind. */
enum jail_thread { JAIL_THREAD_NET_RX, JAIL_THREAD_VCPU, JAIL_THREAD_VSOCK };
int seccomp_install_vmm(const struct arrowh_config *cfg);
/* A thread kind's narrower filter, stacked on the VMM's. No-op when not jailed. */
void seccomp_install_thread(enum jail_thread kind);
/* tests: the call a HOSTCTL_SELFTEST request makes; never allowed by the filter */
void seccomp_selftest(void);

#endif
