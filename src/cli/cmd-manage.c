// SPDX-License-Identifier: MIT
/* arrow stop, kill, rm, wait, inspect: one Arrow or several, by name or id prefix. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "attachc.h"
#include "cli.h"
#include "common/statedir.h"
#include "common/streamrec.h"
#include "lib/net/netstore.h"
#include "lib/state/store.h"

static int need_arrows(const char *verb, int argc)
{
	if (optind < argc)
		return 0;
	fprintf(stderr, "arrow %s: name or id of at least one Arrow required\nSee 'arrow %s --help'.\n",
		verb, verb);
	return EXIT_ARROW_ERROR;
}

static const char stop_usage[] =
	"Usage: arrow stop [OPTIONS] ARROW...\n"
	"Stop running Arrows: SIGTERM to the app, then a hard stop after the grace period.\n"
	"\n"
	"  -t, --time SECONDS  grace period before the hard stop (default 10)\n"
	"  -h, --help          this text\n";

int cmd_stop(int argc, char *argv[])
{
	static const struct option opts[] = { { "time", required_argument, NULL, 't' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	long grace = 10;
	char *end;
	int c, rc = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			errno = 0;
			grace = strtol(optarg, &end, 10);
			if (errno || *end || !*optarg || grace < 0 || grace > 86400) {
				fprintf(stderr, "arrow stop: invalid --time '%s': give seconds (0-86400)\n",
					optarg);
				return EXIT_ARROW_ERROR;
			}
			break;
		case 'h':
			fputs(stop_usage, stdout);
			return 0;
		default:
			return bad_option("stop", argv[optind - 1]);
		}
	}
	if (need_arrows("stop", argc))
		return EXIT_ARROW_ERROR;
	for (int i = optind; i < argc; i++) {
		struct arrow_rec r;

		if (store_lookup("stop", argv[i], &r)) {
			rc = EXIT_ARROW_ERROR;
			continue;
		}
		if (r.status != ST_RUNNING) {
			fprintf(stderr, "arrow stop: %s is not running\n", argv[i]);
			store_free(&r);
			rc = EXIT_ARROW_ERROR;
			continue;
		}
		if (store_request(&r, HOSTCTL_SIGNAL, SIGTERM) < 0 ||
		    store_wait_gone(&r, (int)grace * 1000) < 0) {
			if (launch_hard_stop(&r) < 0) {
				fprintf(stderr, "arrow stop: %s did not stop\n", argv[i]);
				rc = EXIT_ARROW_ERROR;
				store_free(&r);
				continue;
			}
		}
		puts(argv[i]);
		store_free(&r);
	}
	return rc;
}

/* "KILL", "SIGKILL", "9" -> 9; 0 if unknown. */
static int parse_signal(const char *s)
{
	char *end;
	long n;

	if (isdigit((unsigned char)*s)) {
		n = strtol(s, &end, 10);
		return *end || n < 1 || n >= SIGRTMAX ? 0 : (int)n;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *name = sigabbrev_np(sig);

		if (name && !strcasecmp(name, s))
			return sig;
	}
	return 0;
}

static const char kill_usage[] =
	"Usage: arrow kill [OPTIONS] ARROW...\n"
	"Send a signal to the app of running Arrows (KILL: stop the VM at once, status 137).\n"
	"\n"
	"  -s, --signal SIGNAL  name (TERM, SIGUSR1) or number; default KILL\n"
	"  -h, --help           this text\n";

int cmd_kill(int argc, char *argv[])
{
	static const struct option opts[] = { { "signal", required_argument, NULL, 's' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int sig = SIGKILL, c, rc = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sig = parse_signal(optarg);
			if (!sig) {
				fprintf(stderr, "arrow kill: invalid signal '%s'\n", optarg);
				return EXIT_ARROW_ERROR;
			}
			break;
		case 'h':
			fputs(kill_usage, stdout);
			return 0;
		default:
			return bad_option("kill", argv[optind - 1]);
		}
	}
	if (need_arrows("kill", argc))
		return EXIT_ARROW_ERROR;
	for (int i = optind; i < argc; i++) {
		struct arrow_rec r;
		int ret;

		if (store_lookup("kill", argv[i], &r)) {
			rc = EXIT_ARROW_ERROR;
			continue;
		}
		if (r.status != ST_RUNNING) {
			fprintf(stderr, "arrow kill: %s is not running\n", argv[i]);
			rc = EXIT_ARROW_ERROR;
		} else if (sig == SIGKILL) {
			ret = launch_hard_stop(&r);
			if (ret < 0) {
				fprintf(stderr, "arrow kill: %s did not stop\n", argv[i]);
				rc = EXIT_ARROW_ERROR;
			} else {
				puts(argv[i]);
			}
		} else if ((ret = store_request(&r, HOSTCTL_SIGNAL, (uint32_t)sig)) < 0) {
			fprintf(stderr, "arrow kill: cannot signal %s: %s\n", argv[i], strerror(-ret));
			rc = EXIT_ARROW_ERROR;
		} else {
			puts(argv[i]);
		}
		store_free(&r);
	}
	return rc;
}

