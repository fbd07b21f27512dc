// SPDX-License-Identifier: MIT
/* arrow-oci start, state, kill, delete, list, ps, features (docs/oci.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/statedir.h"
#include "container.h"
#include "hooks.h"
#include "lib/net/netns.h"
#include "lib/state/store.h"
#include "log.h"
#include "oci.h"
#include "common/streamrec.h"

#define KILL_WAIT_MS 10000

static int load_or_say(const char *id, struct oci_container *c)
{
	int ret = oci_container_load(id, c);

	if (ret == -ENOENT || ret == -EINVAL || ret == -ENAMETOOLONG) {
		if (!oci_id_valid(id))
			oci_error("invalid container id '%.80s'", id);
		else if (ret == -EINVAL)
			oci_error("container %s: its state record is damaged (delete --force removes it)",
				  id);
		else
			oci_error("container %s does not exist", id);
		return 1;
	}
	return ret ? 1 : 0;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* poststart, poststop: failures are warnings (hooks.c). */
static void run_hooks(struct oci_container *c, const char *kind)
{
	json_t *hooks = c->rec ? json_object_get(c->rec, "hooks") : NULL, *st;
	char why[16];

	if (!hooks)
		return;
	oci_container_refresh(c);
	st = oci_state_json(c);
	if (st)
		oci_hooks_run(hooks, kind, st, false, why, sizeof(why));
	json_decref(st);
}

int oci_start(const char *id)
{
	struct oci_container c;
	char created[PATH_MAX + 16];
	int ret = 1, err;

	if (load_or_say(id, &c))
		return 1;
	if (c.status != OCI_CREATED) {
		oci_error("cannot start container %s: it is %s, not created", id,
			  oci_status_name(c.status));
		goto out;
	}
	snprintf(created, sizeof(created), "%s/%s", c.dir, OCI_CREATED_FILE);
	/* the guest booted at create and waits: arrowh tells ainit to run the process */
	err = oci_arrowh_request(&c, HOSTCTL_START, 0);
	if (err == 0) {
		unlink(created);
		ret = 0;
		run_hooks(&c, "poststart");
	} else if (err == -EALREADY) {
		/* another start took it (concurrently, or one stopped before it removed the file) */
		unlink(created);
		oci_error("cannot start container %s: it was started already", id);
	} else if (!oci_proc_alive(c.pid, c.pid_start)) {
		oci_error("cannot start container %s: its process has ended", id);
	} else {
		oci_error("cannot start container %s: arrowh did not take the start (%s): its "
			  "messages are in the container's output; delete --force removes it", id,
			  strerror(-err));
	}
out:
	oci_container_free(&c);
	return ret;
}

int oci_state(const char *id)
{
	struct oci_container c;
	json_t *st;
	char *text;

	if (load_or_say(id, &c))
		return 1;
	st = oci_state_json(&c);
	text = st ? json_dumps(st, JSON_INDENT(2)) : NULL;
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(st);
	oci_container_free(&c);
	return text ? 0 : 1;
}

int oci_parse_signal(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{ "HUP", SIGHUP },	 { "INT", SIGINT },	  { "QUIT", SIGQUIT },	  { "ILL", SIGILL },
		{ "TRAP", SIGTRAP },	 { "ABRT", SIGABRT },	  { "IOT", SIGIOT },	  { "BUS", SIGBUS },
		{ "FPE", SIGFPE },	 { "KILL", SIGKILL },	  { "USR1", SIGUSR1 },	  { "SEGV", SIGSEGV },
		{ "USR2", SIGUSR2 },	 { "PIPE", SIGPIPE },	  { "ALRM", SIGALRM },	  { "TERM", SIGTERM },
		{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },	  { "CONT", SIGCONT },	  { "STOP", SIGSTOP },
		{ "TSTP", SIGTSTP },	 { "TTIN", SIGTTIN },	  { "TTOU", SIGTTOU },	  { "URG", SIGURG },
		{ "XCPU", SIGXCPU },	 { "XFSZ", SIGXFSZ },	  { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
		{ "WINCH", SIGWINCH },	 { "IO", SIGIO },	  { "POLL", SIGPOLL },	  { "PWR", SIGPWR },
		{ "SYS", SIGSYS },
	};
	char *end;
	long v;

	if (!s || !*s)
		return 0;
	if (*s >= '0' && *s <= '9') {
		v = strtol(s, &end, 10);
		return *end || v < 1 || v > 64 ? 0 : (int)v;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcasecmp(s, sigs[i].name))
			return sigs[i].sig;
	return 0;
}

