// SPDX-License-Identifier: MIT
/* arrowh's sandbox: the supervisor, the broker and the VMM's jail; see jail.h. */
#include "jail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "common/statedir.h"
#include "session.h"

int jail_broker_fd = -1;
static pthread_mutex_t broker_lock = PTHREAD_MUTEX_INITIALIZER;

bool jail_wanted(const struct arrowh_config *cfg)
{
	return !cfg->no_sandbox;
}

static int write_proc_self(const char *file, const char *text)
{
	char path[64];
	int fd, ret = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/%s", file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	if (n != (ssize_t)strlen(text))
		ret = n < 0 ? -errno : -EIO;
	close(fd);
	return ret;
}

/*
 * Rootless (docs/rootless.md): a user namespace in which the caller's uid and gid map to
 * themselves, nothing else mapped. Its capabilities (all, in that namespace only) let the
 * VMM make its PID, mount, network, IPC and UTS namespaces and its empty root; the VMM
 * drops them all before the guest runs, the supervisor right after the fork.
 */
static int enter_user_namespace(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int ret;

	if (unshare(CLONE_NEWUSER) < 0) {
		ret = -errno;
		fprintf(stderr, "arrowh: sandbox: cannot create a user namespace (%s): a rootless "
				"Arrow's VMM is jailed in one; check the sysctls "
				"kernel.unprivileged_userns_clone and user.max_user_namespaces, or run "
				"with --no-sandbox (unjailed)\n", strerror(-ret));
		return ret;
	}
	ret = write_proc_self("setgroups", "deny");
	if (ret && ret != -ENOENT)
		return ret;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	ret = write_proc_self("uid_map", map);
	if (ret)
		return ret;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return write_proc_self("gid_map", map);
}

