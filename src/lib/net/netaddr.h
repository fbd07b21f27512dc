/* SPDX-License-Identifier: MIT */
/*
 * IPv4 subnets, addresses and published-port specifications for Arrow
 * networks: pure parsing and arithmetic, no system calls (unit-tested).
 */
#ifndef ARROW_NETADDR_H
#define ARROW_NETADDR_H

#include <stdbool.h>
#include <stdint.h>

/* Addresses are host byte order here. */
struct subnet {
	uint32_t net;
	unsigned int prefix; /* 8..28 */
};

enum { PROTO_TCP, PROTO_UDP };

struct port_map {
	uint32_t host_ip; /* 0: every local address */
	uint16_t host_port;
	uint16_t port;
	int proto;
};

/* "10.201.0.0/16" -> subnet; -EINVAL unless the address is the network's own. */
int subnet_parse(const char *s, struct subnet *out);
/* "10.201.0.5" -> address; -EINVAL. */
int ip_parse(const char *s, uint32_t *out);
/* Dotted quad into buf (16 bytes). */
const char *ip_format(uint32_t ip, char buf[16]);
/* "10.201.0.0/16" into buf (19 bytes). */
const char *subnet_format(const struct subnet *n, char buf[19]);
bool subnet_contains(const struct subnet *n, uint32_t ip);
bool subnet_overlaps(const struct subnet *a, const struct subnet *b);
/* The gateway: the first host address. */
uint32_t subnet_gateway(const struct subnet *n);
/* Whether ip may be given to an Arrow: inside, not the network, gateway or broadcast. */
bool subnet_assignable(const struct subnet *n, uint32_t ip);
/* 02:a7 followed by the address: unique per network, stable across restarts. */
void mac_from_ip(uint32_t ip, char buf[18]);
/*
 * -p [HOSTIP:]HOSTPORT:PORT[/tcp|/udp], docker's syntax with both ports given.
 */
int port_map_parse(const char *s, struct port_map *out);
/* Canonical text: "0.0.0.0:8080->80/tcp" into buf (48 bytes). */
const char *port_map_format(const struct port_map *m, char buf[48]);

#endif
