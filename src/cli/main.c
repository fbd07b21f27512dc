// SPDX-License-Identifier: MIT
/* arrow: run and manage Arrows. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"Usage: arrow COMMAND [OPTIONS]\n"
	"Run applications as Arrows: each in its own micro-VM with a single-task Linux kernel.\n"
	"\n"
	"Commands:\n"
	"  run       run a static program as an Arrow (foreground)\n"
	"  machine   run a command inside the helper VM that provides KVM (machine mode)\n"
	"  version   print the version\n"
	"\n"
	"Run 'arrow COMMAND --help' for a command's options.\n";

int main(int argc, char *argv[])
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_ARROW_ERROR;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "machine"))
		return cmd_machine(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		puts("arrow " ARROW_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "arrow: unknown command '%s'\nSee 'arrow --help'.\n", argv[1]);
	return EXIT_ARROW_ERROR;
}