static int clear_capabilities(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

pid_t jail_spawn(void)
{
	bool rootless = geteuid() != 0;
	int sv[2], own_ns, ret;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* the VMM is PID 1 of a namespace of its own; the supervisor's later children (the
	 * exit hook) go back into ours, since the VMM's namespace dies with it */
	own_ns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (own_ns >= 0 && rootless && enter_user_namespace() < 0) {
		ret = -EPERM;
		goto fail;
	}
	if (own_ns < 0 || unshare(CLONE_NEWPID) < 0) {
		ret = -errno;
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		setns(own_ns, CLONE_NEWPID);
		goto fail;
	}
	if (pid == 0) {
		char c;

		/* the supervisor gone (kill -9 of arrowh): the VMM goes too */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(own_ns);
		close(sv[0]);
		if (jail_broker_attach(sv[1], JAIL_BROKER_TIMEOUT_MS) < 0)
			_exit(125);
		/* it may have died before PDEATHSIG was armed: then its end is closed */
		if (recv(jail_broker_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			_exit(125);
		return 0;
	}
	/*
	 * Rootless, the supervisor cannot go back (that needs CAP_SYS_ADMIN over the host's
	 * namespace): it forks nothing more (a rootless Arrow has no exit hook) and keeps none
	 * of its user namespace's capabilities.
	 */
	if (rootless) {
		if (clear_capabilities() < 0)
			perror("arrowh: dropping the supervisor's capabilities");
	} else if (setns(own_ns, CLONE_NEWPID) < 0) {
		perror("arrowh: back to our PID namespace");
	}
	close(own_ns);
	close(sv[1]);
	jail_broker_fd = sv[0];
	return pid;
fail:
	if (own_ns >= 0)
		close(own_ns);
	close(sv[0]);
	close(sv[1]);
	return ret;
}

/* ---- the broker ---- */

/*
 * Never blocks: a VMM that reads no replies fills its socket's buffer, and a supervisor
 * stuck in sendmsg() would forward no signal and reap nothing. A legitimate VMM has at most
 * one reply outstanding (jail_request waits for it), so EAGAIN means a misbehaving one.
 */
static int send_reply(int sock, uint32_t seq, int status, int fd)
{
	struct jail_reply r = { .status = status, .seq = seq };
	struct iovec v = { &r, sizeof(r) };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

int jail_broker_attach(int fd, unsigned int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	jail_broker_fd = fd;
	return 0;
}

/* The passed descriptor of a reply: into *fd if wanted and free, else closed. */
static void take_fds(struct msghdr *m, int *fd)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int got;

			memcpy(&got, CMSG_DATA(c), sizeof(got));
			if (fd && *fd < 0)
				*fd = got;
			else
				close(got);
		}
}

int jail_request(uint32_t type, uint64_t arg, int *fd)
{
	static uint32_t next_seq;
	struct jail_req q = { .type = type, .arg = arg };
	struct jail_reply r;
	struct iovec v = { &r, sizeof(r) };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t n;
	int ret;

	if (fd)
		*fd = -1;
	if (jail_broker_fd < 0)
		return -ENOTCONN;
	pthread_mutex_lock(&broker_lock);
	q.seq = ++next_seq;
	/* SO_SNDTIMEO: a supervisor that stopped reading fails the send in time (EAGAIN) */
	do
		n = send(jail_broker_fd, &q, sizeof(q), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(q)) {
		ret = n < 0 && errno != EAGAIN ? -errno : -ETIMEDOUT;
		goto out;
	}
	if (type == JAIL_REQ_RUNNING) {
		ret = 0; /* no reply */
		goto out;
	}
	/* SO_RCVTIMEO: a supervisor that does not answer fails it in time (EAGAIN); a reply
	 * to an earlier request that timed out is dropped, descriptor and all */
	for (;;) {
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		do
			n = recvmsg(jail_broker_fd, &m, MSG_CMSG_CLOEXEC);
		while (n < 0 && errno == EINTR);
		if (n != sizeof(r)) {
			ret = n < 0 && errno != EAGAIN ? -errno : n < 0 ? -ETIMEDOUT : -EPROTO;
			if (n > 0)
				take_fds(&m, NULL);
			goto out;
		}
		if (r.seq == q.seq)
			break;
		take_fds(&m, NULL);
	}
	ret = r.status;
	take_fds(&m, fd);
out:
	pthread_mutex_unlock(&broker_lock);
	return ret;
}

/*
 * One request from the VMM; false once it closed its end, sent what is not a request, or
 * does not take its replies: the supervisor then stops serving it (its later requests
 * time out in the VMM) and goes on forwarding signals and waiting for it.
 */
static bool serve_broker(struct session *s, int sock, pid_t vmm)
{
	struct jail_req q;
	ssize_t n = recv(sock, &q, sizeof(q), MSG_DONTWAIT);
	int fd, ret = 0;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n != sizeof(q))
		return false; /* closed, or not ours: stop listening, keep waiting for the VMM */
	switch (q.type) {
	case JAIL_REQ_RUNNING:
		if (s->cfg->state_dir && !s->sf.started_ns) {
			int ret = statefile_running(&s->sf, (int)vmm);

			if (ret)
				fprintf(stderr, "arrowh: cannot write the state of %s: %s\n",
					s->cfg->state_dir, strerror(-ret));
		}
		break;
	case JAIL_REQ_ROTATE_LOG:
		if (!s->cfg->state_dir) {
			ret = send_reply(sock, q.seq, -EINVAL, -1);
			break;
		}
		{
			char path[4200];

			snprintf(path, sizeof(path), "%s/%s", s->cfg->state_dir, STATE_LOG_FILE);
			fd = logfile_rotate_path(path, s->cfg->log_max_files);
			ret = send_reply(sock, q.seq, fd < 0 ? fd : 0, fd);
			if (fd >= 0)
				close(fd);
		}
		break;
	case JAIL_REQ_VSOCK_CONNECT:
		/* a path of the supervisor's making: only a port comes from the VMM */
		fd = s->cfg->vsock_uds && q.arg <= UINT32_MAX
			     ? vsock_connect_path(s->cfg->vsock_uds, (uint32_t)q.arg)
			     : -EINVAL;
		ret = send_reply(sock, q.seq, fd < 0 ? fd : 0, fd);
		if (fd >= 0)
			close(fd);
		break;
	default:
		ret = send_reply(sock, q.seq, -EINVAL, -1);
		break;
	}
	if (ret) {
		fprintf(stderr, "arrowh: the VMM takes no replies from its supervisor (%s): its "
				"requests are no longer served\n", strerror(-ret));
		return false;
	}
	return true;
}

