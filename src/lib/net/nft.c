// SPDX-License-Identifier: MIT
#include "lib/net/nft.h"

#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <nftables/libnftables.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T "ip " NFT_TABLE

/* The table with its hooks; created once, left alone while it exists. */
static const char base_table[] =
	"add table " T "\n"
	"add set " T " bridges { type ifname; }\n"
	"add chain " T " prerouting { type nat hook prerouting priority dstnat; policy accept; }\n"
	"add chain " T " output { type nat hook output priority -100; policy accept; }\n"
	"add chain " T " postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
	"add chain " T " forward { type filter hook forward priority filter; policy accept; }\n"
	"add chain " T " publish\n"
	"add rule " T " prerouting fib daddr type local jump publish\n"
	"add rule " T " output fib daddr type local jump publish\n";

/*
 * libnftables is loaded on first use: every `arrow` command would otherwise pay
 * for loading it and its five dependencies, although only network set-up needs it.
 */
static struct {
	void *handle;
	__typeof__(nft_ctx_new) *ctx_new;
	__typeof__(nft_ctx_free) *ctx_free;
	__typeof__(nft_ctx_buffer_output) *buffer_output;
	__typeof__(nft_ctx_buffer_error) *buffer_error;
	__typeof__(nft_ctx_output_set_flags) *set_flags;
	__typeof__(nft_run_cmd_from_buffer) *run_cmd;
	__typeof__(nft_ctx_get_output_buffer) *output;
	__typeof__(nft_ctx_get_error_buffer) *error;
} lib;

static int load_lib(void)
{
	void *h;

	if (lib.handle)
		return 0;
	h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "arrow: cannot load libnftables (apt-get install libnftables1): %s\n",
			dlerror());
		return -ENOSYS;
	}
	*(void **)&lib.ctx_new = dlsym(h, "nft_ctx_new");
	*(void **)&lib.ctx_free = dlsym(h, "nft_ctx_free");
	*(void **)&lib.buffer_output = dlsym(h, "nft_ctx_buffer_output");
	*(void **)&lib.buffer_error = dlsym(h, "nft_ctx_buffer_error");
	*(void **)&lib.set_flags = dlsym(h, "nft_ctx_output_set_flags");
	*(void **)&lib.run_cmd = dlsym(h, "nft_run_cmd_from_buffer");
	*(void **)&lib.output = dlsym(h, "nft_ctx_get_output_buffer");
	*(void **)&lib.error = dlsym(h, "nft_ctx_get_error_buffer");
	if (!lib.ctx_new || !lib.ctx_free || !lib.buffer_output || !lib.buffer_error ||
	    !lib.set_flags || !lib.run_cmd || !lib.output || !lib.error) {
		fprintf(stderr, "arrow: libnftables lacks a function Arrow needs\n");
		dlclose(h);
		return -ENOSYS;
	}
	lib.handle = h;
	return 0;
}

