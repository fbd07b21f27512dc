/* SPDX-License-Identifier: MIT */
/*
 * Rootless networking through passt (docs/rootless.md): one passt per Arrow,
 * started by `arrow run` as the calling user, speaking passt's qemu protocol
 * over a unix stream socket pair whose other end arrowh gets
 * (--net-stream-fd). passt ends when that socket closes, i.e. when arrowh
 * ends, however it ends. The guest gets the host's address, prefix and
 * gateway, as passt assumes by default (we pass them explicitly so both agree).
 */
#ifndef ARROW_PASST_H
#define ARROW_PASST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "lib/net/netaddr.h"
#include "lib/net/netstore.h"

#define PASST_NETWORK "passt"

struct passt_conf {
	uint32_t ip, gw;     /* the host's address on its default route's interface, the gateway */
	unsigned int prefix;
	char ifname[16];
	bool dns_forward;    /* the guest's DNS is the gateway: passt forwards it (--dns-forward) */
};

/* Whether an Arrow's network is a passt (its tap_fd is then passt's socket). */
static inline bool passt_attached(const struct net_attach *na)
{
	return na && !strcmp(na->net.name, PASST_NETWORK);
}

/* passt found on $PATH (or the usual directories): its path in buf, or false. */
bool passt_installed(char *buf, size_t len);
/* The host's IPv4 default route: interface, address, prefix, gateway. 0 or -errno with err. */
int passt_host_conf(struct passt_conf *c, char *err, size_t errlen);
/*
 * Start passt for one Arrow (log and pid file in dir) publishing ports, wait until it
 * runs. *fd: arrowh's end of the socket (close-on-exec cleared by the caller as needed);
 * *pid: passt's. 0 or -errno with err.
 */
int passt_start(const char *passt, const struct passt_conf *c, const struct port_map *ports,
		unsigned int nr_ports, const char *dir, int *fd, pid_t *pid, char *err,
		size_t errlen);

#endif
