// SPDX-License-Identifier: MIT
/*
 * arrow-oci create: the bundle becomes an Arrow booted up to its process. Its initramfs
 * pieces (the shared base piece with ainit, the run configuration) are built now, the
 * rootfs is root.path itself, shared live over virtio-9p (--root-share). A container
 * process is forked; once create has run the prestart and createRuntime hooks it execs
 * arrowh --hold, which boots the guest until ainit has set everything up and waits for
 * the start request (`start`, through arrowh's control socket); create returns when the
 * guest waits (arrowh's --ready-fd). That process is the container's pid: its exit status
 * is the app's (arrowh's), and the caller (conmon, a containerd shim: subreapers) waits
 * on it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/protocol.h"
#include "common/runcfg.h"
#include "common/statedir.h"
#include "common/stdfds.h"
#include "container.h"
#include "hooks.h"
#include "lib/launch/arrowh_cmd.h"
#include "lib/exec/execclient.h"
#include "lib/image/guestbase.h"
#include "lib/net/netns.h"
#include "lib/state/paths.h"
#include "lib/image/piece.h"
#include "log.h"
#include "oci.h"
#include "spec.h"

#define DEFAULT_MEMORY_MIB 128
#define READY_SETUP_S 60 /* after the boot deadline, for ainit's set-up until it waits */

int oci_cgroup_rel(const char *p, bool systemd, char *out, size_t len)
{
	const char *c1 = strchr(p, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	char slice[256], prefix[256], name[512], path[1024] = "";
	size_t used = 0;

	if (!c1) {
		if (systemd)
			return -EINVAL; /* runc: systemd cgroup paths are slice:prefix:name */
		return (size_t)snprintf(out, len, "%s", p) < len ? 0 : -ENAMETOOLONG;
	}
	if (!c2 || (size_t)(c1 - p) >= sizeof(slice) || (size_t)(c2 - c1 - 1) >= sizeof(prefix) ||
	    strlen(c2 + 1) >= sizeof(name) || !c2[1])
		return -EINVAL;
	snprintf(slice, sizeof(slice), "%.*s", (int)(c1 - p), p);
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	snprintf(name, sizeof(name), "%s", c2 + 1);
	if (!slice[0])
		snprintf(slice, sizeof(slice), "system.slice");
	if (strlen(slice) < 7 || strcmp(slice + strlen(slice) - 6, ".slice"))
		return -EINVAL;
	/* a-b-c.slice lives in a.slice/a-b.slice/a-b-c.slice; -.slice is the root */
	if (strcmp(slice, "-.slice")) {
		for (char *d = strchr(slice, '-'); d; d = strchr(d + 1, '-')) {
			used += (size_t)snprintf(path + used, sizeof(path) - used, "%.*s.slice/",
						 (int)(d - slice), slice);
			if (used >= sizeof(path))
				return -ENAMETOOLONG;
		}
		used += (size_t)snprintf(path + used, sizeof(path) - used, "%s/", slice);
		if (used >= sizeof(path))
			return -ENAMETOOLONG;
	}
	if (strlen(name) > 6 && !strcmp(name + strlen(name) - 6, ".slice"))
		return (size_t)snprintf(out, len, "%s%s", path, name) < len ? 0 : -ENAMETOOLONG;
	return (size_t)snprintf(out, len, "%s%s%s%s.scope", path, prefix, prefix[0] ? "-" : "",
				name) < len ? 0 : -ENAMETOOLONG;
}

/* The pty master to the caller's console socket, as runc does (SCM_RIGHTS). */
int oci_send_console(const char *sock_path, int master, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	int fd, ret = 0;

	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int oci_write_pid_file(const char *path, pid_t pid)
{
	char tmp[PATH_MAX + 32], text[32];
	int fd, len = snprintf(text, sizeof(text), "%d", (int)pid), ret = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.arrow-oci-tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)len) != len)
		ret = -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* Everything the container process needs to exec arrowh, built before it is forked. */
