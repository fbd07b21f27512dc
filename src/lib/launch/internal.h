/* SPDX-License-Identifier: MIT */
/* The launch path's parts (src/lib/launch/): shared among its files only. */
#ifndef ARROW_LAUNCH_INTERNAL_H
#define ARROW_LAUNCH_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/image/imglimit.h"
#include "lib/image/imgstore.h"
#include "lib/launch/arrowh_cmd.h"
#include "lib/launch/launch.h"

#define EXIT_ARROW_ERROR LAUNCH_EXIT_ERROR
#define EXIT_CANNOT_INVOKE LAUNCH_EXIT_CANNOT_INVOKE
#define EXIT_NOT_FOUND LAUNCH_EXIT_NOT_FOUND

struct run_opts;
struct net_attach;

/* An Arrow being made: its id, state directory and name. */
struct new_arrow {
	char id[ARROW_ID_LEN + 1];
	char dir[4096];
	char name[160];
};

/* Text a launch description points into. */
struct launch_bufs {
	char vsock_uds[4096 + 16];
};

/* The network part (net.c) */
/* The network an Arrow joins: --network, else 'arrow' for root and 'none' for others. */
const char *run_network(const struct run_opts *o);
/* Join it; prints the error and returns 125 on failure. */
int run_net_attach(const struct run_opts *o, const char *id, const char *name, const char *dir,
		   struct net_attach *na);
/* ainit's records: address, gateway, nameservers, peers. */
int run_net_config(const struct run_opts *o, const struct net_attach *na, char **buf, size_t *len);
/* config.json's "network" object. */
json_t *run_net_json(const struct net_attach *na);
/*
 * The per-run initramfs piece (config.c): ainit's records cfg and the --config files,
 * in a memfd whose /proc/self/fd path goes to *path. 0, or 125 after printing why.
 */
int run_config_piece(const struct run_opts *o, const void *cfg, size_t cfg_len, char **path);

/* The cgroup (cgroup.c) */
/*
 * Make it with its limits, record it in config.json and name it in d->cgroup for arrowh.
 * 0, also when it runs without one (after a warning), or 125 after printing why.
 */
int run_cgroup(const struct run_opts *o, const struct new_arrow *a, struct arrowh_desc *d);
/* The same as run_cgroup_remove for the Arrow whose state directory this is. */
void run_cgroup_unregister(const char *state_dir);

/* The Arrow's record (launch.c) */
/* The Arrow's directory and config.json; 0 or 125 after printing why. */
int register_arrow(const struct run_opts *o, const char *prog_path, struct new_arrow *a);
/* Remove it again and give its network back (a start that failed). */
void unregister_arrow(const struct new_arrow *a);
int record_network(const struct new_arrow *a, const struct net_attach *na);
/* The description's parts every start has: memory, state, logs, stdio, sandbox, network. */
void launch_desc_common(const struct run_opts *o, const struct new_arrow *a,
			const struct net_attach *net, uint64_t t0, struct launch_bufs *b,
			struct arrowh_desc *d);
/*
 * Join the cgroup, then -d: start arrowh detached (out filled); else exec it (returns only
 * on failure, unregistered).
 */
int launch_arrowh(const struct run_opts *o, const struct new_arrow *a, struct net_attach *net,
		  const char *arrowh, struct arrowh_desc *d, struct launched *out);

/* Snapshots, clones and templates (clone.c, snapshot.c; docs/snapshots.md) */
/* A snapshot's meta.json (steals args). */
json_t *snapshot_meta_new(const char *name, const char *kind, const char *source,
			  const char *program, json_t *args, uint64_t memory_mib, unsigned int cpus,
			  bool tty, const char *network);
/* A clone of o->from. */
int run_clone(struct run_opts *o, uint64_t t0, struct launched *out);
/* The template's hidden directory in the store, with its meta.json. 0 or 125. */
int template_begin(const char *name, const struct run_opts *o, const char *prog_path,
		   const struct net_attach *net, char *tmp, size_t len);
/* Run arrowh until it wrote the template, then put it in place. The exit status. */
int template_finish(const struct new_arrow *a, const char *arrowh, const char **hv,
		    const char *tmp, const char *name);

/* An image as the Arrow's root (image.c) */
struct image_plan {
	struct image img;
	char *pieces[IMAGE_MAX_LAYERS]; /* the layers' cached initramfs pieces, lowest first */
	unsigned int nr_pieces;
	const char **argv; /* Entrypoint + (ARGS or Cmd); strings borrowed from img.config */
	int argc;
};
/*
 * Does o->program (no '/') name an image in the store? 1: yes, with p filled in and o
 * given the image's defaults (args, env, workdir, user) where the user set none; 0: no;
 * otherwise an exit status after printing why.
 */
int image_plan(struct run_opts *o, struct image_plan *p);
void image_plan_free(struct image_plan *p);

#endif