static const char pause_usage[] =
	"Usage: arrow pause ARROW...\n"
	"       arrow unpause ARROW...\n"
	"Stop every vCPU of running Arrows (the app makes no progress), or run them again.\n"
	"A paused Arrow stays paused until unpaused; stop, kill and rm -f still end it.\n";

/* arrow pause / unpause: HOSTCTL_PAUSE / HOSTCTL_RESUME to each Arrow's arrowh. */
static int pause_arrows(const char *verb, int argc, char *argv[], bool pause)
{
	int rc = 0;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(pause_usage, stdout);
		return 0;
	}
	optind = 1;
	if (argc > 1 && argv[1][0] == '-')
		return bad_option(verb, argv[1]);
	if (need_arrows(verb, argc))
		return EXIT_ARROW_ERROR;
	for (int i = 1; i < argc; i++) {
		struct arrow_rec r;
		int ret;

		if (store_lookup(verb, argv[i], &r)) {
			rc = EXIT_ARROW_ERROR;
			continue;
		}
		ret = r.status == ST_RUNNING ?
			store_request(&r, pause ? HOSTCTL_PAUSE : HOSTCTL_RESUME, 0) : -ESRCH;
		if (ret) {
			fprintf(stderr, "arrow %s: %s: %s\n", verb, argv[i],
				ret == -ESRCH ? "not running" :
				ret == -EINVAL ? "its arrowh is too old to pause" :
				ret == -ETIMEDOUT ? "a vCPU did not stop (its output is not being read)" :
				strerror(-ret));
			rc = EXIT_ARROW_ERROR;
		} else {
			puts(argv[i]);
		}
		store_free(&r);
	}
	return rc;
}

int cmd_pause(int argc, char *argv[])
{
	return pause_arrows("pause", argc, argv, true);
}

int cmd_unpause(int argc, char *argv[])
{
	return pause_arrows("unpause", argc, argv, false);
}

static const char rm_usage[] =
	"Usage: arrow rm [OPTIONS] ARROW...\n"
	"Remove Arrows: their state and logs.\n"
	"\n"
	"  -f, --force  stop running Arrows at once first\n"
	"  -h, --help   this text\n";

int cmd_rm(int argc, char *argv[])
{
	static const struct option opts[] = { { "force", no_argument, NULL, 'f' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	bool force = false;
	int c, rc = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			fputs(rm_usage, stdout);
			return 0;
		default:
			return bad_option("rm", argv[optind - 1]);
		}
	}
	if (need_arrows("rm", argc))
		return EXIT_ARROW_ERROR;
	net_prune(); /* addresses and ports of Arrows whose arrowh was killed */
	for (int i = optind; i < argc; i++) {
		struct arrow_rec r;

		if (store_lookup("rm", argv[i], &r)) {
			rc = EXIT_ARROW_ERROR;
			continue;
		}
		if (r.status == ST_RUNNING && !force) {
			fprintf(stderr, "arrow rm: %s is running; stop it first or use 'arrow rm -f'\n",
				argv[i]);
			store_free(&r);
			rc = EXIT_ARROW_ERROR;
			continue;
		}
		if (launch_remove(&r, force, "rm"))
			rc = EXIT_ARROW_ERROR;
		else
			puts(argv[i]);
		store_free(&r);
	}
	return rc;
}

static const char wait_usage[] =
	"Usage: arrow wait ARROW...\n"
	"Block until the Arrows exit, then print each one's exit status.\n";

/* The exit status of one Arrow once it has ended; -1 if it cannot be known. */
static int wait_one(const char *ref, const struct arrow_rec *r)
{
	struct arrow_rec again;
	int status = -1;

	if (r->status == ST_RUNNING) {
		/* The attach stream ends with the exit status: this works for --rm Arrows too. */
		int fd = attach_connect(r, false);

		if (fd >= 0) {
			status = attach_relay_output(fd, -1, -1);
			close(fd);
		}
		if (status >= 0) {
			/* and arrowh finished: state written, exit hook (network release) done */
			store_wait_gone(r, 60000);
			return status;
		}
		store_wait_gone(r, -1);
	}
	if (store_load(r->id, &again) == 0) {
		if (again.status == ST_EXITED)
			status = again.exit_code;
		store_free(&again);
	}
	if (status < 0)
		fprintf(stderr, "arrow wait: the exit status of %s is gone (removed)\n", ref);
	return status;
}

int cmd_wait(int argc, char *argv[])
{
	int rc = 0;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(wait_usage, stdout);
		return 0;
	}
	optind = 1;
	if (argc > 1 && argv[1][0] == '-')
		return bad_option("wait", argv[1]);
	if (need_arrows("wait", argc))
		return EXIT_ARROW_ERROR;
	for (int i = 1; i < argc; i++) {
		struct arrow_rec r;
		int status;

		if (store_lookup("wait", argv[i], &r)) {
			rc = EXIT_ARROW_ERROR;
			continue;
		}
		status = wait_one(argv[i], &r);
		if (status < 0)
			rc = EXIT_ARROW_ERROR;
		else
			printf("%d\n", status);
		fflush(stdout);
		store_free(&r);
	}
	return rc;
}

