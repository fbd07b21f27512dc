// SPDX-License-Identifier: MIT
/*
 * Joining a prepared network namespace (netns.h). Everything is done with ioctls from
 * sockets made while this thread is in the namespace (a socket stays in the namespace it
 * was made in), and /proc/thread-self/net, which shows the thread's namespace.
 *
 * Why a bridge and not tc mirred redirects (Kata's default): a bridge needs only what an
 * Arrow network already needs (CONFIG_BRIDGE, no sch_ingress/act_mirred), and the kernel
 * keeps forwarding between the two ports with no rule of ours to go stale. The interface's
 * own MAC becomes the guest's, so the interface gets a fresh one: left as it was, the
 * bridge would take frames for that MAC as its own instead of forwarding them to the tap.
 */
#include "lib/net/netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_arp.h>
#include <linux/nsfs.h>
#include <linux/route.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macaddr.h"
#include "lib/net/nethost.h"

#define ROUTE_TEXT_MAX (256 * 1024) /* /proc/net/route of a namespace with many routes */

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), -EINVAL)

int netns_parse_default_route(const char *text, char ifname[IFNAMSIZ], uint32_t *gateway)
{
	const char *line = strchr(text, '\n'); /* the header line */

	while (line && *++line) {
		char name[IFNAMSIZ + 1];
		unsigned int dest, gw, flags, mask;
		int n = 0;

		if (sscanf(line, "%16s %x %x %x %*d %*d %*d %x%n", name, &dest, &gw, &flags, &mask,
			   &n) != 5 || !n)
			return -EINVAL;
		if (strlen(name) >= IFNAMSIZ)
			return -EINVAL;
		/* RTF_UP; the kernel prints addresses in network order as a host integer */
		if (dest == 0 && mask == 0 && (flags & 1)) {
			snprintf(ifname, IFNAMSIZ, "%s", name);
			*gateway = (flags & 2) ? ntohl(gw) : 0; /* RTF_GATEWAY */
			return 0;
		}
		line = strchr(line, '\n');
	}
	return -ENOENT;
}

static int read_text(const char *path, char *buf, size_t len)
{
	size_t have = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (have + 1 < len) {
		ssize_t r = read(fd, buf + have, len - 1 - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	close(fd);
	buf[have] = '\0';
	return have + 1 < len ? 0 : -EFBIG;
}

static int ctl(unsigned long req, void *arg)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (s < 0)
		return -errno;
	if (ioctl(s, req, arg) < 0)
		ret = -errno;
	close(s);
	return ret;
}

static int ifreq_for(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	return 0;
}

static int set_up(const char *name, bool up)
{
	struct ifreq ifr;
	int ret;

	ifreq_for(&ifr, name);
	if ((ret = ctl(SIOCGIFFLAGS, &ifr)))
		return ret;
	ifr.ifr_flags = (short)(up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP);
	return ctl(SIOCSIFFLAGS, &ifr);
}

static int set_mac(const char *name, const uint8_t mac[6])
{
	struct ifreq ifr;

	ifreq_for(&ifr, name);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return ctl(SIOCSIFHWADDR, &ifr);
}

static int set_ipv4(const char *name, uint32_t addr, uint32_t mask)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct ifreq ifr;
	int ret;

	ifreq_for(&ifr, name);
	sin.sin_addr.s_addr = htonl(addr);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	if ((ret = ctl(SIOCSIFADDR, &ifr)) || !addr)
		return ret;
	sin.sin_addr.s_addr = htonl(mask);
	memcpy(&ifr.ifr_netmask, &sin, sizeof(sin));
	return ctl(SIOCSIFNETMASK, &ifr);
}

/* The one IPv4 interface (not loopback); with several, the default route's. */
static int find_interface(const char *route_if, char *ifname, uint32_t *addr, uint32_t *mask,
			  char *why, size_t whylen)
{
	struct ifaddrs *ifa, *i;
	unsigned int found = 0;

	if (getifaddrs(&ifa) < 0) {
		snprintf(why, whylen, "cannot list its interfaces: %s", strerror(errno));
		return -errno;
	}
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr_in *a = (const void *)i->ifa_addr;
		const struct sockaddr_in *m = (const void *)i->ifa_netmask;

		if (!a || !m || a->sin_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (*route_if && strcmp(route_if, i->ifa_name))
			continue;
		if (found++ && strcmp(ifname, i->ifa_name)) {
			freeifaddrs(ifa);
			return WHY("it has IPv4 addresses on several interfaces and no default route "
				   "to choose one by");
		}
		if (found > 1) {
			freeifaddrs(ifa);
			return WHY("interface %s has several IPv4 addresses; an Arrow takes one",
				   ifname);
		}
		snprintf(ifname, IFNAMSIZ, "%s", i->ifa_name);
		*addr = ntohl(a->sin_addr.s_addr);
		*mask = ntohl(m->sin_addr.s_addr);
	}
	freeifaddrs(ifa);
	if (!found) {
		snprintf(why, whylen, "it has no interface with an IPv4 address%s",
			 *route_if ? " on its default route" : "");
		return -ENOENT;
	}
	return 0;
}

