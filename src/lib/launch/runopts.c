// SPDX-License-Identifier: MIT
#include "lib/launch/runopts.h"

#include "lib/net/netstore.h"
#include "common/cgroup.h"
#include "common/macaddr.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CPUS 32
#define MIN_MEMORY_MIB 32
#define MAX_MEMORY_MIB 65536

const char runopts_usage[] =
	"Usage: arrow run [OPTIONS] PROGRAM [ARGS...]\n"
	"       arrow run [OPTIONS] IMAGE [ARGS...]\n"
	"       arrow run [OPTIONS] --from SNAPSHOT\n"
	"Run a static Linux program, or an image from the image store ('arrow images'), as an\n"
	"Arrow: in its own micro-VM with a single-task kernel. A name without '/' is an image\n"
	"if the store has one by that name, else a program along $PATH. ARGS replace an\n"
	"image's Cmd. Standard input, output and error flow through; the exit status is the\n"
	"program's.\n"
	"\n"
	"Options:\n"
	"  -d, --detach          run in the background and print the Arrow's id\n"
	"      --name NAME       name the Arrow (unique; [a-zA-Z0-9][a-zA-Z0-9_.-]*)\n"
	"      --rm              remove the Arrow when it exits\n"
	"  -i, --interactive     keep standard input open (with -d: for 'arrow attach')\n"
	"  -t, --tty             give the app a terminal (for interactive programs)\n"
	"  -u, --user UID[:GID]  run the app as this numeric user (and group)\n"
	"      --env-file FILE   read KEY=VALUE lines (# comments) into the environment\n"
	"      --argv0 NAME      what the app sees as argv[0]; default the program's name\n"
	"      --config FILE:GUESTPATH  place a host file (up to 4 MiB) at GUESTPATH inside\n"
	"                        the Arrow, with its permissions (repeatable)\n"
	"  -v, --volume HOSTDIR:GUESTDIR[:ro][,U]  share a host directory into the Arrow\n"
	"                        (U: give it to the sandbox's user first, docs/volumes.md)\n"
	"                        (virtio-9p; ro: read-only, enforced on the host)\n"
	"      --log-opt max-size=SIZE|max-file=N  log rotation (default 16m, 3 files)\n"
	"  -m, --memory SIZE     guest memory: MiB, or with a unit (512m, 1g); default 128\n"
	"      --cpus N          virtual CPUs (1-32); default 1\n"
	"  -e, --env KEY=VALUE   set an environment variable (KEY alone: copy it from here)\n"
	"  -w, --workdir DIR     working directory inside the Arrow (absolute); default /\n"
	"      --hostname NAME   hostname inside the Arrow; default the Arrow's name\n"
	"      --network NAME    network to join (default 'arrow' as root, 'none' otherwise);\n"
	"                        'none': no network device and no IP stack at all\n"
	"  -p, --publish [HOSTIP:]HOSTPORT:PORT[/tcp|/udp]  publish a port on the host\n"
	"      --ip ADDR         the Arrow's IPv4 address on its network\n"
	"      --mac-address MAC the Arrow's MAC address; default derived from its address\n"
	"      --dns ADDR        nameserver for /etc/resolv.conf (repeatable, up to 3);\n"
	"                        default the host's, loopback ones left out\n"
	"      --kernel PATH     guest kernel (vmlinux); default: the one installed with arrow\n"
	"      --kernel-arg ARG  append ARG to the guest kernel command line (repeatable)\n"
	"      --timing          print boot phases on stderr when the Arrow exits\n"
	"      --boot-timeout S  give up (status 125, with a report of where the guest was) if\n"
	"                        the guest has not reached ainit after S seconds; 0: never;\n"
	"                        default $ARROW_BOOT_TIMEOUT, else 60 (600 in the helper VM)\n"
	"      --debug-console   show kernel messages on stderr (serial console)\n"
	"      --cgroup-parent PATH  the Arrow's cgroup v2 is PATH/ID below the cgroup2 mount\n"
	"                        (default $ARROW_CGROUP_PARENT, else 'arrow'); limits follow\n"
	"                        --memory and --cpus (docs/cgroups.md)\n"
	"      --cgroup none     no cgroup for this Arrow\n"
	"      --no-sandbox      arrowh without its jail and seccomp filter (debugging only)\n"
	"      --from NAME       start a clone of snapshot or template NAME instead of a\n"
	"                        PROGRAM (also --template NAME; see 'arrow snapshot')\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: the program's; 125 when Arrow itself fails, 126 when the program\n"
	"cannot be run (dynamically linked: make an image of it with 'arrow build --from-host';\n"
	"not executable), 127 when it is not found.\n";

