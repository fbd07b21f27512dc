// SPDX-License-Identifier: MIT
/* arrow run's network part: join the network, tell ainit and arrowh about it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "common/runcfg.h"
#include "lib/net/netstore.h"
#include "lib/net/passt.h"
#include "lib/launch/runopts.h"

/* --network passt: the host's address and gateway, as passt gives them (one Arrow per run). */
static struct passt_conf passt_conf;
static pid_t passt_pid;

/*
 * Root: the Arrow network; others: none. --network passt is asked for explicitly until it
 * has run end to end somewhere (docs/rootless.md: it could not in the helper VM).
 */
const char *run_network(const struct run_opts *o)
{
	if (o->network)
		return o->network;
	return geteuid() == 0 ? NET_DEFAULT : "none";
}

static unsigned int host_nameservers(char out[][16], unsigned int max);

/* A rootless Arrow's network: a passt of its own on a socket pair (docs/rootless.md). */
static int run_passt(const struct run_opts *o, const char *dir, struct net_attach *na)
{
	char passt[4096], err[512], dns[RUNCFG_MAX_DNS][16];
	int ret;

	memset(na, 0, sizeof(*na));
	na->tap_fd = -1;
	if (geteuid() == 0) {
		fprintf(stderr, "arrow: --network passt is for rootless Arrows; as root use an Arrow "
				"network (docs/network.md)\n");
		return EXIT_ARROW_ERROR;
	}
	if (o->ip) {
		fprintf(stderr, "arrow: --ip does not go with --network passt: the Arrow gets the "
				"host's address\n");
		return EXIT_ARROW_ERROR;
	}
	if (!passt_installed(passt, sizeof(passt))) {
		fprintf(stderr, "arrow: --network passt: passt is not installed (apt-get install "
				"passt), or use --network none\n");
		return EXIT_ARROW_ERROR;
	}
	ret = passt_host_conf(&passt_conf, err, sizeof(err));
	/* no --dns and no host nameserver a guest can reach: the gateway, forwarded by passt */
	passt_conf.dns_forward = !o->nr_dns && host_nameservers(dns, RUNCFG_MAX_DNS) == 0;
	if (!ret)
		ret = passt_start(passt, &passt_conf, o->ports, o->nr_ports, dir, &na->tap_fd,
				  &passt_pid, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "arrow: --network passt: %s\n", err);
		return EXIT_ARROW_ERROR;
	}
	snprintf(na->net.name, sizeof(na->net.name), "%s", PASST_NETWORK);
	na->net.subnet.prefix = passt_conf.prefix;
	na->net.subnet.net = passt_conf.ip & (~0u << (32 - passt_conf.prefix));
	na->ip = passt_conf.ip;
	if (o->mac)
		snprintf(na->mac, sizeof(na->mac), "%s", o->mac);
	else
		mac_from_ip(passt_conf.ip, na->mac);
	na->nr_ports = o->nr_ports;
	memcpy(na->ports, o->ports, o->nr_ports * sizeof(o->ports[0]));
	return 0;
}

/* The guest's gateway: its network's, or for passt the host's. */
static uint32_t net_gateway(const struct net_attach *na)
{
	return passt_attached(na) ? passt_conf.gw : subnet_gateway(&na->net.subnet);
}

int run_net_attach(const struct run_opts *o, const char *id, const char *name, const char *dir,
		   struct net_attach *na)
{
	struct net_request req = {
		.network = run_network(o), .ip = o->ip, .mac = o->mac, .ports = o->ports,
		.nr_ports = o->nr_ports, .id = id, .name = name, .dir = dir,
	};
	char err[512];
	int ret;

	if (!strcmp(req.network, PASST_NETWORK))
		return run_passt(o, dir, na);
	if (geteuid() != 0) {
		fprintf(stderr, "arrow: --network %s needs root (bridges, taps and nftables); "
				"run as root or use --network passt or none (docs/rootless.md)\n",
			req.network);
		return EXIT_ARROW_ERROR;
	}
	ret = net_attach(&req, na, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "arrow: %s\n", err);
		return EXIT_ARROW_ERROR;
	}
	return 0;
}

/* The host's nameservers an Arrow can reach: loopback ones (systemd-resolved, dnsmasq) cannot. */
static unsigned int host_nameservers(char out[][16], unsigned int max)
{
	FILE *f = fopen("/etc/resolv.conf", "re");
	char line[256], addr[64];
	unsigned int n = 0;
	uint32_t ip;

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f))
		if (sscanf(line, " nameserver %63s", addr) == 1 && !ip_parse(addr, &ip) &&
		    (ip >> 24) != 127)
			ip_format(ip, out[n++]);
	fclose(f);
	return n;
}

int run_net_config(const struct run_opts *o, const struct net_attach *na, char **buf, size_t *len)
{
	char ip[16], gw[16], addr[24], dns[RUNCFG_MAX_DNS][16];
	unsigned int nr_dns;
	int ret = 0;

	snprintf(addr, sizeof(addr), "%s/%u", ip_format(na->ip, ip), na->net.subnet.prefix);
	ret |= runcfg_append(buf, len, RUNCFG_ADDRESS, addr);
	ret |= runcfg_append(buf, len, RUNCFG_GATEWAY, ip_format(net_gateway(na), gw));
	if (o->nr_dns) {
		for (unsigned int i = 0; i < o->nr_dns; i++)
			ret |= runcfg_append(buf, len, RUNCFG_DNS, o->dns[i]);
	} else {
		nr_dns = host_nameservers(dns, RUNCFG_MAX_DNS);
		if (passt_attached(na) && passt_conf.dns_forward) {
			ip_format(passt_conf.gw, dns[0]);
			nr_dns = 1;
		}
		for (unsigned int i = 0; i < nr_dns; i++)
			ret |= runcfg_append(buf, len, RUNCFG_DNS, dns[i]);
	}
	for (unsigned int i = 0; i < na->nr_hosts; i++)
		ret |= runcfg_append(buf, len, RUNCFG_HOST, na->hosts[i]);
	return ret ? -ENOMEM : 0;
}

json_t *run_net_json(const struct net_attach *na)
{
	json_t *ports = json_array();
	char ip[16], gw[16], sub[19];

	for (unsigned int i = 0; i < na->nr_ports; i++) {
		char text[48];

		json_array_append_new(ports, json_string(port_map_format(&na->ports[i], text)));
	}
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "name", na->net.name, "ip",
			      ip_format(na->ip, ip), "gateway", ip_format(net_gateway(na), gw),
			      "subnet", subnet_format(&na->net.subnet, sub), "mac", na->mac, "tap",
			      na->tap, "ports", ports);

	if (j && passt_attached(na))
		json_object_set_new(j, "passt_pid", json_integer(passt_pid));
	return j;
}
