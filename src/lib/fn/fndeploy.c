// SPDX-License-Identifier: MIT
/* Deploy and remove functions; start-up checks for their instances (fndeploy.h). */
#include "lib/fn/fndeploy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/statedir.h"
#include "lib/net/netstore.h"
#include "lib/state/snapstore.h"
#include "lib/state/store.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int fn_start_timeout_ms(void)
{
	const char *env = getenv("ARROW_FN_START_TIMEOUT");
	long v = env && *env ? strtol(env, NULL, 10) : 0;

	return v > 0 && v <= 3600 ? (int)v * 1000 : 120 * 1000;
}

/* One connection attempt of at most timeout_ms: 0 accepted, -ECONNREFUSED, -ETIMEDOUT... */
static int try_connect(const struct sockaddr_in *sa, int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0, ret;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (ret < 0 && errno != EINPROGRESS) {
		ret = -errno;
	} else if (ret < 0) {
		ret = poll(&p, 1, timeout_ms);
		if (ret == 0)
			ret = -ETIMEDOUT;
		else if (ret < 0)
			ret = -errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
			ret = -(err ? err : errno);
		else
			ret = 0;
	}
	close(fd);
	return ret;
}

/*
 * The MAC the host's neighbour table holds for ip (/proc/net/arp) into mac: true if there
 * is a complete entry.
 */
static bool neigh_mac(const char *ip, char *mac, size_t len)
{
	char line[256], addr[64], hw[64];
	unsigned int type, flags;
	bool found = false;
	FILE *f = fopen("/proc/net/arp", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s 0x%x 0x%x %63s", addr, &type, &flags, hw) == 4 &&
		    !strcmp(addr, ip) && (flags & 0x2)) /* ATF_COM: resolved */
			found = snprintf(mac, len, "%s", hw) < (int)len;
	fclose(f);
	return found;
}

/*
 * A clone of a running Arrow may get the address its template had: its program then
 * accepts on it before ainit has applied the clone's identity (RNG reseed, hostname,
 * MAC). ainit announces the new MAC with a gratuitous ARP once it has: until the host's
 * neighbour entry for ip shows mac, the clone is not ready.
 */
static bool identity_seen(const char *ip, const char *mac)
{
	char seen[64];

	if (!mac || !neigh_mac(ip, seen, sizeof(seen)))
		return true; /* no neighbour table to ask (not a bridge): the port must do */
	return !strcasecmp(seen, mac);
}

int fn_wait_port(const char *ip, unsigned int port, const char *dir, const char *mac,
		 int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;
	const struct timespec pause = { 0, 20 * 1000 * 1000 };

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		return -EINVAL;
	for (int tries = 0;; tries++) {
		/*
		 * A SYN sent before the clone has taken its address is lost, and TCP would
		 * resend it only after a second: a new attempt instead, soon at first (a clone
		 * takes its identity within tens of milliseconds on real KVM), then less often.
		 */
		if (try_connect(&sa, tries < 3 ? 50 << tries : 250) == 0 && identity_seen(ip, mac))
			return 0;
		if (!store_dir_alive(dir))
			return -ESRCH;
		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL); /* refused at once: wait a little before the next try */
	}
}

int fn_arrow_addr(const char *dir, char *ip, size_t len, char *mac, size_t maclen)
{
	char path[4200];
	json_t *cfg, *net;
	const char *v, *m;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "%s/config.json", dir);
	cfg = json_load_file(path, 0, NULL);
	net = json_object_get(cfg, "network");
	v = json_string_value(json_object_get(net, "ip"));
	m = json_string_value(json_object_get(net, "mac"));
	if (v && strlen(v) < len && (!mac || (m && strlen(m) < maclen))) {
		snprintf(ip, len, "%s", v);
		if (mac)
			snprintf(mac, maclen, "%s", m);
		ret = 0;
	}
	json_decref(cfg);
	return ret;
}

#define REPORT_TAIL 6144