static json_t *iso_time(uint64_t ns)
{
	char buf[64], frac[16];
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!ns)
		return json_string("0001-01-01T00:00:00Z");
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(frac, sizeof(frac), ".%09lluZ", (unsigned long long)(ns % 1000000000ull));
	strncat(buf, frac, sizeof(buf) - strlen(buf) - 1);
	return json_string(buf);
}

/*
 * The running VMM's sandbox as the kernel sees it (/proc/PID/status): jailed, it is a
 * child of arrowh with a non-root uid, no capabilities, no_new_privs and seccomp mode 2.
 */
static json_t *sandbox_json(const struct arrow_rec *r)
{
	static const char *const keys[] = { "Uid", "Gid", "NoNewPrivs", "Seccomp", "CapEff", "CapBnd" };
	char path[64], line[256];
	json_t *o = json_object();
	FILE *f;

	if (!o || r->status != ST_RUNNING || r->vmm_pid <= 0)
		return o;
	json_object_set_new(o, "Jailed", json_boolean(r->vmm_pid != r->pid));
	json_object_set_new(o, "VmmPid", json_integer(r->vmm_pid));
	snprintf(path, sizeof(path), "/proc/%d/status", r->vmm_pid);
	f = fopen(path, "re");
	if (!f)
		return o;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *v;

		if (!colon)
			continue;
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		v[strcspn(v, "\t\n")] = '\0'; /* Uid: the real uid, the first of four */
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(line, keys[i]))
				json_object_set_new(o, keys[i], json_string(v));
	}
	fclose(f);
	return o;
}

static json_t *inspect_one(const struct arrow_rec *r)
{
	json_t *cfg = r->config;
	char log[4200];
	json_t *o;

	snprintf(log, sizeof(log), "%s/%s", r->dir, STATE_LOG_FILE);
	o = json_pack(
		"{s:s, s:s, s:o, s:O?, s:O?, s:{s:s, s:b, s:i, s:i, s:o, s:o}, "
		"s:{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}, "
		"s:{s:O?, s:O?, s:O?}, s:O?, s:O?, s:s, s:s}",
		"Id", r->id, "Name", store_name(r), "Created", iso_time(r->created_ns),
		"Path", json_object_get(cfg, "program"), "Args", json_object_get(cfg, "args"),
		"State", "Status", arrow_state_name(r), "Running", r->status == ST_RUNNING,
		"Pid", r->status == ST_RUNNING ? r->pid : 0, "ExitCode",
		r->status == ST_EXITED ? r->exit_code : 0, "StartedAt", iso_time(r->started_ns),
		"FinishedAt", iso_time(r->finished_ns),
		"Config", "Hostname", json_object_get(cfg, "hostname"), "Env",
		json_object_get(cfg, "env"), "WorkingDir", json_object_get(cfg, "workdir"), "User",
		json_object_get(cfg, "user"), "Tty", json_object_get(cfg, "tty"), "OpenStdin",
		json_object_get(cfg, "interactive"), "Program", json_object_get(cfg, "path"),
		"Argv0", json_object_get(cfg, "argv0"), "Detached", json_object_get(cfg, "detached"),
		"HostConfig", "MemoryMiB", json_object_get(cfg, "memory_mib"), "Cpus",
		json_object_get(cfg, "cpus"), "AutoRemove", json_object_get(cfg, "auto_remove"),
		"NetworkSettings", json_object_get(cfg, "network"), "Mounts",
		json_object_get(cfg, "volumes"), "StateDir", r->dir, "LogPath", log);
	if (o) {
		json_object_set_new(o, "Cgroup", run_cgroup_json(cfg));
		json_object_set_new(o, "Sandbox", sandbox_json(r));
	}
	return o;
}

static const char inspect_usage[] =
	"Usage: arrow inspect ARROW...\n"
	"Print what is known about Arrows as a JSON array: config, state, resources.\n";

int cmd_inspect(int argc, char *argv[])
{
	json_t *all = json_array();
	char *text;
	int rc = 0;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(inspect_usage, stdout);
		return 0;
	}
	optind = 1;
	if (argc > 1 && argv[1][0] == '-')
		return bad_option("inspect", argv[1]);
	if (need_arrows("inspect", argc))
		return EXIT_ARROW_ERROR;
	for (int i = 1; i < argc; i++) {
		struct arrow_rec r;

		if (store_lookup("inspect", argv[i], &r)) {
			rc = EXIT_ARROW_ERROR;
			continue;
		}
		json_array_append_new(all, inspect_one(&r));
		store_free(&r);
	}
	text = json_dumps(all, JSON_INDENT(4));
	if (text)
		puts(text);
	free(text);
	json_decref(all);
	return rc;
}
