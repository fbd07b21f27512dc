// SPDX-License-Identifier: MIT
#include "runopts.h"

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
	"Run a static Linux program as an Arrow: in its own micro-VM with a single-task kernel.\n"
	"Standard input, output and error flow through; the exit status is the program's.\n"
	"\n"
	"Options:\n"
	"  -m, --memory SIZE     guest memory: MiB, or with a unit (512m, 1g); default 128\n"
	"      --cpus N          virtual CPUs (1-32); default 1\n"
	"  -e, --env KEY=VALUE   set an environment variable (KEY alone: copy it from here)\n"
	"  -w, --workdir DIR     working directory inside the Arrow (absolute); default /\n"
	"      --hostname NAME   hostname inside the Arrow; default arrow\n"
	"      --kernel PATH     guest kernel (vmlinux); default: the one installed with arrow\n"
	"      --kernel-arg ARG  append ARG to the guest kernel command line (repeatable)\n"
	"      --timing          print boot phases on stderr when the Arrow exits\n"
	"      --debug-console   show kernel messages on stderr (serial console)\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: the program's; 125 when Arrow itself fails, 126 when the program\n"
	"cannot be run (dynamically linked, not executable), 127 when it is not found.\n";

static char joined[2048]; /* --kernel-arg values, space-joined */

enum { OPT_CPUS = 256, OPT_KERNEL, OPT_KERNEL_ARG, OPT_TIMING, OPT_DEBUG, OPT_HOSTNAME };

static const struct option options[] = {
	{ "memory", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "env", required_argument, NULL, 'e' },
	{ "workdir", required_argument, NULL, 'w' },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "kernel-arg", required_argument, NULL, OPT_KERNEL_ARG },
	{ "timing", no_argument, NULL, OPT_TIMING },
	{ "debug-console", no_argument, NULL, OPT_DEBUG },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

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

int runopts_parse(struct run_opts *o, int argc, char *const argv[], char *err, unsigned int errlen)
{
	char *end;
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	joined[0] = '\0';
	o->memory_mib = 128;
	o->cpus = 1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+m:e:w:h", options, NULL)) != -1) {
		switch (c) {
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
		case OPT_DEBUG:
			o->debug_console = true;
			break;
		case 'h':
			o->help = true;
			return 0;
		case '?':
		default:
			if (optopt && strchr("mew", optopt))
				snprintf(err, errlen, "option -%c needs a value", optopt);
			else
				snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		snprintf(err, errlen, "'arrow run' needs a PROGRAM to run");
		return -EINVAL;
	}
	o->program = argv[optind];
	o->args = argv + optind + 1;
	o->nr_args = argc - optind - 1;
	return 0;
}