struct launch {
	struct arrowh_argv hv; /* from the launch description (lib/launch/arrowh_cmd.h) */
	char arrowh[PATH_MAX], kernel[PATH_MAX + 32], state_dir[PATH_MAX + 16];
	char created[PATH_MAX + 16], pts[128];
	char cgroup[PATH_MAX];
	char vsock[PATH_MAX + 32];
	char vsock_dir[64];       /* a short directory for it when the state dir is too deep */
	char *vol_args[OCI_MAX_VOLUMES];
	char *base, *config;
	char *root_arg; /* --root-share's "ROOT:rw" or "ROOT:ro" */
	int master;
	struct netns_nic nic; /* tap_fd >= 0: the Arrow's NIC in linux.namespaces' network */
	/*
	 * create <-> the container process (SOCK_SEQPACKET): create's 'G' once the hooks ran;
	 * for a fresh network namespace the process's 'R' before and 'O' after; then the same
	 * end is arrowh's --ready-fd: "1" once the guest waits for `start`, EOF if it ends.
	 */
	int ctl[2];
};

static int find_binaries(struct launch *l)
{
	char ainit[PATH_MAX + 32];
	int err = arrowh_find(l->arrowh, sizeof(l->arrowh));

	if (err) {
		oci_error("%s: %s; install arrowh next to arrow-oci", l->arrowh, strerror(-err));
		return -ENOENT;
	}
	/* the kernel with IPv4 and virtio-net only when there is a network to join */
	arrowh_kernel_path(l->nic.tap_fd >= 0, l->kernel, sizeof(l->kernel));
	snprintf(ainit, sizeof(ainit), "%s/ainit", arrow_libdir());
	if (access(l->kernel, R_OK) < 0 || access(ainit, R_OK) < 0) {
		oci_error("the guest kernel or ainit is missing in %s: reinstall arrow", arrow_libdir());
		return -ENOENT;
	}
	return 0;
}

/*
 * The initramfs is the base piece (ainit) and the run configuration piece only: the rootfs
 * is root.path itself, served live over virtio-9p by arrowh's sidecar (--root-share), so
 * it need not fit in guest memory and what the container writes lands in the bundle.
 */
static int make_pieces(const struct oci_spec *s, struct launch *l, uint64_t *memory_mib)
{
	char ainit[PATH_MAX + 32], program[PATH_MAX];
	void *ainit_data;
	size_t ainit_len, cfglen;
	char *cfg;
	int ret;

	snprintf(ainit, sizeof(ainit), "%s/ainit", arrow_libdir());
	ret = read_whole_file(ainit, &ainit_data, &ainit_len);
	if (!ret) {
		ret = guestbase_piece(arrow_cache_dir(), ainit_data, ainit_len, &l->base);
		free(ainit_data);
	}
	if (ret) {
		oci_error("cannot build the base initramfs piece: %s", strerror(-ret));
		return ret;
	}
	if (asprintf(&l->root_arg, "%s:%s", s->root, s->root_readonly ? "ro" : "rw") < 0)
		return -ENOMEM;
	ret = oci_root_mountpoints(s, l->nic.tap_fd >= 0);
	if (ret) {
		oci_error("cannot make the mount points in the rootfs %s: %s", s->root, strerror(-ret));
		return ret;
	}
	/* the limit, or enough for the kernel, ainit and a small app: the rootfs is not in RAM */
	*memory_mib = s->memory_mib ? s->memory_mib : DEFAULT_MEMORY_MIB;
	/* still resolved here against the host's view of the rootfs, as runc does */
	ret = oci_resolve_program(s, program, sizeof(program));
	if (ret) {
		oci_error("exec: \"%s\": executable file not found in $PATH", s->args[0]);
		return ret;
	}
	ret = oci_guest_runcfg(s, &l->nic, program, &cfg, &cfglen);
	if (!ret)
		ret = oci_guest_config_piece(s, cfg, cfglen, &l->config);
	free(cfg);
	if (ret)
		oci_error("cannot build the run configuration piece: %s", strerror(-ret));
	return ret;
}

