// SPDX-License-Identifier: MIT
#include "lib/net/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t mask_of(unsigned int prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}

int ip_parse(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

const char *ip_format(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

int subnet_parse(const char *s, struct subnet *out)
{
	char addr[16];
	const char *slash = strchr(s, '/');
	char *end;
	unsigned long prefix;
	uint32_t ip;

	if (!slash || slash - s >= (long)sizeof(addr) || !slash[1])
		return -EINVAL;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	prefix = strtoul(slash + 1, &end, 10);
	if (*end || prefix < 8 || prefix > 28 || ip_parse(addr, &ip))
		return -EINVAL;
	if (ip & ~mask_of((unsigned int)prefix))
		return -EINVAL; /* host bits set: "10.1.2.3/16" is ambiguous */
	out->net = ip;
	out->prefix = (unsigned int)prefix;
	return 0;
}

const char *subnet_format(const struct subnet *n, char buf[19])
{
	char ip[16];

	snprintf(buf, 19, "%s/%u", ip_format(n->net, ip), n->prefix);
	return buf;
}

bool subnet_contains(const struct subnet *n, uint32_t ip)
{
	return (ip & mask_of(n->prefix)) == n->net;
}

bool subnet_overlaps(const struct subnet *a, const struct subnet *b)
{
	unsigned int p = a->prefix < b->prefix ? a->prefix : b->prefix;

	return (a->net & mask_of(p)) == (b->net & mask_of(p));
}

uint32_t subnet_gateway(const struct subnet *n)
{
	return n->net + 1;
}

bool subnet_assignable(const struct subnet *n, uint32_t ip)
{
	uint32_t broadcast = n->net | ~mask_of(n->prefix);

	return subnet_contains(n, ip) && ip != n->net && ip != subnet_gateway(n) && ip != broadcast;
}

void mac_from_ip(uint32_t ip, char buf[18])
{
	snprintf(buf, 18, "02:a7:%02x:%02x:%02x:%02x", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
		 ip & 255);
}

static int parse_port(const char *s, size_t len, uint16_t *out)
{
	unsigned long v = 0;

	if (!len || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int port_map_parse(const char *s, struct port_map *out)
{
	char buf[64];
	char *proto, *last, *mid;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	snprintf(buf, sizeof(buf), "%s", s);
	out->proto = PROTO_TCP;
	proto = strchr(buf, '/');
	if (proto) {
		*proto++ = '\0';
		if (!strcmp(proto, "udp"))
			out->proto = PROTO_UDP;
		else if (strcmp(proto, "tcp"))
			return -EINVAL;
	}
	last = strrchr(buf, ':');
	if (!last)
		return -EINVAL; /* a container port alone publishes nothing we can name */
	if (parse_port(last + 1, strlen(last + 1), &out->port))
		return -EINVAL;
	*last = '\0';
	mid = strrchr(buf, ':');
	if (mid) {
		*mid = '\0';
		if (ip_parse(buf, &out->host_ip))
			return -EINVAL;
		return parse_port(mid + 1, strlen(mid + 1), &out->host_port);
	}
	return parse_port(buf, strlen(buf), &out->host_port);
}

const char *port_map_format(const struct port_map *m, char buf[48])
{
	char ip[16];

	snprintf(buf, 48, "%s:%u->%u/%s", ip_format(m->host_ip, ip), m->host_port, m->port,
		 m->proto == PROTO_UDP ? "udp" : "tcp");
	return buf;
}
