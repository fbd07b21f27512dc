/* SPDX-License-Identifier: MIT */
/*
 * Arrow networks on the host (docs/network.md). A network is a JSON file
 * under the network root ($ARROW_NET_ROOT, default /run/arrow/networks) plus
 * a bridge and its nftables rules; its leases file says which Arrow holds
 * which address and which published ports. A lease lives as long as its
 * Arrow's arrowh (or, before that starts, the `arrow run` that took it):
 * leases of dead Arrows are pruned under the root's lock by every command
 * that allocates or looks.
 */
#ifndef ARROW_NETSTORE_H
#define ARROW_NETSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/net/netaddr.h"

#define NET_DEFAULT "arrow"
#define NET_NAME_MAX 64
#define NET_MAX_PORTS 64
#define NET_MAX_HOSTS 1024

struct netdef {
	char name[NET_NAME_MAX];
	struct subnet subnet;
	char bridge[16];
	uint64_t created_ns;
};

/* What one Arrow got from its network, for `arrow run`. */
struct net_attach {
	struct netdef net;
	uint32_t ip;
	char mac[18];
	char tap[16];
	int tap_fd;
	unsigned int nr_ports;
	struct port_map ports[NET_MAX_PORTS];
	unsigned int nr_hosts;
	char *hosts[NET_MAX_HOSTS]; /* "IP NAME" of named peers on the network */
};

struct net_request {
	const char *network;   /* name; NULL: the default */
	const char *ip;        /* --ip, or NULL */
	const char *mac;       /* --mac-address, or NULL */
	const struct port_map *ports;
	unsigned int nr_ports;
	const char *id, *name, *dir; /* the Arrow */
};

const char *netstore_dir(void);
int netstore_lock(void);
void netstore_unlock(int fd);
bool netstore_valid_name(const char *name);

/* Lock held. 0, -ENOENT. */
int netstore_load(const char *name, struct netdef *d);
/* Lock held. Every network, by name; returns the count (array malloc'ed) or -errno. */
int netstore_list(struct netdef **out);
/*
 * Lock held. Define and bring up a network; subnet NULL picks a free /16.
 * 0, -EEXIST, -EINVAL (bad subnet, with err), -EADDRINUSE (overlap, with err).
 */
int netstore_create(const char *name, const char *subnet, struct netdef *out, char *err,
		    unsigned int errlen);
/* Lock held. Remove a network with no live Arrow on it: 0, -EBUSY. */
int netstore_remove(const struct netdef *d);
/* Lock held. The live Arrows on a network: JSON array of their leases (caller decrefs). */
void *netstore_leases(const struct netdef *d);

/* Lock held: the bridge, its address and the network's nftables rules. */
int netstore_bring_up(const struct netdef *d);
/* Lock held: NAME+suffix under the network root, as JSON (NULL if absent). */
struct json_t *netstore_load_file(const char *name, const char *suffix);
int netstore_save_file(const char *name, const char *suffix, struct json_t *j);
#define NETSTORE_LEASES ".leases"
/* A process's start time (clock ticks since boot): tells a pid from its reuse. */
uint64_t netstore_process_start(int pid);

/* Take the lock, attach the Arrow (address, tap, published ports). 0 or -errno with err. */
int net_attach(const struct net_request *req, struct net_attach *out, char *err,
	       unsigned int errlen);
void net_attach_free(struct net_attach *a);
/* Give back everything the Arrow id holds on any network (idempotent). Takes the lock. */
int net_release(const char *id);
/* Drop the leases and port rules of Arrows that died without releasing them. Takes the lock. */
void net_prune(void);

#endif