static char joined[2048]; /* --kernel-arg values, space-joined */

enum { OPT_CPUS = 256, OPT_KERNEL, OPT_KERNEL_ARG, OPT_TIMING, OPT_DEBUG, OPT_HOSTNAME, OPT_NAME,
       OPT_RM, OPT_ENV_FILE, OPT_ARGV0, OPT_LOG_OPT, OPT_NETWORK, OPT_IP, OPT_MAC, OPT_DNS,
       OPT_CONFIG, OPT_FROM, OPT_BOOT_TIMEOUT, OPT_CGROUP, OPT_CGROUP_PARENT, OPT_NO_SANDBOX };
/* -v is 'v' */

static const struct option options[] = {
	{ "memory", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "env", required_argument, NULL, 'e' },
	{ "workdir", required_argument, NULL, 'w' },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "kernel-arg", required_argument, NULL, OPT_KERNEL_ARG },
	{ "timing", no_argument, NULL, OPT_TIMING },
	{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
	{ "debug-console", no_argument, NULL, OPT_DEBUG },
	{ "detach", no_argument, NULL, 'd' },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "rm", no_argument, NULL, OPT_RM },
	{ "interactive", no_argument, NULL, 'i' },
	{ "tty", no_argument, NULL, 't' },
	{ "user", required_argument, NULL, 'u' },
	{ "env-file", required_argument, NULL, OPT_ENV_FILE },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "volume", required_argument, NULL, 'v' },
	{ "argv0", required_argument, NULL, OPT_ARGV0 },
	{ "log-opt", required_argument, NULL, OPT_LOG_OPT },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "net", required_argument, NULL, OPT_NETWORK },
	{ "publish", required_argument, NULL, 'p' },
	{ "ip", required_argument, NULL, OPT_IP },
	{ "mac-address", required_argument, NULL, OPT_MAC },
	{ "dns", required_argument, NULL, OPT_DNS },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "template", required_argument, NULL, OPT_FROM },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Options a clone cannot take (its snapshot decided them): the option's name, or NULL. */
static const char *fixed_by_snapshot(int c)
{
	switch (c) {
	case 'm': return "--memory";
	case 'e': return "--env";
	case 'w': return "--workdir";
	case 'u': return "--user";
	case 't': return "--tty";
	case OPT_CPUS: return "--cpus";
	case OPT_KERNEL: return "--kernel";
	case OPT_KERNEL_ARG: return "--kernel-arg";
	case OPT_ENV_FILE: return "--env-file";
	case OPT_CONFIG: return "--config";
	case 'v': return "--volume";
	case OPT_ARGV0: return "--argv0";
	default: return NULL;
	}
}

bool runopts_valid_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 128 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

/* "1000" or "1000:1000"; numeric only (the guest has no user database to speak of). */
static int parse_user(struct run_opts *o, const char *s)
{
	char *end;
	unsigned long uid, gid;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	uid = strtoul(s, &end, 10);
	gid = uid;
	if (errno || uid > 0xfffffffeul || (*end && *end != ':'))
		return -EINVAL;
	if (*end == ':') {
		if (!isdigit((unsigned char)end[1]))
			return -EINVAL;
		gid = strtoul(end + 1, &end, 10);
		if (errno || gid > 0xfffffffeul || *end)
			return -EINVAL;
	}
	o->user = s;
	o->uid = (unsigned int)uid;
	o->gid = (unsigned int)gid;
	return 0;
}

static bool valid_env_name(const char *s, size_t len);

