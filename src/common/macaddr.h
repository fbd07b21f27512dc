/* SPDX-License-Identifier: MIT */
/* MAC addresses as people type them, for arrowh --mac and arrow run --mac-address. */
#ifndef ARROW_MACADDR_H
#define ARROW_MACADDR_H

#include <stdint.h>

/* "02:00:0a:58:00:05" into mac; 0, or -EINVAL (malformed, or multicast). */
int mac_parse(const char *s, uint8_t mac[6]);

#endif
