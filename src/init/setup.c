// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/runcfg.h"
#include "common/stdfds.h"
#include "init.h"

/*
 * Ports and hvc1 appear asynchronously after the driver handshake, which on a
 * loaded host (many Arrows booting at once, or emulation) can take seconds.
 * The host always sets them up, so waiting long costs nothing when all is well.
 */
#define PORT_WAIT_S 120

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void mount_one(const char *src, const char *dst, const char *type, unsigned long flags,
		      const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
		ainit_fatal("mount %s on %s: %s", type, dst, strerror(errno));
}

void setup_filesystems(void)
{
	const unsigned long nosuid = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	mount_one("proc", "/proc", "proc", nosuid, NULL);
	mount_one("sysfs", "/sys", "sysfs", nosuid, NULL);
	mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	mount_one("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666,mode=0620");
	mount_one("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_one("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_one("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	symlink("/proc/self/fd", "/dev/fd");
	symlink("/proc/self/fd/0", "/dev/stdin");
	symlink("/proc/self/fd/1", "/dev/stdout");
	symlink("/proc/self/fd/2", "/dev/stderr");

	/* The kernel may have found no console to give us: never leave 0-2 unopened. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			ainit_fatal("cannot open /dev/null as fd %d", fd);
}

/* mkdir -p for a volume's mount point (the image may not have it). */
static void make_dirs(const char *path)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

void setup_volumes(const struct runcfg *cfg)
{
	for (size_t i = 0; i < cfg->nr_volumes; i++) {
		const char *v = cfg->volumes[i], *c1 = strchr(v, ':'); /* "TAG:ro:/path" */
		bool ro = !strncmp(c1, ":ro:", 4);
		char tag[64];

		snprintf(tag, sizeof(tag), "%.*s", (int)(c1 - v), v);
		make_dirs(c1 + 4);
		/* no cache: the host side may change files at any time, and reads see it */
		if (mount(tag, c1 + 4, "9p", MS_NOSUID | MS_NODEV | (ro ? MS_RDONLY : 0),
			  "trans=virtio,version=9p2000.L,msize=131096,cache=none") < 0)
			ainit_fatal("mount volume %s on %s: %s", tag, c1 + 4, strerror(errno));
	}
}

bool ainit_root_shared;

#define NEW_ROOT "/.arrow/root"

/* Bind the initramfs's file path over the share's (made empty if missing and writable). */
static void bind_file(const char *path, bool read_only)
{
	char dst[4200], parent[4200];
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return; /* the initramfs does not carry it */
	snprintf(dst, sizeof(dst), NEW_ROOT "%s", path);
	if (lstat(dst, &st) == 0 && S_ISLNK(st.st_mode)) {
		/* followed now, it would resolve in the initramfs, not in the container's root */
		fprintf(stderr, "ainit: %s is a symlink in the root: not bound\n", path);
		return;
	}
	if (stat(dst, &st) < 0) {
		int fd;

		if (read_only) {
			fprintf(stderr, "ainit: the read-only root has no %s: not bound\n", path);
			return;
		}
		snprintf(parent, sizeof(parent), "%s", dst);
		*strrchr(parent, '/') = '\0';
		make_dirs(parent);
		fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			ainit_fatal("creating %s in the root: %s", path, strerror(errno));
		close(fd);
	}
	if (mount(path, dst, NULL, MS_BIND, NULL) < 0)
		ainit_fatal("binding %s over the root: %s", path, strerror(errno));
}

/* Move the early mount at path into the new root. */
static void move_mount(const char *path, bool needed)
{
	char dst[64];

	snprintf(dst, sizeof(dst), NEW_ROOT "%s", path);
	mkdir(dst, 0755); /* a root without it (writable): made, as runc does */
	if (mount(path, dst, NULL, MS_MOVE, NULL) < 0) {
		if (needed)
			ainit_fatal("moving %s into the root: %s%s", path, strerror(errno),
				    errno == ENOENT ? " (the read-only root lacks the directory)" : "");
		umount2(path, MNT_DETACH); /* not in the container's root: not mounted at all */
	}
}

void setup_root_share(const struct runcfg *cfg)
{
	unsigned long flags = cfg->root_read_only ? MS_RDONLY : 0;

	if (!cfg->root_share)
		return;
	mkdir(NEW_ROOT, 0755);
	/* cache=mmap: executables and shared mappings work, and reads go to the host every
	 * time, so what the host changes is seen. No nosuid: the image's setuid programs are
	 * the container's (the server never lets the guest make one). */
	if (mount(RUNCFG_ROOT_TAG, NEW_ROOT, "9p", flags,
		  "trans=virtio,version=9p2000.L,msize=131096,cache=mmap") < 0)
		ainit_fatal("mount the root share: %s", strerror(errno));
	/* what net_setup wrote and what the runtime binds: the initramfs's copies, as before */
	bind_file("/etc/hosts", cfg->root_read_only);
	if (cfg->address)
		bind_file("/etc/resolv.conf", cfg->root_read_only);
	for (size_t i = 0; i < cfg->nr_binds; i++) {
		bool seen = !strcmp(cfg->binds[i], "/etc/hosts") ||
			    (cfg->address && !strcmp(cfg->binds[i], "/etc/resolv.conf"));

		for (size_t k = 0; k < i && !seen; k++)
			seen = !strcmp(cfg->binds[k], cfg->binds[i]);
		if (!seen)
			bind_file(cfg->binds[i], cfg->root_read_only);
	}
	move_mount("/proc", true);
	move_mount("/sys", true);
	move_mount("/dev", true);
	move_mount("/tmp", false);
	move_mount("/run", false);
	if (chdir(NEW_ROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		ainit_fatal("switching to the root share: %s", strerror(errno));
	ainit_root_shared = true;
}

/* /sys/class/virtio-ports/vportNpM/name holds the name the host gave the port. */
static int find_port(const char *want, char *dev, size_t devlen)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		char path[300], name[64];
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, name, sizeof(name) - 1);
		close(fd);
		if (n <= 0)
			continue;
		name[n] = '\0';
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, want) == 0) {
			snprintf(dev, devlen, "/dev/%s", e->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

/* Ports appear asynchronously after the driver handshake: wait briefly. */
static int open_port(const char *name, int flags)
{
	struct timespec ms = { 0, 1000000 };
	uint64_t deadline = now_ms() + PORT_WAIT_S * 1000;
	char dev[300];

	while (now_ms() < deadline) {
		if (find_port(name, dev, sizeof(dev))) {
			int fd = open(dev, flags | O_CLOEXEC | O_NOCTTY);

			if (fd >= 0)
				return fd;
			if (errno != ENOENT)
				ainit_fatal("open %s (%s): %s", dev, name, strerror(errno));
		}
		nanosleep(&ms, NULL);
	}
	ainit_fatal("virtio-console port %s did not appear", name);
}

void ports_open(struct ports *p)
{
	p->control = open_port(ARROW_PORT_CONTROL, O_RDWR);
	p->err = open_port(ARROW_PORT_STDERR, O_WRONLY);
	p->out = open_port(ARROW_PORT_STDOUT, O_WRONLY);
	p->in = open_port(ARROW_PORT_STDIN, O_RDONLY);
}

static void __attribute__((noreturn)) exec_failed(int report_fd, int stage)
{
	int r[2] = { stage, errno };

	if (write(report_fd, r, sizeof(r)) < 0)
		_exit(127);
	_exit(127);
}

/* $PATH from the app's environment, or the usual default. */
static const char *app_path(const struct runcfg *cfg)
{
	for (unsigned int i = 0; cfg->envp[i]; i++)
		if (!strncmp(cfg->envp[i], "PATH=", 5))
			return cfg->envp[i] + 5;
	return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

/*
 * execve the program; a name without '/' (an image's Entrypoint may say "redis-server")
 * is looked up along the app's $PATH as execvp does. Returns only on failure, errno set.
 */
static void exec_program(const struct runcfg *cfg)
{
	const char *p;
	int saved = ENOENT;

	if (strchr(cfg->program, '/')) {
		execve(cfg->program, (char *const *)cfg->argv, (char *const *)cfg->envp);
		return;
	}
	for (p = app_path(cfg);; p++) {
		size_t len = strcspn(p, ":");
		char full[4096];

		if (len && len + strlen(cfg->program) + 2 <= sizeof(full)) {
			snprintf(full, sizeof(full), "%.*s/%s", (int)len, p, cfg->program);
			execve(full, (char *const *)cfg->argv, (char *const *)cfg->envp);
			if (errno == EACCES || errno == ENOEXEC || errno == ETXTBSY)
				saved = errno; /* found but not runnable: say so, as execvp does */
		}
		p += len;
		if (!*p)
			break;
	}
	errno = saved;
}

void app_exec(const struct runcfg *cfg, int in, int out, int err, int report_fd)
{
	sigset_t none;

	/* A fresh session: the app's signals and terminal are its own. */
	setsid();
	if (cfg->tty) {
		/* hvc1 appears once the driver has set up the console port. */
		struct timespec ms = { 0, 1000000 };
		uint64_t deadline = now_ms() + PORT_WAIT_S * 1000;
		int t = -1;

		while (t < 0 && now_ms() < deadline) {
			t = open(ARROW_TTY_DEVICE, O_RDWR);
			if (t < 0)
				nanosleep(&ms, NULL);
		}
		if (t < 0 || ioctl(t, TIOCSCTTY, 0) < 0)
			exec_failed(report_fd, APP_STAGE_STDIO);
		in = out = err = t;
	}
	if (stdfds_install(in, out, err) < 0)
		exec_failed(report_fd, APP_STAGE_STDIO);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (chdir(cfg->workdir) < 0)
		exec_failed(report_fd, APP_STAGE_WORKDIR);
	if (setgroups(0, NULL) < 0 || setgid(cfg->gid) < 0 || setuid(cfg->uid) < 0)
		exec_failed(report_fd, APP_STAGE_IDS);
	exec_program(cfg);
	exec_failed(report_fd, APP_STAGE_EXEC);
}
