// SPDX-License-Identifier: MIT
/* arrowh's command line from a launch description (lib/launch/arrowh_cmd.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/launch/arrowh_cmd.h"
#include "lib/state/jailuser.h"
#include "lib/state/paths.h"

void arrowh_desc_init(struct arrowh_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->tap_fd = d->net_stream_fd = -1;
}

int arrowh_argv_add(struct arrowh_argv *a, const char *opt, const char *value)
{
	if (a->n + 2 > ARROWH_ARGV_MAX)
		return -E2BIG;
	a->v[a->n++] = opt;
	if (value)
		a->v[a->n++] = value;
	a->v[a->n] = NULL;
	return 0;
}

/* Add, or remember that it did not fit. */
#define ADD(opt, value)                                   \
	do {                                              \
		if (arrowh_argv_add(a, (opt), (value)))   \
			return -E2BIG;                    \
	} while (0)

int arrowh_argv_build(const struct arrowh_desc *d, struct arrowh_argv *a)
{
	a->n = 0;
	a->v[0] = NULL;
	if (!d->state_dir || (!d->kernel && !d->restore) || (d->kernel && d->restore) ||
	    d->nr_initrds > ARROWH_MAX_INITRDS || d->nr_volumes > ARROWH_MAX_VOLUMES)
		return -EINVAL;
	ADD("arrowh", NULL);
	if (d->restore) {
		ADD("--restore", d->restore);
		if (d->identity)
			ADD("--identity", d->identity);
	} else {
		ADD("--kernel", d->kernel);
		for (unsigned int i = 0; i < d->nr_initrds; i++)
			ADD("--initrd", d->initrds[i]);
	}
	if (d->root_share)
		ADD("--root-share", d->root_share);
	for (unsigned int i = 0; i < d->nr_volumes; i++)
		ADD("--volume", d->volumes[i]);
	if (d->template_out)
		ADD("--template-out", d->template_out);
	if (d->hold)
		ADD("--hold", NULL);

	snprintf(a->timeout, sizeof(a->timeout), "%u", d->boot_timeout_s);
	snprintf(a->mem, sizeof(a->mem), "%llu", (unsigned long long)d->memory_mib);
	snprintf(a->cpus, sizeof(a->cpus), "%u", d->cpus);
	ADD("--boot-timeout", a->timeout);
	ADD("--memory", a->mem);
	ADD("--cpus", a->cpus);
	ADD("--state-dir", d->state_dir);
	if (d->vsock_uds)
		ADD("--vsock-uds", d->vsock_uds);
	if (d->log_max_size) {
		snprintf(a->logsize, sizeof(a->logsize), "%llu", (unsigned long long)d->log_max_size);
		ADD("--log-max-size", a->logsize);
	}
	if (d->log_max_files) {
		snprintf(a->logfiles, sizeof(a->logfiles), "%u", d->log_max_files);
		ADD("--log-max-files", a->logfiles);
	}
	if (d->remove)
		ADD("--rm", NULL);
	if (d->tty)
		ADD("--tty", NULL);
	if (d->detached) {
		ADD("--detached", NULL);
		if (d->attach_stdin)
			ADD("--attach-stdin", NULL);
	}
	if (d->timing) {
		snprintf(a->t0, sizeof(a->t0), "%llu", (unsigned long long)d->t0);
		ADD("--timing", NULL);
		ADD("--t0", a->t0);
	}
	if (d->debug_console)
		ADD("--debug-console", NULL);
	if (d->no_sandbox) {
		ADD("--no-sandbox", NULL);
	} else {
		uid_t ju;
		gid_t jg;

		jail_user_ids(&ju, &jg);
		snprintf(a->jail, sizeof(a->jail), "%u:%u", (unsigned int)ju, (unsigned int)jg);
		ADD("--jail-user", a->jail);
		/* tests: lets a control request make arrowh call what its filter forbids */
		if (d->seccomp_selftest)
			ADD("--seccomp-selftest", NULL);
	}
	if (d->cmdline)
		ADD("--cmdline", d->cmdline);
	if (d->net_stream_fd >= 0 && d->mac) { /* rootless: passt's socket, passt ends with it */
		snprintf(a->fd, sizeof(a->fd), "%d", d->net_stream_fd);
		ADD("--net-stream-fd", a->fd);
		ADD("--mac", d->mac);
	} else if (d->tap_fd >= 0 && d->mac) {
		snprintf(a->fd, sizeof(a->fd), "%d", d->tap_fd);
		ADD("--tap-fd", a->fd);
		ADD("--mac", d->mac);
	}
	if (d->release_id) {
		snprintf(a->release, sizeof(a->release), "%s/arrow", arrow_bindir());
		ADD("--exit-hook", a->release);
		ADD("--exit-hook", "_release");
		ADD("--exit-hook", d->release_id);
	}
	if (d->cgroup)
		ADD("--cgroup", d->cgroup);
	return 0;
}

unsigned int arrowh_boot_timeout(int explicit_s, bool *env_ignored)
{
	const char *env = getenv("ARROW_BOOT_TIMEOUT");
	const char *machine = getenv("ARROW_IN_MACHINE");
	char *end;
	unsigned long v;

	if (env_ignored)
		*env_ignored = false;
	if (explicit_s >= 0)
		return (unsigned int)explicit_s;
	if (env && *env) {
		errno = 0;
		v = strtoul(env, &end, 10);
		if (!errno && !*end && env[0] != '-' && v <= 86400)
			return (unsigned int)v;
		if (env_ignored)
			*env_ignored = true;
	}
	return machine && !strcmp(machine, "1") ? 600 : 60;
}

bool arrowh_no_sandbox_env(void)
{
	const char *env = getenv("ARROW_NO_SANDBOX");

	return env && !strcmp(env, "1");
}

int arrowh_find(char *out, size_t len)
{
	const char *env = getenv("ARROW_ARROWH"); /* another hypervisor binary (development) */

	if (env && *env)
		snprintf(out, len, "%s", env);
	else
		snprintf(out, len, "%s/arrowh", arrow_bindir());
	return access(out, X_OK) < 0 ? -errno : 0;
}

void arrowh_kernel_path(bool with_nic, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", arrow_libdir(), with_nic ? "vmlinux-net" : "vmlinux");
}
