// SPDX-License-Identifier: MIT
/*
 * arrow-oci: an OCI runtime (runtime-spec 1.x) with runc's command line, so that podman
 * (--runtime), conmon and containerd's runc shim can run each container as an Arrow
 * (docs/oci.md). Options may be written -opt, --opt, --opt=VALUE or --opt VALUE, as
 * runc's flag parser accepts them.
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"
#include "log.h"
#include "oci.h"
#include "spec.h"

static const char usage[] =
	"Usage: arrow-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID\n"
	"An OCI runtime with runc's command line; each container is an Arrow (a KVM VM).\n\n"
	"Commands:\n"
	"  create ID [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET]\n"
	"  start ID\n"
	"  state ID\n"
	"  kill ID [SIGNAL] [--all]\n"
	"  delete [--force] ID\n"
	"  list [--quiet] [--format table|json]\n"
	"  ps [--format table|json] ID\n"
	"  exec [--process FILE] [--detach] [--pid-file FILE] [--console-socket SOCKET] [--tty]\n"
	"       [--cwd DIR] [--env K=V]... [--user UID[:GID]] ID [COMMAND [ARGS...]]\n"
	"  pause ID | resume ID\n"
	"  run ID [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] [--detach] [--keep]\n"
	"  update [--resources FILE|-] [--memory N] [--cpu-quota N] [--cpu-period N] ID\n"
	"  spec [--bundle DIR] [--rootless]\n"
	"  features\n\n"
	"Global options:\n"
	"  --root DIR            state root (default /run/arrow-oci)\n"
	"  --log FILE            messages to FILE instead of stderr\n"
	"  --log-format text|json\n"
	"  --debug               debug messages\n"
	"  --systemd-cgroup      linux.cgroupsPath is slice:prefix:name\n"
	"  --cgroup-manager cgroupfs|systemd|disabled\n"
	"                        as crun: systemd is --systemd-cgroup, disabled makes no cgroup\n"
	"  --version, -v\n";

struct opt {
	const char *name;
	bool value;
	const char **out;
	bool *flag;
	const char **list; /* a repeatable option: every value, in order */
	int *nlist;
	int max;
};

static int take_value(const struct opt *o, const char *v)
{
	if (o->list) {
		if (*o->nlist == o->max) {
			oci_error("more than %d --%s", o->max, o->name);
			return 1;
		}
		o->list[(*o->nlist)++] = v;
	} else if (o->out) {
		*o->out = v;
	}
	return 0;
}

/*
 * Take the options of table opts out of argv (from index i on); positional arguments
 * go to pos. Stops at the end, or with rest set after the first positional argument
 * (*rest: the index of what follows it: a command's own arguments, as runc's exec).
 * 0, or 1 after saying what was wrong.
 */
