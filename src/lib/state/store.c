// SPDX-License-Identifier: MIT
#include "lib/state/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/statedir.h"
#include "common/streamrec.h"

#define EXIT_KILLED 137

const char *store_root(void)
{
	static char root[4096];
	const char *env = getenv("ARROW_ROOT");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		return env;
	if (geteuid() == 0 || !xdg || !*xdg)
		return "/run/arrow";
	snprintf(root, sizeof(root), "%s/arrow", xdg);
	return root;
}

int store_ensure_root(void)
{
	if (mkdir(store_root(), 0711) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int store_lock(void)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", store_root(), STATE_ROOT_LOCK);
	return statedir_lock_file(path);
}

void store_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

static bool is_id(const char *s)
{
	if (strlen(s) != ARROW_ID_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

const char *store_name(const struct arrow_rec *r)
{
	const char *n = json_string_value(json_object_get(r->config, "name"));

	return n ? n : "";
}

static uint64_t json_u64(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/* Is the Arrow's arrowh alive? It holds arrowh.lock for its whole life. */
bool store_dir_alive(const char *dir)
{
	char path[4200];
	int fd;
	bool alive;

	snprintf(path, sizeof(path), "%s/%s", dir, STATE_LOCK_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	alive = statedir_claimed(fd);
	close(fd);
	return alive;
}

static json_t *load_json(const char *dir, const char *name)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return json_load_file(path, 0, NULL);
}

int store_load(const char *id, struct arrow_rec *r)
{
	json_t *st;

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->dir, sizeof(r->dir), "%s/%s", store_root(), id);
	r->config = load_json(r->dir, STATE_CONFIG_FILE);
	if (!r->config)
		return -ENOENT;
	r->created_ns = json_u64(r->config, "created_ns");
	r->status = ST_CREATED;
	st = load_json(r->dir, STATE_FILE);
	if (st) {
		const char *s = json_string_value(json_object_get(st, "status"));

		r->started_ns = json_u64(st, "started_ns");
		r->finished_ns = json_u64(st, "finished_ns");
		r->pid = (int)json_u64(st, "pid");
		r->vmm_pid = (int)json_u64(st, "vmm_pid");
		r->exit_code = (int)json_integer_value(json_object_get(st, "exit_code"));
		if (s && !strcmp(s, "running"))
			r->status = ST_RUNNING;
		else if (s && !strcmp(s, "exited"))
			r->status = ST_EXITED;
		json_decref(st);
	}
	/* arrowh writes "exited" before it lets go of the lock: running + free lock = killed. */
	if (r->status == ST_RUNNING && !store_dir_alive(r->dir)) {
		char buf[256];
		int n;

		st = load_json(r->dir, STATE_FILE); /* it may have exited just now */
		if (st && !strcmp(json_string_value(json_object_get(st, "status")) ?: "", "exited")) {
			json_decref(st);
			store_free(r);
			return store_load(id, r);
		}
		json_decref(st);
		r->status = ST_EXITED;
		r->exit_code = EXIT_KILLED;
		r->pid = 0;
		r->finished_ns = statedir_realtime_ns();
		n = snprintf(buf, sizeof(buf),
			     "{\"status\": \"exited\", \"pid\": 0, \"started_ns\": %llu, "
			     "\"finished_ns\": %llu, \"exit_code\": %d, \"killed\": true}\n",
			     (unsigned long long)r->started_ns, (unsigned long long)r->finished_ns,
			     EXIT_KILLED);
		statedir_write_file(r->dir, STATE_FILE, buf, (size_t)n);
	}
	return 0;
}

void store_free(struct arrow_rec *r)
{
	json_decref(r->config);
	r->config = NULL;
}

static int cmp_created(const void *a, const void *b)
{
	const struct arrow_rec *x = a, *y = b;

	return x->created_ns < y->created_ns ? -1 : x->created_ns > y->created_ns;
}

int store_list(struct arrow_rec **out)
{
	DIR *d = opendir(store_root());
	struct dirent *e;
	struct arrow_rec *list = NULL;
	int n = 0, cap = 0;

	*out = NULL;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (!is_id(e->d_name))
			continue;
		if (n == cap) {
			struct arrow_rec *bigger;

			cap = cap ? 2 * cap : 16;
			bigger = realloc(list, (size_t)cap * sizeof(*list));
			if (!bigger) {
				store_free_list(list, n);
				closedir(d);
				return -ENOMEM;
			}
			list = bigger;
		}
		if (store_load(e->d_name, &list[n]) == 0)
			n++;
	}
	closedir(d);
	if (n)
		qsort(list, (size_t)n, sizeof(*list), cmp_created);
	*out = list;
	return n;
}

void store_free_list(struct arrow_rec *list, int n)
{
	for (int i = 0; i < n; i++)
		store_free(&list[i]);
	free(list);
}

static bool name_taken(const char *name)
{
	struct arrow_rec *list;
	int n = store_list(&list);
	bool taken = false;

	for (int i = 0; i < n && !taken; i++)
		taken = !strcmp(store_name(&list[i]), name);
	store_free_list(list, n);
	return taken;
}

/* Docker-like made-up names: adjective_noun, unique in the root. */
static void make_name(char *out, size_t len)
{
	static const char *const adj[] = { "swift", "bright", "quiet", "bold", "calm", "keen",
					   "brave", "lucky", "proud", "wise", "eager", "gentle" };
	static const char *const noun[] = { "arrow", "falcon", "otter", "comet", "maple", "heron",
					    "cedar", "lynx", "orbit", "pebble", "quartz", "raven" };
	uint32_t rnd;

	for (int tries = 0;; tries++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)time(NULL) + (uint32_t)tries;
		if (tries < 8)
			snprintf(out, len, "%s_%s", adj[rnd % 12], noun[(rnd >> 8) % 12]);
		else
			snprintf(out, len, "%s_%s_%u", adj[rnd % 12], noun[(rnd >> 8) % 12],
				 (rnd >> 16) % 1000);
		if (!name_taken(out))
			return;
	}
}

int store_create(const char *name, char id[ARROW_ID_LEN + 1], char *dir, size_t dirlen,
		 char *final_name, size_t namelen)
{
	uint8_t raw[ARROW_ID_LEN / 2];

	if (name && name_taken(name))
		return -EEXIST;
	if (name)
		snprintf(final_name, namelen, "%s", name);
	else
		make_name(final_name, namelen);
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	if (snprintf(dir, dirlen, "%s/%s", store_root(), id) >= (int)dirlen)
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0)
		return -errno;
	return 0;
}