/* A signal for the app: through arrowh's control socket (created: ainit waiting for the
 * start ends as the process would have), else to arrowh itself, which forwards it. */
static int signal_container(const struct oci_container *c, int sig)
{
	if (oci_status_alive(c->status) && oci_arrowh_request(c, HOSTCTL_SIGNAL, (uint32_t)sig) == 0)
		return 0;
	if (!oci_proc_alive(c->pid, c->pid_start))
		return -ESRCH;
	return kill(c->pid, sig) < 0 ? -errno : 0;
}

int oci_kill(const char *id, const char *signal, bool all)
{
	struct oci_container c;
	int sig = signal ? oci_parse_signal(signal) : SIGTERM, ret;

	(void)all; /* one process tree per Arrow: --all is the same */
	if (!sig) {
		oci_error("invalid signal '%.40s'", signal);
		return 1;
	}
	if (load_or_say(id, &c))
		return 1;
	if (!oci_status_alive(c.status)) {
		oci_error("container %s is not running", id);
		oci_container_free(&c);
		return 1;
	}
	ret = signal_container(&c, sig);
	if (ret)
		oci_error("cannot signal container %s: %s", id,
			  ret == -ESRCH ? "container not running" : strerror(-ret));
	oci_container_free(&c);
	return ret ? 1 : 0;
}

static void wait_gone(const struct oci_container *c)
{
	for (int waited = 0; waited < KILL_WAIT_MS && oci_proc_alive(c->pid, c->pid_start);
	     waited += 20)
		sleep_ms(20);
}

int oci_delete(const char *id, bool force)
{
	struct oci_container c;
	char sub[PATH_MAX + 16], why[16];
	struct netns_nic nic;
	json_t *stopped;
	const char *cg, *ns;
	int ret = oci_container_load(id, &c);

	if (ret == -EINVAL && force && oci_id_valid(id)) {
		ret = 0; /* a damaged record: remove what is there */
		c.status = OCI_STOPPED;
	} else if (load_or_say(id, &c)) {
		return 1;
	}
	if ((c.status == OCI_RUNNING || c.status == OCI_PAUSED) && !force) {
		oci_error("cannot delete container %s that is not stopped: %s (delete --force "
			  "kills it)", id, oci_status_name(c.status));
		oci_container_free(&c);
		return 1;
	}
	/* creating with a record: a create that was killed while the guest booted */
	if (oci_status_alive(c.status) || (c.status == OCI_CREATING && c.rec)) {
		kill(c.pid, SIGKILL);
		wait_gone(&c);
		if (oci_proc_alive(c.pid, c.pid_start)) {
			oci_error("container %s: its process %d did not end", id, (int)c.pid);
			oci_container_free(&c);
			return 1;
		}
	}
	ns = c.rec ? json_string_value(json_object_get(c.rec, "netns")) : NULL;
	if (ns && ns[0] == '/' &&
	    netns_leave(ns, netns_nic_from_json(json_object_get(c.rec, "netns_nic"), &nic) ? NULL : &nic))
		oci_warn("container %s: network namespace %s could not be given back as it was", id, ns);
	/* poststop: after the container is gone, before delete returns; its state first */
	oci_container_refresh(&c);
	stopped = c.rec && json_object_get(c.rec, "hooks") ? oci_state_json(&c) : NULL;
	cg = c.rec ? json_string_value(json_object_get(c.rec, "cgroup")) : NULL;
	if (cg && cgroup_remove(cg, 2000) && cgroup_remove(cg, 0) != -EINVAL)
		oci_warn("container %s: its cgroup %s could not be removed", id, cg);
	if (c.rec)
		oci_vsock_dir_remove(json_string_value(json_object_get(c.rec, "vsock_dir")));
	snprintf(sub, sizeof(sub), "%s/%s", c.dir, OCI_ARROW_DIR);
	statedir_remove(sub);
	ret = statedir_remove(c.dir);
	if (ret && ret != -ENOENT)
		oci_error("cannot remove %s: %s", c.dir, strerror(-ret));
	if (stopped)
		oci_hooks_run(json_object_get(c.rec, "hooks"), "poststop", stopped, false, why,
			      sizeof(why));
	json_decref(stopped);
	oci_container_free(&c);
	return ret && ret != -ENOENT ? 1 : 0;
}

