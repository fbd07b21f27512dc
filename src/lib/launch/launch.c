// SPDX-License-Identifier: MIT
/*
 * The launch path (lib/launch/launch.h): check the program, assemble the initramfs pieces, register
 * the Arrow, join its network and cgroup, start arrowh. `arrow run`, templates and the
 * functions gateway come here; clones go on in clone.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "common/protocol.h"
#include "common/runcfg.h"
#include "common/statedir.h"
#include "common/stdfds.h"
#include "lib/launch/arrowh_cmd.h"
#include "lib/state/jailuser.h"
#include "lib/image/elfinfo.h"
#include "lib/state/paths.h"
#include "lib/image/guestbase.h"
#include "lib/image/piece.h"
#include "lib/launch/runopts.h"
#include "lib/net/netstore.h"
#include "lib/net/passt.h"
#include "lib/state/snapstore.h"
#include "lib/state/store.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL;

	if (strchr(name, '/'))
		return access(name, F_OK) == 0 ? strdup(name) : NULL;
	copy = strdup(path && *path ? path : DEFAULT_PATH);
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char *cand;
		struct stat st;

		if (asprintf(&cand, "%s/%s", *dir ? dir : ".", name) < 0)
			break;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			found = cand;
		else
			free(cand);
	}
	free(copy);
	return found;
}

/* 0 if the program can run as an Arrow; else prints why and returns the exit code. */
static int check_program(const char *name, const char *path)
{
	struct elf_info info;
	struct stat st;
	int ret;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "arrow: %s: %s\n", name, strerror(errno));
		return errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "arrow: %s is not a regular file\n", name);
		return EXIT_CANNOT_INVOKE;
	}
	if (access(path, X_OK) < 0) {
		fprintf(stderr, "arrow: %s is not executable (permission denied)\n", name);
		return EXIT_CANNOT_INVOKE;
	}
	ret = elfinfo_file(path, &info);
	if (ret) {
		fprintf(stderr, "arrow: cannot read %s: %s\n", name, strerror(-ret));
		return EXIT_CANNOT_INVOKE;
	}
	switch (info.kind) {
	case ELF_STATIC:
		return 0;
	case ELF_DYNAMIC:
		fprintf(stderr,
			"arrow: %s is dynamically linked (needs %s); run a statically linked program, "
			"or make an image of it with its libraries: arrow build -t NAME --from-host %s\n",
			name, info.interp[0] ? info.interp : "an ELF interpreter", name);
		return EXIT_CANNOT_INVOKE;
	case ELF_SCRIPT:
		fprintf(stderr, "arrow: %s is a script; an Arrow runs a statically linked ELF program "
				"(run its interpreter, e.g. a static busybox sh, with the script)\n", name);
		return EXIT_CANNOT_INVOKE;
	case ELF_WRONG_ARCH:
		fprintf(stderr, "arrow: %s is not an x86-64 program\n", name);
		return EXIT_CANNOT_INVOKE;
	default:
		fprintf(stderr, "arrow: %s is not an executable ELF program\n", name);
		return EXIT_CANNOT_INVOKE;
	}
}

static bool env_has(const struct run_opts *o, const char *key)
{
	size_t n = strlen(key);

	for (unsigned int i = 0; i < o->nr_env; i++)
		if (!strncmp(o->env[i], key, n) && (o->env[i][n] == '=' || o->env[i][n] == '\0'))
			return true;
	return false;
}

