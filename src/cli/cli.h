/* SPDX-License-Identifier: MIT */
/* The arrow command: one cmd_<verb>() per subcommand, thin, over src/lib. */
#ifndef ARROW_CLI_H
#define ARROW_CLI_H

#define EXIT_ARROW_ERROR 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127

int cmd_run(int argc, char *argv[]);
int cmd_machine(int argc, char *argv[]);

/* Find an executable: a path with '/' as is, else along $PATH. malloc'ed, or NULL. */
char *find_program(const char *name);

#endif