static int parse_argv(int argc, char *argv[], int i, const struct opt *opts, const char **pos,
		      int *npos, int maxpos, int *rest)
{
	*npos = 0;
	for (; i < argc; i++) {
		const char *a = argv[i], *eq, *name;
		size_t nlen;
		const struct opt *o = NULL;

		if (rest && !strcmp(a, "--") && *npos == 0)
			continue;
		if (a[0] != '-' || !a[1]) {
			if (*npos == maxpos) {
				oci_error("unexpected argument '%.80s'", a);
				return 1;
			}
			pos[(*npos)++] = a;
			if (rest) {
				*rest = i + 1;
				if (*rest < argc && !strcmp(argv[*rest], "--"))
					(*rest)++;
				return 0;
			}
			continue;
		}
		name = a + (a[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		for (const struct opt *p = opts; p->name; p++)
			if (strlen(p->name) == nlen && !strncmp(p->name, name, nlen))
				o = p;
		if (!o) {
			oci_error("unknown option '%.80s'", a);
			return 1;
		}
		if (!o->value) {
			if (eq && strcmp(eq + 1, "true") && strcmp(eq + 1, "false")) {
				oci_error("option --%s takes no value", o->name);
				return 1;
			}
			if (o->flag)
				*o->flag = !eq || !strcmp(eq + 1, "true");
			continue;
		}
		if (!eq && i + 1 == argc) {
			oci_error("option --%s needs a value", o->name);
			return 1;
		}
		if (take_value(o, eq ? eq + 1 : argv[++i]))
			return 1;
	}
	if (rest)
		*rest = argc;
	return 0;
}

static int need_id(const char *cmd, int npos, int want_min)
{
	if (npos < want_min) {
		oci_error("%s: the container id is missing", cmd);
		return 1;
	}
	return 0;
}

static int parse(int argc, char *argv[], int i, const struct opt *opts, const char **pos,
		 int *npos, int maxpos)
{
	return parse_argv(argc, argv, i, opts, pos, npos, maxpos, NULL);
}

#define EXEC_MAX_ENV_OPTS 256
#define IGNORED_MAX 64

static int cmd_exec(int argc, char *argv[], int i)
{
	static const char *env[EXEC_MAX_ENV_OPTS], *ignored[IGNORED_MAX];
	struct oci_exec_opts o = { .env = env };
	const char *preserve = NULL, *pos[1];
	int npos, rest, nignored = 0;
	const struct opt opts[] = {
		{ "process", true, &o.process }, { "p", true, &o.process },
		{ "detach", false, NULL, &o.detach }, { "d", false, NULL, &o.detach },
		{ "pid-file", true, &o.pid_file }, { "console-socket", true, &o.console_socket },
		{ "tty", false, NULL, &o.tty }, { "t", false, NULL, &o.tty },
		{ "cwd", true, &o.cwd }, { "user", true, &o.user }, { "u", true, &o.user },
		{ "env", true, NULL, NULL, env, &o.nr_env, EXEC_MAX_ENV_OPTS },
		{ "e", true, NULL, NULL, env, &o.nr_env, EXEC_MAX_ENV_OPTS },
		{ "preserve-fds", true, &preserve },
		/* host-kernel confinement of a process that is not a host process: accepted */
		{ "cap", true, NULL, NULL, ignored, &nignored, IGNORED_MAX },
		{ "c", true, NULL, NULL, ignored, &nignored, IGNORED_MAX },
		{ "additional-gids", true, NULL, NULL, ignored, &nignored, IGNORED_MAX },
		{ "g", true, NULL, NULL, ignored, &nignored, IGNORED_MAX },
		{ "process-label", true }, { "apparmor", true }, { "no-new-privs", false },
		{ "ignore-paused", false }, { "cgroup", true }, { NULL },
	};

	if (parse_argv(argc, argv, i, opts, pos, &npos, 1, &rest) || need_id("exec", npos, 1))
		return 1;
	o.id = pos[0];
	o.args = (const char *const *)argv + rest;
	o.nr_args = argc - rest;
	if (preserve && strcmp(preserve, "0"))
		o.preserve_fds = 1;
	return oci_exec(&o);
}

static int cmd_run(const struct oci_globals *g, int argc, char *argv[], int i)
{
	struct oci_create_opts o = { 0 };
	const char *preserve = NULL, *pos[1];
	bool detach = false, keep = false;
	int npos;
	const struct opt opts[] = {
		{ "bundle", true, &o.bundle }, { "b", true, &o.bundle },
		{ "pid-file", true, &o.pid_file }, { "console-socket", true, &o.console_socket },
		{ "detach", false, NULL, &detach }, { "d", false, NULL, &detach },
		{ "keep", false, NULL, &keep }, { "preserve-fds", true, &preserve },
		{ "no-pivot", false }, { "no-new-keyring", false }, { "no-subreaper", false },
		{ NULL },
	};

	if (parse(argc, argv, i, opts, pos, &npos, 1) || need_id("run", npos, 1))
		return 1;
	o.id = pos[0];
	if (preserve && strcmp(preserve, "0"))
		o.preserve_fds = 1;
	return oci_run(g, &o, detach, keep);
}

/* --resources FILE or - (stdin): at most OCI_CONFIG_MAX_BYTES. 0 or 1 (said). */
static int read_resources(const char *path, struct oci_update *u)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	size_t cap = 1u << 16, len = 0;
	char *buf = malloc(cap), why[512];
	int ret = 1;

	if (!f || !buf) {
		oci_error("update: --resources %s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, f);

		len += n;
		if (n == 0)
			break;
		if (len == cap) {
			char *more = cap < OCI_CONFIG_MAX_BYTES + 1 ? realloc(buf, cap * 2) : NULL;

			if (!more) {
				oci_error("update: --resources %s is larger than 4 MiB", path);
				goto out;
			}
			buf = more;
			cap *= 2;
		}
	}
	if (oci_update_parse(buf, len, u, why, sizeof(why)))
		oci_error("update: %s", why);
	else
		ret = 0;
out:
	if (f && f != stdin)
		fclose(f);
	free(buf);
	return ret;
}

static int cmd_update(int argc, char *argv[], int i)
{
	static const char *ignored_names[] = {
		"cpu-share", "cpuset-cpus", "cpuset-mems", "kernel-memory", "kernel-memory-tcp",
		"memory-reservation", "memory-swap", "pids-limit", "blkio-weight", "l3-cache-schema",
		"mem-bw-schema", "cpu-rt-period", "cpu-rt-runtime", "cpu-idle",
	};
	const char *resources = NULL, *memory = NULL, *quota = NULL, *period = NULL, *pos[1];
	const char *ign[sizeof(ignored_names) / sizeof(ignored_names[0])] = { 0 };
	struct opt opts[8 + sizeof(ignored_names) / sizeof(ignored_names[0])] = {
		{ "resources", true, &resources }, { "r", true, &resources },
		{ "memory", true, &memory }, { "m", true, &memory },
		{ "cpu-quota", true, &quota }, { "cpu-period", true, &period },
	};
	struct oci_update u = { 0 };
	char *end;
	int npos, k = 6;

	for (size_t n = 0; n < sizeof(ignored_names) / sizeof(ignored_names[0]); n++)
		opts[k++] = (struct opt){ ignored_names[n], true, &ign[n] };
	if (parse(argc, argv, i, opts, pos, &npos, 1) || need_id("update", npos, 1))
		return 1;
	if (resources && read_resources(resources, &u))
		return 1;
	if (memory) {
		if (oci_parse_bytes(memory, &u.memory_bytes)) {
			oci_error("update: --memory '%.40s' is not a size", memory);
			return 1;
		}
		u.has_memory = true;
	}
	if (quota) {
		errno = 0;
		u.cpu_quota = strtoll(quota, &end, 10);
		if (errno || *end || !*quota || (u.cpu_quota < 1000 && u.cpu_quota != -1)) {
			oci_error("update: --cpu-quota takes -1 or microseconds (at least 1000)");
			return 1;
		}
		u.has_quota = true;
	}
	if (period) {
		errno = 0;
		u.cpu_period = strtoull(period, &end, 10);
		if (errno || *end || !*period || period[0] == '-' || u.cpu_period < 1000 ||
		    u.cpu_period > 1000000) {
			oci_error("update: --cpu-period takes 1000 to 1000000 microseconds");
			return 1;
		}
		u.has_period = true;
	}
	for (size_t n = 0; n < sizeof(ignored_names) / sizeof(ignored_names[0]); n++) {
		size_t len = strlen(u.ignored);

		if (ign[n] && len + 40 < sizeof(u.ignored))
			snprintf(u.ignored + len, sizeof(u.ignored) - len, "%s--%s", len ? ", " : "",
				 ignored_names[n]);
	}
	return oci_update(pos[0], &u);
}

int main(int argc, char *argv[])
{
	const char *root = NULL, *log = NULL, *log_format = "text", *criu = NULL, *rootless = NULL;
	const char *cgroup_manager = NULL;
	struct oci_globals g = { 0 };
	bool version = false, help = false;
	const char *pos[3];
	int i, npos;
	const char *cmd;

	/* a hook that exits without reading its state, or a caller that closed our stdout, is an
	 * error to report (EPIPE), never a reason to die half-way through create or delete; the
	 * processes we start get the default back (hooks.c, create.c) */
	signal(SIGPIPE, SIG_IGN);
	/* global options come before the command */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const struct opt globals[] = {
			{ "root", true, &root }, { "log", true, &log }, { "log-format", true, &log_format },
			{ "debug", false, NULL, &g.debug }, { "systemd-cgroup", false, NULL, &g.systemd_cgroup },
			{ "criu", true, &criu }, { "rootless", true, &rootless },
			{ "cgroup-manager", true, &cgroup_manager },
			{ "version", false, NULL, &version }, { "v", false, NULL, &version },
			{ "help", false, NULL, &help }, { "h", false, NULL, &help }, { NULL },
		};
		int end = i + 1;
		const char *a = argv[i];

		/* an option with a separate value takes two words */
		if (!strchr(a, '=') && (!strcmp(a + strspn(a, "-"), "root") ||
					!strcmp(a + strspn(a, "-"), "log") ||
					!strcmp(a + strspn(a, "-"), "log-format") ||
					!strcmp(a + strspn(a, "-"), "criu") ||
					!strcmp(a + strspn(a, "-"), "cgroup-manager") ||
					!strcmp(a + strspn(a, "-"), "rootless")))
			end = i + 2 <= argc ? i + 2 : argc;
		if (parse(end, argv, i, globals, pos, &npos, 0))
			return 1;
		i = end - 1;
	}
	if (strcmp(log_format, "text") && strcmp(log_format, "json")) {
		fprintf(stderr, "arrow-oci: --log-format takes text or json\n");
		return 1;
	}
	if (cgroup_manager && !strcmp(cgroup_manager, "systemd")) {
		g.systemd_cgroup = true;
	} else if (cgroup_manager && !strcmp(cgroup_manager, "disabled")) {
		g.no_cgroups = true;
	} else if (cgroup_manager && strcmp(cgroup_manager, "cgroupfs")) {
		fprintf(stderr, "arrow-oci: --cgroup-manager takes cgroupfs, systemd or disabled\n");
		return 1;
	}
	if (ocilog_open(log, !strcmp(log_format, "json"), g.debug))
		fprintf(stderr, "arrow-oci: cannot open --log %s\n", log);
	if (root) {
		if (root[0] != '/' || strlen(root) > 3000) {
			oci_error("--root must be an absolute path");
			return 1;
		}
		oci_set_root(root);
	}
	if (version) {
		printf("arrow-oci version %s\nspec: %s\n", ARROW_VERSION, OCI_SPEC_VERSION);
		return 0;
	}
	if (help || i == argc) {
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 1;
	}
	cmd = argv[i++];
	if (!strcmp(cmd, "create")) {
		struct oci_create_opts o = { 0 };
		const char *preserve = NULL;
		const struct opt opts[] = {
			{ "bundle", true, &o.bundle }, { "b", true, &o.bundle },
			{ "pid-file", true, &o.pid_file }, { "console-socket", true, &o.console_socket },
			{ "preserve-fds", true, &preserve }, { "no-pivot", false },
			{ "no-new-keyring", false }, { NULL },
		};

		if (parse(argc, argv, i, opts, pos, &npos, 1) || need_id(cmd, npos, 1))
			return 1;
		o.id = pos[0];
		if (preserve && strcmp(preserve, "0"))
			o.preserve_fds = 1;
		return oci_create(&g, &o);
	}
	if (!strcmp(cmd, "start") || !strcmp(cmd, "state")) {
		if (parse(argc, argv, i, (const struct opt[]){ { NULL } }, pos, &npos, 1) ||
		    need_id(cmd, npos, 1))
			return 1;
		return !strcmp(cmd, "start") ? oci_start(pos[0]) : oci_state(pos[0]);
	}
	if (!strcmp(cmd, "kill")) {
		bool all = false;
		const struct opt opts[] = { { "all", false, NULL, &all }, { "a", false, NULL, &all },
					    { NULL } };

		if (parse(argc, argv, i, opts, pos, &npos, 2) || need_id(cmd, npos, 1))
			return 1;
		return oci_kill(pos[0], npos > 1 ? pos[1] : "SIGTERM", all);
	}
	if (!strcmp(cmd, "delete")) {
		bool force = false;
		const struct opt opts[] = { { "force", false, NULL, &force },
					    { "f", false, NULL, &force }, { NULL } };

		if (parse(argc, argv, i, opts, pos, &npos, 1) || need_id(cmd, npos, 1))
			return 1;
		return oci_delete(pos[0], force);
	}
	if (!strcmp(cmd, "list") || !strcmp(cmd, "ps")) {
		bool quiet = false;
		const char *format = "table";
		const struct opt opts[] = { { "quiet", false, NULL, &quiet },
					    { "q", false, NULL, &quiet },
					    { "format", true, &format }, { "f", true, &format },
					    { NULL } };
		bool ps = !strcmp(cmd, "ps");

		if (parse(argc, argv, i, opts, pos, &npos, ps ? 1 : 0) ||
		    (ps && need_id(cmd, npos, 1)))
			return 1;
		if (strcmp(format, "table") && strcmp(format, "json")) {
			oci_error("--format takes table or json");
			return 1;
		}
		return ps ? oci_ps(pos[0], !strcmp(format, "json"))
			  : oci_list(quiet, !strcmp(format, "json"));
	}
	if (!strcmp(cmd, "features"))
		return oci_features();
	if (!strcmp(cmd, "exec"))
		return cmd_exec(argc, argv, i);
	if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
		if (parse(argc, argv, i, (const struct opt[]){ { NULL } }, pos, &npos, 1) ||
		    need_id(cmd, npos, 1))
			return 1;
		return oci_pause(pos[0], !strcmp(cmd, "pause"));
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(&g, argc, argv, i);
	if (!strcmp(cmd, "update"))
		return cmd_update(argc, argv, i);
	if (!strcmp(cmd, "spec")) {
		const char *bundle = NULL;
		bool rootless_spec = false;
		const struct opt opts[] = { { "bundle", true, &bundle }, { "b", true, &bundle },
					    { "rootless", false, NULL, &rootless_spec }, { NULL } };

		if (parse(argc, argv, i, opts, pos, &npos, 0))
			return 1;
		return oci_spec_write(bundle, rootless_spec);
	}
	if (!strcmp(cmd, "checkpoint") || !strcmp(cmd, "restore") || !strcmp(cmd, "events")) {
		oci_error("'%s' is not supported by arrow-oci yet (docs/oci.md)", cmd);
		return 1;
	}
	oci_error("unknown command '%.80s' (see arrow-oci --help)", cmd);
	return 1;
}
