// SPDX-License-Identifier: MIT
/*
 * The Arrow's network identity inside the guest: lo and eth0 up, eth0's
 * address, the default route, /etc/hosts and /etc/resolv.conf. Plain ioctls:
 * no netlink library, no ip(8) in the guest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/if_ether.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/proctcp.h"

#include "init.h"

/* The NIC appears once virtio-net probed; normally before ainit runs. */
#define NIC_WAIT_MS 10000

static void set_sin(struct sockaddr *sa, in_addr_t addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = addr };

	memcpy(sa, &sin, sizeof(sin));
}

static int if_up(int s, const char *name)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static void wait_for_nic(int s)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	for (int i = 0; i < NIC_WAIT_MS && ioctl(s, SIOCGIFFLAGS, &ifr) < 0; i++)
		usleep(1000);
}

/*
 * A gratuitous ARP for addr from eth0: whoever is on the link learns our MAC before we send
 * anything. passt needs it: it learns the guest's MAC from the guest's first frame and
 * until then sends a connection to a published port to the broadcast MAC, which the
 * guest's TCP drops (docs/rootless.md). Best effort: without AF_PACKET nothing is sent.
 */
static void announce(int s, in_addr_t addr)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
				  .sll_halen = ETH_ALEN };
	unsigned char pkt[28];
	struct ifreq ifr;
	int p;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	if (ioctl(s, SIOCGIFINDEX, &ifr) < 0)
		return;
	to.sll_ifindex = ifr.ifr_ifindex;
	memset(to.sll_addr, 0xff, ETH_ALEN);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
		return;
	/* htype Ethernet, ptype IPv4, hlen 6, plen 4, a request whose sender and target
	 * address are both ours */
	memcpy(pkt, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memcpy(pkt + 8, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memcpy(pkt + 14, &addr, 4);
	memset(pkt + 18, 0, ETH_ALEN);
	memcpy(pkt + 24, &addr, 4);
	p = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (p < 0)
		return;
	sendto(p, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to));
	close(p);
}

static void configure_eth0(int s, const char *address, const char *gateway)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(address, '/');
	struct in_addr addr, gw;
	struct ifreq ifr;
	struct rtentry rt;
	unsigned long prefix;

	if (!slash || (size_t)(slash - address) >= sizeof(ip))
		ainit_fatal("bad network address '%s'", address);
	memcpy(ip, address, (size_t)(slash - address));
	ip[slash - address] = '\0';
	prefix = strtoul(slash + 1, NULL, 10);
	if (inet_pton(AF_INET, ip, &addr) != 1 || prefix < 1 || prefix > 30)
		ainit_fatal("bad network address '%s'", address);

	wait_for_nic(s);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	set_sin(&ifr.ifr_addr, addr.s_addr);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		ainit_fatal("eth0 address %s: %s", address, strerror(errno));
	set_sin(&ifr.ifr_netmask, htonl(~0u << (32 - prefix)));
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		ainit_fatal("eth0 netmask /%lu: %s", prefix, strerror(errno));
	if (if_up(s, "eth0"))
		ainit_fatal("eth0 up: %s", strerror(errno));
	announce(s, addr.s_addr);
	if (!gateway)
		return;
	if (inet_pton(AF_INET, gateway, &gw) != 1)
		ainit_fatal("bad gateway '%s'", gateway);
	memset(&rt, 0, sizeof(rt));
	set_sin(&rt.rt_dst, INADDR_ANY);
	set_sin(&rt.rt_genmask, INADDR_ANY);
	set_sin(&rt.rt_gateway, gw.s_addr);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	if (ioctl(s, SIOCADDRT, &rt) < 0)
		ainit_fatal("default route via %s: %s", gateway, strerror(errno));
}

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		ainit_fatal("writing %s: %s", path, strerror(errno));
	close(fd);
}

/* /etc/hosts: localhost, ourselves, then the host's entries for our peers. */
void net_write_hosts(const struct runcfg *cfg, const char *const *hosts, size_t nr_hosts)
{
	const char *name = cfg->hostname ? cfg->hostname : "arrow";
	size_t size = 256 + 2 * strlen(name) + (cfg->address ? strlen(cfg->address) : 0);
	char *text, *p;

	for (size_t i = 0; i < nr_hosts; i++)
		size += strlen(hosts[i]) + 1;
	text = p = malloc(size);
	if (!text)
		ainit_fatal("out of memory");
	p += sprintf(p, "127.0.0.1\tlocalhost\n");
	if (cfg->address)
		p += sprintf(p, "%.*s\t%s\n", (int)strcspn(cfg->address, "/"), cfg->address, name);
	else
		p += sprintf(p, "127.0.1.1\t%s\n", name);
	for (size_t i = 0; i < nr_hosts; i++)
		p += sprintf(p, "%s\n", hosts[i]);
	if (ainit_root_shared) {
		/* the initramfs's file bound over the root share: rewritten in place (a rename
		 * onto a mount point fails, and the container's own tree is not ours to write) */
		write_text("/etc/hosts", text);
		free(text);
		return;
	}
	mkdir("/etc", 0755);
	write_text("/etc/hosts.tmp", text);
	if (rename("/etc/hosts.tmp", "/etc/hosts") < 0)
		ainit_fatal("writing /etc/hosts: %s", strerror(errno));
	free(text);
}

void net_setup(const struct runcfg *cfg)
{
	char resolv[64 * RUNCFG_MAX_DNS + 1] = "";
	int s;

	net_write_hosts(cfg, cfg->hosts, cfg->nr_hosts);
	if (!cfg->address)
		return; /* --network none: the kernel has no IP stack at all */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		ainit_fatal("this kernel has no IPv4 (%s); boot vmlinux-net", strerror(errno));
	if (if_up(s, "lo"))
		ainit_fatal("lo up: %s", strerror(errno));
	configure_eth0(s, cfg->address, cfg->gateway);
	close(s);
	for (size_t i = 0; i < cfg->nr_dns; i++)
		snprintf(resolv + strlen(resolv), sizeof(resolv) - strlen(resolv), "nameserver %.40s\n",
			 cfg->dns[i]);
	write_text("/etc/resolv.conf", resolv);
}

bool net_has_unsent(void)
{
	static char text[64 * 1024];
	int fd = open("/proc/net/tcp", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false; /* no IP stack (--network none) */
	text[n] = 0; /* a full buffer is a busy guest: go by the sockets it holds */
	return proctcp_unsent(text);
}
