// SPDX-License-Identifier: MIT
/*
 * Snapshots of running Arrows, and the end of an Arrow (lib/launch/launch.h): the pieces of the
 * launch path that `arrow snapshot`, `arrow stop`/`rm` and the functions gateway share.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "common/ownership.h"
#include "common/statedir.h"
#include "common/streamrec.h"
#include "lib/state/jailuser.h"
#include "lib/net/netstore.h"
#include "lib/launch/runopts.h"
#include "lib/state/snapstore.h"
#include "lib/state/store.h"

#define HARD_STOP_WAIT_MS 5000

/* Ask the Arrow's arrowh to write its state into dir. 0 or -errno. */
static int request_snapshot(const struct arrow_rec *r, const char *dir)
{
	struct hostctl_reply reply;
	struct timeval tv = { .tv_sec = 300 };
	size_t len = strlen(dir);
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec v = { (void *)dir, len };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int fd, dir_fd, ret = 0, back;
	uid_t ju;
	gid_t jg;

	/* the jailed arrowh reaches no path: it gets the directory itself, and writes in it
	 * as the jail's user; the files are given back to us once written */
	dir_fd = open(dir, O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return -errno;
	jail_user_ids(&ju, &jg);
	if (geteuid() == 0 && fchown(dir_fd, ju, jg) < 0) {
		ret = -errno;
		close(dir_fd);
		return ret;
	}
	fd = store_connect(r, HOSTCTL_SNAPSHOT, (uint32_t)len);
	if (fd < 0) {
		dir_give_back(dir_fd);
		close(dir_fd);
		return fd;
	}
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &dir_fd, sizeof(int));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendmsg(fd, &m, MSG_NOSIGNAL) != (ssize_t)len)
		ret = -EPIPE;
	else if (recv(fd, &reply, sizeof(reply), MSG_WAITALL) != sizeof(reply))
		ret = -ECONNRESET; /* arrowh ended meanwhile */
	else
		ret = reply.status;
	close(fd);
	back = dir_give_back(dir_fd);
	close(dir_fd);
	return ret ? ret : back;
}

static json_t *arrow_meta(const struct arrow_rec *r, const char *name)
{
	json_t *c = r->config, *net = json_object_get(c, "network");
	const char *net_name = json_string_value(json_object_get(net, "name"));

	return snapshot_meta_new(name, "snapshot", store_name(r),
				 json_string_value(json_object_get(c, "program")),
				 json_deep_copy(json_object_get(c, "args")),
				 (uint64_t)json_integer_value(json_object_get(c, "memory_mib")),
				 (unsigned int)json_integer_value(json_object_get(c, "cpus")),
				 json_is_true(json_object_get(c, "tty")), net_name ? net_name : "none");
}

int launch_snapshot(const char *ref, const char *name)
{
	char tmp[4200];
	struct arrow_rec r;
	json_t *meta;
	int ret;

	if (!runopts_valid_name(name)) {
		fprintf(stderr, "arrow snapshot: invalid name '%s' ([a-zA-Z0-9][a-zA-Z0-9_.-]*)\n", name);
		return EXIT_ARROW_ERROR;
	}
	if (store_lookup("snapshot", ref, &r))
		return EXIT_ARROW_ERROR;
	if (r.status != ST_RUNNING) {
		fprintf(stderr, "arrow snapshot: %s is not running\n", ref);
		store_free(&r);
		return EXIT_ARROW_ERROR;
	}
	if (json_array_size(json_object_get(r.config, "volumes"))) {
		fprintf(stderr, "arrow snapshot: %s has volumes (-v): the files it has open on the "
				"host cannot be part of a snapshot\n", ref);
		store_free(&r);
		return EXIT_ARROW_ERROR;
	}
	meta = arrow_meta(&r, name);
	ret = meta ? snapstore_begin(name, meta, tmp, sizeof(tmp)) : -EBADMSG;
	json_decref(meta);
	if (ret) {
		fprintf(stderr, "arrow snapshot: %s\n",
			ret == -EEXIST ? "a snapshot or template of that name exists" : strerror(-ret));
		store_free(&r);
		return EXIT_ARROW_ERROR;
	}
	ret = request_snapshot(&r, tmp);
	store_free(&r);
	if (!ret)
		ret = snapstore_commit(tmp, name);
	if (ret) {
		fprintf(stderr, "arrow snapshot: %s was not saved: %s\n", name, strerror(-ret));
		snapstore_remove_dir(tmp);
		return EXIT_ARROW_ERROR;
	}
	return 0;
}

int launch_hard_stop(const struct arrow_rec *r)
{
	int ret = store_request(r, HOSTCTL_STOP, 0);

	if (ret == 0 && store_wait_gone(r, HARD_STOP_WAIT_MS) == 0)
		return 0;
	if (r->pid > 0)
		kill(r->pid, SIGKILL);
	return store_wait_gone(r, HARD_STOP_WAIT_MS);
}

int launch_remove(const struct arrow_rec *r, bool force, const char *verb)
{
	int lock, ret;

	if (r->status == ST_RUNNING && !force) {
		fprintf(stderr, "arrow %s: %s is running; stop it first or use 'arrow rm -f'\n", verb,
			store_name(r));
		return EXIT_ARROW_ERROR;
	}
	if (r->status == ST_RUNNING && launch_hard_stop(r) < 0) {
		fprintf(stderr, "arrow %s: %s did not stop\n", verb, store_name(r));
		return EXIT_ARROW_ERROR;
	}
	run_cgroup_remove(r->config, verb); /* what a killed arrowh left */
	lock = store_lock();
	ret = store_remove(r);
	store_unlock(lock);
	if (ret) {
		fprintf(stderr, "arrow %s: cannot remove %s: %s\n", verb, r->dir, strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	return 0;
}
