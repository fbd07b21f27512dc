// SPDX-License-Identifier: MIT
/* arrow logs: what an Arrow's app wrote, stdout to stdout and stderr to stderr (logprint.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/state/store.h"

static const char usage[] =
	"Usage: arrow logs [OPTIONS] ARROW\n"
	"Print what the Arrow's app wrote: its stdout on stdout, its stderr on stderr.\n"
	"Logs outlive the Arrow until 'arrow rm'; they rotate (see 'arrow run --log-opt').\n"
	"\n"
	"  -f, --follow        keep printing new output until the Arrow exits\n"
	"  -n, --tail N        only the last N lines (default: all)\n"
	"  -t, --timestamps    prefix each line with the time it was written (RFC 3339)\n"
	"  -h, --help          this text\n";

int cmd_logs(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },	  { "tail", required_argument, NULL, 'n' },
		{ "timestamps", no_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool follow_on = false, timestamps = false;
	long tail = -1;
	struct arrow_rec r;
	int c, ret;
	char *end;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+fn:th", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow_on = true;
			break;
		case 'n':
			if (!strcmp(optarg, "all")) {
				tail = -1;
				break;
			}
			errno = 0;
			tail = strtol(optarg, &end, 10);
			if (errno || *end || !*optarg || tail < 0) {
				fprintf(stderr, "arrow logs: invalid --tail '%s': give a number or 'all'\n",
					optarg);
				return EXIT_ARROW_ERROR;
			}
			break;
		case 't':
			timestamps = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return bad_option("logs", argv[optind - 1]);
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "arrow logs: exactly one Arrow (name or id) required\n"
				"See 'arrow logs --help'.\n");
		return EXIT_ARROW_ERROR;
	}
	if (store_lookup("logs", argv[optind], &r))
		return EXIT_ARROW_ERROR;
	ret = arrow_print_logs(&r, tail, timestamps, follow_on);
	store_free(&r);
	return ret;
}