static unsigned int prefix_of(uint32_t mask)
{
	unsigned int p = 0;

	while (p < 32 && (mask & (0x80000000u >> p)))
		p++;
	return p;
}

static void ip_text(uint32_t ip, char *out, size_t len)
{
	struct in_addr a = { .s_addr = htonl(ip) };

	inet_ntop(AF_INET, &a, out, (socklen_t)len);
}

static int enter(const char *nspath, int *self, char *why, size_t whylen)
{
	struct stat a, b;
	int fd;

	*self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*self < 0) {
		snprintf(why, whylen, "cannot open this process's network namespace: %s",
			 strerror(errno));
		return -errno;
	}
	fd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		snprintf(why, whylen, "cannot open network namespace %.200s: %s", nspath, strerror(e));
		close(*self);
		return -e;
	}
	/* setns checks the type too; asking first gives a clearer message */
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		snprintf(why, whylen, "%.200s is not a network namespace", nspath);
		close(fd);
		close(*self);
		return -EINVAL;
	}
	/* the guest takes the namespace's interface away: never this process's own (the host's,
	 * e.g. --network ns:/proc/1/ns/net), which would lose its address and route */
	if (!fstat(fd, &a) && !fstat(*self, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		snprintf(why, whylen, "%.200s is the caller's own network namespace: an Arrow takes "
			 "its interface, so it needs a namespace of its own", nspath);
		close(fd);
		close(*self);
		return -EINVAL;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;

		snprintf(why, whylen, "cannot enter network namespace %.200s: %s%s", nspath, strerror(e),
			 e == EPERM ? " (joining a network namespace needs root)" : "");
		close(fd);
		close(*self);
		return -e;
	}
	close(fd);
	return 0;
}

static void leave_to(int self)
{
	/* cannot fail for a namespace this thread was in a moment ago, short of a kernel bug */
	if (setns(self, CLONE_NEWNET) < 0)
		abort();
	close(self);
}

static int restore_here(const struct netns_nic *nic);

