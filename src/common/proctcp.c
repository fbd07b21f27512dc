// SPDX-License-Identifier: MIT
#include "proctcp.h"

#include <stdio.h>
#include <string.h>

/* include/net/tcp_states.h */
#define TCP_FIN_WAIT1 4
#define TCP_LAST_ACK 9
#define TCP_CLOSING 11

bool proctcp_unsent(const char *text)
{
	const char *line = strchr(text, '\n'); /* past the header */

	while (line && *++line) {
		unsigned int state, tx;

		/* "sl local rem st tx_queue:rx_queue ..." */
		if (sscanf(line, "%*s %*s %*s %x %x", &state, &tx) == 2 &&
		    (tx || state == TCP_FIN_WAIT1 || state == TCP_LAST_ACK || state == TCP_CLOSING))
			return true;
		line = strchr(line, '\n');
	}
	return false;
}