/* The last REPORT_TAIL bytes of DIR/FILE to out, whole lines, each after prefix. */
static void copy_tail(const char *dir, const char *file, const char *prefix, FILE *out)
{
	char path[4200], buf[REPORT_TAIL + 1], *line, *save;
	ssize_t n;
	off_t end;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		fprintf(out, "%s: no %s (%s)\n", prefix, file, strerror(errno));
		return;
	}
	end = lseek(fd, 0, SEEK_END);
	n = end < 0 ? -1 : pread(fd, buf, REPORT_TAIL, end > REPORT_TAIL ? end - REPORT_TAIL : 0);
	close(fd);
	if (n < 0) {
		fprintf(out, "%s: cannot read %s\n", prefix, file);
		return;
	}
	buf[n] = 0;
	line = buf;
	if (end > REPORT_TAIL && (line = strchr(buf, '\n'))) /* a cut first line goes */
		line++;
	fprintf(out, "%s: --- the end of its %s ---\n", prefix, file);
	for (line = strtok_r(line ? line : buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		for (char *c = line; *c; c++) /* a guest writes the console: no escapes */
			if ((unsigned char)*c < 0x20 && *c != '\t')
				*c = '?';
		fprintf(out, "%s: %s\n", prefix, line);
	}
}

static int arrow_stop(const char *id, FILE *report)
{
	struct arrow_rec r;
	int ret = store_load(id, &r);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if (r.status == ST_RUNNING)
		launch_hard_stop(&r);
	store_free(&r);
	/* load again: the state the stop left (exited), then remove it */
	if (store_load(id, &r))
		return 0;
	if (report) {
		copy_tail(r.dir, STATE_ARROWH_LOG, store_name(&r), report);
		copy_tail(r.dir, STATE_LOG_FILE, store_name(&r), report);
		fflush(report);
	}
	ret = launch_remove(&r, true, "fn") ? -EIO : 0;
	store_free(&r);
	return ret;
}

int fn_arrow_halt(const char *id)
{
	struct arrow_rec r;
	int ret = store_load(id, &r);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	ret = r.status == ST_RUNNING ? launch_hard_stop(&r) : 0;
	store_free(&r);
	return ret;
}

int fn_arrow_stop(const char *id)
{
	return arrow_stop(id, NULL);
}

int fn_arrow_stop_report(const char *id, FILE *out)
{
	return arrow_stop(id, out);
}

int fn_stop_instances(const char *fn)
{
	struct arrow_rec *list;
	char owner[FN_NAME_MAX + 1];
	int n = store_list(&list), stopped = 0;

	for (int i = 0; i < n; i++) {
		if (!fnstore_instance_of(store_name(&list[i]), owner, sizeof(owner)))
			continue;
		if (fn && strcmp(owner, fn))
			continue;
		if (!fn_arrow_stop(list[i].id))
			stopped++;
	}
	if (n > 0)
		store_free_list(list, n);
	return stopped;
}

/* An Arrow left by an earlier, failed deploy of the same function goes first. */
static void remove_stale(const char *arrow_name)
{
	char id[ARROW_ID_LEN + 1];

	if (!store_resolve(arrow_name, id))
		fn_arrow_stop(id);
}

/*
 * Functions are booted and snapshotted on a network of their own (FN_DEPLOY_NETWORK) and
 * their clones join the default one. A clone resumes with the template's address and
 * takes its own in ainit (docs/snapshots.md, "Clone identity"), after the RNG reseed,
 * clock and hostname: on another subnet its address cannot be the template's, so once its
 * port accepts on its own address, its identity is complete. (On one network a clone
 * could get the address its template had, and accept before it took its identity.)
 */
static int deploy_network(void)
{
	struct netdef d;
	char err[256] = "";
	int lock = netstore_lock(), ret;

	if (lock < 0)
		return lock;
	ret = netstore_load(FN_DEPLOY_NETWORK, &d);
	if (ret == -ENOENT)
		ret = netstore_create(FN_DEPLOY_NETWORK, NULL, &d, err, sizeof(err));
	netstore_unlock(lock);
	if (ret)
		fprintf(stderr, "arrow fn deploy: network %s: %s\n", FN_DEPLOY_NETWORK,
			*err ? err : strerror(-ret));
	return ret;
}