/* KEY=VALUE per line; blank lines and # comments skipped; KEY alone copies it from here. */
const char *runopts_config_path_ok(const char *path)
{
	/* ainit mounts file systems over these, or they are the Arrow's own */
	static const char *const hidden[] = { "/proc", "/sys", "/dev", "/tmp", "/run", "/.arrow",
					      "/app", "/init" };
	/* ainit writes these for every Arrow with a network */
	static const char *const managed[] = { "/etc/hosts", "/etc/resolv.conf", "/etc/hostname" };
	const char *c;

	if (path[0] != '/' || !path[1])
		return "must be an absolute path to a file";
	if (strlen(path) > 255)
		return "is longer than 255 bytes";
	for (c = path; c; c = strchr(c + 1, '/')) {
		const char *next = c + 1;
		size_t len = strcspn(next, "/");

		if (len == 0 || (len == 1 && next[0] == '.') || (len == 2 && !strncmp(next, "..", 2)))
			return "has an empty, '.' or '..' component";
	}
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		size_t n = strlen(hidden[i]);

		if (!strncmp(path, hidden[i], n) && (path[n] == 0 || path[n] == '/'))
			return "is a place the Arrow mounts over or owns";
	}
	for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++)
		if (!strcmp(path, managed[i]))
			return "is written by Arrow (use --hostname, --dns)";
	return NULL;
}

/* -v HOSTDIR:GUESTDIR[:ro|rw]; the host side is checked when the Arrow starts. */
static int add_volume(struct run_opts *o, const char *arg, char *err, unsigned int errlen)
{
	struct volume_opt *v = &o->volumes[o->nr_volumes];
	char *copy, *colon, *mode = NULL;
	const char *why;

	if (o->nr_volumes == RUNOPTS_MAX_VOLUMES) {
		snprintf(err, errlen, "too many volumes (at most %d)", RUNOPTS_MAX_VOLUMES);
		return -1;
	}
	copy = strdup(arg);
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	colon = strrchr(copy, ':');
	/* options: ro or rw, and U (give the directory to the jail's user, as podman's :U) */
	if (colon && (!strcmp(colon, ":ro") || !strcmp(colon, ":rw") || !strcmp(colon, ":U") ||
		      !strcmp(colon, ":ro,U") || !strcmp(colon, ":rw,U") || !strcmp(colon, ":U,ro") ||
		      !strcmp(colon, ":U,rw"))) {
		mode = colon + 1;
		*colon = '\0';
		colon = strrchr(copy, ':');
	}
	if (!colon || colon == copy) {
		snprintf(err, errlen, "invalid --volume '%s': expected HOSTDIR:GUESTDIR[:ro|rw][,U]", arg);
		free(copy);
		return -1;
	}
	*colon = '\0';
	why = runopts_config_path_ok(colon + 1);
	if (why || !strcmp(colon + 1, "/etc")) {
		snprintf(err, errlen, "invalid --volume '%s': the guest directory %s", arg,
			 why ? why : "is where Arrow writes the Arrow's identity");
		free(copy);
		return -1;
	}
	for (unsigned int i = 0; i < o->nr_volumes; i++)
		if (!strcmp(o->volumes[i].guest, colon + 1)) {
			snprintf(err, errlen, "--volume: %s is given twice", colon + 1);
			free(copy);
			return -1;
		}
	v->host = copy;
	v->guest = colon + 1;
	v->read_only = mode && strstr(mode, "ro");
	v->chown = mode && strchr(mode, 'U');
	o->nr_volumes++;
	return 0;
}

static int add_config(struct run_opts *o, const char *arg, char *err, unsigned int errlen)
{
	const char *colon = strrchr(arg, ':');
	const char *why;
	char *copy;

	if (!colon || colon == arg) {
		snprintf(err, errlen, "invalid --config '%s': expected FILE:GUESTPATH", arg);
		return -1;
	}
	why = runopts_config_path_ok(colon + 1);
	if (why) {
		snprintf(err, errlen, "invalid --config '%s': the guest path %s", arg, why);
		return -1;
	}
	if (o->nr_configs == RUNOPTS_MAX_CONFIGS) {
		snprintf(err, errlen, "too many --config files (at most %d)", RUNOPTS_MAX_CONFIGS);
		return -1;
	}
	for (unsigned int i = 0; i < o->nr_configs; i++)
		if (!strcmp(o->configs[i].guest, colon + 1)) {
			snprintf(err, errlen, "--config: %s is given twice", colon + 1);
			return -1;
		}
	copy = strdup(arg);
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	copy[colon - arg] = 0;
	o->configs[o->nr_configs++] = (struct config_file){ copy, copy + (colon - arg) + 1 };
	return 0;
}

