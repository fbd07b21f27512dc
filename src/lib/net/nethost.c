// SPDX-License-Identifier: MIT
#include "lib/net/nethost.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if_arp.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macaddr.h"

static int ctl_socket(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	return s < 0 ? -errno : s;
}

static void set_ifname(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

static int set_flags(int s, const char *name, short on, short off)
{
	struct ifreq ifr;

	set_ifname(&ifr, name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags = (short)((ifr.ifr_flags | on) & ~off);
	return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static int write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

bool nethost_exists(const char *ifname)
{
	return if_nametoindex(ifname) != 0;
}

static void set_sin(struct sockaddr *sa, uint32_t ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(ip) };

	memcpy(sa, &sin, sizeof(sin));
}

/*
 * The bridge's MAC, fixed: 02:a7 and the gateway's address, as mac_from_ip gives every
 * Arrow on the subnet. A bridge whose address was never set takes the lowest of its
 * ports' addresses and changes it as taps come and go; guests keep the old one in their
 * ARP cache and their frames to the gateway are dropped as not the host's (seen: functions
 * whose instances come and go, answers lost until the next ARP). An address that was set
 * stays (the kernel's br_stp_recalculate_bridge_id). Only written when it differs: a
 * change flushes the host's neighbour entries on the bridge.
 */
static int bridge_fix_mac(int s, const char *br, const struct subnet *n)
{
	char text[18];
	struct ifreq ifr;
	uint8_t mac[6];

	mac_from_ip(subnet_gateway(n), text);
	if (mac_parse(text, mac))
		return -EINVAL;
	set_ifname(&ifr, br);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	if (!memcmp(ifr.ifr_hwaddr.sa_data, mac, sizeof(mac)))
		return 0;
	set_ifname(&ifr, br);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, sizeof(mac));
	return ioctl(s, SIOCSIFHWADDR, &ifr) < 0 ? -errno : 0;
}

int nethost_bridge_fix_mac(const char *br, const struct subnet *n)
{
	int s = ctl_socket(), ret;

	if (s < 0)
		return s;
	ret = bridge_fix_mac(s, br, n);
	close(s);
	return ret;
}

int nethost_bridge_up(const char *br, const struct subnet *n)
{
	char path[128];
	struct ifreq ifr;
	int s = ctl_socket(), ret = 0;

	if (s < 0)
		return s;
	if (!nethost_exists(br) && ioctl(s, SIOCBRADDBR, br) < 0 && errno != EEXIST)
		ret = -errno;
	if (!ret)
		ret = bridge_fix_mac(s, br, n);
	set_ifname(&ifr, br);
	set_sin(&ifr.ifr_addr, subnet_gateway(n));
	if (!ret && ioctl(s, SIOCSIFADDR, &ifr) < 0)
		ret = -errno;
	set_sin(&ifr.ifr_netmask, n->prefix ? ~0u << (32 - n->prefix) : 0);
	if (!ret && ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		ret = -errno;
	if (!ret)
		ret = set_flags(s, br, IFF_UP, 0);
	close(s);
	if (ret)
		return ret;
	/*
	 * Routing for outbound NAT, and 127.0.0.1 as a source on the bridge so that
	 * published ports answer on the host's loopback (the DNAT'd packet keeps it).
	 */
	ret = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", br);
	if (!ret)
		ret = write_sysctl(path, "1");
	return ret;
}

int nethost_bridge_delete(const char *br)
{
	int s = ctl_socket(), ret = 0;

	if (s < 0)
		return s;
	if (nethost_exists(br)) {
		set_flags(s, br, 0, IFF_UP);
		if (ioctl(s, SIOCBRDELBR, br) < 0)
			ret = -errno;
	}
	close(s);
	return ret;
}

int nethost_tap_create(const char *name, const char *br)
{
	struct ifreq ifr;
	int fd, s, ret = 0;

	fd = open("/dev/net/tun", O_RDWR);
	if (fd < 0)
		return -errno;
	set_ifname(&ifr, name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	s = ctl_socket();
	if (s < 0) {
		close(fd);
		return s;
	}
	set_ifname(&ifr, br);
	ifr.ifr_ifindex = (int)if_nametoindex(name);
	if (!ifr.ifr_ifindex || ioctl(s, SIOCBRADDIF, &ifr) < 0)
		ret = -errno;
	if (!ret)
		ret = set_flags(s, name, IFF_UP, 0);
	close(s);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}
