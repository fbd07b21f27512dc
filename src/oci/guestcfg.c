// SPDX-License-Identifier: MIT
/*
 * What an OCI container's guest is given (arrow-oci create, docs/oci.md): its program
 * resolved inside the rootfs, ainit's run configuration (process, user, volumes, network,
 * the caller's resolv.conf and hosts entries) and the per-run piece that carries it with the
 * bind-mounted files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "common/protocol.h"
#include "common/runcfg.h"
#include "lib/net/netns.h"
#include "lib/image/piece.h"
#include "log.h"
#include "oci.h"
#include "spec.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * process.args[0] as a path inside the rootfs, as runc's lookup does it before the
 * container starts: absolute as is, "dir/x" below cwd, a bare name along the PATH of
 * process.env (else the usual default). A name found nowhere fails create, as with runc.
 */
int oci_resolve_program(const struct oci_spec *s, char *out, size_t len)
{
	const char *name = s->args[0], *path = DEFAULT_PATH;
	char rel[PATH_MAX * 2];
	struct stat st;
	int root, ret = -ENOENT;

	if (name[0] == '/')
		return (size_t)snprintf(out, len, "%s", name) < len ? 0 : -ENAMETOOLONG;
	if (strchr(name, '/'))
		return (size_t)snprintf(out, len, "%s%s%s", s->cwd, strcmp(s->cwd, "/") ? "/" : "",
					name) < len ? 0 : -ENAMETOOLONG;
	for (size_t i = 0; i < s->nr_env; i++)
		if (!strncmp(s->env[i], "PATH=", 5))
			path = s->env[i] + 5;
	/*
	 * Looked up inside the rootfs as the guest will (RESOLVE_IN_ROOT: the image's — or a
	 * previous run's — symlinks in PATH directories resolve inside it, never on the host);
	 * the program itself may be a symlink, which the guest follows.
	 */
	root = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	while (*path) {
		size_t dlen = strcspn(path, ":");
		struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
					.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
		long fd;

		if (dlen && path[0] == '/' &&
		    (size_t)snprintf(rel, sizeof(rel), "%.*s/%s", (int)dlen, path, name) < sizeof(rel) &&
		    (fd = syscall(SYS_openat2, root, rel, &how, sizeof(how))) >= 0) {
			bool found = fstat((int)fd, &st) == 0 && !S_ISDIR(st.st_mode);

			close((int)fd);
			if (found) {
				ret = (size_t)snprintf(out, len, "%s", rel) < len ? 0 : -ENAMETOOLONG;
				break;
			}
		}
		path += dlen;
		if (*path == ':')
			path++;
	}
	close(root);
	return ret;
}

static int read_bound_file(const struct oci_bind *b, void **data, size_t *len, mode_t *mode);

/*
 * ainit writes /etc/hosts and /etc/resolv.conf itself (src/init/net.c), so the caller's
 * files for them (podman's, Docker's, the kubelet's) reach it as entries: nameserver
 * lines, and hosts lines of printable text that start with an address.
 */
static int etc_entries(const struct oci_spec *s, char **buf, size_t *len)
{
	unsigned int dns = 0, hosts = 0;
	int ret = 0;

	for (unsigned int i = 0; i < s->nr_files && !ret; i++) {
		bool is_hosts = !strcmp(s->files[i].guest, "/etc/hosts");
		char *text, *line, *save = NULL;
		size_t tlen;
		mode_t mode;

		if (!is_hosts && strcmp(s->files[i].guest, "/etc/resolv.conf"))
			continue;
		if (read_bound_file(&s->files[i], (void **)&text, &tlen, &mode))
			return -EINVAL;
		text[tlen] = '\0';
		for (line = strtok_r(text, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save)) {
			char addr[INET6_ADDRSTRLEN + 1];
			unsigned char bin[sizeof(struct in6_addr)];
			bool printable = true;

			line[strcspn(line, "#")] = '\0';
			for (char *c = line; *c; c++)
				printable &= (unsigned char)*c >= 0x20 && *c != 0x7f;
			if (!printable || strlen(line) > 1024)
				continue;
			if (!is_hosts) {
				if (sscanf(line, " nameserver %46s", addr) == 1 && dns < RUNCFG_MAX_DNS &&
				    (inet_pton(AF_INET, addr, bin) == 1 || inet_pton(AF_INET6, addr, bin) == 1)) {
					ret = runcfg_append(buf, len, RUNCFG_DNS, addr);
					dns++;
				}
				continue;
			}
			if (sscanf(line, " %46s", addr) == 1 && hosts < RUNCFG_MAX_HOSTS &&
			    strpbrk(line + strspn(line, " \t") + strlen(addr), "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") &&
			    (inet_pton(AF_INET, addr, bin) == 1 || inet_pton(AF_INET6, addr, bin) == 1)) {
				ret = runcfg_append(buf, len, RUNCFG_HOST, line + strspn(line, " \t"));
				hosts++;
			}
		}
		free(text);
	}
	return ret ? -ENOMEM : 0;
}

