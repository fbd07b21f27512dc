// SPDX-License-Identifier: MIT
/* arrow network create|ls|inspect|rm: user-defined Arrow networks (docs/network.md). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lib/net/netstore.h"

static const char usage[] =
	"Usage: arrow network COMMAND\n"
	"Manage Arrow networks: a bridge, a private IPv4 subnet, outbound NAT, isolation.\n"
	"\n"
	"Commands:\n"
	"  create [--subnet CIDR] NAME   create a network (default: the next free 10.x.0.0/16)\n"
	"  ls [-q]                       list networks\n"
	"  inspect NAME...               show networks and their Arrows as JSON\n"
	"  rm NAME...                    remove networks no running Arrow uses\n"
	"\n"
	"The default network 'arrow' (bridge arrow0, 10.201.0.0/16) appears on first use.\n";

static int locked(int *lock)
{
	if (geteuid() != 0) {
		fprintf(stderr, "arrow network: needs root (bridges and nftables)\n");
		return EXIT_ARROW_ERROR;
	}
	*lock = netstore_lock();
	if (*lock < 0) {
		fprintf(stderr, "arrow network: cannot lock %s: %s\n", netstore_dir(), strerror(-*lock));
		return EXIT_ARROW_ERROR;
	}
	return 0;
}

static int net_create(int argc, char *argv[])
{
	const char *subnet = NULL, *name = NULL;
	struct netdef d;
	char err[256] = "";
	int lock, ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--subnet") && i + 1 < argc)
			subnet = argv[++i];
		else if (!strncmp(argv[i], "--subnet=", 9))
			subnet = argv[i] + 9;
		else if (argv[i][0] == '-')
			return bad_option("network create", argv[i]);
		else if (!name)
			name = argv[i];
		else
			return bad_option("network create", argv[i]);
	}
	if (!name) {
		fprintf(stderr, "arrow network create: a network NAME is required\n");
		return EXIT_ARROW_ERROR;
	}
	if (!netstore_valid_name(name)) {
		fprintf(stderr, "arrow network create: invalid name '%s': use letters, digits, '_', '.' "
				"and '-' (not 'none'), starting with a letter or digit\n", name);
		return EXIT_ARROW_ERROR;
	}
	if (locked(&lock))
		return EXIT_ARROW_ERROR;
	ret = netstore_create(name, subnet, &d, err, sizeof(err));
	netstore_unlock(lock);
	if (ret == -EEXIST) {
		fprintf(stderr, "arrow network create: network '%s' already exists\n", name);
		return EXIT_ARROW_ERROR;
	}
	if (ret) {
		fprintf(stderr, "arrow network create: %s\n", err);
		return EXIT_ARROW_ERROR;
	}
	puts(d.name);
	return 0;
}

static int net_ls(int argc, char *argv[])
{
	struct netdef *nets;
	bool quiet = false;
	int lock, n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else
			return bad_option("network ls", argv[i]);
	}
	if (locked(&lock))
		return EXIT_ARROW_ERROR;
	n = netstore_list(&nets);
	if (!quiet)
		printf("%-20s %-18s %-15s %-10s %s\n", "NAME", "SUBNET", "GATEWAY", "BRIDGE", "ARROWS");
	for (int i = 0; i < n; i++) {
		char sub[19], gw[16];
		json_t *live = quiet ? NULL : netstore_leases(&nets[i]);

		if (quiet)
			puts(nets[i].name);
		else
			printf("%-20s %-18s %-15s %-10s %zu\n", nets[i].name,
			       subnet_format(&nets[i].subnet, sub),
			       ip_format(subnet_gateway(&nets[i].subnet), gw), nets[i].bridge,
			       json_array_size(live));
		json_decref(live);
	}
	netstore_unlock(lock);
	free(nets);
	return n < 0 ? EXIT_ARROW_ERROR : 0;
}

static json_t *inspect_one(const struct netdef *d)
{
	json_t *live = netstore_leases(d), *arrows = json_object(), *l;
	char sub[19], gw[16], created[64];
	time_t secs = (time_t)(d->created_ns / 1000000000ull);
	struct tm tm;
	size_t i;

	gmtime_r(&secs, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_array_foreach(live, i, l)
		json_object_set_new(arrows, json_string_value(json_object_get(l, "id")) ?: "?",
				    json_pack("{s:O?, s:O, s:O, s:O}", "Name", json_object_get(l, "name"),
					      "IPv4Address", json_object_get(l, "ip"), "MacAddress",
					      json_object_get(l, "mac"), "Ports", json_object_get(l, "ports")));
	json_decref(live);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "Name", d->name, "Created", created,
			 "Subnet", subnet_format(&d->subnet, sub), "Gateway",
			 ip_format(subnet_gateway(&d->subnet), gw), "Bridge", d->bridge, "Arrows", arrows);
}

static int net_inspect(int argc, char *argv[])
{
	json_t *out = json_array();
	int lock, status = 0;

	if (argc < 2) {
		fprintf(stderr, "arrow network inspect: give at least one network NAME\n");
		return EXIT_ARROW_ERROR;
	}
	if (locked(&lock))
		return EXIT_ARROW_ERROR;
	for (int i = 1; i < argc; i++) {
		struct netdef d;

		if (netstore_load(argv[i], &d)) {
			fprintf(stderr, "arrow network inspect: no such network: %s\n", argv[i]);
			status = EXIT_ARROW_ERROR;
			continue;
		}
		json_array_append_new(out, inspect_one(&d));
	}
	netstore_unlock(lock);
	json_dumpf(out, stdout, JSON_INDENT(4));
	putchar('\n');
	json_decref(out);
	return status;
}

static int net_rm(int argc, char *argv[])
{
	int lock, status = 0;

	if (argc < 2) {
		fprintf(stderr, "arrow network rm: give at least one network NAME\n");
		return EXIT_ARROW_ERROR;
	}
	if (locked(&lock))
		return EXIT_ARROW_ERROR;
	for (int i = 1; i < argc; i++) {
		struct netdef d;
		int ret;

		if (netstore_load(argv[i], &d)) {
			fprintf(stderr, "arrow network rm: no such network: %s\n", argv[i]);
			status = EXIT_ARROW_ERROR;
			continue;
		}
		ret = netstore_remove(&d);
		if (ret == -EBUSY)
			fprintf(stderr, "arrow network rm: network %s has running Arrows; stop them first\n",
				argv[i]);
		else if (ret)
			fprintf(stderr, "arrow network rm: %s: %s\n", argv[i], strerror(-ret));
		else
			puts(argv[i]);
		if (ret)
			status = EXIT_ARROW_ERROR;
	}
	netstore_unlock(lock);
	return status;
}

int cmd_network(int argc, char *argv[])
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (!strcmp(sub, "create"))
		return net_create(argc - 1, argv + 1);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return net_ls(argc - 1, argv + 1);
	if (!strcmp(sub, "inspect"))
		return net_inspect(argc - 1, argv + 1);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return net_rm(argc - 1, argv + 1);
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "%sarrow network: %s%s\n", *sub ? "" : usage,
		*sub ? "unknown command " : "a command is required", sub);
	return EXIT_ARROW_ERROR;
}
