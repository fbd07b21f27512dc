/* SPDX-License-Identifier: MIT */
/* The arrow command: one cmd_<verb>() per subcommand, thin, over src/lib. */
#ifndef ARROW_CLI_H
#define ARROW_CLI_H

#define EXIT_ARROW_ERROR 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct arrow_rec;

int cmd_run(int argc, char *argv[]);
int cmd_machine(int argc, char *argv[]);
int cmd_ps(int argc, char *argv[]);
int cmd_logs(int argc, char *argv[]);
int cmd_attach(int argc, char *argv[]);
int cmd_stop(int argc, char *argv[]);
int cmd_kill(int argc, char *argv[]);
int cmd_rm(int argc, char *argv[]);
int cmd_wait(int argc, char *argv[]);
int cmd_inspect(int argc, char *argv[]);
/* arrow exec, arrow top (cmd-exec.c, docs/exec.md) */
int cmd_exec(int argc, char *argv[]);
int cmd_top(int argc, char *argv[]);

int cmd_network(int argc, char *argv[]);
int cmd_release(int argc, char *argv[]);

/* arrow run's network part (run-net.c) */
struct run_opts;
struct net_attach;
/* The network an Arrow joins: --network, else 'arrow' for root and 'none' for others. */
const char *run_network(const struct run_opts *o);
/* Join it; prints the error and returns 125 on failure. */
int run_net_attach(const struct run_opts *o, const char *id, const char *name, const char *dir,
		   struct net_attach *na);
/* ainit's records: address, gateway, nameservers, peers. */
int run_net_config(const struct run_opts *o, const struct net_attach *na, char **buf, size_t *len);
/*
 * The per-run initramfs piece (run-config.c): ainit's records cfg and the --config files,
 * in a memfd whose /proc/self/fd path goes to *path. 0, or 125 after printing why.
 */
int run_config_piece(const struct run_opts *o, const void *cfg, size_t cfg_len, char **path);
/* config.json's "network" object. */
json_t *run_net_json(const struct net_attach *na);

/* The Arrow's cgroup v2 (run-cgroup.c, docs/cgroups.md) */
struct new_arrow;
/*
 * Make it with its limits, record it in config.json and add "--cgroup DIR" to arrowh's hv
 * (n updated). 0, also when it runs without one (after a warning), or 125 after printing why.
 */
int run_cgroup(const struct run_opts *o, const struct new_arrow *a, const char **hv, int *n);
/* Remove the cgroup config names (arrowh gone); says so when it has to stay. */
void run_cgroup_remove(json_t *config, const char *verb);
/* The same for the Arrow whose state directory this is. */
void run_cgroup_unregister(const char *state_dir);
/* inspect's "Cgroup": path and usage; null without one. */
json_t *run_cgroup_json(json_t *config);
/* ps's columns: "12.3MiB / 200.0MiB" and "1.52s"; empty without a cgroup. */
void run_cgroup_usage_text(json_t *config, char *mem, size_t memlen, char *cpu, size_t cpulen);
/* ps --format json: Cgroup, MemoryUsage, MemoryLimit, CpuUsageUsec while it exists. */
void run_cgroup_ps_json(json_t *row, json_t *config);

/* "Unknown option" for VERB: prints it with the help hint, returns 125. */
int bad_option(const char *verb, const char *opt);
/* "3 minutes", "About an hour": docker's human durations. */
void human_duration(uint64_t ns, char *out, size_t len);
/* "Up 3 minutes", "Exited (7) 2 seconds ago", "Created". */
void arrow_status_text(const struct arrow_rec *r, char *out, size_t len);
/* "running", "exited", "created". */
const char *arrow_state_name(const struct arrow_rec *r);

/* Find an executable: a path with '/' as is, else along $PATH. malloc'ed, or NULL. */
char *find_program(const char *name);

/* arrow run's pieces shared by boots, clones and templates (cmd-run.c) */
struct new_arrow {
	char id[64 + 1];
	char dir[4096];
	char name[160];
};

