/* SPDX-License-Identifier: MIT */
/* ainit's pieces: environment set-up, port discovery, starting the app. */
#ifndef ARROW_INIT_H
#define ARROW_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/runcfg.h"

struct ports {
	int in;
	int out;
	int err;
	int control;
};

void __attribute__((noreturn, format(printf, 1, 2))) ainit_fatal(const char *fmt, ...);

/* proc, sys, dev (+pts, shm), tmp, run, and the /dev/fd links. */
void setup_filesystems(void);
struct runcfg;
/* Mount the run configuration's 9p volumes (docs/volumes.md); fatal if one cannot be. */
void setup_volumes(const struct runcfg *cfg);
/*
 * A root share (RUNCFG_ROOT, docs/oci.md): mount the 9p share "arrowroot", bind the
 * initramfs's given files over it, move /proc, /sys, /dev, /tmp and /run into it and make
 * it the root (MS_MOVE onto / and chroot, as switch_root does). No-op without one.
 */
void setup_root_share(const struct runcfg *cfg);
extern bool ainit_root_shared; /* the root is the share: /etc/hosts is a bound file */
/* Find the Arrow's virtio-console ports by name and open them. */
void ports_open(struct ports *p);
enum app_stage { APP_STAGE_STDIO = 1, APP_STAGE_WORKDIR, APP_STAGE_IDS, APP_STAGE_EXEC };

/* lo, eth0, the default route, /etc/hosts and /etc/resolv.conf from cfg. */
void net_setup(const struct runcfg *cfg);
/* Rewrite /etc/hosts with these peer lines ("IP NAME..."). */
void net_write_hosts(const struct runcfg *cfg, const char *const *hosts, size_t nr_hosts);

/*
 * Does a TCP socket still hold data or a FIN its peer has not acknowledged?
 * (Closed sockets keep sending; powering off would cut the stream short.)
 */
bool net_has_unsent(void);

/*
 * Take a clone's identity (ARROW_CTL_IDENTITY payload, runcfg records) into cfg and
 * the guest: RNG reseed, clock, hostname, MAC; live (a running app) also re-applies
 * the network.
 */
void identity_apply(struct runcfg *cfg, const char *payload, size_t len, uint64_t realtime_ns,
		    bool live);

/*
 * Start the exec service (execd.c, docs/exec.md): a child process listening on vsock.
 * Without vsock it just ends; the app never notices either way.
 */
void execd_start(const struct runcfg *cfg);

/* In the child: become the app. Writes {stage, errno} to report_fd on failure. */
void app_exec(const struct runcfg *cfg, int in, int out, int err, int report_fd);

#endif