static int read_env_file(struct run_opts *o, const char *path, char *err, unsigned int errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned int lineno = 0;
	int ret = 0;

	if (!f) {
		snprintf(err, errlen, "cannot read --env-file %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	while (!ret && (n = getline(&line, &cap, f)) >= 0) {
		char *p = line, *eq;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		eq = strchr(p, '=');
		if (!valid_env_name(p, eq ? (size_t)(eq - p) : strlen(p))) {
			snprintf(err, errlen, "%s:%u: expected KEY=VALUE", path, lineno);
			ret = -EINVAL;
		} else if (o->nr_env >= RUNOPTS_MAX_ENV) {
			snprintf(err, errlen, "%s: too many variables (at most %d in all)", path,
				 RUNOPTS_MAX_ENV);
			ret = -EINVAL;
		} else {
			o->env[o->nr_env] = o->env_owned[o->nr_env_owned++] = strdup(p);
			if (!o->env[o->nr_env++]) {
				snprintf(err, errlen, "out of memory");
				ret = -ENOMEM;
			}
		}
	}
	free(line);
	fclose(f);
	return ret;
}

static int parse_log_opt(struct run_opts *o, const char *s)
{
	char *end;
	unsigned long long v;

	if (!strncmp(s, "max-size=", 9)) {
		errno = 0;
		v = strtoull(s + 9, &end, 10);
		if (errno || end == s + 9)
			return -EINVAL;
		if (!strcasecmp(end, "k"))
			v <<= 10;
		else if (!strcasecmp(end, "m"))
			v <<= 20;
		else if (!strcasecmp(end, "g"))
			v <<= 30;
		else if (*end)
			return -EINVAL;
		if (v < 4096)
			return -EINVAL;
		o->log_max_size = v;
		return 0;
	}
	if (!strncmp(s, "max-file=", 9)) {
		errno = 0;
		v = strtoull(s + 9, &end, 10);
		if (errno || end == s + 9 || *end || v < 1 || v > 100)
			return -EINVAL;
		o->log_max_files = (unsigned int)v;
		return 0;
	}
	return -EINVAL;
}

uint64_t runopts_parse_memory(const char *s)
{
	static const struct {
		const char *suffix;
		unsigned int shift_up, shift_down; /* relative to MiB */
	} units[] = {
		{ "", 0, 0 },   { "m", 0, 0 },   { "mb", 0, 0 },  { "mib", 0, 0 }, { "g", 10, 0 },
		{ "gb", 10, 0 }, { "gib", 10, 0 }, { "k", 0, 10 }, { "kb", 0, 10 }, { "kib", 0, 10 },
	};
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v == 0 || v > (1ull << 40))
		return 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix))
			continue;
		if (units[i].shift_down && (v & ((1ull << units[i].shift_down) - 1)))
			return 0; /* not a whole number of MiB */
		return (v << units[i].shift_up) >> units[i].shift_down;
	}
	return 0;
}

