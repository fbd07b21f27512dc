// SPDX-License-Identifier: MIT
/*
 * arrow run and arrow template create share this: parse the options, hand them to the
 * launch path (lib/launch/launch.h), print what the user sees.
 */
#include <stdio.h>

#include "cli.h"
#include "lib/launch/launch.h"
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
