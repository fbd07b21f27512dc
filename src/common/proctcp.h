/* SPDX-License-Identifier: MIT */
/* Reading the kernel's TCP socket table (/proc/net/tcp). */
#ifndef ARROW_PROCTCP_H
#define ARROW_PROCTCP_H

#include <stdbool.h>

/*
 * Does the text of /proc/net/tcp list a socket that still holds data to send
 * or a FIN its peer has not acknowledged (FIN_WAIT1, CLOSING, LAST_ACK)?
 */
bool proctcp_unsent(const char *text);

#endif