/* The container's cgroup from linux.cgroupsPath: "" when none is asked for or possible. */
static int make_cgroup(const struct oci_globals *g, const struct oci_spec *s, uint64_t mem,
		       unsigned int cpus, struct launch *l)
{
	char rel[1024], why[512] = "";
	struct cgroup_limits lim;
	int ret;

	l->cgroup[0] = '\0';
	if (!s->cgroups_path || g->no_cgroups) /* --cgroup-manager disabled: none at all */
		return 0;
	if (oci_cgroup_rel(s->cgroups_path, g->systemd_cgroup, rel, sizeof(rel)) ||
	    cgroup_path_problem(rel)) {
		oci_error("linux.cgroupsPath '%s' cannot be used%s", s->cgroups_path,
			  g->systemd_cgroup ? " with --systemd-cgroup (expected slice:prefix:name)" : "");
		return -EINVAL;
	}
	ret = cgroup_v2_mounted(cgroup_root());
	if (ret) {
		oci_warn("no cgroup v2 at %s: the container runs without its cgroup %s", cgroup_root(),
			 rel);
		return 0;
	}
	ret = cgroup_create(cgroup_root(), rel, why, sizeof(why));
	if (!ret)
		ret = cgroup_dir(cgroup_root(), rel, NULL, l->cgroup, sizeof(l->cgroup));
	if (!ret) {
		cgroup_limits_for(&lim, mem, cpus);
		ret = cgroup_set_limits(l->cgroup, &lim, why, sizeof(why));
	}
	if (ret) {
		oci_error("cgroup %s: %s (%s)", rel, why[0] ? why : "cannot be made", strerror(-ret));
		return ret;
	}
	return 0;
}

/* The launch description every front end fills in (lib/launch/arrowh_cmd.h), then arrowh's argv. */
static int build_argv(const struct oci_spec *s, struct launch *l, uint64_t mem, unsigned int cpus)
{
	struct arrowh_desc d;
	bool env_ignored;
	int ret;

	arrowh_desc_init(&d);
	d.kernel = l->kernel;
	d.initrds[d.nr_initrds++] = l->base;
	d.initrds[d.nr_initrds++] = l->config;
	d.root_share = l->root_arg;
	for (unsigned int i = 0; i < s->nr_volumes; i++) {
		if (asprintf(&l->vol_args[i], "%s:arrowvol%u%s", s->volumes[i].host, i,
			     s->volumes[i].read_only ? ":ro" : "") < 0)
			return -ENOMEM;
		d.volumes[d.nr_volumes++] = l->vol_args[i];
	}
	d.memory_mib = mem;
	d.cpus = cpus;
	d.boot_timeout_s = arrowh_boot_timeout(-1, &env_ignored);
	if (env_ignored)
		oci_warn("ignoring ARROW_BOOT_TIMEOUT='%s' (not 0 to 86400 seconds)",
			 getenv("ARROW_BOOT_TIMEOUT"));
	d.state_dir = l->state_dir;
	d.vsock_uds = l->vsock[0] ? l->vsock : NULL;
	/* the output goes to the caller's pipes or terminal; the log is only arrowh's duty */
	d.log_max_size = 1048576;
	d.log_max_files = 1;
	d.tty = s->terminal;
	if (l->nic.tap_fd >= 0) {
		d.tap_fd = l->nic.tap_fd;
		d.mac = l->nic.mac;
	}
	d.cgroup = l->cgroup[0] ? l->cgroup : NULL;
	d.no_sandbox = arrowh_no_sandbox_env();
	if (d.no_sandbox)
		oci_warn("ARROW_NO_SANDBOX=1: arrowh runs without its jail and seccomp filter");
	d.hold = true;
	ret = arrowh_argv_build(&d, &l->hv);
	snprintf(l->hv.ready, sizeof(l->hv.ready), "%d", l->ctl[1]);
	if (!ret)
		ret = arrowh_argv_add(&l->hv, "--ready-fd", l->hv.ready);
	if (ret)
		oci_error("cannot build arrowh's command line: %s", strerror(-ret));
	return ret;
}

/* The container process's word to create over l->ctl: a letter, then text for 'E'. */
static void ctl_say(struct launch *l, char what, const char *text)
{
	char msg[600];
	int n = snprintf(msg, sizeof(msg), "%c%s", what, text ? text : "");

	if (write(l->ctl[1], msg, (size_t)n) < 0) {
		/* create is gone: nothing to tell */
	}
}

/*
 * linux.namespaces has a network namespace without a path (runc makes a new one; Docker
 * then gives it an interface from its prestart hook, libnetwork-setkey, which finds the
 * namespace as /proc/PID/ns/net). The container process makes its own namespace, says so,
 * waits for create to have run the hooks, and then takes the interface they put there
 * exactly as for a namespace given by path: the kernel, the run configuration and the
 * command line are made again with the NIC. Without hooks the namespace stays empty and
 * the Arrow has loopback only, as before. Errors go to create over l->ctl; then exit.
 */