int oci_list(bool quiet, bool json)
{
	DIR *d = opendir(oci_root());
	json_t *all = json_array();
	struct dirent *e;

	if (!quiet && !json)
		printf("%-24s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
		       "OWNER");
	while (d && (e = readdir(d))) {
		struct oci_container c;

		if (e->d_name[0] == '.' || oci_container_load(e->d_name, &c))
			continue;
		if (quiet)
			printf("%s\n", c.id);
		else if (json)
			json_array_append_new(all, oci_state_json(&c));
		else
			printf("%-24s %-8d %-10s %-40s %-30s %s\n", c.id,
			       oci_status_alive(c.status) ? (int)c.pid : 0,
			       oci_status_name(c.status),
			       c.rec ? json_string_value(json_object_get(c.rec, "bundle")) : "",
			       c.rec ? json_string_value(json_object_get(c.rec, "created")) : "",
			       geteuid() == 0 ? "root" : "");
		oci_container_free(&c);
	}
	if (d)
		closedir(d);
	if (json) {
		char *text = json_dumps(all, JSON_COMPACT);

		printf("%s\n", text ? text : "[]");
		free(text);
	}
	json_decref(all);
	return 0;
}

int oci_ps(const char *id, bool json)
{
	struct oci_container c;
	bool alive;

	if (load_or_say(id, &c))
		return 1;
	alive = oci_status_alive(c.status);
	if (json)
		printf(alive ? "[%d]\n" : "[]\n", (int)c.pid);
	else
		printf(alive ? "PID\n%d\n" : "PID\n", (int)c.pid);
	oci_container_free(&c);
	return 0;
}

int oci_pause(const char *id, bool pause)
{
	struct oci_container c;
	int ret;

	if (load_or_say(id, &c))
		return 1;
	if (c.status != (pause ? OCI_RUNNING : OCI_PAUSED)) {
		oci_error("cannot %s container %s: it is %s", pause ? "pause" : "resume", id,
			  oci_status_name(c.status));
		oci_container_free(&c);
		return 1;
	}
	ret = oci_arrowh_request(&c, pause ? HOSTCTL_PAUSE : HOSTCTL_RESUME, 0);
	if (ret)
		oci_error("cannot %s container %s: %s", pause ? "pause" : "resume", id,
			  ret == -EINVAL ? "its arrowh is too old" :
			  ret == -ETIMEDOUT ? "a vCPU did not stop (its output is not being read)" :
			  strerror(-ret));
	oci_container_free(&c);
	return ret ? 1 : 0;
}

int oci_features(void)
{
	json_t *f = json_pack(
		"{s:s, s:s, s:[s,s,s,s], s:[s,s,s,s], s:{s:[s,s,s,s,s,s,s,s], s:[], s:{s:b, s:b, s:b}, "
		"s:{s:b}, s:{s:b}, s:{s:b}}, s:{s:s, s:s, s:s}}",
		"ociVersionMin", "1.0.0", "ociVersionMax", OCI_SPEC_VERSION, "hooks", "prestart",
		"createRuntime", "poststart", "poststop", "mountOptions",
		"bind", "rbind", "ro", "rw", "linux", "namespaces", "cgroup", "ipc", "mount",
		"network", "pid", "user", "uts", "time", "capabilities", "cgroup", "v1", 0, "v2", 1,
		"systemd", 1, "seccomp", "enabled", 0, "apparmor", "enabled", 0, "selinux", "enabled",
		0, "annotations", "org.arrow.runtime", "arrowh", "org.arrow.isolation",
		"a KVM virtual machine per container", "org.arrow.docs", "docs/oci.md");
	char *text = f ? json_dumps(f, JSON_INDENT(2)) : NULL;

	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(f);
	return text ? 0 : 1;
}
