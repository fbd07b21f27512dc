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

#include "lib/launch/launch.h" /* the launch path: run, clones, templates, cgroups */

struct arrow_rec;

int cmd_run(int argc, char *argv[]);
int cmd_machine(int argc, char *argv[]);
int cmd_ps(int argc, char *argv[]);
int cmd_logs(int argc, char *argv[]);
/* An Arrow's log (logprint.c): tail lines (-1: all), RFC 3339 prefixes, follow until it
 * exits. 0. */
struct arrow_rec;
int arrow_print_logs(const struct arrow_rec *r, long tail, bool timestamps, bool follow);
int cmd_attach(int argc, char *argv[]);
int cmd_stop(int argc, char *argv[]);
int cmd_pause(int argc, char *argv[]);
int cmd_unpause(int argc, char *argv[]);
int cmd_kill(int argc, char *argv[]);
int cmd_rm(int argc, char *argv[]);
int cmd_wait(int argc, char *argv[]);
int cmd_inspect(int argc, char *argv[]);
/* arrow exec, arrow top (cmd-exec.c, docs/exec.md) */
int cmd_exec(int argc, char *argv[]);
int cmd_top(int argc, char *argv[]);

/* functions (cmd-fn.c, fn-invoke.c; docs/functions.md) */
int cmd_fn(int argc, char *argv[]);
/* arrow fn invoke (fn-invoke.c) */
int fn_invoke(int argc, char *argv[]);
int cmd_serve(int argc, char *argv[]);

int cmd_network(int argc, char *argv[]);
int cmd_release(int argc, char *argv[]);

/* Shared by the verbs (verbs.c). "Unknown option" for VERB: prints it with the help hint,
 * returns 125. */
int bad_option(const char *verb, const char *opt);
/* Nanoseconds from `then` (CLOCK_REALTIME ns) until now, 0 if it is in the future. */
uint64_t ns_since(uint64_t then);
/* "3 minutes", "About an hour": docker's human durations. */
void human_duration(uint64_t ns, char *out, size_t len);
/* "Up 3 minutes", "Exited (7) 2 seconds ago", "Created". */
void arrow_status_text(const struct arrow_rec *r, char *out, size_t len);
/* "running", "exited", "created". */
const char *arrow_state_name(const struct arrow_rec *r);

/* arrow run PROGRAM; with template, `arrow template create TEMPLATE` instead (runprog.c). */
int run_program(int argc, char *argv[], const char *template);
/* Snapshots and templates (cmd-snapshot.c; docs/snapshots.md) */
extern const char template_usage[];
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
#endif
