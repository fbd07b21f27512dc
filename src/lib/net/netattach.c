// SPDX-License-Identifier: MIT
/* One Arrow joining and leaving its network: address, tap, published ports. */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/streamrec.h"
#include "lib/net/nethost.h"
#include "lib/net/netstore.h"
#include "lib/net/nft.h"
#include "lib/state/store.h"

static json_t *port_json(const struct port_map *m)
{
	char ip[16];

	return json_pack("{s:s, s:i, s:i, s:s}", "host_ip", ip_format(m->host_ip, ip), "host_port",
			 m->host_port, "port", m->port, "proto", m->proto == PROTO_UDP ? "udp" : "tcp");
}

/* Is host port m taken by a live Arrow's lease? */
static bool port_leased(json_t *leases, const struct port_map *m)
{
	size_t i, k;
	json_t *l, *p;

	json_array_foreach(leases, i, l) {
		json_array_foreach(json_object_get(l, "ports"), k, p) {
			uint32_t hip = 0;
			const char *proto = json_string_value(json_object_get(p, "proto"));

			ip_parse(json_string_value(json_object_get(p, "host_ip")) ?: "0.0.0.0", &hip);
			if (json_integer_value(json_object_get(p, "host_port")) == m->host_port &&
			    proto && !strcmp(proto, m->proto == PROTO_UDP ? "udp" : "tcp") &&
			    (!hip || !m->host_ip || hip == m->host_ip))
				return true;
		}
	}
	return false;
}

/* Is host port m taken by a program on the host? (A DNAT rule would hide it.) */
static bool port_bound_on_host(const struct port_map *m)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(m->host_port),
				   .sin_addr.s_addr = htonl(m->host_ip) };
	int s = socket(AF_INET, (m->proto == PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	int one = 1;
	bool used;

	if (s < 0)
		return false;
	if (m->proto == PROTO_TCP)
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* TIME_WAIT is no owner */
	used = bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno == EADDRINUSE;
	close(s);
	return used;
}

/* Every live lease on every network (pruning dead ones on the way). */
static json_t *all_live_leases(void)
{
	struct netdef *nets;
	json_t *all = json_array();
	int n = netstore_list(&nets);

	for (int i = 0; i < n; i++) {
		json_t *l = netstore_leases(&nets[i]);

		json_array_extend(all, l);
		json_decref(l);
	}
	free(nets);
	return all;
}

static bool ip_leased(json_t *leases, uint32_t ip)
{
	size_t i;
	json_t *l;

	json_array_foreach(leases, i, l) {
		uint32_t have;

		if (!ip_parse(json_string_value(json_object_get(l, "ip")) ?: "", &have) && have == ip)
			return true;
	}
	return false;
}

static int choose_ip(const struct net_request *req, const struct netdef *d, json_t *leases,
		     uint32_t *ip, char *err, unsigned int errlen)
{
	char text[19];

	if (req->ip) {
		if (ip_parse(req->ip, ip) || !subnet_assignable(&d->subnet, *ip)) {
			snprintf(err, errlen, "--ip %s is not an address for an Arrow on network '%s' (%s)",
				 req->ip, d->name, subnet_format(&d->subnet, text));
			return -EINVAL;
		}
		if (ip_leased(leases, *ip)) {
			snprintf(err, errlen, "--ip %s is in use by another Arrow on network '%s'",
				 req->ip, d->name);
			return -EADDRINUSE;
		}
		return 0;
	}
	for (*ip = subnet_gateway(&d->subnet) + 1; subnet_contains(&d->subnet, *ip); (*ip)++)
		if (subnet_assignable(&d->subnet, *ip) && !ip_leased(leases, *ip))
			return 0;
	snprintf(err, errlen, "network '%s' has no free address left", d->name);
	return -EADDRNOTAVAIL;
}

static void collect_hosts(struct net_attach *a, json_t *leases)
{
	size_t i;
	json_t *l;

	json_array_foreach(leases, i, l) {
		const char *ip = json_string_value(json_object_get(l, "ip"));
		const char *name = json_string_value(json_object_get(l, "name"));

		if (ip && name && a->nr_hosts < NET_MAX_HOSTS &&
		    asprintf(&a->hosts[a->nr_hosts], "%s\t%s", ip, name) > 0)
			a->nr_hosts++;
	}
}

/* Tell every running Arrow on a network its peers now: each named Arrow but itself. */
static void notify_peers(json_t *leases)
{
	size_t i, k;
	json_t *to, *l;

	json_array_foreach(leases, i, to) {
		const char *dir = json_string_value(json_object_get(to, "dir"));
		char buf[ARROW_HOSTS_MAX];
		struct arrow_rec r;
		size_t len = 0;
		int fd;

		if (!dir || !store_dir_alive(dir))
			continue; /* not running yet: its start-up list is current */
		json_array_foreach(leases, k, l) {
			const char *ip = json_string_value(json_object_get(l, "ip"));
			const char *name = json_string_value(json_object_get(l, "name"));
			int w;

			if (k == i || !ip || !name)
				continue;
			w = snprintf(buf + len, sizeof(buf) - len, "%s\t%s\n", ip, name);
			if (w < 0 || (size_t)w >= sizeof(buf) - len)
				break; /* the rest does not fit one update */
			len += (size_t)w;
		}
		memset(&r, 0, sizeof(r));
		snprintf(r.dir, sizeof(r.dir), "%s", dir);
		fd = store_connect(&r, HOSTCTL_HOSTS, (uint32_t)len);
		if (fd < 0)
			continue;
		if (send(fd, buf, len, MSG_NOSIGNAL) < 0) {
			/* it just ended: nothing to tell */
		}
		close(fd);
	}
}

static int attach_locked(const struct net_request *req, struct net_attach *a, char *err,
			 unsigned int errlen)
{
	const char *name = req->network ? req->network : NET_DEFAULT;
	json_t *leases = NULL, *everyone = NULL, *lease = NULL, *ports;
	char ipbuf[16];
	int ret;

	ret = netstore_load(name, &a->net);
	if (ret == -ENOENT && !strcmp(name, NET_DEFAULT))
		ret = netstore_create(name, NULL, &a->net, err, errlen);
	else if (ret == -ENOENT)
		snprintf(err, errlen, "network '%s' not found; create it with 'arrow network create %s'",
			 name, name);
	else if (!ret && (!nethost_exists(a->net.bridge) || !nft_table_exists()))
		ret = netstore_bring_up(&a->net); /* after a reboot, or a flushed ruleset */
	else if (!ret)
		ret = nethost_bridge_fix_mac(a->net.bridge, &a->net.subnet); /* made by an older arrow */
	if (ret) {
		if (!*err)
			snprintf(err, errlen, "cannot set up network '%s': %s", name, strerror(-ret));
		return ret;
	}
	everyone = all_live_leases();
	leases = netstore_leases(&a->net);
	ret = choose_ip(req, &a->net, leases, &a->ip, err, errlen);
	for (unsigned int i = 0; !ret && i < req->nr_ports; i++) {
		char text[48];

		if (port_leased(everyone, &req->ports[i]) || port_bound_on_host(&req->ports[i])) {
			snprintf(err, errlen, "cannot publish %s: the host port is already in use",
				 port_map_format(&req->ports[i], text));
			ret = -EADDRINUSE;
		}
	}
	if (ret)
		goto out;
	if (req->mac)
		snprintf(a->mac, sizeof(a->mac), "%s", req->mac);
	else
		mac_from_ip(a->ip, a->mac);
	snprintf(a->tap, sizeof(a->tap), "at%.13s", req->id);
	a->tap_fd = nethost_tap_create(a->tap, a->net.bridge);
	if (a->tap_fd < 0) {
		ret = a->tap_fd;
		snprintf(err, errlen, "cannot create the tap %s on %s: %s", a->tap, a->net.bridge,
			 strerror(-ret));
		goto out;
	}
	memcpy(a->ports, req->ports, req->nr_ports * sizeof(*req->ports));
	a->nr_ports = req->nr_ports;
	ret = nft_publish(req->id, a->ip, a->ports, a->nr_ports);
	if (ret) {
		snprintf(err, errlen, "cannot publish ports (nftables)");
		goto out;
	}
	collect_hosts(a, leases);
	ports = json_array();
	for (unsigned int i = 0; i < a->nr_ports; i++)
		json_array_append_new(ports, port_json(&a->ports[i]));
	lease = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:i, s:I, s:s, s:o}", "ip",
			  ip_format(a->ip, ipbuf), "mac", a->mac, "id", req->id, "name", req->name,
			  "dir", req->dir, "pid", (int)getpid(), "pid_start",
			  (json_int_t)netstore_process_start(getpid()), "tap", a->tap, "ports", ports);
	json_array_append_new(leases, lease);
	ret = netstore_save_file(a->net.name, NETSTORE_LEASES, leases);
	if (ret)
		snprintf(err, errlen, "cannot record the address lease: %s", strerror(-ret));
	else
		notify_peers(leases);
