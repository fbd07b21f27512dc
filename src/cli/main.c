// SPDX-License-Identifier: MIT
/* arrow: run and manage Arrows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"Usage: arrow [--root DIR] COMMAND [OPTIONS]\n"
	"Run applications as Arrows: each in its own micro-VM with a single-task Linux kernel.\n"
	"\n"
	"Commands:\n"
	"  run       run a program or an image as an Arrow (foreground, or -d in the background)\n"
	"  ps        list Arrows\n"
	"  logs      print an Arrow's output\n"
	"  attach    connect to a running Arrow's standard streams\n"
	"  exec      run another program inside a running Arrow\n"
	"  top       list the processes running inside an Arrow\n"
	"  stop      stop Arrows (SIGTERM, then a hard stop after a grace period)\n"
	"  kill      send a signal to Arrows' apps\n"
	"  pause     stop the vCPUs of running Arrows (unpause: run them again)\n"
	"  wait      wait for Arrows to exit and print their exit status\n"
	"  rm        remove Arrows\n"
	"  inspect   show Arrows' configuration and state as JSON\n"
	"  network   create, list, inspect and remove Arrow networks\n"
	"  snapshot  save a running Arrow's whole state; list and remove snapshots\n"
	"  template  boot a program to its start and keep that as a template for clones\n"
	"  build     make an image: a host program with its libraries, or from an Arrowfile\n"
	"  import    import OCI image layouts and docker archives\n"
	"  save      write images as a tar of an OCI image layout\n"
	"  pull      fetch an image from a registry\n"
	"  push      upload an image to a registry\n"
	"  images    list images\n"
	"  rmi       remove images\n"
	"  tag       give an image another name\n"
	"  fn        deploy, list, invoke and remove functions (docs/functions.md)\n"
	"  serve     run the functions gateway (arrow-gateway)\n"
	"  machine   run a command inside the helper VM that provides KVM (machine mode)\n"
	"  version   print the version\n"
	"\n"
	"Global options:\n"
	"  --root DIR  state root (default /run/arrow as root, $XDG_RUNTIME_DIR/arrow otherwise;\n"
	"              also $ARROW_ROOT)\n"
	"\n"
	"Run 'arrow COMMAND --help' for a command's options.\n";

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[]);
} commands[] = {
	{ "run", cmd_run },	  { "ps", cmd_ps },	    { "logs", cmd_logs },
	{ "attach", cmd_attach }, { "stop", cmd_stop },	    { "kill", cmd_kill },
	{ "wait", cmd_wait },	  { "rm", cmd_rm },	    { "inspect", cmd_inspect },
	{ "machine", cmd_machine }, { "network", cmd_network }, { "_release", cmd_release },
	{ "snapshot", cmd_snapshot }, { "template", cmd_template },
	{ "build", cmd_build },	  { "images", cmd_images }, { "rmi", cmd_rmi },
	{ "tag", cmd_tag },	  { "import", cmd_import }, { "save", cmd_save },
	{ "pull", cmd_pull },	  { "push", cmd_push },
	{ "exec", cmd_exec },	  { "top", cmd_top },
	{ "pause", cmd_pause },	  { "unpause", cmd_unpause },
	{ "fn", cmd_fn },	  { "serve", cmd_serve },
};

int main(int argc, char *argv[])
{
	while (argc > 1 && !strncmp(argv[1], "--root", 6)) {
		const char *dir = NULL;

		if (argv[1][6] == '=') {
			dir = argv[1] + 7;
			argc -= 1;
			argv += 1;
		} else if (!argv[1][6] && argc > 2) {
			dir = argv[2];
			argc -= 2;
			argv += 2;
		}
		if (!dir || !*dir || dir[0] != '/') {
			fprintf(stderr, "arrow: --root needs an absolute directory\n");
			return EXIT_ARROW_ERROR;
		}
		setenv("ARROW_ROOT", dir, 1);
	}
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_ARROW_ERROR;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
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