/* Run cmd; with json, return nft's JSON output (caller frees). */
static int run(const char *cmd, bool quiet, json_t **json)
{
	struct nft_ctx *ctx;
	int ret;

	if (load_lib())
		return -EIO;
	ctx = lib.ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return -ENOMEM;
	lib.buffer_output(ctx);
	lib.buffer_error(ctx);
	if (json)
		lib.set_flags(ctx, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
	ret = lib.run_cmd(ctx, cmd);
	if (ret && !quiet)
		fprintf(stderr, "arrow: nftables: %s", lib.error(ctx));
	if (!ret && json) {
		*json = json_loads(lib.output(ctx), 0, NULL);
		if (!*json)
			ret = -1;
	}
	lib.ctx_free(ctx);
	return ret ? -EIO : 0;
}

bool nft_table_exists(void)
{
	return run("list table " T, true, NULL) == 0;
}

static int ensure_table(void)
{
	if (run("list table " T, true, NULL) == 0)
		return 0;
	return run(base_table, false, NULL);
}

/* Delete every rule whose comment is owner. */
static int delete_rules_of(const char *owner)
{
	json_t *all = NULL, *items, *item;
	char *cmds = NULL;
	size_t len = 0;
	FILE *f;
	size_t i;
	int ret;

	if (run("list table " T, true, &all))
		return 0; /* no table: nothing of anyone's */
	f = open_memstream(&cmds, &len);
	if (!f) {
		json_decref(all);
		return -ENOMEM;
	}
	items = json_object_get(all, "nftables");
	json_array_foreach(items, i, item) {
		json_t *rule = json_object_get(item, "rule");
		const char *comment = json_string_value(json_object_get(rule, "comment"));
		const char *chain = json_string_value(json_object_get(rule, "chain"));
		json_t *handle = json_object_get(rule, "handle");

		if (comment && chain && json_is_integer(handle) && !strcmp(comment, owner))
			fprintf(f, "delete rule " T " %s handle %lld\n", chain,
				(long long)json_integer_value(handle));
	}
	fclose(f);
	json_decref(all);
	ret = len ? run(cmds, false, NULL) : 0;
	free(cmds);
	return ret;
}

int nft_network_add(const char *name, const char *bridge, const struct subnet *n)
{
	char owner[128], sub[19], *cmd = NULL;
	int ret;

	ret = ensure_table();
	if (ret)
		return ret;
	snprintf(owner, sizeof(owner), "net:%s", name);
	ret = delete_rules_of(owner);
	if (ret)
		return ret;
	subnet_format(n, sub);
	if (asprintf(&cmd,
		     "add element " T " bridges { \"%2$s\" }\n"
		     /* outbound: the host's address, not the Arrow's private one */
		     "add rule " T " postrouting ip saddr %3$s oifname != \"%2$s\" masquerade comment \"%1$s\"\n"
		     /* published ports reached through 127.0.0.1, or hairpinned from a peer */
		     "add rule " T " postrouting oifname \"%2$s\" ip saddr 127.0.0.0/8 masquerade comment \"%1$s\"\n"
		     "add rule " T " postrouting oifname \"%2$s\" ip saddr %3$s ct status dnat masquerade comment \"%1$s\"\n"
		     /* networks do not reach each other */
		     "add rule " T " forward iifname \"%2$s\" oifname @bridges oifname != \"%2$s\" drop comment \"%1$s\"\n",
		     owner, bridge, sub) < 0)
		return -ENOMEM;
	ret = run(cmd, false, NULL);
	free(cmd);
	return ret;
}

int nft_network_remove(const char *name, const char *bridge)
{
	char owner[128], cmd[128];

	snprintf(owner, sizeof(owner), "net:%s", name);
	if (delete_rules_of(owner))
		return -EIO;
	snprintf(cmd, sizeof(cmd), "delete element " T " bridges { \"%s\" }\n", bridge);
	run(cmd, true, NULL); /* gone already is fine */
	return 0;
}

int nft_table_delete(void)
{
	return nft_table_exists() ? run("delete table " T "\n", false, NULL) : 0;
}

int nft_publish(const char *id, uint32_t ip, const struct port_map *maps, unsigned int n)
{
	char *cmds = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	if (!n)
		return 0;
	ret = ensure_table();
	if (ret)
		return ret;
	f = open_memstream(&cmds, &len);
	if (!f)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		char hip[16], aip[16];
		const char *proto = maps[i].proto == PROTO_UDP ? "udp" : "tcp";

		fprintf(f, "add rule " T " publish ");
		if (maps[i].host_ip)
			fprintf(f, "ip daddr %s ", ip_format(maps[i].host_ip, hip));
		fprintf(f, "%s dport %u dnat to %s:%u comment \"arrow:%s\"\n", proto,
			maps[i].host_port, ip_format(ip, aip), maps[i].port, id);
	}
	fclose(f);
	ret = run(cmds, false, NULL);
	free(cmds);
	return ret;
}

int nft_unpublish(const char *id)
{
	char owner[128];

	snprintf(owner, sizeof(owner), "arrow:%s", id);
	return delete_rules_of(owner);
}
