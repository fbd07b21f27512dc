/* SPDX-License-Identifier: MIT */
/* Client side of an Arrow's control socket: attach and read stream records. */
#ifndef ARROW_CLI_ATTACHC_H
#define ARROW_CLI_ATTACHC_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/state/store.h"

/* Connect and attach; returns the socket or -errno. */
int attach_connect(const struct arrow_rec *r, bool with_stdin);
#define ATTACH_MORE (-2)

/*
 * One read from the socket: relay whole records, stdout/stderr data to out_fd/err_fd
 * (-1 drops it). Returns ATTACH_MORE, the exit status from the final record, or -1
 * if the connection ended without one.
 */
int attach_relay_output_some(int fd, int out_fd, int err_fd);
/* The same until the end. */
int attach_relay_output(int fd, int out_fd, int err_fd);

#endif
