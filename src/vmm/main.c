// SPDX-License-Identifier: MIT
/* arrowh: the Arrow micro-hypervisor. One process runs one Arrow. */
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/kvmprobe.h"
#include "common/ownership.h"
#include "common/statedir.h"
#include "config.h"
#include "jail.h"
#include "session.h"

#define EXIT_ARROW_ERROR 125

static struct session session; /* large (device buffers): keep it off the stack */

/*
 * An Arrow that never ran leaves nothing behind in the foreground; when detached,
 * `arrow run -d` shows arrowh.log and removes the directory itself.
 */
static void forget_arrow(const struct arrowh_config *cfg)
{
	char path[4200];

	if (!cfg->state_dir || cfg->detached)
		return;
	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, STATE_FILE);
	if (access(path, F_OK) < 0) /* never someone else's Arrow that did run */
		statedir_remove(cfg->state_dir);
}

/* --template-out written by the jail's user: give the files back to arrowh's owner. */
static void reclaim_template(const struct arrowh_config *cfg)
{
	int dir_fd = open(cfg->template_out, O_DIRECTORY | O_CLOEXEC), ret;

	if (dir_fd < 0)
		return;
	ret = dir_give_back(dir_fd);
	if (ret)
		fprintf(stderr, "arrowh: giving %s back from the jail's user: %s\n", cfg->template_out,
			strerror(-ret));
	close(dir_fd);
}

/*
 * The supervisor, once the jailed VMM is gone: what needs the host's file system. Still
 * holding the state lock: nobody sees the Arrow gone before its resources are.
 */
static int supervisor_finish(const struct arrowh_config *cfg, int status)
{
	char path[4200];

	if (cfg->state_dir) {
		snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, STATE_SOCKET);
		unlink(path); /* the VMM could not: it reaches no path */
	}
	if (cfg->vsock_uds)
		unlink(cfg->vsock_uds);
	if (cfg->template_out)
		reclaim_template(cfg);
	if (cfg->state_dir && session.sf.started_ns)
		session_record_exit(&session, status);
	else if (cfg->state_dir)
		forget_arrow(cfg); /* it never ran: nothing to keep */
	cgroup_leave(cfg->cgroup);
	if (cfg->nr_exit_hook)
		session_run_exit_hook(cfg);
	return status;
}

int main(int argc, char *argv[])
{
	struct arrowh_config cfg;
	char err[256];
	const char *why;
	int status;

	/*
	 * One malloc arena for every thread: glibc would give each vCPU and device thread an
	 * arena of its own (a 64 MiB reservation, 20-40 KiB of it touched and private per
	 * thread). arrowh allocates little after set-up, so the shared lock costs nothing that
	 * shows, and every Arrow is about 100 KiB smaller (docs/performance.md).
	 */
	mallopt(M_ARENA_MAX, 1);
	if (arrowh_config_parse(&cfg, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "arrowh: %s (see arrowh --help)\n", err);
		return EXIT_ARROW_ERROR;
	}
	if (cfg.help) {
		fputs(arrowh_usage, stdout);
		return 0;
	}
	if (cfg.version) {
		puts("arrowh " ARROW_VERSION);
		return 0;
	}
	why = kvm_unusable_reason();
	if (why) {
		fprintf(stderr, "arrowh: %s; run Arrows inside the helper VM: arrow machine -- arrow run ...\n",
			why);
		if (cfg.nr_exit_hook)
			session_run_exit_hook(&cfg);
		forget_arrow(&cfg);
		return EXIT_ARROW_ERROR;
	}

	session_block_signals();
	status = session_claim(&session, &cfg);
	if (status)
		return status;
	if (jail_wanted(&cfg)) {
		pid_t vmm = jail_spawn();

		if (vmm < 0) {
			fprintf(stderr, "arrowh: cannot start the sandboxed VMM: %s (--no-sandbox runs "
					"without it)\n", strerror((int)-vmm));
			forget_arrow(&cfg);
			return EXIT_ARROW_ERROR;
		}
		if (vmm > 0) {
			/* what only the VMM uses: the caller must see EOF on --ready-fd when the
			 * VMM goes, and the tap belongs to the VMM */
			if (cfg.ready_fd >= 0)
				close(cfg.ready_fd);
			if (cfg.tap_fd >= 0)
				close(cfg.tap_fd);
			return supervisor_finish(&cfg, jail_supervise(&session, vmm));
		}
		/* the VMM: set up as the caller, jail, run; the supervisor does the rest */
		status = session_setup(&session, &cfg);
		if (status == 0 && jail_enter(&session))
			status = EXIT_ARROW_ERROR;
		if (status == 0)
			status = session_run(&session);
		if (cfg.timing && session.t_arrowh)
			session_print_timing(&session);
		session_destroy(&session);
		return status;
	}
	status = session_setup(&session, &cfg);
	if (status == 0)
		status = session_run(&session);
	if (cfg.timing && session.t_arrowh)
		session_print_timing(&session);
	session_destroy(&session);
	if (session.managed && session.sf.started_ns)
		session_record_exit(&session, status);
	else if (cfg.state_dir && session.sf.lock_fd >= 0)
		forget_arrow(&cfg); /* it never ran: nothing to keep */
	cgroup_leave(cfg.cgroup); /* back where it came from; the Arrow's cgroup removed */
	/* Still holding the state lock: nobody sees the Arrow gone before its resources are. */
	if (cfg.nr_exit_hook)
		session_run_exit_hook(&cfg);
	return status;
}
