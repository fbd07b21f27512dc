// SPDX-License-Identifier: MIT
/* arrow run's network part: join the network, tell ainit and arrowh about it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/runcfg.h"
#include "lib/netstore.h"
#include "lib/runopts.h"

const char *run_network(const struct run_opts *o)
{
	if (o->network)
		return o->network;
	return geteuid() == 0 ? NET_DEFAULT : "none";
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

	if (geteuid() != 0) {
		fprintf(stderr, "arrow: --network %s needs root (bridges, taps and nftables); "
				"run as root or use --network none\n", req.network);
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
	ret |= runcfg_append(buf, len, RUNCFG_GATEWAY, ip_format(subnet_gateway(&na->net.subnet), gw));
	if (o->nr_dns) {
		for (unsigned int i = 0; i < o->nr_dns; i++)
			ret |= runcfg_append(buf, len, RUNCFG_DNS, o->dns[i]);
	} else {
		nr_dns = host_nameservers(dns, RUNCFG_MAX_DNS);
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
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "name", na->net.name, "ip",
			 ip_format(na->ip, ip), "gateway", ip_format(subnet_gateway(&na->net.subnet), gw),
			 "subnet", subnet_format(&na->net.subnet, sub), "mac", na->mac, "tap", na->tap,
			 "ports", ports);
}

/* arrow _release ID: arrowh's exit hook gives the Arrow's address and ports back. */
int cmd_release(int argc, char *argv[])
{
	if (argc != 2 || strlen(argv[1]) != 64) {
		fprintf(stderr, "usage: arrow _release ID (run by arrowh when an Arrow ends)\n");
		return EXIT_ARROW_ERROR;
	}
	return net_release(argv[1]) ? EXIT_ARROW_ERROR : 0;
}
