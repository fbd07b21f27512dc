// SPDX-License-Identifier: MIT
/* arrow run (runprog.c does the work) and `arrow _release`, arrowh's exit hook. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/net/netstore.h"

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
