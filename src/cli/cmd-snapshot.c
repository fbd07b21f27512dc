// SPDX-License-Identifier: MIT
/* arrow snapshot and arrow template: make, list and remove snapshots (docs/snapshots.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/streamrec.h"
#include "common/statedir.h"
#include "common/ownership.h"
#include "lib/state/jailuser.h"
#include "lib/launch/runopts.h"
#include "lib/state/snapstore.h"
#include "lib/state/store.h"

static const char snapshot_usage[] =
	"Usage: arrow snapshot ARROW NAME\n"
	"       arrow snapshot ls\n"
	"       arrow snapshot rm NAME...\n"
	"Save a running Arrow's whole state (vCPUs, devices, guest memory) as snapshot NAME; the\n"
	"Arrow pauses while it is written and then runs on. 'arrow run --from NAME' starts clones\n"
	"of it that share its memory copy-on-write. See also 'arrow template'.\n";

/* Disk the memory and state files take (sparse: what was written). */
static double disk_mib(const char *name)
{
	static const char *const files[] = { "memory", "state" };
	char dir[4200], path[4300];
	double total = 0;

	snapstore_path(name, dir, sizeof(dir));
	for (unsigned int i = 0; i < 2; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (stat(path, &st) == 0)
			total += (double)st.st_blocks * 512;
	}
	return total / (1 << 20);
}

static int list(const char *kind)
{
	char **names;
	int n = snapstore_list(&names);

	if (n < 0) {
		fprintf(stderr, "arrow: cannot read %s: %s\n", snapstore_dir(), strerror(-n));
		return EXIT_ARROW_ERROR;
	}
	printf("%-20s %-9s %-20s %-20s %-8s %-9s %s\n", "NAME", "KIND", "SOURCE", "PROGRAM",
	       "MEMORY", "ON DISK", "CREATED");
	for (int i = 0; i < n; i++) {
		int err;
		json_t *m = snapstore_meta(names[i], &err);
		const char *k = json_string_value(json_object_get(m, "kind"));
		char ago[64], mem[16];
		struct timespec now;
		uint64_t created = (uint64_t)json_integer_value(json_object_get(m, "created_ns"));

		if (m && (!kind || (k && !strcmp(k, kind)))) {
			clock_gettime(CLOCK_REALTIME, &now);
			human_duration((uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec -
					       created, ago, sizeof(ago));
			snprintf(mem, sizeof(mem), "%lldM",
				 (long long)json_integer_value(json_object_get(m, "memory_mib")));
			printf("%-20s %-9s %-20.20s %-20.20s %-8s %-9.1f %s ago\n", names[i], k ? k : "?",
			       json_string_value(json_object_get(m, "source")),
			       json_string_value(json_object_get(m, "program")), mem, disk_mib(names[i]),
			       ago);
		}
		json_decref(m);
		free(names[i]);
	}
	free(names);
	return 0;
}

static int remove_names(const char *verb, int argc, char *argv[])
{
	int status = 0;

	if (argc < 1) {
		fprintf(stderr, "arrow %s rm: name the snapshots to remove\n", verb);
		return EXIT_ARROW_ERROR;
	}
	for (int i = 0; i < argc; i++) {
		char dir[4200];
		int err;
		json_t *m = snapstore_meta(argv[i], &err);

		json_decref(m);
		if (!m) {
			fprintf(stderr, "arrow %s rm: no snapshot or template named '%s'\n", verb, argv[i]);
			status = 1;
			continue;
		}
		snapstore_path(argv[i], dir, sizeof(dir));
		/* running clones keep their mapping of the memory file: removal is safe */
		err = snapstore_remove_dir(dir);
		if (err) {
			fprintf(stderr, "arrow %s rm: %s: %s\n", verb, argv[i], strerror(-err));
			status = 1;
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return status;
}

int cmd_snapshot(int argc, char *argv[])
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(snapshot_usage, stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "ls") || !strcmp(argv[1], "list")))
		return argc == 2 ? list(NULL) : bad_option("snapshot ls", argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "rm"))
		return remove_names("snapshot", argc - 2, argv + 2);
	if (argc != 3) {
		fputs(snapshot_usage, stderr);
		return EXIT_ARROW_ERROR;
	}
	if (launch_snapshot(argv[1], argv[2]))
		return EXIT_ARROW_ERROR;
	printf("%s\n", argv[2]);
	return 0;
}

int cmd_template(int argc, char *argv[])
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(template_usage, stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "ls") || !strcmp(argv[1], "list")))
		return argc == 2 ? list("template") : bad_option("template ls", argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "rm"))
		return remove_names("template", argc - 2, argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "create")) {
		const char *name = argv[2];

		if (!runopts_valid_name(name)) {
			fprintf(stderr, "arrow template: invalid name '%s'\n", name);
			return EXIT_ARROW_ERROR;
		}
		/* the rest parses as `arrow run` arguments: argv[2] stands in for "run" */
		return run_program(argc - 2, argv + 2, name);
	}
	fputs(template_usage, stderr);
	return EXIT_ARROW_ERROR;
}
