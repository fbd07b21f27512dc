// SPDX-License-Identifier: MIT
/* `arrow run --timing`: the session's marks and KVM's exit counters, on stderr. */
#include <stdio.h>
#include <string.h>

#include "session.h"

static double ms(uint64_t from, uint64_t to)
{
	if (!from || !to || to < from)
		return -1;
	return (double)(to - from) / 1e6;
}

static void row(const char *what, double v)
{
	if (v < 0)
		fprintf(stderr, "  %-28s %10s\n", what, "-");
	else
		fprintf(stderr, "  %-28s %10.1f ms\n", what, v);
}

void session_print_timing(const struct session *s)
{
	uint64_t start = s->cfg->t0_ns ? s->cfg->t0_ns : s->t_arrowh;

	fprintf(stderr, "arrow timing (host clock):\n");
	if (s->cfg->t0_ns)
		row("arrow CLI -> arrowh", ms(s->cfg->t0_ns, s->t_arrowh));
	if (s->restored) {
		/* a clone: no boot; ainit takes its identity, then starts the app */
		row("arrowh restore", ms(s->t_arrowh, s->vm.t_first_run_ns));
		row("resume -> app exec", ms(s->vm.t_first_run_ns, s->t_exec));
	} else {
		row("arrowh setup", ms(s->t_arrowh, s->vm.t_first_run_ns));
		row("kernel entry -> ainit", ms(s->vm.t_first_run_ns, s->t_hello));
		row("ainit -> app exec", ms(s->t_hello, s->t_exec));
	}
	row("app run", ms(s->t_exec, s->t_exit));
	row("app exit -> arrowh exit", ms(s->t_exit, s->t_stop));
	row("total", ms(start, s->t_stop));
	if (!s->prefault_err)
		fprintf(stderr, "  (%llu resident guest pages mapped before the first KVM_RUN, "
				"and the kernel file's %llu)\n",
			(unsigned long long)s->prefaulted, (unsigned long long)s->prefaulted_kernel);
	else
		fprintf(stderr, "  (no guest pages mapped before the first KVM_RUN: %s)\n",
			strerror(-s->prefault_err));
	if (s->guest_hello_ns)
		fprintf(stderr, "  (guest clock at ainit start: %.1f ms)\n",
			(double)s->guest_hello_ns / 1e6);
	/* for bench/boot.py: the marks as CLOCK_MONOTONIC ns (0: not reached), KVM's counters */
	fprintf(stderr, "arrowh-marks: t0=%llu arrowh=%llu first_run=%llu hello=%llu exec=%llu "
			"exit=%llu stop=%llu\n", (unsigned long long)s->cfg->t0_ns,
		(unsigned long long)s->t_arrowh, (unsigned long long)s->vm.t_first_run_ns,
		(unsigned long long)s->t_hello, (unsigned long long)s->t_exec,
		(unsigned long long)s->t_exit, (unsigned long long)s->t_stop);
	kvmstats_print(&s->stats, s->restored, stderr);
}