static void fresh_netns(struct launch *l, const struct oci_spec *s, uint64_t mem, unsigned int cpus)
{
	char why[512], c;
	int ret;

	if (unshare(CLONE_NEWNET) < 0 && s->hooks) {
		/* without hooks nothing would furnish it: the Arrow has loopback only either way */
		snprintf(why, sizeof(why), "cannot make the container's network namespace: %s",
			 strerror(errno));
		ctl_say(l, 'E', why);
		_exit(125);
	}
	ctl_say(l, 'R', NULL);
	if (read(l->ctl[1], &c, 1) != 1 || c != 'G')
		_exit(125); /* create failed or went away */
	if (s->hooks) {
		ret = netns_join_current(&l->nic, why, sizeof(why));
		if (ret == -ENOENT) {
			ctl_say(l, 'O', NULL); /* the hooks gave it no interface: loopback only */
			return;
		}
		if (ret) {
			char inner[512];

			snprintf(inner, sizeof(inner), "the container's network namespace: %.400s", why);
			ctl_say(l, 'E', inner);
			_exit(125);
		}
		free(l->base);
		free(l->root_arg);
		free(l->config);
		l->base = l->root_arg = l->config = NULL;
		arrowh_kernel_path(true, l->kernel, sizeof(l->kernel));
		if (make_pieces(s, l, &mem) || build_argv(s, l, mem, cpus)) {
			ctl_say(l, 'E', "cannot prepare the Arrow for its network (see the log)");
			_exit(125);
		}
	}
	ctl_say(l, 'O', NULL);
}

/* create's side of fresh_netns: wait for the container process's word. 0 or -1 (said). */
static int fresh_netns_wait(struct launch *l, char expect)
{
	char msg[601];
	ssize_t n;

	do
		n = read(l->ctl[0], msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	if (n > 0 && msg[0] == expect)
		return 0;
	msg[n > 0 ? n : 0] = '\0';
	oci_error("%s", n > 0 && msg[0] == 'E' ? msg + 1 : "the container process ended early");
	return -1;
}

/* The container process: wait for create's hooks, then become arrowh. Never returns. */
static void container_process(struct launch *l, const struct oci_spec *s, uint64_t mem,
			      unsigned int cpus)
{
	sigset_t none;
	char c;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	close(l->ctl[0]); /* create's end: its going away must reach us */
	if (s->netns_fresh)
		fresh_netns(l, s, mem, cpus);
	else if (read(l->ctl[1], &c, 1) != 1 || c != 'G')
		_exit(125); /* create failed or went away */
	if (s->terminal) {
		int slave = open(l->pts, O_RDWR | O_CLOEXEC);

		if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || stdfds_install(slave, slave, slave) < 0)
			_exit(125);
	}
	/* nothing of the caller's but stdio and the pieces reaches arrowh */
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	if (l->nic.tap_fd >= 0)
		fcntl(l->nic.tap_fd, F_SETFD, 0);
	if (!strncmp(l->config, "/proc/self/fd/", 14))
		fcntl(atoi(l->config + 14), F_SETFD, 0);
	if (!strncmp(l->base, "/proc/self/fd/", 14))
		fcntl(atoi(l->base + 14), F_SETFD, 0);
	fcntl(l->ctl[1], F_SETFD, 0); /* arrowh's --ready-fd */
	execv(l->arrowh, (char *const *)l->hv.v);
	fprintf(stderr, "arrow-oci: cannot start %s: %s\n", l->arrowh, strerror(errno));
	_exit(125);
}

/*
 * arrowh boots the guest until ainit waits for `start`, then writes "1" to its --ready-fd
 * (l->ctl's other end). EOF or the process's end before that: the boot failed, and
 * arrowh has said why on the container's stderr. Bounded by the boot deadline plus the
 * time ainit may take to set up (mounts, network): a guest that stalls after reaching
 * ainit does not hold create forever (ARROW_BOOT_TIMEOUT=0, no deadline, waits as long as
 * the guest takes). 0 or -1 (said); *reaped when the process ended and was waited for.
 */
