// SPDX-License-Identifier: MIT
/*
 * arrow run and arrow template create: parse the options, hand them to the launch path
 * (lib/launch/launch.h), print what the user sees. `arrow _release`, arrowh's exit hook.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/launch/launch.h"
#include "lib/net/netstore.h"
#include "lib/launch/runopts.h"

const char template_usage[] =
	"Usage: arrow template create NAME [RUN OPTIONS] PROGRAM [ARGS...]\n"
	"       arrow template ls\n"
	"       arrow template rm NAME...\n"
	"Boot PROGRAM as an Arrow up to the moment ainit would start it, and keep a snapshot of\n"
	"that moment as template NAME. 'arrow run --template NAME' then starts clones of it in\n"
	"milliseconds, each with its own address, MAC, hostname, clock and random numbers.\n"
	"RUN OPTIONS are those of 'arrow run' (memory, environment, network...), except -d.\n";

int run_program(int argc, char *argv[], const char *template)
{
	struct run_opts o;
	struct launched l;
	char err[512];
	int ret;

	if (runopts_parse(&o, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "arrow run: %s\nSee 'arrow run --help'.\n", err);
		return EXIT_ARROW_ERROR;
	}
	if (o.help) {
		fputs(template ? template_usage : runopts_usage, stdout);
		return 0;
	}
	if (template) {
		ret = launch_template(&o, template);
		if (!ret)
			printf("%s\n", template);
		return ret;
	}
	/* in the foreground arrowh takes this process over: back here only on failure */
	ret = launch_arrow(&o, &l);
	if (!ret && o.detach)
		printf("%s\n", l.id);
	return ret;
}

int cmd_run(int argc, char *argv[])
{
	return run_program(argc, argv, NULL);
}

/* arrow _release ID: arrowh's exit hook gives the Arrow's address and ports back. */
int cmd_release(int argc, char *argv[])
{
	if (argc != 2 || strlen(argv[1]) != 64) {
		fprintf(stderr, "usage: arrow _release ID (run by arrowh when an Arrow ends)\n");
		return EXIT_ARROW_ERROR;
	}
	return net_release(argv[1]) ? EXIT_ARROW_ERROR : 0;
}