static const char *signal_name(int sig)
{
	return sig == SIGSYS ? "SIGSYS" : sig == SIGKILL ? "SIGKILL" : sig == SIGSEGV ? "SIGSEGV"
	       : sig == SIGABRT ? "SIGABRT" : sig == SIGBUS ? "SIGBUS" : "a signal";
}

int jail_supervise(struct session *s, pid_t vmm)
{
	sigset_t set;
	int sig_fd, status = 125;
	bool broker_open = true;

	/* what the VMM forwards to the app, plus SIGCHLD: all read through one signalfd */
	sigemptyset(&set);
	for (int sig = 1; sig < SIGRTMIN; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS &&
		    sig != SIGILL && sig != SIGFPE && sig != SIGTRAP && sig != SIGSYS && sig != SIGTSTP &&
		    sig != SIGTTIN && sig != SIGTTOU && sig != SIGCONT && sig != SIGPIPE)
			sigaddset(&set, sig);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sig_fd < 0) {
		perror("arrowh: signalfd");
		kill(vmm, SIGKILL);
	}
	for (;;) {
		struct pollfd p[2] = { { sig_fd, POLLIN, 0 }, { jail_broker_fd, POLLIN, 0 } };
		struct signalfd_siginfo si;
		int wst;
		pid_t w = waitpid(vmm, &wst, WNOHANG);

		if (w == vmm) {
			if (WIFEXITED(wst)) {
				status = WEXITSTATUS(wst);
			} else if (WIFSIGNALED(wst)) {
				status = 128 + WTERMSIG(wst);
				if (WTERMSIG(wst) != SIGKILL)
					fprintf(stderr, "arrowh: the VMM was killed by %s%s\n",
						signal_name(WTERMSIG(wst)),
						WTERMSIG(wst) == SIGSYS
							? ": it made a system call its seccomp filter forbids "
							  "(docs/security.md)"
							: "");
			}
			break;
		}
		if (w < 0 && errno != EINTR) {
			perror("arrowh: waitpid");
			break;
		}
		if (poll(p, broker_open ? 2 : 1, sig_fd < 0 ? 100 : -1) < 0 && errno != EINTR)
			continue;
		if (broker_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			broker_open = serve_broker(s, jail_broker_fd, vmm);
		if (sig_fd >= 0 && (p[0].revents & POLLIN) &&
		    read(sig_fd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD &&
		    si.ssi_code != SI_KERNEL) {
			/* sent to arrowh by a process: the VMM forwards it to the app. A terminal's
			 * signals (SI_KERNEL) reach the VMM directly: it is in the same group. */
			kill(vmm, (int)si.ssi_signo);
		}
	}
	if (sig_fd >= 0)
		close(sig_fd);
	close(jail_broker_fd);
	jail_broker_fd = -1;
	return status;
}

/* ---- the jail ---- */

static int fail(const char *what)
{
	int ret = -errno;

	fprintf(stderr, "arrowh: sandbox: %s: %s\n", what, strerror(errno));
	return ret ? ret : -EPERM;
}

int jail_pivot_here(const char **step)
{
	*step = "pivot_root";
	if (syscall(SYS_pivot_root, ".", "old") < 0)
		return errno ? -errno : -EPERM;
	*step = "leaving the host's root";
	if (chdir("/") < 0 || umount2("/old", MNT_DETACH) < 0 || rmdir("/old") < 0)
		return errno ? -errno : -EPERM;
	*step = "making the new root read-only";
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return errno ? -errno : -EPERM;
	return 0;
}

static int pivot_or_fail(void)
{
	const char *step;
	int ret = jail_pivot_here(&step);

	if (ret)
		errno = -ret;
	return ret ? fail(step) : 0;
}

/*
 * An empty root: a small tmpfs holding only a private /proc (the 9P server reopens its
 * O_PATH descriptors through /proc/self/fd), made read-only. Everything arrowh uses was
 * opened before; nothing of the host's file system is reachable by name afterwards.
 */
static int empty_root(void)
{
	const char *at = "/tmp";
	struct stat st;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail("making mounts private");
	if (stat(at, &st) < 0 || !S_ISDIR(st.st_mode))
		at = "/";
	if (mount("arrowh", at, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,nr_inodes=8,mode=0755") < 0)
		return fail("mounting the jail's root");
	if (chdir(at) < 0 || mkdir("proc", 0555) < 0 || mkdir("old", 0700) < 0)
		return fail("preparing the jail's root");
	/*
	 * Only for /proc/self/fd: read-only, processes only (no /proc/sys or /proc/sysrq-trigger
	 * even to look at) and, with hidepid, no process but those of the VMM's own PID
	 * namespace, which is the VMM alone.
	 */
	if (mount("proc", "proc", "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "subset=pid,hidepid=invisible") < 0)
		return fail("mounting /proc in the jail");
	return pivot_or_fail();
}

static int drop_privileges(const struct arrowh_config *cfg)
{
	struct rlimit no_core = { 0, 0 };

	/* a core dump would hold guest memory */
	if (setrlimit(RLIMIT_CORE, &no_core) < 0)
		return fail("RLIMIT_CORE");
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap) < 0)
			return fail("dropping the capability bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return fail("clearing ambient capabilities");
	/* rootless (the user namespace denies setgroups): the caller's own ids and groups */
	if ((getuid() == 0 && setgroups(0, NULL) < 0) ||
	    setresgid(cfg->jail_gid, cfg->jail_gid, cfg->jail_gid) < 0 ||
	    setresuid(cfg->jail_uid, cfg->jail_uid, cfg->jail_uid) < 0)
		return fail("changing to the jail's user");
	/* leaving uid 0 cleared the permitted and effective sets; rootless, nothing did */
	if (clear_capabilities() < 0)
		return fail("clearing capabilities");
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0) {
		errno = EPERM;
		return fail("still root");
	}
	/* a credential change clears the parent-death signal: arm it again, and check that
	 * the supervisor did not go meanwhile */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return fail("PR_SET_PDEATHSIG");
	{
		char c;

		if (recv(jail_broker_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			_exit(125);
	}
	/* the uid change made us non-dumpable, which makes /proc/self/fd unusable to the
	 * 9P server; dumpable again (no core: RLIMIT_CORE 0; ptrace: no such call allowed,
	 * and no other process shares our PID namespace) */
	if (prctl(PR_SET_DUMPABLE, 1) < 0)
		return fail("PR_SET_DUMPABLE");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail("no_new_privs");
	return 0;
}

/* The log is rotated by the supervisor: the VMM cannot rename in the state directory. */
static int rotate_by_broker(void)
{
	int fd, ret = jail_request(JAIL_REQ_ROTATE_LOG, 0, &fd);

	if (ret) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	return fd >= 0 ? fd : -EPROTO;
}

int jail_enter(struct session *s)
{
	const struct arrowh_config *cfg = s->cfg;
	int ret;

	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		return fail("new namespaces");
	if (sethostname("arrowh", 6) < 0)
		return fail("hostname");
	ret = empty_root();
	if (!ret)
		ret = drop_privileges(cfg);
	if (!ret)
		ret = seccomp_install_vmm(cfg);
	if (!ret)
		logfile_rotate_hook = rotate_by_broker;
	return ret;
}