static int wait_ready(struct launch *l, pid_t pid, bool *reaped)
{
	unsigned int boot_s = arrowh_boot_timeout(-1, NULL);
	long long left_ms = boot_s ? (boot_s + READY_SETUP_S) * 1000ll : -1;
	char msg[16];
	int st;

	for (;;) {
		struct pollfd p = { .fd = l->ctl[0], .events = POLLIN };
		int n = poll(&p, 1, 200), w;

		if (n > 0) {
			ssize_t r = read(l->ctl[0], msg, sizeof(msg));

			if (r > 0 && msg[0] == '1')
				return 0;
			if (r < 0 && errno == EINTR)
				continue;
			break; /* EOF: arrowh ended */
		}
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			*reaped = true; /* its pid is free now: never signal it again */
			oci_error("the Arrow ended while booting (arrowh status %d%s): see the "
				  "container's output for arrowh's report",
				  WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
				  WIFSIGNALED(st) ? ", killed by a signal" : "");
			return -1;
		}
		if (left_ms >= 0 && (left_ms -= 200) <= 0) {
			oci_error("the Arrow did not get ready within %u s (ARROW_BOOT_TIMEOUT plus "
				  "%d s for ainit's set-up)", boot_s + READY_SETUP_S, READY_SETUP_S);
			return -1;
		}
	}
	/* the VMM closed its end: the supervisor follows it at once */
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			*reaped = true;
			oci_error("the Arrow ended while booting (arrowh status %d): see the "
				  "container's output for arrowh's report",
				  WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			return -1;
		}
		usleep(50 * 1000);
	}
	oci_error("the Arrow's VMM ended while booting but its process did not: see the "
		  "container's output for arrowh's report");
	return -1;
}

