/* SPDX-License-Identifier: MIT */
/*
 * Deploying and removing functions (docs/functions.md), shared by `arrow fn` and
 * arrow-gateway's OpenFaaS endpoints; starting and stopping function instances.
 * Errors are printed to stderr as one line and returned as -errno.
 */
#ifndef ARROW_FNDEPLOY_H
#define ARROW_FNDEPLOY_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/fn/fnstore.h"
#include "lib/launch/launch.h"

/* The network functions are deployed on; their instances join the default one. */
#define FN_DEPLOY_NETWORK "arrow-fn-deploy"

/*
 * Boot s->program detached on FN_DEPLOY_NETWORK (created when missing), wait until it accepts connections on
 * s->port, snapshot it as s->template, stop it, and save s in the function store.
 * replace: an existing deployment of that name is removed first (its instances stopped).
 */
int fn_deploy(struct fn_spec *s, bool replace);
/* Stop NAME's instances, remove its template and its deployment. 0, -ENOENT or -errno. */
int fn_undeploy(const char *name);
/* Stop and remove every instance of fn (NULL: of every function). Returns how many. */
int fn_stop_instances(const char *fn);
/*
 * Stop an Arrow and wait until it is gone, leaving its state for fn_arrow_stop to remove. It
 * reads the Arrow's state, asks its arrowh to stop and watches its lock: no fork, no lock
 * held, no process-wide setting changed, so a caller that serialises launches need not hold
 * that lock for the VM's teardown. 0 (also when there is no such Arrow) or -errno.
 */
int fn_arrow_halt(const char *id);
/* Stop (hard) and remove the Arrow with this id, if it still exists. 0 or -errno. */
int fn_arrow_stop(const char *id);
/*
 * fn_arrow_stop for an instance that failed a request: before its state goes, the last
 * REPORT_TAIL bytes of what arrowh said (the stop's vCPU and device report among them) and
 * of its console log are copied to out, each line prefixed with the instance's name.
 */
int fn_arrow_stop_report(const char *id, FILE *out);
/* The IPv4 address (and MAC, unless mac is NULL) in an Arrow's config.json (dir: its
 * state directory). 0 or -errno. */
int fn_arrow_addr(const char *dir, char *ip, size_t len, char *mac, size_t maclen);
/*
 * Wait until ip:port accepts a TCP connection and, with mac (a clone), the host's
 * neighbour entry for ip shows mac: the clone has taken its identity (0); or the Arrow
 * in dir has stopped (-ESRCH), or timeout_ms passed (-ETIMEDOUT). Polls every few
 * milliseconds, never spins.
 */
int fn_wait_port(const char *ip, unsigned int port, const char *dir, const char *mac,
		 int timeout_ms);
/* Milliseconds a start may take to accept: $ARROW_FN_START_TIMEOUT (s), else 120 s. */
int fn_start_timeout_ms(void);

#endif
