// SPDX-License-Identifier: MIT
/*
 * arrow-oci spec: a starting config.json in the bundle, in the shape runc writes (a shell on
 * a terminal, rootfs read-only, the usual mounts and namespaces), so that a bundle made by
 * hand is one edit away from a container; arrow-oci create takes it as it is. An existing
 * config.json is never overwritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "container.h"
#include "log.h"
#include "oci.h"

static json_t *mount(const char *dest, const char *type, const char *src, const char *opts)
{
	json_t *m = json_pack("{s:s, s:s, s:s, s:[]}", "destination", dest, "type", type, "source",
			      src, "options");
	char *copy = strdup(opts), *save = NULL;

	if (!m || !copy) {
		json_decref(m);
		free(copy);
		return NULL;
	}
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save))
		json_array_append_new(json_object_get(m, "options"), json_string(o));
	free(copy);
	return m;
}

json_t *oci_default_spec(bool rootless)
{
	json_t *spec = json_pack(
		"{s:s, s:{s:b, s:{s:i, s:i}, s:[s], s:[s, s], s:s, s:[{s:s, s:i, s:i}], s:b},"
		" s:{s:s, s:b}, s:s, s:[], s:{s:[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}]}}",
		"ociVersion", OCI_SPEC_BUNDLE_VERSION,
		"process", "terminal", 1, "user", "uid", 0, "gid", 0, "args", "sh",
		"env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"TERM=xterm", "cwd", "/", "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft",
		1024, "noNewPrivileges", 1,
		"root", "path", "rootfs", "readonly", 1,
		"hostname", "arrow",
		"mounts",
		"linux", "namespaces", "type", "pid", "type", "network", "type", "ipc", "type", "uts",
		"type", "mount");
	json_t *mounts = spec ? json_object_get(spec, "mounts") : NULL;
	const struct {
		const char *dest, *type, *src, *opts;
	} m[] = {
		{ "/proc", "proc", "proc", "nosuid,noexec,nodev" },
		{ "/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k" },
		{ "/dev/pts", "devpts", "devpts", "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620" },
		{ "/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k" },
		{ "/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev" },
		{ "/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro" },
		{ "/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro" },
	};

	if (!mounts) {
		json_decref(spec);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		json_t *one = mount(m[i].dest, m[i].type, m[i].src, m[i].opts);

		if (!one || json_array_append_new(mounts, one)) {
			json_decref(spec);
			return NULL;
		}
	}
	/* runc's --rootless: no network namespace of its own (the Arrow has no NIC then) */
	if (rootless)
		json_array_remove(json_object_get(json_object_get(spec, "linux"), "namespaces"), 1);
	return spec;
}

int oci_spec_write(const char *bundle, bool rootless)
{
	char path[PATH_MAX];
	json_t *spec;
	char *text;
	int fd, ret = 0;
	size_t len;

	if ((size_t)snprintf(path, sizeof(path), "%s/config.json", bundle ? bundle : ".") >=
	    sizeof(path)) {
		oci_error("--bundle %s: path too long", bundle);
		return 1;
	}
	spec = oci_default_spec(rootless);
	text = spec ? json_dumps(spec, JSON_INDENT(2)) : NULL;
	json_decref(spec);
	if (!text) {
		oci_error("out of memory");
		return 1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			oci_error("File %s exists. Remove it first", path);
		else
			oci_error("cannot create %s: %s", path, strerror(errno));
		free(text);
		return 1;
	}
	len = strlen(text);
	text[len++] = '\n'; /* json_dumps's terminator becomes the last line's end */
	if (write(fd, text, len) != (ssize_t)len)
		ret = errno ? errno : EIO;
	if (close(fd) < 0 && !ret)
		ret = errno;
	free(text);
	if (ret) {
		oci_error("cannot write %s: %s", path, strerror(ret));
		unlink(path);
		return 1;
	}
	return 0;
}