static bool valid_env_name(const char *s, size_t len)
{
	if (len == 0 || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static bool valid_hostname(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static int parse(struct run_opts *o, int argc, char *const argv[], char *err, unsigned int errlen)
{
	char *end;
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	joined[0] = '\0';
	o->memory_mib = 128;
	o->cpus = 1;
	o->boot_timeout_s = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+m:e:w:u:p:v:dith", options, NULL)) != -1) {
		if (!o->fixed_by_snapshot)
			o->fixed_by_snapshot = fixed_by_snapshot(c);
		switch (c) {
		case 'd':
			o->detach = true;
			break;
		case 'i':
			o->interactive = true;
			break;
		case 't':
			o->tty = true;
			break;
		case OPT_RM:
			o->remove = true;
			break;
		case OPT_NAME:
			if (!runopts_valid_name(optarg)) {
				snprintf(err, errlen, "invalid --name '%s': use letters, digits, '_', '.' "
						      "and '-', starting with a letter or digit", optarg);
				return -EINVAL;
			}
			o->name = optarg;
			break;
		case OPT_NETWORK:
			if (strcmp(optarg, "none") && !netstore_valid_name(optarg)) {
				snprintf(err, errlen, "invalid --network '%s'", optarg);
				return -EINVAL;
			}
			o->network = optarg;
			break;
		case 'p':
			if (o->nr_ports >= RUNOPTS_MAX_PORTS ||
			    port_map_parse(optarg, &o->ports[o->nr_ports])) {
				snprintf(err, errlen, "invalid --publish '%s': expected "
						      "[HOSTIP:]HOSTPORT:PORT[/tcp|/udp] (at most %d)",
					 optarg, RUNOPTS_MAX_PORTS);
				return -EINVAL;
			}
			o->nr_ports++;
			break;
		case OPT_IP: {
			uint32_t ip;

			if (ip_parse(optarg, &ip)) {
				snprintf(err, errlen, "invalid --ip '%s': expected an IPv4 address", optarg);
				return -EINVAL;
			}
			o->ip = optarg;
			break;
		}
		case OPT_MAC: {
			uint8_t mac[6];

			if (mac_parse(optarg, mac)) {
				snprintf(err, errlen, "invalid --mac-address '%s': expected a unicast "
						      "address like 02:42:ac:11:00:02", optarg);
				return -EINVAL;
			}
			o->mac = optarg;
			break;
		}
		case OPT_DNS: {
			uint32_t ip;

			if (ip_parse(optarg, &ip) || o->nr_dns >= RUNOPTS_MAX_DNS) {
				snprintf(err, errlen, "invalid --dns '%s': expected an IPv4 address (at most %d)",
					 optarg, RUNOPTS_MAX_DNS);
				return -EINVAL;
			}
			o->dns[o->nr_dns++] = optarg;
			break;
		}
		case 'u':
			if (parse_user(o, optarg)) {
				snprintf(err, errlen, "invalid --user '%s': expected UID or UID:GID (numbers)",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_ENV_FILE:
			if (read_env_file(o, optarg, err, errlen))
				return -EINVAL;
			break;
		case OPT_CONFIG:
			if (add_config(o, optarg, err, errlen))
				return -EINVAL;
			break;
		case 'v':
			if (add_volume(o, optarg, err, errlen))
				return -EINVAL;
			break;
		case OPT_ARGV0:
			if (!*optarg) {
				snprintf(err, errlen, "--argv0 needs a non-empty name");
				return -EINVAL;
			}
			o->argv0 = optarg;
			break;
		case OPT_LOG_OPT:
			if (parse_log_opt(o, optarg)) {
				snprintf(err, errlen, "invalid --log-opt '%s': expected max-size=SIZE "
						      "(at least 4k) or max-file=N (1-100)", optarg);
				return -EINVAL;
			}
			break;
		case 'm':
			o->memory_mib = runopts_parse_memory(optarg);
			if (o->memory_mib < MIN_MEMORY_MIB || o->memory_mib > MAX_MEMORY_MIB) {
				snprintf(err, errlen,
					 "invalid --memory '%s': give MiB (or 512m, 1g) between %d and %d MiB",
					 optarg, MIN_MEMORY_MIB, MAX_MEMORY_MIB);
				return -EINVAL;
			}
			break;
		case OPT_CPUS:
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !isdigit((unsigned char)*optarg) || v < 1 || v > MAX_CPUS) {
				snprintf(err, errlen, "invalid --cpus '%s': give a whole number from 1 to %d",
					 optarg, MAX_CPUS);
				return -EINVAL;
			}
			o->cpus = (unsigned int)v;
			break;
		case 'e': {
			const char *eq = strchr(optarg, '=');
			size_t nlen = eq ? (size_t)(eq - optarg) : strlen(optarg);

			if (!valid_env_name(optarg, nlen)) {
				snprintf(err, errlen, "invalid --env '%s': expected KEY=VALUE", optarg);
				return -EINVAL;
			}
			if (o->nr_env >= RUNOPTS_MAX_ENV) {
				snprintf(err, errlen, "too many --env options (at most %d)", RUNOPTS_MAX_ENV);
				return -EINVAL;
			}
			o->env[o->nr_env++] = optarg;
			break;
		}
		case 'w':
			if (optarg[0] != '/') {
				snprintf(err, errlen, "invalid --workdir '%s': must be an absolute path",
					 optarg);
				return -EINVAL;
			}
			o->workdir = optarg;
			break;
		case OPT_HOSTNAME:
			if (!valid_hostname(optarg)) {
				snprintf(err, errlen, "invalid --hostname '%s'", optarg);
				return -EINVAL;
			}
			o->hostname = optarg;
			break;
		case OPT_KERNEL:
			o->kernel = optarg;
			break;
		case OPT_KERNEL_ARG: {
			size_t used = strlen(joined);

			if (!*optarg || strlen(optarg) + used + 2 > sizeof(joined)) {
				snprintf(err, errlen, "invalid --kernel-arg '%s': empty or too long", optarg);
				return -EINVAL;
			}
			snprintf(joined + used, sizeof(joined) - used, "%s%s", used ? " " : "", optarg);
			o->kernel_args = joined;
			break;
		}
		case OPT_TIMING:
			o->timing = true;
			break;
		case OPT_BOOT_TIMEOUT: {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v > 86400) {
				snprintf(err, errlen, "--boot-timeout takes 0 to 86400 seconds, not '%s'",
					 optarg);
				return -EINVAL;
			}
			o->boot_timeout_s = (int)v;
			break;
		}
		case OPT_FROM:
			if (!runopts_valid_name(optarg)) {
				snprintf(err, errlen, "invalid snapshot name '%s'", optarg);
				return -EINVAL;
			}
			o->from = optarg;
			break;
		case OPT_DEBUG:
			o->debug_console = true;
			break;
		case OPT_CGROUP:
			if (strcmp(optarg, "none")) {
				snprintf(err, errlen, "invalid --cgroup '%s': only 'none' (see --cgroup-parent)",
					 optarg);
				return -EINVAL;
			}
			o->no_cgroup = true;
			break;
		case OPT_CGROUP_PARENT: {
			const char *why = cgroup_path_problem(optarg);

			if (why) {
				snprintf(err, errlen, "invalid --cgroup-parent '%s': %s", optarg, why);
				return -EINVAL;
			}
			o->cgroup_parent = optarg;
			break;
		}
		case OPT_NO_SANDBOX:
			o->no_sandbox = true;
			break;
		case 'h':
			o->help = true;
			return 0;
		case '?':
		default:
			if (optopt && strchr("mewu", optopt))
				snprintf(err, errlen, "option -%c needs a value", optopt);
			else
				snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (o->network && !strcmp(o->network, "none") &&
	    (o->nr_ports || o->ip || o->mac || o->nr_dns)) {
		snprintf(err, errlen, "--publish, --ip, --mac-address and --dns need a network, "
				      "not --network none");
		return -EINVAL;
	}
	if (o->no_cgroup && o->cgroup_parent) {
		snprintf(err, errlen, "--cgroup none and --cgroup-parent contradict each other");
		return -EINVAL;
	}
	if (o->from && o->fixed_by_snapshot) {
		snprintf(err, errlen, "%s cannot change a clone: the snapshot fixes the program, its "
				      "environment, memory, CPUs and terminal", o->fixed_by_snapshot);
		return -EINVAL;
	}
	if (o->from && optind < argc) {
		snprintf(err, errlen, "a clone runs the snapshot's program; '%s' cannot follow --from",
			 argv[optind]);
		return -EINVAL;
	}
	if (o->from)
		return 0;
	if (optind >= argc) {
		snprintf(err, errlen, "'arrow run' needs a PROGRAM to run");
		return -EINVAL;
	}
	o->program = argv[optind];
	o->args = argv + optind + 1;
	o->nr_args = argc - optind - 1;
	return 0;
}

int runopts_parse(struct run_opts *o, int argc, char *const argv[], char *err, unsigned int errlen)
{
	int ret = parse(o, argc, argv, err, errlen);

	if (ret)
		runopts_free(o);
	return ret;
}

void runopts_free(struct run_opts *o)
{
	for (unsigned int i = 0; i < o->nr_configs; i++)
		free(o->configs[i].host);
	o->nr_configs = 0;
	for (unsigned int i = 0; i < o->nr_env_owned; i++)
		free(o->env_owned[i]);
	o->nr_env_owned = 0;
}