out:
	json_decref(leases);
	json_decref(everyone);
	if (ret) {
		nft_unpublish(req->id);
		if (a->tap_fd >= 0)
			close(a->tap_fd);
		a->tap_fd = -1;
	}
	return ret;
}

int net_attach(const struct net_request *req, struct net_attach *out, char *err,
	       unsigned int errlen)
{
	int lock, ret;

	memset(out, 0, sizeof(*out));
	out->tap_fd = -1;
	err[0] = '\0';
	lock = netstore_lock();
	if (lock < 0) {
		snprintf(err, errlen, "cannot lock %s: %s", netstore_dir(), strerror(-lock));
		return lock;
	}
	ret = attach_locked(req, out, err, errlen);
	netstore_unlock(lock);
	return ret;
}

void net_attach_free(struct net_attach *a)
{
	for (unsigned int i = 0; i < a->nr_hosts; i++)
		free(a->hosts[i]);
	a->nr_hosts = 0;
	if (a->tap_fd >= 0)
		close(a->tap_fd);
	a->tap_fd = -1;
}

int net_release(const char *id)
{
	struct netdef *nets;
	int lock, n;

	if (access(netstore_dir(), F_OK) < 0)
		return 0;
	lock = netstore_lock();
	if (lock < 0)
		return lock;
	n = netstore_list(&nets);
	for (int i = 0; i < n; i++) {
		json_t *all = netstore_load_file(nets[i].name, NETSTORE_LEASES), *keep = json_array(), *l;
		size_t k;

		json_array_foreach(all, k, l) {
			const char *lid = json_string_value(json_object_get(l, "id"));

			if (!lid || strcmp(lid, id))
				json_array_append(keep, l);
		}
		if (json_array_size(keep) != json_array_size(all)) {
			json_t *live;

			netstore_save_file(nets[i].name, NETSTORE_LEASES, keep);
			live = netstore_leases(&nets[i]);
			notify_peers(live);
			json_decref(live);
		}
		json_decref(keep);
		json_decref(all);
	}
	free(nets);
	nft_unpublish(id);
	netstore_unlock(lock);
	return 0;
}

void net_prune(void)
{
	json_t *all;
	int lock;

	if (geteuid() != 0 || access(netstore_dir(), F_OK) < 0)
		return;
	lock = netstore_lock();
	if (lock < 0)
		return;
	all = all_live_leases();
	json_decref(all);
	netstore_unlock(lock);
}