/* ainit's run configuration for the container's process. */
int oci_guest_runcfg(const struct oci_spec *s, const struct netns_nic *nic, const char *program,
		     char **buf, size_t *len)
{
	char num[32], *kv;
	int ret = 0;

	*buf = NULL;
	*len = 0;
	ret |= runcfg_append(buf, len, RUNCFG_PROGRAM, program);
	for (size_t i = 0; i < s->nr_args; i++)
		ret |= runcfg_append(buf, len, RUNCFG_ARG, s->args[i]);
	for (size_t i = 0; i < s->nr_env; i++)
		ret |= runcfg_append(buf, len, RUNCFG_ENV, s->env[i]);
	ret |= runcfg_append(buf, len, RUNCFG_WORKDIR, s->cwd);
	if (s->hostname)
		ret |= runcfg_append(buf, len, RUNCFG_HOSTNAME, s->hostname);
	snprintf(num, sizeof(num), "%u", s->uid);
	ret |= runcfg_append(buf, len, RUNCFG_UID, num);
	snprintf(num, sizeof(num), "%u", s->gid);
	ret |= runcfg_append(buf, len, RUNCFG_GID, num);
	if (s->terminal)
		ret |= runcfg_append(buf, len, RUNCFG_TTY, "1");
	/* create boots the Arrow up to its process; start lets it run (docs/oci.md) */
	ret |= runcfg_append(buf, len, RUNCFG_HOLD, "1");
	/* the root is root.path over 9p; the bound files stay the initramfs's (ainit binds them) */
	ret |= runcfg_append(buf, len, RUNCFG_ROOT, s->root_readonly ? "ro" : "rw");
	for (unsigned int i = 0; i < s->nr_files; i++)
		ret |= runcfg_append(buf, len, RUNCFG_BIND, s->files[i].guest);
	for (unsigned int i = 0; i < s->nr_volumes; i++) {
		if (asprintf(&kv, "arrowvol%u:%s:%s", i, s->volumes[i].read_only ? "ro" : "rw",
			     s->volumes[i].guest) < 0)
			return -ENOMEM;
		ret |= runcfg_append(buf, len, RUNCFG_VOLUME, kv);
		free(kv);
	}
	if (nic && nic->tap_fd >= 0) {
		ret |= runcfg_append(buf, len, RUNCFG_ADDRESS, nic->address);
		if (nic->gateway[0])
			ret |= runcfg_append(buf, len, RUNCFG_GATEWAY, nic->gateway);
	}
	if (ret)
		return -ENOMEM;
	return etc_entries(s, buf, len);
}

/* A bind-mounted file's contents, read now (a regular file within OCI_FILE_MAX_BYTES). */
static int read_bound_file(const struct oci_bind *b, void **data, size_t *len, mode_t *mode)
{
	int fd = open(b->host, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	ssize_t got;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > OCI_FILE_MAX_BYTES) {
		oci_error("bind mount source %s: %s", b->host,
			  fd < 0 ? strerror(errno) : "not a regular file of at most 4 MiB");
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	*data = malloc((size_t)st.st_size + 1);
	got = *data ? read(fd, *data, (size_t)st.st_size + 1) : -1;
	close(fd);
	if (got != st.st_size) {
		oci_error("cannot read bind mount source %s", b->host);
		free(*data);
		return -EIO;
	}
	*len = (size_t)got;
	*mode = st.st_mode & 07777;
	return 0;
}

/* Is there something at guest path p inside the rootfs (no symlink followed at the end)? */
static bool in_rootfs(const char *root, const char *p, size_t plen)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%.*s", root, (int)plen, p);
	return lstat(path, &st) == 0;
}

