// SPDX-License-Identifier: MIT
/*
 * What several verbs of the CLI share (cli.h): the unknown-option message and docker's way
 * of saying how long ago and in which state. Verbs (cmd-*.c) call only this and src/lib,
 * never each other.
 */
#include <stdio.h>

#include "cli.h"
#include "common/statedir.h"
#include "common/streamrec.h"
#include "lib/state/store.h"

int bad_option(const char *verb, const char *opt)
{
	fprintf(stderr, "arrow %s: unknown or incomplete option '%s'\nSee 'arrow %s --help'.\n",
		verb, opt, verb);
	return EXIT_ARROW_ERROR;
}

void human_duration(uint64_t ns, char *out, size_t len)
{
	uint64_t s = ns / 1000000000ull;

	if (s < 1)
		snprintf(out, len, "Less than a second");
	else if (s == 1)
		snprintf(out, len, "1 second");
	else if (s < 60)
		snprintf(out, len, "%llu seconds", (unsigned long long)s);
	else if (s < 120)
		snprintf(out, len, "About a minute");
	else if (s < 3600)
		snprintf(out, len, "%llu minutes", (unsigned long long)s / 60);
	else if (s < 7200)
		snprintf(out, len, "About an hour");
	else if (s < 48 * 3600)
		snprintf(out, len, "%llu hours", (unsigned long long)s / 3600);
	else if (s < 14 * 86400)
		snprintf(out, len, "%llu days", (unsigned long long)s / 86400);
	else if (s < 60 * 86400)
		snprintf(out, len, "%llu weeks", (unsigned long long)s / (7 * 86400));
	else if (s < 730 * 86400)
		snprintf(out, len, "%llu months", (unsigned long long)s / (30 * 86400));
	else
		snprintf(out, len, "%llu years", (unsigned long long)s / (365 * 86400));
}

uint64_t ns_since(uint64_t then)
{
	uint64_t now = statedir_realtime_ns();

	return now > then ? now - then : 0;
}

void arrow_status_text(const struct arrow_rec *r, char *out, size_t len)
{
	char d[64];

	switch (r->status) {
	case ST_RUNNING:
		human_duration(ns_since(r->started_ns), d, sizeof(d));
		snprintf(out, len, "Up %s%s", d,
			 store_request(r, HOSTCTL_PAUSED, 0) == 1 ? " (Paused)" : "");
		break;
	case ST_EXITED:
		human_duration(ns_since(r->finished_ns), d, sizeof(d));
		snprintf(out, len, "Exited (%d) %s ago", r->exit_code, d);
		break;
	default:
		snprintf(out, len, "Created");
	}
}

const char *arrow_state_name(const struct arrow_rec *r)
{
	if (r->status == ST_RUNNING) /* paused is arrowh's to know: asked, never stored */
		return store_request(r, HOSTCTL_PAUSED, 0) == 1 ? "paused" : "running";
	return r->status == ST_EXITED ? "exited" : "created";
}
