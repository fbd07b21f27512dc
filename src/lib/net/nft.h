/* SPDX-License-Identifier: MIT */
/*
 * Arrow's nftables rules, all in one table of its own, `ip arrow`
 * (docs/network.md): outbound masquerading and isolation per network, DNAT
 * per published port. Every rule carries a comment naming its owner
 * ("net:NAME" or "arrow:ID"), which is how rules are found and removed.
 * Uses libnftables; functions return 0 or -EIO (with nft's message on stderr).
 */
#ifndef ARROW_NFT_H
#define ARROW_NFT_H

#include <stdbool.h>

#include "lib/net/netaddr.h"

#define NFT_TABLE "arrow"

/* Whether Arrow's table exists (someone may have flushed the ruleset). */
bool nft_table_exists(void);
/* The table, its chains and the network's rules (replacing older ones of its name). */
int nft_network_add(const char *name, const char *bridge, const struct subnet *n);
/* Remove the network's rules. */
int nft_network_remove(const char *name, const char *bridge);
/* Remove Arrow's table altogether (when no network is left). */
int nft_table_delete(void);
/* DNAT rules for the Arrow's published ports to ip. */
int nft_publish(const char *id, uint32_t ip, const struct port_map *maps, unsigned int n);
/* Remove every rule of the Arrow (no-op when it has none). */
int nft_unpublish(const char *id);

#endif