static int build_config(const struct run_opts *o, const struct net_attach *na,
			const char *hostname, const char *guest_prog, const char *argv0, char **buf,
			size_t *len)
{
	char *kv = NULL;
	int ret = 0;

	*buf = NULL;
	*len = 0;
	ret |= runcfg_append(buf, len, RUNCFG_PROGRAM, guest_prog);
	ret |= runcfg_append(buf, len, RUNCFG_ARG, argv0);
	for (int i = 0; i < o->nr_args; i++)
		ret |= runcfg_append(buf, len, RUNCFG_ARG, o->args[i]);
	if (!env_has(o, "PATH"))
		ret |= runcfg_append(buf, len, RUNCFG_ENV, "PATH=" DEFAULT_PATH);
	if (!env_has(o, "HOSTNAME") && asprintf(&kv, "HOSTNAME=%s", hostname) > 0) {
		ret |= runcfg_append(buf, len, RUNCFG_ENV, kv);
		free(kv);
	}
	if (!env_has(o, "HOME"))
		ret |= runcfg_append(buf, len, RUNCFG_ENV, "HOME=/root");
	if (o->tty && !env_has(o, "TERM"))
		ret |= runcfg_append(buf, len, RUNCFG_ENV, "TERM=xterm");
	for (unsigned int i = 0; i < o->nr_env; i++) {
		const char *value;

		if (strchr(o->env[i], '=')) {
			ret |= runcfg_append(buf, len, RUNCFG_ENV, o->env[i]);
			continue;
		}
		value = getenv(o->env[i]); /* KEY alone: copied from here when set, as docker does */
		if (value && asprintf(&kv, "%s=%s", o->env[i], value) > 0) {
			ret |= runcfg_append(buf, len, RUNCFG_ENV, kv);
			free(kv);
		}
	}
	ret |= runcfg_append(buf, len, RUNCFG_WORKDIR, o->workdir ? o->workdir : "/");
	ret |= runcfg_append(buf, len, RUNCFG_HOSTNAME, hostname);
	for (unsigned int i = 0; i < o->nr_volumes; i++) {
		if (asprintf(&kv, "arrowvol%u:%s:%s", i, o->volumes[i].read_only ? "ro" : "rw",
			     o->volumes[i].guest) < 0)
			return -ENOMEM;
		ret |= runcfg_append(buf, len, RUNCFG_VOLUME, kv);
		free(kv);
	}
	if (o->user) {
		char num[16];

		snprintf(num, sizeof(num), "%u", o->uid);
		ret |= runcfg_append(buf, len, RUNCFG_UID, num);
		snprintf(num, sizeof(num), "%u", o->gid);
		ret |= runcfg_append(buf, len, RUNCFG_GID, num);
	}
	if (o->tty)
		ret |= runcfg_append(buf, len, RUNCFG_TTY, "1");
	if (na)
		ret |= run_net_config(o, na, buf, len);
	return ret ? -ENOMEM : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static json_t *string_array(char *const *v, int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The Arrow's directory and config.json, under the root lock (names stay unique). */
int register_arrow(const struct run_opts *o, const char *prog_path, struct new_arrow *a)
{
	json_t *cfg, *env = json_array();
	char *text;
	int lock, ret;

	ret = store_ensure_root();
	if (ret) {
		fprintf(stderr, "arrow: cannot create the state root %s: %s\n", store_root(),
			strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	lock = store_lock();
	if (lock < 0) {
		fprintf(stderr, "arrow: cannot lock %s: %s\n", store_root(), strerror(-lock));
		return EXIT_ARROW_ERROR;
	}
	ret = store_create(o->name, a->id, a->dir, sizeof(a->dir), a->name, sizeof(a->name));
	if (ret) {
		store_unlock(lock);
		if (ret == -EEXIST)
			fprintf(stderr, "arrow: the name '%s' is already in use; remove that Arrow "
					"(arrow rm %s) or choose another name\n", o->name, o->name);
		else
			fprintf(stderr, "arrow: cannot create the Arrow's state in %s: %s\n",
				store_root(), strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	for (unsigned int i = 0; i < o->nr_env; i++)
		json_array_append_new(env, json_string(o->env[i]));
	cfg = json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:o, s:s, s:s?, s:s, s:I, s:i, s:b, s:b, "
			"s:b, s:b, s:s?, s:s?}",
			"id", a->id, "name", a->name, "created_ns", (json_int_t)statedir_realtime_ns(),
			"program", o->program, "path", prog_path,
			"args", string_array(o->args, o->nr_args), "env", env,
			"workdir", o->workdir ? o->workdir : "/", "user", o->user,
			"hostname", o->hostname ? o->hostname : a->name,
			"memory_mib", (json_int_t)o->memory_mib, "cpus", (int)o->cpus,
			"auto_remove", o->remove, "detached", o->detach, "interactive", o->interactive,
			"tty", o->tty, "argv0", o->argv0, "from", o->from);
	if (cfg && o->nr_volumes) {
		json_t *vols = json_array();

		for (unsigned int i = 0; i < o->nr_volumes; i++)
			json_array_append_new(vols, json_pack("{s:s, s:s, s:b}", "host",
							      o->volumes[i].host, "guest",
							      o->volumes[i].guest, "read_only",
							      o->volumes[i].read_only));
		json_object_set_new(cfg, "volumes", vols);
	}
	text = cfg ? json_dumps(cfg, JSON_INDENT(2)) : NULL;
	ret = text ? statedir_write_file(a->dir, STATE_CONFIG_FILE, text, strlen(text)) : -ENOMEM;
	free(text);
	json_decref(cfg);
	if (ret) {
		statedir_remove(a->dir);
		fprintf(stderr, "arrow: cannot write %s/%s: %s\n", a->dir, STATE_CONFIG_FILE,
			strerror(-ret));
	}
	store_unlock(lock);
	return ret ? EXIT_ARROW_ERROR : 0;
}

void unregister_arrow(const struct new_arrow *a)
{
	int lock;

	net_release(a->id);
	run_cgroup_unregister(a->dir);
	lock = store_lock();

	statedir_remove(a->dir);
	store_unlock(lock);
}

/* Record the Arrow's network in its config.json (written before the network was joined). */
int record_network(const struct new_arrow *a, const struct net_attach *na)
{
	json_t *cfg;
	char path[4200], *text;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", a->dir, STATE_CONFIG_FILE);
	cfg = json_load_file(path, 0, NULL);
	if (!cfg)
		return -EIO;
	json_object_set_new(cfg, "network", run_net_json(na));
	text = json_dumps(cfg, JSON_INDENT(2));
	ret = text ? statedir_write_file(a->dir, STATE_CONFIG_FILE, text, strlen(text)) : -ENOMEM;
	free(text);
	json_decref(cfg);
	return ret;
}

/* Copy what arrowh said before it gave up to our stderr. */
static void show_arrowh_log(const char *dir)
{
	char path[4200], buf[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, STATE_ARROWH_LOG);
	f = fopen(path, "re");
	if (!f)
		return;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

/* -d: arrowh in its own session, stdio detached; print the id once it runs. */
static int start_detached(const struct new_arrow *a, const char *arrowh, struct arrowh_argv *hv,
			  struct launched *out)
{
	char logpath[4200];
	int ready[2], st;
	pid_t pid;
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return EXIT_ARROW_ERROR;
	snprintf(hv->ready, sizeof(hv->ready), "%d", ready[1]);
	if (arrowh_argv_add(hv, "--ready-fd", hv->ready)) {
		close(ready[0]);
		close(ready[1]);
		unregister_arrow(a);
		return EXIT_ARROW_ERROR;
	}
	snprintf(logpath, sizeof(logpath), "%s/%s", a->dir, STATE_ARROWH_LOG);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "arrow: fork: %s\n", strerror(errno));
		unregister_arrow(a);
		return EXIT_ARROW_ERROR;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

		setsid();
		if (null < 0 || log < 0 || stdfds_install(null, null, log) < 0)
			_exit(EXIT_ARROW_ERROR);
		fcntl(ready[1], F_SETFD, 0); /* arrowh inherits the write end only */
		/* A second fork: arrowh is not our child, so nothing has to reap it. */
		if (fork() != 0)
			_exit(0);
		execv(arrowh, (char *const *)hv->v);
		fprintf(stderr, "arrow: cannot start %s: %s\n", arrowh, strerror(errno));
		_exit(EXIT_ARROW_ERROR);
	}
	close(ready[1]);
	waitpid(pid, &st, 0);
	if (read(ready[0], &c, 1) == 1) {
		close(ready[0]);
		if (out) {
			snprintf(out->id, sizeof(out->id), "%s", a->id);
			snprintf(out->dir, sizeof(out->dir), "%s", a->dir);
			snprintf(out->name, sizeof(out->name), "%s", a->name);
		}
		return 0;
	}
	close(ready[0]);
	show_arrowh_log(a->dir);
	fprintf(stderr, "arrow: the Arrow did not start\n");
	unregister_arrow(a);
	return EXIT_ARROW_ERROR;
}

void launch_desc_common(const struct run_opts *o, const struct new_arrow *a,
			const struct net_attach *net, uint64_t t0, struct launch_bufs *b,
			struct arrowh_desc *d)
{
	bool env_ignored;

	d->boot_timeout_s = arrowh_boot_timeout(o->boot_timeout_s, &env_ignored);
	if (env_ignored)
		fprintf(stderr, "arrow: ignoring ARROW_BOOT_TIMEOUT='%s' (not 0 to 86400 seconds)\n",
			getenv("ARROW_BOOT_TIMEOUT"));
	d->memory_mib = o->memory_mib;
	d->cpus = o->cpus;
	d->state_dir = a->dir;
	/*
	 * virtio-vsock on every Arrow, templates and clones included: a clone must have the
	 * devices its snapshot had (docs/vsock.md). A unix socket's path has 107 bytes at most,
	 * "_<port>" included: a state root too deep for that (ARROW_ROOT) gets no vsock, and
	 * says so.
	 */
	if (snprintf(b->vsock_uds, sizeof(b->vsock_uds), "%s/%s", a->dir, STATE_VSOCK_SOCKET) +
		    11 < 108)
		d->vsock_uds = b->vsock_uds;
	else
		fprintf(stderr, "arrow: warning: %s is too long a path for a unix socket: this "
				"Arrow has no vsock\n", b->vsock_uds);
	d->log_max_size = o->log_max_size;
	d->log_max_files = o->log_max_files;
	d->remove = o->remove;
	d->tty = o->tty;
	d->detached = o->detach;
	d->attach_stdin = o->detach && o->interactive;
	d->timing = o->timing;
	d->t0 = t0;
	d->debug_console = o->debug_console;
	d->no_sandbox = o->no_sandbox || arrowh_no_sandbox_env();
	if (d->no_sandbox)
		fprintf(stderr, "arrow: warning: --no-sandbox%s: arrowh runs without its jail and "
				"seccomp filter (debugging only)\n",
			o->no_sandbox ? "" : " (ARROW_NO_SANDBOX=1)");
	d->seccomp_selftest = getenv("ARROW_SECCOMP_SELFTEST") &&
			      !strcmp(getenv("ARROW_SECCOMP_SELFTEST"), "1");
	d->cmdline = o->kernel_args;
	if (passt_attached(net)) { /* rootless: passt's socket; passt ends with it, no hook */
		fcntl(net->tap_fd, F_SETFD, 0); /* arrowh inherits it */
		d->net_stream_fd = net->tap_fd;
		d->mac = net->mac;
	} else if (net) {
		d->tap_fd = net->tap_fd;
		d->mac = net->mac;
		/* the arrow command, whichever front end launches (the gateway too) */
		d->release_id = a->id;
	}
}

int find_arrowh(char *out, size_t len)
{
	if (arrowh_find(out, len)) {
		fprintf(stderr, "arrow: %s is missing; reinstall arrow\n", out);
		return EXIT_ARROW_ERROR;
	}
	return 0;
}

/*
 * arrowh's --volume arguments: each -v host directory, resolved and checked here so that a
 * typo fails before anything boots. 0, or 125 after printing why.
 */
static int volume_args(const struct run_opts *o, char *out[RUNOPTS_MAX_VOLUMES])
{
	for (unsigned int i = 0; i < o->nr_volumes; i++) {
		char *real = realpath(o->volumes[i].host, NULL);
		struct stat st;

		if (!real || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "arrow: volume %s: %s\n", o->volumes[i].host,
				real ? "not a directory" : strerror(errno));
			free(real);
			return EXIT_ARROW_ERROR;
		}
		if (o->volumes[i].chown && !o->no_sandbox && geteuid() == 0) {
			int ret = jail_user_chown_tree(real);

			if (ret) {
				fprintf(stderr, "arrow: volume %s: cannot give it to the sandbox's user "
						"(:U): %s\n", real, strerror(-ret));
				free(real);
				return EXIT_ARROW_ERROR;
			}
		} else if (!o->volumes[i].read_only && !o->no_sandbox && geteuid() == 0) {
			uid_t ju;
			gid_t jg;

			jail_user_ids(&ju, &jg);
			if (st.st_uid != ju && !(st.st_mode & 0002))
				fprintf(stderr, "arrow: note: volume %s belongs to uid %u, and arrowh serves "
						"it as the sandbox's user (uid %u): the guest may not be able "
						"to write it; -v %s:%s:U gives it to that user "
						"(docs/volumes.md)\n",
					real, (unsigned)st.st_uid, (unsigned)ju, o->volumes[i].host,
					o->volumes[i].guest);
		}
		if (asprintf(&out[i], "%s:arrowvol%u%s", real, i,
			     o->volumes[i].read_only ? ":ro" : "") < 0)
			out[i] = NULL;
		free(real);
		if (!out[i])
			return EXIT_ARROW_ERROR;
	}
	return 0;
}

/* Boot PROGRAM as an Arrow; with template set, stop it at the template point and keep that. */
static int launch_program(struct run_opts *o, const char *template, struct launched *out)
{
	uint64_t t0 = now_ns();
	char kernel[4096], ainit_path[4096], arrowh[4096], template_tmp[4200];
	char *prog_path, *base = NULL, *prog = NULL, *config = NULL, *cfgbuf, *guest_prog;
	char *prog_copy, *argv0;
	struct new_arrow arrow;
	struct net_attach net;
	struct launch_bufs lb;
	struct arrowh_desc d;
	struct arrowh_argv *hv;
	bool has_net;
	void *ainit_data, *prog_data;
	size_t ainit_len, prog_len, cfglen;
	const char *cache = arrow_cache_dir();
	struct image_plan image;
	char *vol_args[RUNOPTS_MAX_VOLUMES] = { NULL };
	int ret, is_image;

	if (o->from && !template)
		return run_clone(o, t0, out);
	if (template && o->nr_volumes) {
		fprintf(stderr, "arrow template create: -v does not go with templates: a volume's open "
				"files are host state a clone cannot share\n");
		return EXIT_ARROW_ERROR;
	}
	if (volume_args(o, vol_args))
		return EXIT_ARROW_ERROR;
	if (template && (o->detach || o->from)) {
		fprintf(stderr, "arrow template create: -d and --from do not apply: a template is made "
				"in the foreground from a PROGRAM\n");
		return EXIT_ARROW_ERROR;
	}
	o->remove = o->remove || template; /* the Arrow a template is made from goes away */

	is_image = image_plan(o, &image);
	if (is_image > 1)
		return is_image;
	if (is_image) {
		prog_path = strdup(image.img.ref);
	} else {
		prog_path = find_program(o->program);
		if (!prog_path) {
			fprintf(stderr, "arrow: %s: program not found%s\n", o->program,
				strchr(o->program, '/') ? "" : " in $PATH or the image store");
			return EXIT_NOT_FOUND;
		}
		ret = check_program(o->program, prog_path);
		if (ret)
			return ret;
	}

	snprintf(kernel, sizeof(kernel), "%s", o->kernel ? o->kernel : "");
	has_net = strcmp(run_network(o), "none") != 0;
	if (!o->kernel) /* an Arrow without a network boots a kernel without an IP stack */
		snprintf(kernel, sizeof(kernel), "%s/%s", arrow_libdir(), has_net ? "vmlinux-net" : "vmlinux");
	if (access(kernel, R_OK) < 0) {
		fprintf(stderr, "arrow: guest kernel %s: %s; build it with 'make' or pass --kernel PATH\n",
			kernel, strerror(errno));
		return EXIT_ARROW_ERROR;
	}
	snprintf(ainit_path, sizeof(ainit_path), "%s/ainit", arrow_libdir());
	if (find_arrowh(arrowh, sizeof(arrowh)))
		return EXIT_ARROW_ERROR;

	ret = read_whole_file(ainit_path, &ainit_data, &ainit_len);
	if (ret) {
		fprintf(stderr, "arrow: %s: %s; reinstall arrow\n", ainit_path, strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	ret = is_image ? 0 : read_whole_file(prog_path, &prog_data, &prog_len);
	if (ret) {
		fprintf(stderr, "arrow: cannot read %s: %s\n", prog_path, strerror(-ret));
		return EXIT_CANNOT_INVOKE;
	}

	/* From here on the Arrow exists: failures unregister it (and release its network). */
	ret = register_arrow(o, prog_path, &arrow);
	if (ret)
		return ret;
	if (has_net) {
		ret = run_net_attach(o, arrow.id, arrow.name, arrow.dir, &net);
		if (!ret && record_network(&arrow, &net))
			ret = EXIT_ARROW_ERROR;
		if (ret) {
			unregister_arrow(&arrow);
			return ret;
		}
	}

	prog_copy = strdup(is_image ? image.argv[0] : prog_path);
	argv0 = is_image ? prog_copy : basename(prog_copy);
	if (is_image)
		guest_prog = prog_copy;
	else if (asprintf(&guest_prog, "/app/%s", argv0) < 0)
		return EXIT_ARROW_ERROR;
	if (o->argv0)
		argv0 = (char *)o->argv0;
	ret = guestbase_piece(cache, ainit_data, ainit_len, &base);
	if (!ret && !is_image) {
		const struct piece_file pf[] = {
			{ "app", S_IFDIR | 0755 },
			{ guest_prog + 1, S_IFREG | 0755, prog_data, prog_len },
		};
		ret = piece_cached(cache, pf, 2, &prog);
	}
	if (!ret)
		ret = build_config(o, has_net ? &net : NULL, o->hostname ? o->hostname : arrow.name, guest_prog, argv0, &cfgbuf, &cfglen);
	if (!ret && template)
		ret = runcfg_append(&cfgbuf, &cfglen, RUNCFG_TEMPLATE, "1");
	if (ret) {
		fprintf(stderr, "arrow: cannot assemble the initramfs: %s\n", strerror(-ret));
		unregister_arrow(&arrow);
		return EXIT_ARROW_ERROR;
	}
	if (run_config_piece(o, cfgbuf, cfglen, &config) ||
	    (template && template_begin(template, o, prog_path, has_net ? &net : NULL, template_tmp,
					sizeof(template_tmp)))) {
		unregister_arrow(&arrow);
		return EXIT_ARROW_ERROR;
	}
	if (!is_image)
		free(prog_data);
	free(ainit_data);

	arrowh_desc_init(&d);
	d.kernel = kernel;
	d.initrds[d.nr_initrds++] = base;
	for (unsigned int i = 0; i < image.nr_pieces; i++)
		d.initrds[d.nr_initrds++] = image.pieces[i];
	if (!is_image)
		d.initrds[d.nr_initrds++] = prog;
	d.initrds[d.nr_initrds++] = config;
	for (unsigned int i = 0; i < o->nr_volumes; i++)
		d.volumes[d.nr_volumes++] = vol_args[i];
	if (template)
		d.template_out = template_tmp;
	launch_desc_common(o, &arrow, has_net ? &net : NULL, t0, &lb, &d);
	if (!template)
		return launch_arrowh(o, &arrow, has_net ? &net : NULL, arrowh, &d, out);
	hv = malloc(sizeof(*hv));
	if (!hv || arrowh_argv_build(&d, hv)) {
		fprintf(stderr, "arrow: too many arguments for arrowh\n");
		free(hv);
		unregister_arrow(&arrow);
		return EXIT_ARROW_ERROR;
	}
	ret = template_finish(&arrow, arrowh, hv->v, template_tmp, template);
	free(hv);
	return ret;
}

int launch_arrowh(const struct run_opts *o, const struct new_arrow *a, struct net_attach *net,
		  const char *arrowh, struct arrowh_desc *d, struct launched *out)
{
	struct arrowh_argv *hv = malloc(sizeof(*hv));
	int ret;

	ret = hv ? run_cgroup(o, a, d) : EXIT_ARROW_ERROR;
	if (!ret && arrowh_argv_build(d, hv)) {
		fprintf(stderr, "arrow: too many arguments for arrowh\n");
		ret = EXIT_ARROW_ERROR;
	}
	if (ret) {
		free(hv);
		unregister_arrow(a);
		return ret;
	}
	if (o->detach) {
		ret = start_detached(a, arrowh, hv, out);
		if (net)
			net_attach_free(net);
		free(hv);
		return ret;
	}
	/* arrowh takes over this process: signals, stdio and the exit status are its. */
	execv(arrowh, (char *const *)hv->v);
	fprintf(stderr, "arrow: cannot start %s: %s\n", arrowh, strerror(errno));
	free(hv);
	unregister_arrow(a);
	return EXIT_ARROW_ERROR;
}

int launch_arrow(struct run_opts *o, struct launched *out)
{
	return launch_program(o, NULL, out);
}

int launch_template(struct run_opts *o, const char *name)
{
	return launch_program(o, name, NULL);
}