static int open_console(struct launch *l)
{
	l->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (l->master < 0 || grantpt(l->master) < 0 || unlockpt(l->master) < 0 ||
	    ptsname_r(l->master, l->pts, sizeof(l->pts)) != 0) {
		oci_error("cannot allocate a pseudo-terminal: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * prestart, then createRuntime: the container process exists, the VM has not booted. A
 * failure fails create (which then removes everything). 0 or -1 (said).
 */
static int run_create_hooks(const char *id, const char *bundle, const struct oci_spec *s,
			    pid_t pid)
{
	json_t *st = json_pack("{s:s, s:s, s:s, s:i, s:s, s:O}", "ociVersion", OCI_SPEC_VERSION,
			       "id", id, "status", "creating", "pid", (int)pid, "bundle", bundle,
			       "annotations", s->annotations);
	char why[1024];
	int ret = -1;

	if (st && !oci_hooks_run(s->hooks, "prestart", st, true, why, sizeof(why)) &&
	    !oci_hooks_run(s->hooks, "createRuntime", st, true, why, sizeof(why)))
		ret = 0;
	else
		oci_error("create %s: %s", id, st ? why : "out of memory");
	json_decref(st);
	return ret;
}

/*
 * virtio-vsock for `exec` (ainit's exec service): arrowh binds the socket, with room for
 * "_<port>" in a unix socket path (107 bytes). At ROOT/ID/arrow/vsock.sock when that fits;
 * else in a new private directory under /tmp, with ROOT/ID/arrow/vsock.sock a symlink to
 * it (connect follows it), so exec finds it the same way. 0, or -errno (exec then fails
 * with "no vsock device"; create goes on).
 */
static int vsock_path(struct launch *l)
{
	char link[PATH_MAX + 32];

	l->vsock[0] = l->vsock_dir[0] = '\0';
	if ((size_t)snprintf(l->vsock, sizeof(l->vsock), "%s/%s", l->state_dir, HVSOCK_SOCKET) +
		    11 < sizeof(((struct sockaddr_un *)0)->sun_path))
		return 0;
	snprintf(link, sizeof(link), "%s", l->vsock);
	snprintf(l->vsock_dir, sizeof(l->vsock_dir), "/tmp/arrow-oci-XXXXXX");
	if (!mkdtemp(l->vsock_dir)) {
		l->vsock[0] = l->vsock_dir[0] = '\0';
		return -errno;
	}
	snprintf(l->vsock, sizeof(l->vsock), "%s/%s", l->vsock_dir, HVSOCK_SOCKET);
	if (symlink(l->vsock, link) < 0) {
		int err = -errno;

		rmdir(l->vsock_dir);
		l->vsock[0] = l->vsock_dir[0] = '\0';
		return err;
	}
	return 0;
}

void oci_vsock_dir_remove(const char *dir)
{
	char sock[96];

	/* only what vsock_path makes: /tmp/arrow-oci-XXXXXX */
	if (!dir || strncmp(dir, "/tmp/arrow-oci-", 15) || strlen(dir) != 21 || strchr(dir + 5, '/'))
		return;
	snprintf(sock, sizeof(sock), "%s/%s", dir, HVSOCK_SOCKET);
	unlink(sock);
	rmdir(dir);
}

static void remove_dir(const char *dir, const char *cgroup, const char *vsock_dir)
{
	char sub[PATH_MAX + 16];

	if (vsock_dir[0])
		oci_vsock_dir_remove(vsock_dir);
	snprintf(sub, sizeof(sub), "%s/%s", dir, OCI_ARROW_DIR);
	statedir_remove(sub);
	statedir_remove(dir);
	/* the jailed VMM and the sidecar end after the supervisor, freeing guest memory */
	if (cgroup && cgroup[0] && cgroup_remove(cgroup, 10000))
		oci_warn("the cgroup %s could not be removed", cgroup);
}

static int write_record(const char *dir, json_t *rec)
{
	char *text = rec ? json_dumps(rec, JSON_INDENT(2)) : NULL;
	int ret = text ? statedir_write_file(dir, OCI_RECORD_FILE, text, strlen(text)) : -ENOMEM;

	free(text);
	if (ret)
		oci_error("cannot write %s/%s", dir, OCI_RECORD_FILE);
	return ret;
}

int oci_create(const struct oci_globals *g, const struct oci_create_opts *o)
{
	return oci_create_pid(g, o, NULL);
}

int oci_create_pid(const struct oci_globals *g, const struct oci_create_opts *o, pid_t *out_pid)
{
	struct oci_spec *s = calloc(1, sizeof(*s));
	struct launch *l = calloc(1, sizeof(*l));
	char dir[PATH_MAX], why[1024], *bundle = NULL;
	unsigned long long start = 0;
	uint64_t mem = 0;
	unsigned int cpus;
	json_t *rec = NULL, *more;
	bool reaped = false;
	char state;
	pid_t pid;
	int ret = 1;

	if (!s || !l)
		goto out_free;
	l->master = l->nic.tap_fd = l->ctl[0] = l->ctl[1] = -1;
	if (!oci_id_valid(o->id)) {
		oci_error("invalid container id '%.80s': use 1 to %d of letters, digits, '_', '+', "
			  "'-', '.'", o->id, OCI_ID_MAX);
		goto out_free;
	}
	bundle = realpath(o->bundle ? o->bundle : ".", NULL);
	if (!bundle) {
		oci_error("bundle %s: %s", o->bundle ? o->bundle : ".", strerror(errno));
		goto out_free;
	}
	if (o->preserve_fds) {
		oci_error("--preserve-fds: host file descriptors cannot be passed into an Arrow");
		goto out_free;
	}
	if (oci_spec_load(bundle, s, why, sizeof(why))) {
		oci_error("%s", why);
		goto out_free;
	}
	for (unsigned int i = 0; i < s->nr_warnings; i++)
		ocilog(s->warning_is_debug[i] ? "debug" : "warning", "%s", s->warnings[i]);
	if (s->terminal && !o->console_socket) {
		oci_error("process.terminal is true: --console-socket is required to receive the "
			  "terminal");
		goto out_spec;
	}
	if (!s->terminal && o->console_socket)
		oci_warn("--console-socket ignored: process.terminal is false");
	if (s->netns_path && netns_join(s->netns_path, &l->nic, why, sizeof(why))) {
		oci_error("%s", why);
		goto out_spec;
	}
	if (find_binaries(l))
		goto out_net;
	ret = oci_root_ensure();
	if (ret) {
		oci_error("cannot create the state root %s: %s", oci_root(), strerror(-ret));
		ret = 1;
		goto out_net;
	}
	ret = 1;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", oci_root(), o->id) >= sizeof(dir) - 64) {
		oci_error("the state root %s is too deep", oci_root());
		goto out_net;
	}
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			oci_error("container with id %s already exists", o->id);
		else
			oci_error("cannot create %s: %s", dir, strerror(errno));
		goto out_net;
	}
	snprintf(l->state_dir, sizeof(l->state_dir), "%s/%s", dir, OCI_ARROW_DIR);
	snprintf(l->created, sizeof(l->created), "%s/%s", dir, OCI_CREATED_FILE);
	if (mkdir(l->state_dir, 0700) < 0 || statedir_write_file(dir, OCI_CREATED_FILE, "", 0)) {
		oci_error("cannot prepare %s: %s", dir, strerror(errno));
		goto out_dir;
	}
	ret = vsock_path(l);
	if (ret)
		oci_warn("no vsock socket for %s (%s): exec into this container will not work",
			 o->id, strerror(-ret));
	ret = 1;
	if (make_pieces(s, l, &mem))
		goto out_dir;
	cpus = s->cpus ? s->cpus : 1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, l->ctl) < 0) {
		oci_error("socketpair: %s", strerror(errno));
		goto out_dir;
	}
	if (make_cgroup(g, s, mem, cpus, l) || build_argv(s, l, mem, cpus))
		goto out_dir;
	if (s->terminal && open_console(l))
		goto out_dir;
	pid = fork();
	if (pid < 0) {
		oci_error("fork: %s", strerror(errno));
		goto out_dir;
	}
	if (pid == 0)
		container_process(l, s, mem, cpus);
	close(l->ctl[1]);
	l->ctl[1] = -1;
	if (s->netns_fresh && fresh_netns_wait(l, 'R'))
		goto out_kill;
	if (s->terminal) {
		int err = oci_send_console(o->console_socket, l->master, l->pts);

		if (err) {
			oci_error("cannot send the terminal to --console-socket %s: %s",
				  o->console_socket, strerror(-err));
			goto out_kill;
		}
	}
	if (oci_proc_stat(pid, &start, &state)) {
		oci_error("the container process %d vanished", (int)pid);
		goto out_kill;
	}
	if (s->hooks && run_create_hooks(o->id, bundle, s, pid))
		goto out_kill;
	if (write(l->ctl[0], "G", 1) != 1 || (s->netns_fresh && fresh_netns_wait(l, 'O')))
		goto out_kill;
	rec = oci_record_new(o->id, bundle, s, pid, start, l->cgroup[0] ? l->cgroup : NULL);
	if (rec && s->netns_path) { /* delete gives the namespace back as it found it */
		json_object_set_new(rec, "netns", json_string(s->netns_path));
		json_object_set_new(rec, "netns_nic", netns_nic_json(&l->nic));
	}
	if (rec && s->hooks) /* poststart and poststop run later, from the record */
		json_object_set(rec, "hooks", s->hooks);
	if (rec && l->vsock_dir[0]) /* delete removes it */
		json_object_set_new(rec, "vsock_dir", json_string(l->vsock_dir));
	/* what `update` compares against and changes */
	more = json_pack("{s:I, s:I, s:I}", "memory_mib", (json_int_t)mem, "cpu_quota",
			 (json_int_t)cpus * CGROUP_CPU_PERIOD_US, "cpu_period",
			 (json_int_t)CGROUP_CPU_PERIOD_US);
	if (rec && more)
		json_object_update(rec, more);
	json_decref(more);
	/*
	 * Recorded while it boots ("booting": status creating), so that a create killed
	 * meanwhile leaves what `delete --force` needs to clean up: the pid, the cgroup, the
	 * network namespace to give back. Recorded again without it once the guest waits.
	 */
	if (rec)
		json_object_set_new(rec, "booting", json_true());
	if (write_record(dir, rec) || wait_ready(l, pid, &reaped))
		goto out_record;
	json_object_del(rec, "booting");
	if (write_record(dir, rec))
		goto out_record;
	json_decref(rec);
	rec = NULL;
	if (o->pid_file && (ret = oci_write_pid_file(o->pid_file, pid))) {
		oci_error("cannot write --pid-file %s: %s", o->pid_file, strerror(-ret));
		ret = 1;
		goto out_kill;
	}
	oci_debug("created %s: pid %d, %llu MiB, %u vCPU(s)", o->id, (int)pid,
		  (unsigned long long)mem, cpus);
	if (out_pid)
		*out_pid = pid;
	ret = 0;
	goto out_spec;
out_record:
	json_decref(rec);
out_kill:
	if (!reaped) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
out_dir:
	remove_dir(dir, l->cgroup, l->vsock_dir);
out_net:
	if (ret && l->nic.tap_fd >= 0)
		netns_leave(s->netns_path, &l->nic);
out_spec:
	oci_spec_free(s);
out_free:
	if (l) {
		if (l->master >= 0)
			close(l->master);
		for (int i = 0; i < 2; i++)
			if (l->ctl[i] >= 0)
				close(l->ctl[i]);
		if (l->nic.tap_fd >= 0) /* the container process holds its own */
			close(l->nic.tap_fd);
		for (unsigned int i = 0; i < OCI_MAX_VOLUMES; i++)
			free(l->vol_args[i]);
		free(l->base);
		free(l->root_arg);
		free(l->config);
	}
	free(l);
	free(s);
	free(bundle);
	return ret;
}