/* run options for the deploy boot: strings point into s */
static int deploy_opts(struct fn_spec *s, struct run_opts *o, char *name, const char ***argv)
{
	size_t nargs = json_array_size(s->args), i;
	json_t *v;

	memset(o, 0, sizeof(*o));
	o->cpus = 1;
	o->boot_timeout_s = -1;
	o->memory_mib = s->memory_mib ? s->memory_mib : 128; /* arrow run's default */
	o->detach = true;
	o->name = name;
	o->network = FN_DEPLOY_NETWORK;
	o->program = s->program;
	*argv = calloc(nargs + 1, sizeof(**argv));
	if (!*argv)
		return -ENOMEM;
	json_array_foreach(s->args, i, v)
		(*argv)[i] = json_string_value(v);
	o->args = (char *const *)*argv;
	o->nr_args = (int)nargs;
	json_array_foreach(s->env, i, v)
		o->env[o->nr_env++] = json_string_value(v);
	return 0;
}

static int boot_and_snapshot(struct fn_spec *s, const char *name)
{
	struct run_opts o;
	struct launched l;
	const char **argv = NULL;
	char ip[64];
	int ret = deploy_network();

	if (ret)
		return ret;
	ret = deploy_opts(s, &o, (char *)name, &argv);

	if (!ret)
		ret = launch_arrow(&o, &l) ? -EIO : 0;
	free(argv);
	if (ret)
		return ret;
	ret = fn_arrow_addr(l.dir, ip, sizeof(ip), NULL, 0);
	if (ret) {
		fprintf(stderr, "arrow fn deploy: %s has no network address\n", name);
		fn_arrow_stop(l.id);
		return ret;
	}
	ret = fn_wait_port(ip, s->port, l.dir, NULL, fn_start_timeout_ms());
	if (ret) {
		fprintf(stderr, "arrow fn deploy: %s %s port %u; see 'arrow logs %s'\n", s->name,
			ret == -ESRCH ? "exited before it listened on" : "did not listen in time on",
			s->port, name);
		if (ret != -ESRCH)
			fn_arrow_stop(l.id);
		return ret;
	}
	/* it listens: every clone of this moment serves at once */
	ret = launch_snapshot(l.id, s->template) ? -EIO : 0;
	fn_arrow_stop(l.id);
	return ret;
}

int fn_deploy(struct fn_spec *s, bool replace)
{
	char name[FN_NAME_MAX + 16], path[4200], why[256];
	struct fn_spec old;
	int ret;

	ret = fnstore_load(s->name, &old, why, sizeof(why));
	fn_spec_free(&old);
	if (ret != -ENOENT && !replace) {
		fprintf(stderr, "arrow fn deploy: function '%s' exists; remove it first "
				"('arrow fn rm %s')\n", s->name, s->name);
		return -EEXIST;
	}
	if (ret != -ENOENT)
		fn_undeploy(s->name);
	snprintf(name, sizeof(name), "fn-%s-deploy", s->name);
	remove_stale(name);
	/* a template without a deployment is what an interrupted deploy left */
	if (!snapstore_path(s->template, path, sizeof(path)))
		snapstore_remove_dir(path);
	ret = boot_and_snapshot(s, name);
	if (ret)
		return ret;
	s->created_ns = statedir_realtime_ns();
	ret = fnstore_save(s);
	if (ret)
		fprintf(stderr, "arrow fn deploy: cannot save %s in %s: %s\n", s->name,
			fnstore_dir(), strerror(-ret));
	return ret;
}

int fn_undeploy(const char *name)
{
	char path[4200], why[256];
	struct fn_spec s;
	int ret = fnstore_load(name, &s, why, sizeof(why));

	if (ret == -ENOENT) {
		fn_spec_free(&s);
		return ret;
	}
	/* a damaged function.json still names its template: fn-NAME (fn_spec_init) */
	fn_stop_instances(name);
	if (!snapstore_path(s.template, path, sizeof(path)))
		snapstore_remove_dir(path);
	fn_spec_free(&s);
	ret = fnstore_remove(name);
	return ret == -ENOENT ? 0 : ret;
}
