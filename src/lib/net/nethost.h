/* SPDX-License-Identifier: MIT */
/*
 * Host-side plumbing of Arrow networks with plain ioctls: Linux bridges with
 * the gateway address, and tap devices with vnet headers enslaved to them.
 * Needs CAP_NET_ADMIN. All functions return 0 (or an fd) or -errno.
 */
#ifndef ARROW_NETHOST_H
#define ARROW_NETHOST_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/net/netaddr.h"

bool nethost_exists(const char *ifname);
/* Create (or reuse) bridge br with the subnet's gateway address, up; forwarding on. */
int nethost_bridge_up(const char *br, const struct subnet *n);
/* Give br its fixed MAC (02:a7 and the gateway's address) unless it has it. 0 or -errno. */
int nethost_bridge_fix_mac(const char *br, const struct subnet *n);
int nethost_bridge_delete(const char *br);
/*
 * A tap named name with IFF_VNET_HDR, enslaved to bridge br and up. Not
 * persistent: it disappears with the last descriptor (arrowh's). Returns the
 * fd, which is not close-on-exec.
 */
int nethost_tap_create(const char *name, const char *br);

#endif