int store_resolve(const char *ref, char id[ARROW_ID_LEN + 1])
{
	struct arrow_rec *list;
	int n = store_list(&list), found = -1, matches = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) /* a name wins over an id prefix, as in docker */
		if (!strcmp(store_name(&list[i]), ref))
			found = i;
	if (found < 0 && *ref) {
		for (int i = 0; i < n; i++) {
			if (!strncmp(list[i].id, ref, strlen(ref))) {
				found = i;
				matches++;
			}
		}
		if (matches > 1) {
			store_free_list(list, n);
			return -EAGAIN;
		}
	}
	if (found >= 0)
		snprintf(id, ARROW_ID_LEN + 1, "%s", list[found].id);
	store_free_list(list, n);
	return found >= 0 ? 0 : -ENOENT;
}

int store_lookup(const char *cmd, const char *ref, struct arrow_rec *r)
{
	char id[ARROW_ID_LEN + 1];
	int ret = store_resolve(ref, id);

	if (ret == -EAGAIN) {
		fprintf(stderr, "arrow %s: '%s' matches more than one Arrow; give more of the id\n",
			cmd, ref);
		return -1;
	}
	if (!ret)
		ret = store_load(id, r);
	if (ret) {
		fprintf(stderr, "arrow %s: no such Arrow: %s\n", cmd, ref);
		return -1;
	}
	return 0;
}

int store_wait_gone(const struct arrow_rec *r, int timeout_ms)
{
	char path[4200];
	struct timespec start, now;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", r->dir, STATE_LOCK_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (timeout_ms < 0) {
		int ret = statedir_wait_unclaimed(fd);

		close(fd);
		return ret;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (!statedir_claimed(fd))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
		    timeout_ms) {
			close(fd);
			return -ETIMEDOUT;
		}
		poll(NULL, 0, 20);
	}
	close(fd);
	return 0;
}

int store_connect(const struct arrow_rec *r, uint32_t type, uint32_t arg)
{
	struct hostctl_req req = { .magic = HOSTCTL_MAGIC, .type = type, .arg = arg };
	struct sockaddr_un sa;
	int fd, dir_fd, ret;

	ret = statedir_sockaddr(r->dir, &sa, &dir_fd);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ret = fd < 0 ? -errno : 0;
	if (!ret && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		ret = -errno;
	if (!ret && send(fd, &req, sizeof(req), MSG_NOSIGNAL) != sizeof(req))
		ret = -errno;
	if (dir_fd >= 0)
		close(dir_fd);
	if (ret && fd >= 0)
		close(fd);
	return ret ? ret : fd;
}

int store_request(const struct arrow_rec *r, uint32_t type, uint32_t arg)
{
	struct hostctl_reply rep;
	int fd = store_connect(r, type, arg), ret;

	if (fd < 0)
		return fd;
	ret = recv(fd, &rep, sizeof(rep), MSG_WAITALL) == sizeof(rep) ? rep.status : -ECONNRESET;
	close(fd);
	return ret;
}

int store_remove(const struct arrow_rec *r)
{
	return statedir_remove(r->dir);
}