/* Text arrowh's options point into. */
/* arrowh's argv without image layers: fixed options, 8 volumes, the network, --ready-fd,
 * with room to spare (the worst case today is about 70). */
#define HV_ARGS_MAX 96

struct hv_bufs {
	char mem[32], cpus[16], t0s[32], boot_timeout[16], logsize[32], logfiles[16], tapfd[16];
	char jail[32];
	char self[4096];
};

/* The Arrow's directory and config.json; 0 or 125 after printing why. */
int register_arrow(const struct run_opts *o, const char *prog_path, struct new_arrow *a);
/* Remove it again and give its network back (a start that failed). */
void unregister_arrow(const struct new_arrow *a);
int record_network(const struct new_arrow *a, const struct net_attach *na);
/* -d: start arrowh detached and print the id once it runs. */
int start_detached(const struct new_arrow *a, const char *arrowh, const char **hv, int n);
/* arrowh's options every start has: memory, state, logs, stdio, network. Returns the new n. */
int arrowh_common_args(const struct run_opts *o, const struct new_arrow *a,
		       const struct net_attach *net, uint64_t t0, struct hv_bufs *b, const char **hv,
		       int n);
/* -d: start it detached; else exec it (returns only on failure, after unregistering). */
int launch_arrowh(const struct run_opts *o, const struct new_arrow *a, struct net_attach *net,
		  const char *arrowh, const char **hv, int n);
/* The arrowh binary into out; 0 or 125 after printing why. */
int find_arrowh(char *out, size_t len);
/* arrow run PROGRAM; with template, `arrow template create TEMPLATE` instead. */
int run_program(int argc, char *argv[], const char *template);

/* Snapshots, clones and templates (run-clone.c, cmd-snapshot.c; docs/snapshots.md) */
extern const char template_usage[];
/* A snapshot's meta.json (steals args). */
json_t *snapshot_meta_new(const char *name, const char *kind, const char *source,
			  const char *program, json_t *args, uint64_t memory_mib, unsigned int cpus,
			  bool tty, const char *network);
/* arrow run --from: start a clone of o->from. */
int run_clone(struct run_opts *o, uint64_t t0);
/* The template's hidden directory in the store, with its meta.json. 0 or 125. */
int template_begin(const char *name, const struct run_opts *o, const char *prog_path,
		   const struct net_attach *net, char *tmp, size_t len);
/* Run arrowh until it wrote the template, then put it in place. The exit status. */
int template_finish(const struct new_arrow *a, const char *arrowh, const char **hv,
		    const char *tmp, const char *name);
int cmd_snapshot(int argc, char *argv[]);
int cmd_template(int argc, char *argv[]);
/* images (cmd-build.c, cmd-image.c, cmd-import.c; docs/images.md) */
int cmd_build(int argc, char *argv[]);
int cmd_images(int argc, char *argv[]);
int cmd_rmi(int argc, char *argv[]);
int cmd_tag(int argc, char *argv[]);
int cmd_import(int argc, char *argv[]);
int cmd_save(int argc, char *argv[]);
int cmd_pull(int argc, char *argv[]);
int cmd_push(int argc, char *argv[]);
/*
 * An image's layers (already in the store) against its config: platform linux/amd64, one
 * diff id per layer, each layer's decompressed stream hashing to its diff id, within the
 * bounds of lim (lib/imglimit.h: bytes per layer and per image, entries per layer). 0 or
 * -errno with why (cmd-import.c; also for pull).
 */
struct img_limits;
int image_check_layers(json_t *manifest, json_t *config, const struct img_limits *lim, char *why,
		       size_t whylen);

/* arrow run IMAGE (run-image.c): the image's pieces and command */
#include "lib/imgstore.h"
#define IMAGE_MAX_LAYERS 60 /* arrowh takes 64 initramfs pieces: base and config besides */
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
struct run_opts;
int image_plan(struct run_opts *o, struct image_plan *p);
void image_plan_free(struct image_plan *p);

#endif
