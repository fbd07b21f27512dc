// SPDX-License-Identifier: MIT
/* arrow-oci's per-container state and the runtime-spec state object (oci/container.h). */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/statedir.h"
#include "common/streamrec.h"
#include "lib/state/store.h"

static char root_buf[PATH_MAX];

const char *oci_root(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (root_buf[0])
		return root_buf;
	if (geteuid() != 0 && xdg && xdg[0] == '/')
		snprintf(root_buf, sizeof(root_buf), "%s/arrow-oci", xdg);
	else
		snprintf(root_buf, sizeof(root_buf), "/run/arrow-oci");
	return root_buf;
}

void oci_set_root(const char *root)
{
	snprintf(root_buf, sizeof(root_buf), "%s", root);
}

int oci_root_ensure(void)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", oci_root());
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0711) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

/* Fields 3 (state), 20 (num_threads) and 22 (starttime) of /proc/PID/stat. */
static int proc_stat_fields(pid_t pid, unsigned long long *start, char *state, long *threads)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold anything, ')' too */
	if (!p || !p[1] || !p[2])
		return -EIO;
	*state = p[2];
	p += 2; /* each turn moves to the start of field number `field` */
	for (int field = 4; field <= 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EIO;
		p++;
		if (field == 20)
			*threads = strtol(p, NULL, 10);
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

int oci_proc_stat(pid_t pid, unsigned long long *start, char *state)
{
	long threads;

	return proc_stat_fields(pid, start, state, &threads);
}

bool oci_proc_alive(pid_t pid, unsigned long long start)
{
	unsigned long long now;
	long threads = 0;
	char state;

	if (proc_stat_fields(pid, &now, &state, &threads) || now != start || state == 'X')
		return false;
	/*
	 * A zombie leader whose other threads are still exiting is not gone: arrowh's last
	 * threads may still be tearing the VM down (freeing guest memory), and its parent can
	 * reap it only after them, so kill(pid, 0) still finds it. Stopped means no thread left.
	 */
	return state != 'Z' || threads > 1;
}

const char *oci_status_name(enum oci_status st)
{
	static const char *const names[] = { "creating", "created", "running", "stopped",
					     "paused" };

	return names[st];
}

void oci_container_refresh(struct oci_container *c)
{
	char created[PATH_MAX + 16];

	if (!c->rec) {
		c->status = OCI_CREATING;
		return;
	}
	if (!oci_proc_alive(c->pid, c->pid_start)) {
		c->status = OCI_STOPPED;
		return;
	}
	if (json_is_true(json_object_get(c->rec, "booting"))) {
		c->status = OCI_CREATING; /* create still waits for the guest to reach the gate */
		return;
	}
	snprintf(created, sizeof(created), "%s/%s", c->dir, OCI_CREATED_FILE);
	c->status = access(created, F_OK) == 0 ? OCI_CREATED : OCI_RUNNING;
	/* paused is arrowh's to know: asked, never stored, so it cannot go stale */
	if (c->status == OCI_RUNNING && oci_arrowh_request(c, HOSTCTL_PAUSED, 0) == 1)
		c->status = OCI_PAUSED;
}

int oci_arrowh_request(const struct oci_container *c, uint32_t type, uint32_t arg)
{
	struct arrow_rec *r = calloc(1, sizeof(*r));
	int ret = -ENAMETOOLONG;

	if (!r)
		return -ENOMEM;
	if ((size_t)snprintf(r->dir, sizeof(r->dir), "%s/%s", c->dir, OCI_ARROW_DIR) <
	    sizeof(r->dir))
		ret = store_request(r, type, arg);
	free(r);
	return ret;
}

int oci_container_load(const char *id, struct oci_container *c)
{
	char path[PATH_MAX + 16];
	struct stat st;
	json_t *pid, *start;

	memset(c, 0, sizeof(*c));
	if (!oci_id_valid(id))
		return -EINVAL;
	snprintf(c->id, sizeof(c->id), "%s", id);
	if ((size_t)snprintf(c->dir, sizeof(c->dir), "%s/%s", oci_root(), id) >= sizeof(c->dir))
		return -ENAMETOOLONG;
	if (lstat(c->dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", c->dir, OCI_RECORD_FILE);
	c->rec = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	if (c->rec) {
		pid = json_object_get(c->rec, "pid");
		start = json_object_get(c->rec, "pid_start");
		if (!json_is_object(c->rec) || !json_is_integer(pid) || !json_is_integer(start) ||
		    !json_is_string(json_object_get(c->rec, "bundle")) ||
		    json_integer_value(pid) <= 0 || json_integer_value(pid) > 0x7fffffff) {
			json_decref(c->rec);
			c->rec = NULL;
			return -EINVAL;
		}
		c->pid = (pid_t)json_integer_value(pid);
		c->pid_start = (unsigned long long)json_integer_value(start);
	}
	oci_container_refresh(c);
	return 0;
}

void oci_container_free(struct oci_container *c)
{
	json_decref(c->rec);
	c->rec = NULL;
}

void oci_rfc3339(unsigned long long ns, char *out, size_t len)
{
	time_t secs = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char base[32];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%09lluZ", base, ns % 1000000000ull);
}

json_t *oci_state_json(const struct oci_container *c)
{
	json_t *rec = c->rec, *ann = rec ? json_object_get(rec, "annotations") : NULL;
	json_t *st;

	st = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "ociVersion", OCI_SPEC_VERSION,
		       "id", c->id, "status", oci_status_name(c->status), "pid",
		       oci_status_alive(c->status) ? (int)c->pid : 0,
		       "bundle", rec ? json_string_value(json_object_get(rec, "bundle")) : "",
		       "rootfs",
		       rec && json_string_value(json_object_get(rec, "rootfs")) ?
			       json_string_value(json_object_get(rec, "rootfs")) : "",
		       "created",
		       rec && json_string_value(json_object_get(rec, "created")) ?
			       json_string_value(json_object_get(rec, "created")) : "",
		       "owner", "");
	if (st)
		json_object_set_new(st, "annotations",
				    json_is_object(ann) ? json_deep_copy(ann) : json_object());
	return st;
}

json_t *oci_record_new(const char *id, const char *bundle, const struct oci_spec *s, pid_t pid,
		       unsigned long long pid_start, const char *cgroup)
{
	char created[48];

	oci_rfc3339(statedir_realtime_ns(), created, sizeof(created));
	return json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:O, s:s?, s:b}", "id", id, "bundle", bundle,
			 "rootfs", s->root, "pid", (int)pid, "pid_start", (json_int_t)pid_start,
			 "created", created, "annotations", s->annotations, "cgroup", cgroup,
			 "terminal", s->terminal);
}
