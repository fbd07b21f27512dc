// SPDX-License-Identifier: MIT
/* arrow snapshot and arrow template: make, list and remove snapshots (docs/snapshots.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/streamrec.h"
#include "common/statedir.h"
#include "common/ownership.h"
#include "lib/jailuser.h"
#include "lib/runopts.h"
#include "lib/snapstore.h"
#include "lib/store.h"

static const char snapshot_usage[] =
	"Usage: arrow snapshot ARROW NAME\n"
	"       arrow snapshot ls\n"
	"       arrow snapshot rm NAME...\n"
	"Save a running Arrow's whole state (vCPUs, devices, guest memory) as snapshot NAME; the\n"
	"Arrow pauses while it is written and then runs on. 'arrow run --from NAME' starts clones\n"
	"of it that share its memory copy-on-write. See also 'arrow template'.\n";

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

static int snapshot_create(const char *ref, const char *name)
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
	printf("%s\n", name);
	return 0;
}

/* Disk the memory and state files take (sparse: what was written). */
static double disk_mib(const char *name)
{
	static const char *const files[] = { "memory", "state" };
	char dir[4200], path[4300];
	double total = 0;

	snapstore_path(name, dir, sizeof(dir));
	for (unsigned int i = 0; i < 2; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (stat(path, &st) == 0)
			total += (double)st.st_blocks * 512;
	}
	return total / (1 << 20);
}

static int list(const char *kind)
{
	char **names;
	int n = snapstore_list(&names);

	if (n < 0) {
		fprintf(stderr, "arrow: cannot read %s: %s\n", snapstore_dir(), strerror(-n));
		return EXIT_ARROW_ERROR;
	}
	printf("%-20s %-9s %-20s %-20s %-8s %-9s %s\n", "NAME", "KIND", "SOURCE", "PROGRAM",
	       "MEMORY", "ON DISK", "CREATED");
	for (int i = 0; i < n; i++) {
		int err;
		json_t *m = snapstore_meta(names[i], &err);
		const char *k = json_string_value(json_object_get(m, "kind"));
		char ago[64], mem[16];
		struct timespec now;
		uint64_t created = (uint64_t)json_integer_value(json_object_get(m, "created_ns"));

		if (m && (!kind || (k && !strcmp(k, kind)))) {
			clock_gettime(CLOCK_REALTIME, &now);
			human_duration((uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec -
					       created, ago, sizeof(ago));
			snprintf(mem, sizeof(mem), "%lldM",
				 (long long)json_integer_value(json_object_get(m, "memory_mib")));
			printf("%-20s %-9s %-20.20s %-20.20s %-8s %-9.1f %s ago\n", names[i], k ? k : "?",
			       json_string_value(json_object_get(m, "source")),
			       json_string_value(json_object_get(m, "program")), mem, disk_mib(names[i]),
			       ago);
		}
		json_decref(m);
		free(names[i]);
	}
	free(names);
	return 0;
}

static int remove_names(const char *verb, int argc, char *argv[])
{
	int status = 0;

	if (argc < 1) {
		fprintf(stderr, "arrow %s rm: name the snapshots to remove\n", verb);
		return EXIT_ARROW_ERROR;
	}
	for (int i = 0; i < argc; i++) {
		char dir[4200];
		int err;
		json_t *m = snapstore_meta(argv[i], &err);

		json_decref(m);
		if (!m) {
			fprintf(stderr, "arrow %s rm: no snapshot or template named '%s'\n", verb, argv[i]);
			status = 1;
			continue;
		}
		snapstore_path(argv[i], dir, sizeof(dir));
		/* running clones keep their mapping of the memory file: removal is safe */
		err = snapstore_remove_dir(dir);
		if (err) {
			fprintf(stderr, "arrow %s rm: %s: %s\n", verb, argv[i], strerror(-err));
			status = 1;
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return status;
}

int cmd_snapshot(int argc, char *argv[])
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(snapshot_usage, stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "ls") || !strcmp(argv[1], "list")))
		return argc == 2 ? list(NULL) : bad_option("snapshot ls", argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "rm"))
		return remove_names("snapshot", argc - 2, argv + 2);
	if (argc != 3) {
		fputs(snapshot_usage, stderr);
		return EXIT_ARROW_ERROR;
	}
	return snapshot_create(argv[1], argv[2]);
}

int cmd_template(int argc, char *argv[])
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(template_usage, stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "ls") || !strcmp(argv[1], "list")))
		return argc == 2 ? list("template") : bad_option("template ls", argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "rm"))
		return remove_names("template", argc - 2, argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "create")) {
		const char *name = argv[2];

		if (!runopts_valid_name(name)) {
			fprintf(stderr, "arrow template: invalid name '%s'\n", name);
			return EXIT_ARROW_ERROR;
		}
		/* the rest parses as `arrow run` arguments: argv[2] stands in for "run" */
		return run_program(argc - 2, argv + 2, name);
	}
	fputs(template_usage, stderr);
	return EXIT_ARROW_ERROR;
}
