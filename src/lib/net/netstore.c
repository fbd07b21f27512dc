// SPDX-License-Identifier: MIT
#include "lib/net/netstore.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/statedir.h"
#include "lib/net/nethost.h"
#include "lib/net/nft.h"
#include "lib/state/store.h"

#define DEFAULT_SUBNET "10.201.0.0/16"
/* User networks get the first free /16 from here up: clear of docker's 172.17-31 and podman's 10.88-89. */
#define USER_SUBNET_FIRST 0x0aca0000u /* 10.202.0.0 */
#define USER_SUBNET_LAST 0x0afe0000u  /* 10.254.0.0 */

const char *netstore_dir(void)
{
	const char *env = getenv("ARROW_NET_ROOT");

	return env && *env ? env : "/run/arrow/networks";
}

int netstore_lock(void)
{
	char path[4200];

	if (mkdir(netstore_dir(), 0700) < 0 && errno == ENOENT) {
		char parent[4200];

		snprintf(parent, sizeof(parent), "%s", netstore_dir());
		*strrchr(parent, '/') = '\0';
		mkdir(parent, 0711);
		mkdir(netstore_dir(), 0700);
	}
	snprintf(path, sizeof(path), "%s/.lock", netstore_dir());
	return statedir_lock_file(path);
}

void netstore_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

bool netstore_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= NET_NAME_MAX || !isalnum((unsigned char)s[0]) || !strcmp(s, "none"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

json_t *netstore_load_file(const char *name, const char *suffix)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s%s", netstore_dir(), name, suffix);
	return json_load_file(path, 0, NULL);
}

int netstore_save_file(const char *name, const char *suffix, json_t *j)
{
	char file[NET_NAME_MAX + 16];
	char *text = json_dumps(j, JSON_INDENT(2));
	int ret;

	if (!text)
		return -ENOMEM;
	snprintf(file, sizeof(file), "%s%s", name, suffix);
	ret = statedir_write_file(netstore_dir(), file, text, strlen(text));
	free(text);
	return ret;
}

static int from_json(json_t *j, struct netdef *d)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *sub = json_string_value(json_object_get(j, "subnet"));
	const char *br = json_string_value(json_object_get(j, "bridge"));

	memset(d, 0, sizeof(*d));
	if (!name || !sub || !br || strlen(name) >= sizeof(d->name) || strlen(br) >= sizeof(d->bridge) ||
	    subnet_parse(sub, &d->subnet))
		return -EINVAL;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->bridge, sizeof(d->bridge), "%s", br);
	d->created_ns = (uint64_t)json_integer_value(json_object_get(j, "created_ns"));
	return 0;
}

int netstore_load(const char *name, struct netdef *d)
{
	json_t *j;
	int ret;

	if (!netstore_valid_name(name))
		return -ENOENT;
	j = netstore_load_file(name, ".json");
	if (!j)
		return -ENOENT;
	ret = from_json(j, d);
	json_decref(j);
	return ret;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct netdef *)a)->name, ((const struct netdef *)b)->name);
}

int netstore_list(struct netdef **out)
{
	DIR *dir = opendir(netstore_dir());
	struct dirent *e;
	struct netdef *list = NULL;
	int n = 0;

	*out = NULL;
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(dir))) {
		size_t len = strlen(e->d_name);
		char name[NET_NAME_MAX];
		struct netdef *grown;

		if (len < 6 || len - 5 >= sizeof(name) || strcmp(e->d_name + len - 5, ".json"))
			continue;
		memcpy(name, e->d_name, len - 5);
		name[len - 5] = '\0';
		grown = realloc(list, (size_t)(n + 1) * sizeof(*list));
		if (!grown)
			break;
		list = grown;
		if (netstore_load(name, &list[n]) == 0)
			n++;
	}
	closedir(dir);
	qsort(list, (size_t)n, sizeof(*list), cmp_name);
	*out = list;
	return n;
}

/* Does sub collide with another Arrow network or an address on a host interface? */
static const char *subnet_conflict(const struct subnet *sub, const struct netdef *nets, int n,
				   const char *own_bridge, char *what, size_t len)
{
	struct ifaddrs *ifa, *i;

	for (int k = 0; k < n; k++) {
		if (subnet_overlaps(sub, &nets[k].subnet)) {
			snprintf(what, len, "the Arrow network '%.63s'", nets[k].name);
			return what;
		}
	}
	if (getifaddrs(&ifa) < 0)
		return NULL;
	for (i = ifa; i; i = i->ifa_next) {
		struct subnet s;
		uint32_t addr, mask;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask ||
		    !strcmp(i->ifa_name, own_bridge))
			continue;
		addr = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		mask = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
		s.prefix = (unsigned int)__builtin_popcount(mask);
		s.net = addr & mask;
		if (s.prefix >= 8 && subnet_overlaps(sub, &s)) {
			snprintf(what, len, "the host interface %s", i->ifa_name);
			freeifaddrs(ifa);
			return what;
		}
	}
	freeifaddrs(ifa);
	return NULL;
}

/* arrow0 for the default network, then the lowest arrowN in use by nobody. */
static void pick_bridge(const char *name, const struct netdef *nets, int n, char br[16])
{
	for (unsigned int k = strcmp(name, NET_DEFAULT) ? 1 : 0;; k++) {
		bool used = false;

		snprintf(br, 16, "arrow%u", k);
		for (int j = 0; j < n; j++)
			used |= !strcmp(nets[j].bridge, br);
		if (!used && (!nethost_exists(br) || !strcmp(name, NET_DEFAULT)))
			return;
	}
}

