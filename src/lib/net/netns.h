/* SPDX-License-Identifier: MIT */
/*
 * An Arrow's NIC inside a network namespace somebody else prepared (podman/netavark, CNI,
 * Docker's libnetwork, a Kubernetes pod sandbox): the namespace's interface (eth0 of a veth
 * pair) and a tap for arrowh are joined by a bridge inside that namespace, and the guest
 * takes the interface's IPv4 address, MAC and default route, so whatever the caller set up
 * outside (port forwarding, routes, firewall rules) reaches the guest unchanged
 * (docs/oci.md, "Networking"). Needs CAP_SYS_ADMIN (setns) and CAP_NET_ADMIN.
 */
#ifndef ARROW_NETNS_H
#define ARROW_NETNS_H

#include <jansson.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#define NETNS_BRIDGE "arrowbr0" /* inside the namespace: an Arrow already uses it if present */
#define NETNS_TAP "arrowtap0"

struct netns_nic {
	char ifname[IFNAMSIZ]; /* the namespace's interface the guest stands in for */
	char mac[18];          /* its MAC, now the guest's ("aa:bb:cc:dd:ee:ff") */
	char address[32];      /* its IPv4 address with prefix, now the guest's */
	char gateway[16];      /* the default route's gateway; "" without one */
	unsigned int mtu;
	int tap_fd;            /* the tap for arrowh (not close-on-exec), -1 when none */
};

/*
 * Enter the network namespace at nspath, find its one interface with an IPv4 address (the
 * one the default route leaves through when there are several), move its address off it,
 * give it a fresh MAC, and bridge it with a new tap whose descriptor is returned in nic.
 * The calling thread is back in its own namespace on return. 0, or -errno with why.
 */
int netns_join(const char *nspath, struct netns_nic *nic, char *why, size_t whylen);

/*
 * The same in the calling thread's own network namespace (one a container process made
 * for itself and a prestart hook furnished, as Docker's libnetwork does). -ENOENT (with
 * why) when it has no IPv4 interface: nothing for the guest to take.
 */
int netns_join_current(struct netns_nic *nic, char *why, size_t whylen);

/*
 * Undo what netns_join did in the namespace: the bridge goes (the tap went with arrowh's
 * descriptor) and, with nic (what netns_join returned), the interface gets its MAC,
 * address and default route back. A namespace already gone is fine. 0 or -errno.
 */
int netns_leave(const char *nspath, const struct netns_nic *nic);

/* nic (without the descriptor) as a JSON object for a state record, and back (0/-EINVAL). */
json_t *netns_nic_json(const struct netns_nic *nic);
int netns_nic_from_json(json_t *j, struct netns_nic *nic);

/*
 * The default route in /proc/net/route text: its interface and gateway (host order).
 * 0 when found, -ENOENT when there is none, -EINVAL on malformed text.
 */
int netns_parse_default_route(const char *text, char ifname[IFNAMSIZ], uint32_t *gateway);

#endif