/* In the namespace: everything netns_join does there. */
static int join_here(struct netns_nic *nic, char *why, size_t whylen)
{
	char route[ROUTE_TEXT_MAX], route_if[IFNAMSIZ] = "", bridge[IFNAMSIZ] = NETNS_BRIDGE;
	uint32_t gw = 0, addr = 0, mask = 0;
	uint8_t mac[6], fresh[6];
	struct ifreq ifr;
	int ret;

	if (nethost_exists(NETNS_BRIDGE))
		return WHY("an Arrow already uses it (%s exists): one Arrow per network namespace",
			   NETNS_BRIDGE);
	if ((ret = read_text("/proc/thread-self/net/route", route, sizeof(route))))
		return WHY("cannot read its routes: %s", strerror(-ret));
	ret = netns_parse_default_route(route, route_if, &gw);
	if (ret && ret != -ENOENT)
		return WHY("its route table could not be read");
	if ((ret = find_interface(route_if, nic->ifname, &addr, &mask, why, whylen)))
		return ret;
	ifreq_for(&ifr, nic->ifname);
	if ((ret = ctl(SIOCGIFHWADDR, &ifr)) || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		return WHY("interface %s is not an Ethernet interface", nic->ifname);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	ifreq_for(&ifr, nic->ifname);
	nic->mtu = ctl(SIOCGIFMTU, &ifr) ? 1500 : (unsigned int)ifr.ifr_mtu;
	snprintf(nic->mac, sizeof(nic->mac), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	ip_text(addr, nic->address, sizeof(nic->address));
	snprintf(nic->address + strlen(nic->address), sizeof(nic->address) - strlen(nic->address),
		 "/%u", prefix_of(mask));
	if (gw)
		ip_text(gw, nic->gateway, sizeof(nic->gateway));
	else
		nic->gateway[0] = '\0';

	/* a locally administered unicast MAC for the interface; the guest keeps the old one */
	if (getrandom(fresh, sizeof(fresh), 0) != sizeof(fresh))
		return WHY("no random bytes for a MAC: %s", strerror(errno));
	fresh[0] = (uint8_t)((fresh[0] & 0xfc) | 0x02);
	if ((ret = set_up(nic->ifname, false)) || (ret = set_mac(nic->ifname, fresh))) {
		set_up(nic->ifname, true); /* as it was: up, with its own MAC */
		return WHY("cannot change %s's MAC: %s", nic->ifname, strerror(-ret));
	}
	/* the address (and with it the routes) is the guest's now: the namespace's own stack
	 * never sees the traffic again */
	if ((ret = set_ipv4(nic->ifname, 0, 0)))
		goto undo;
	ret = ctl(SIOCBRADDBR, bridge);
	if (ret)
		goto undo;
	ifreq_for(&ifr, NETNS_BRIDGE);
	ifr.ifr_ifindex = (int)if_nametoindex(nic->ifname);
	if ((ret = ctl(SIOCBRADDIF, &ifr)))
		goto undo_bridge;
	nic->tap_fd = nethost_tap_create(NETNS_TAP, NETNS_BRIDGE);
	if (nic->tap_fd < 0) {
		ret = nic->tap_fd;
		goto undo_bridge;
	}
	if ((ret = set_up(nic->ifname, true)) || (ret = set_up(NETNS_BRIDGE, true))) {
		close(nic->tap_fd);
		nic->tap_fd = -1;
		goto undo_bridge;
	}
	return 0;

undo_bridge:
	set_up(NETNS_BRIDGE, false);
	ctl(SIOCBRDELBR, bridge);
undo:
	/* MAC, address, up, and the default route the address took with it */
	restore_here(nic);
	snprintf(why, whylen, "cannot bridge %s to the Arrow's tap: %s", nic->ifname, strerror(-ret));
	return ret;
}

int netns_join(const char *nspath, struct netns_nic *nic, char *why, size_t whylen)
{
	int self, ret;

	memset(nic, 0, sizeof(*nic));
	nic->tap_fd = -1;
	if ((ret = enter(nspath, &self, why, whylen)))
		return ret;
	ret = join_here(nic, why, whylen);
	leave_to(self);
	if (ret) {
		char inner[256];

		snprintf(inner, sizeof(inner), "%s", why);
		snprintf(why, whylen, "network namespace %.200s: %s", nspath, inner);
	}
	return ret;
}

int netns_join_current(struct netns_nic *nic, char *why, size_t whylen)
{
	memset(nic, 0, sizeof(*nic));
	nic->tap_fd = -1;
	return join_here(nic, why, whylen);
}

/* Give the interface back its MAC, address and default route (a restarted container in
 * the same namespace, as in a Kubernetes pod, finds it as the network plugin left it). */
static int restore_here(const struct netns_nic *nic)
{
	struct sockaddr_in *sin;
	struct rtentry rt;
	uint8_t mac[6];
	unsigned int prefix;
	struct in_addr a, g;
	char ip[INET_ADDRSTRLEN];
	int ret;

	if (mac_parse(nic->mac, mac) || sscanf(nic->address, "%15[0-9.]/%u", ip, &prefix) != 2 ||
	    prefix > 32 || inet_pton(AF_INET, ip, &a) != 1 || !if_nametoindex(nic->ifname))
		return -EINVAL;
	set_up(nic->ifname, false);
	if ((ret = set_mac(nic->ifname, mac)) ||
	    (ret = set_ipv4(nic->ifname, ntohl(a.s_addr), prefix ? ~0u << (32 - prefix) : 0)) ||
	    (ret = set_up(nic->ifname, true)))
		return ret;
	if (!nic->gateway[0] || inet_pton(AF_INET, nic->gateway, &g) != 1)
		return 0;
	memset(&rt, 0, sizeof(rt));
	sin = (struct sockaddr_in *)&rt.rt_dst;
	sin->sin_family = AF_INET;
	sin = (struct sockaddr_in *)&rt.rt_genmask;
	sin->sin_family = AF_INET;
	sin = (struct sockaddr_in *)&rt.rt_gateway;
	sin->sin_family = AF_INET;
	sin->sin_addr = g;
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = (char *)nic->ifname;
	ret = ctl(SIOCADDRT, &rt);
	return ret == -EEXIST ? 0 : ret;
}

int netns_leave(const char *nspath, const struct netns_nic *nic)
{
	char why[256], bridge[IFNAMSIZ] = NETNS_BRIDGE;
	int self, ret;

	if ((ret = enter(nspath, &self, why, sizeof(why))))
		return ret == -ENOENT ? 0 : ret;
	if (nethost_exists(NETNS_BRIDGE)) {
		set_up(NETNS_BRIDGE, false);
		ret = ctl(SIOCBRDELBR, bridge);
	}
	if (!ret && nic)
		ret = restore_here(nic);
	leave_to(self);
	return ret;
}

json_t *netns_nic_json(const struct netns_nic *nic)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "interface", nic->ifname, "mac", nic->mac,
			 "address", nic->address, "gateway", nic->gateway);
}

int netns_nic_from_json(json_t *j, struct netns_nic *nic)
{
	const char *f[4] = { 0 };
	static const char *const keys[4] = { "interface", "mac", "address", "gateway" };
	char *out[4] = { nic->ifname, nic->mac, nic->address, nic->gateway };
	size_t len[4] = { sizeof(nic->ifname), sizeof(nic->mac), sizeof(nic->address),
			  sizeof(nic->gateway) };

	memset(nic, 0, sizeof(*nic));
	nic->tap_fd = -1;
	for (int i = 0; i < 4; i++) {
		f[i] = json_string_value(json_object_get(j, keys[i]));
		if (!f[i] || strlen(f[i]) >= len[i])
			return -EINVAL;
		memcpy(out[i], f[i], strlen(f[i]) + 1);
	}
	return 0;
}