int netstore_bring_up(const struct netdef *d)
{
	int ret = nethost_bridge_up(d->bridge, &d->subnet);

	if (ret) {
		fprintf(stderr, "arrow: cannot set up the bridge %s: %s\n", d->bridge, strerror(-ret));
		return ret;
	}
	return nft_network_add(d->name, d->bridge, &d->subnet);
}

int netstore_create(const char *name, const char *subnet, struct netdef *out, char *err,
		    unsigned int errlen)
{
	struct netdef *nets, d;
	char what[128], text[19];
	int n, ret;
	json_t *j;

	if (netstore_load(name, &d) == 0)
		return -EEXIST;
	n = netstore_list(&nets);
	if (n < 0)
		return n;
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	pick_bridge(name, nets, n, d.bridge);
	if (subnet || !strcmp(name, NET_DEFAULT)) {
		if (subnet_parse(subnet ? subnet : DEFAULT_SUBNET, &d.subnet)) {
			snprintf(err, errlen, "invalid subnet '%s': expected an IPv4 network like "
					      "10.210.0.0/16 (prefix 8 to 28, no host bits)", subnet);
			free(nets);
			return -EINVAL;
		}
		if (subnet_conflict(&d.subnet, nets, n, d.bridge, what, sizeof(what))) {
			snprintf(err, errlen, "subnet %s overlaps %s", subnet_format(&d.subnet, text),
				 what);
			free(nets);
			return -EADDRINUSE;
		}
	} else {
		d.subnet.prefix = 16;
		for (d.subnet.net = USER_SUBNET_FIRST; d.subnet.net <= USER_SUBNET_LAST;
		     d.subnet.net += 0x10000)
			if (!subnet_conflict(&d.subnet, nets, n, d.bridge, what, sizeof(what)))
				break;
		if (d.subnet.net > USER_SUBNET_LAST) {
			snprintf(err, errlen, "no free /16 left between 10.202.0.0 and 10.254.0.0; "
					      "give --subnet");
			free(nets);
			return -EADDRINUSE;
		}
	}
	free(nets);
	d.created_ns = statedir_realtime_ns();
	j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", d.name, "subnet",
		      subnet_format(&d.subnet, text), "gateway", ip_format(subnet_gateway(&d.subnet), what),
		      "bridge", d.bridge, "created_ns", (json_int_t)d.created_ns);
	ret = j ? netstore_save_file(name, ".json", j) : -ENOMEM;
	json_decref(j);
	if (!ret)
		ret = netstore_bring_up(&d);
	if (ret) {
		netstore_remove(&d);
		snprintf(err, errlen, "cannot set up network '%s': %s", name, strerror(-ret));
		return ret;
	}
	*out = d;
	return 0;
}

uint64_t netstore_process_start(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')'); /* the command name may hold anything */
	if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
				"%*d %*d %llu", &start) != 1)
		start = 0;
	return start;
}

/* A lease is live while its arrowh runs, or while the `arrow run` that took it does. */
static bool lease_alive(json_t *l)
{
	const char *dir = json_string_value(json_object_get(l, "dir"));
	int pid = (int)json_integer_value(json_object_get(l, "pid"));
	uint64_t start = (uint64_t)json_integer_value(json_object_get(l, "pid_start"));

	if (dir && store_dir_alive(dir))
		return true;
	if (pid > 0 && kill(pid, 0) == 0 && netstore_process_start(pid) == start) {
		char path[4200];

		/* that process became arrowh and ended: its state says so */
		snprintf(path, sizeof(path), "%s/%s", dir ? dir : "", STATE_FILE);
		return access(path, F_OK) != 0;
	}
	return false;
}

/* The network's leases with dead ones dropped (and their port rules removed). */
static json_t *live_leases(const struct netdef *d, bool *changed)
{
	json_t *all = netstore_load_file(d->name, NETSTORE_LEASES), *live = json_array(), *l;
	size_t i;

	*changed = false;
	json_array_foreach(all, i, l) {
		if (lease_alive(l)) {
			json_array_append(live, l);
		} else {
			nft_unpublish(json_string_value(json_object_get(l, "id")));
			*changed = true;
		}
	}
	json_decref(all);
	return live;
}

void *netstore_leases(const struct netdef *d)
{
	bool changed;
	json_t *live = live_leases(d, &changed);

	if (changed)
		netstore_save_file(d->name, NETSTORE_LEASES, live);
	return live;
}

/* After the last network went: nothing of Arrow's stays in nftables. */
static void drop_table_if_last(void)
{
	struct netdef *left;
	int n = netstore_list(&left);

	free(left);
	if (n == 0)
		nft_table_delete();
}

int netstore_remove(const struct netdef *d)
{
	char path[4200];
	json_t *live = netstore_leases(d);
	size_t n = json_array_size(live);

	json_decref(live);
	if (n)
		return -EBUSY;
	nft_network_remove(d->name, d->bridge);
	nethost_bridge_delete(d->bridge);
	snprintf(path, sizeof(path), "%s/%s%s", netstore_dir(), d->name, NETSTORE_LEASES);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.json", netstore_dir(), d->name);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	drop_table_if_last();
	return 0;
}
