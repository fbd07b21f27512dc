/* SPDX-License-Identifier: MIT */
/* The arrow command: one cmd_<verb>() per subcommand, thin, over src/lib. */
#ifndef ARROW_CLI_H
#define ARROW_CLI_H

#define EXIT_ARROW_ERROR 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127

#include <stddef.h>
#include <stdint.h>

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

#endif