/* The per-run piece: ainit's configuration and the bind-mounted files, in a memfd. */
int oci_guest_config_piece(const struct oci_spec *s, const void *cfg, size_t cfglen, char **path)
{
	enum { MAX = 2 + OCI_MAX_FILES * 33 };
	struct piece_file *f = calloc(MAX, sizeof(*f));
	char *dirs[MAX];
	void *data[OCI_MAX_FILES] = { 0 };
	size_t n = 0, nd = 0;
	int ret = -ENOMEM;

	if (!f)
		return -ENOMEM;
	f[n++] = (struct piece_file){ ".arrow", S_IFDIR | 0700 };
	f[n++] = (struct piece_file){ &ARROW_CONFIG_PATH[1], S_IFREG | 0600, cfg, cfglen };
	for (unsigned int i = 0; i < s->nr_files; i++) {
		const char *g = s->files[i].guest + 1;
		size_t len;
		mode_t mode;

		ret = read_bound_file(&s->files[i], &data[i], &len, &mode);
		if (ret)
			goto out;
		/* parents the rootfs lacks (one that exists keeps its owner and mode) */
		for (const char *sl = strchr(g, '/'); sl; sl = strchr(sl + 1, '/')) {
			bool seen = in_rootfs(s->root, g, (size_t)(sl - g));

			for (size_t k = 0; k < nd && !seen; k++)
				seen = strlen(dirs[k]) == (size_t)(sl - g) &&
				       !strncmp(dirs[k], g, (size_t)(sl - g));
			if (seen)
				continue;
			if (n + 2 >= MAX || !(dirs[nd] = strndup(g, (size_t)(sl - g)))) {
				ret = -E2BIG;
				goto out;
			}
			f[n++] = (struct piece_file){ dirs[nd++], S_IFDIR | 0755 };
		}
		f[n++] = (struct piece_file){ g, S_IFREG | mode, data[i], len };
	}
	ret = piece_memfd(f, n, path);
out:
	for (unsigned int i = 0; i < s->nr_files; i++)
		free(data[i]);
	for (size_t k = 0; k < nd; k++)
		free(dirs[k]);
	free(f);
	return ret;
}

/*
 * An empty file at guest path g in the rootfs root, unless something is there: O_EXCL, so
 * nothing the image put there (a device node, a FIFO, a symlink to one) is ever opened.
 */
static void make_file_in_root(int root, const char *g)
{
	/* RESOLVE_IN_ROOT: the image's symlinks resolve inside the rootfs, as in the guest */
	struct open_how how = { .flags = O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_NONBLOCK |
					 O_CLOEXEC,
				.mode = 0644,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	long fd = syscall(SYS_openat2, root, g, &how, sizeof(how));

	/* a missing parent, or not a file there: ainit says so and goes on */
	if (fd >= 0)
		close((int)fd);
}

int oci_root_mountpoints(const struct oci_spec *s, bool net)
{
	static const char *const dirs[] = { "proc", "sys", "dev", "tmp", "run" };
	int root = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (root < 0)
		return -errno;
	/* one component each, made where it is missing: mkdirat follows no symlink */
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdirat(root, dirs[i], 0755) == 0) {
			int d;

			/* just made; opened without following a symlink swapped in meanwhile */
			if (!strcmp(dirs[i], "tmp") &&
			    (d = openat(root, dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						       O_CLOEXEC)) >= 0) {
				fchmod(d, 01777);
				close(d);
			}
		} else if (errno != EEXIST) {
			ret = -errno;
			goto out;
		}
	/* ainit binds its /etc/hosts (and /etc/resolv.conf with a network) and the bound files */
	make_file_in_root(root, "/etc/hosts");
	if (net)
		make_file_in_root(root, "/etc/resolv.conf");
	for (unsigned int i = 0; i < s->nr_files; i++)
		make_file_in_root(root, s->files[i].guest);
out:
	close(root);
	return ret;
}
