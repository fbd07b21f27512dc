/* SPDX-License-Identifier: MIT */
/* `arrow run` options, parsed the way docker users expect. */
#ifndef ARROW_RUNOPTS_H
#define ARROW_RUNOPTS_H

#include <stdbool.h>
#include <stdint.h>

#define RUNOPTS_MAX_ENV 1024

struct run_opts {
	uint64_t memory_mib;
	unsigned int cpus;
	const char *env[RUNOPTS_MAX_ENV];
	unsigned int nr_env;
	const char *workdir;
	const char *kernel;
	const char *hostname;
	const char *kernel_args; /* extra kernel command line, space-joined */
	bool timing;
	bool debug_console;
	bool help;
	const char *program;  /* as the user typed it */
	char *const *args;    /* arguments after PROGRAM */
	int nr_args;
};

/*
 * Parse `arrow run` arguments (argv[0] is "run"). Options stop at PROGRAM.
 * Returns 0, or -EINVAL with a one-line reason in err.
 */
int runopts_parse(struct run_opts *o, int argc, char *const argv[], char *err, unsigned int errlen);
/* "512", "512m", "1g", "262144k" -> MiB; 0 on error. */
uint64_t runopts_parse_memory(const char *s);
extern const char runopts_usage[];

#endif
