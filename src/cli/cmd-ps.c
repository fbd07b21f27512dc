// SPDX-License-Identifier: MIT
/* arrow ps: list Arrows, docker-style. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/streamrec.h"
#include "common/statedir.h"
#include "lib/net/netstore.h"
#include "lib/state/store.h"

static const char usage[] =
	"Usage: arrow ps [OPTIONS]\n"
	"List Arrows (running ones; -a for all).\n"
	"\n"
	"  -a, --all          show every Arrow, also created and exited ones\n"
	"  -q, --quiet        print ids only\n"
	"      --no-trunc     full ids and commands\n"
	"      --format json  one JSON object per Arrow and line\n"
	"  -h, --help         this text\n";

/* The program and its arguments, quoted like docker's COMMAND column. */
static void command_text(const struct arrow_rec *r, char *out, size_t len, bool trunc)
{
	json_t *args = json_object_get(r->config, "args"), *a;
	const char *prog = json_string_value(json_object_get(r->config, "program"));
	size_t used, i;

	used = (size_t)snprintf(out, len, "\"%s", prog ? prog : "?");
	json_array_foreach(args, i, a) {
		if (used >= len)
			break;
		used += (size_t)snprintf(out + used, len - used, " %s", json_string_value(a) ?: "");
	}
	if (used < len)
		snprintf(out + used, len - used, "\"");
	if (trunc && strlen(out) > 22)
		snprintf(out + 19, len - 19, "...\"");
}

/* "0.0.0.0:8080->80/tcp, ..." while the Arrow runs. */
static void ports_text(const struct arrow_rec *r, char *out, size_t len)
{
	json_t *ports = json_object_get(json_object_get(r->config, "network"), "ports"), *p;
	size_t i, used = 0;

	out[0] = '\0';
	if (r->status != ST_RUNNING)
		return;
	json_array_foreach(ports, i, p)
		if (used < len)
			used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "",
						 json_string_value(p) ?: "");
}

static void print_json(const struct arrow_rec *r)
{
	char status[128], cmd[4096], ports[1024];
	json_t *o;
	char *text;

	arrow_status_text(r, status, sizeof(status));
	command_text(r, cmd, sizeof(cmd), false);
	ports_text(r, ports, sizeof(ports));
	o = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:s, s:s, s:i, s:i, s:s}", "ID", r->id, "Names",
		      store_name(r), "Program",
		      json_string_value(json_object_get(r->config, "program")), "Command", cmd,
		      "CreatedAt", (json_int_t)(r->created_ns / 1000000000ull), "State",
		      arrow_state_name(r), "Status", status, "ExitCode",
		      r->status == ST_EXITED ? r->exit_code : 0, "Pid", r->pid, "Ports", ports);
	if (o && r->status == ST_RUNNING)
		run_cgroup_ps_json(o, r->config);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text)
		puts(text);
	free(text);
	json_decref(o);
}

#define PS_COLS 9

/* Columns as wide as their widest cell, three spaces apart (docker's layout). */
static void print_table(const struct arrow_rec *list, int n, bool all, bool trunc)
{
	static const char *const head[PS_COLS] = { "ID", "NAME", "PROGRAM", "COMMAND", "CREATED",
						   "STATUS", "PORTS", "MEM USAGE / LIMIT", "CPU TIME" };
	char(*cells)[PS_COLS][256] = calloc((size_t)n + 1, sizeof(*cells));
	size_t width[PS_COLS] = { 0 };
	int rows = 0;

	if (!cells)
		return;
	for (int c = 0; c < PS_COLS; c++)
		snprintf(cells[0][c], sizeof(cells[0][c]), "%s", head[c]);
	rows = 1;
	for (int i = n - 1; i >= 0; i--) { /* newest first */
		const struct arrow_rec *r = &list[i];
		const char *prog = json_string_value(json_object_get(r->config, "program"));
		const char *base = prog && strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
		char d[64];

		if (!all && r->status != ST_RUNNING)
			continue;
		snprintf(cells[rows][0], 256, "%.*s", trunc ? 12 : ARROW_ID_LEN, r->id);
		snprintf(cells[rows][1], 256, "%s", store_name(r));
		snprintf(cells[rows][2], 256, "%s", base ? base : "?");
		command_text(r, cells[rows][3], 256, trunc);
		human_duration(ns_since(r->created_ns), d, sizeof(d));
		snprintf(cells[rows][4], 256, "%s ago", d);
		arrow_status_text(r, cells[rows][5], 256);
		ports_text(r, cells[rows][6], 256);
		if (r->status == ST_RUNNING)
			run_cgroup_usage_text(r->config, cells[rows][7], 256, cells[rows][8], 256);
		rows++;
	}
	for (int i = 0; i < rows; i++)
		for (int c = 0; c < PS_COLS; c++)
			if (strlen(cells[i][c]) > width[c])
				width[c] = strlen(cells[i][c]);
	for (int i = 0; i < rows; i++) {
		for (int c = 0; c < PS_COLS - 1; c++)
			printf("%-*s   ", (int)width[c], cells[i][c]);
		printf("%s\n", cells[i][PS_COLS - 1]);
	}
	free(cells);
}

int cmd_ps(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },	{ "quiet", no_argument, NULL, 'q' },
		{ "no-trunc", no_argument, NULL, 'T' }, { "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },	{ NULL, 0, NULL, 0 },
	};
	bool all = false, quiet = false, trunc = true, json = false;
	struct arrow_rec *list;
	int c, n;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+aqh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'T':
			trunc = false;
			break;
		case 'f':
			if (strcmp(optarg, "json")) {
				fprintf(stderr, "arrow ps: unknown --format '%s' (only 'json')\n", optarg);
				return EXIT_ARROW_ERROR;
			}
			json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return bad_option("ps", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "arrow ps: unexpected argument '%s'\nSee 'arrow ps --help'.\n",
			argv[optind]);
		return EXIT_ARROW_ERROR;
	}
	net_prune(); /* addresses and ports of Arrows whose arrowh was killed */
	n = store_list(&list);
	if (n < 0) {
		fprintf(stderr, "arrow ps: cannot read %s: %s\n", store_root(), strerror(-n));
		return EXIT_ARROW_ERROR;
	}
	if (quiet || json) {
		for (int i = n - 1; i >= 0; i--) { /* newest first */
			if (!all && list[i].status != ST_RUNNING)
				continue;
			if (json)
				print_json(&list[i]);
			else
				printf("%.*s\n", trunc ? 12 : ARROW_ID_LEN, list[i].id);
		}
		store_free_list(list, n);
		return 0;
	}
	print_table(list, n, all, trunc);
	store_free_list(list, n);
	return 0;
}
