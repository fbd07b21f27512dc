// SPDX-License-Identifier: MIT
#include "macaddr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (s[3 * i + 2] != (i == 5 ? '\0' : ':') || !isxdigit((unsigned char)s[3 * i]) ||
		    !isxdigit((unsigned char)s[3 * i + 1]))
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	/* A NIC's own address is unicast. */
	return (mac[0] & 1) ? -EINVAL : 0;
}
