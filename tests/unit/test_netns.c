// SPDX-License-Identifier: MIT
/* Joining a prepared network namespace (lib/net/netns.c): reading its default route, the
 * record a delete restores the namespace from. The joining itself needs root and a
 * namespace: tests/integration/test_oci_net.py. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/net/netns.h"
#include "unit.h"

#define HEADER "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"

static void test_default_route(void **state)
{
	char ifname[IFNAMSIZ];
	uint32_t gw;

	(void)state;
	/* a subnet route first, then the default via 10.123.7.1 (printed little-endian) */
	assert_int_equal(netns_parse_default_route(HEADER
		"eth0\t00077B0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
		"eth0\t00000000\t01077B0A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n", ifname, &gw), 0);
	assert_string_equal(ifname, "eth0");
	assert_int_equal(gw, 0x0a7b0701);
	/* a default route without a gateway (a point-to-point link) */
	assert_int_equal(netns_parse_default_route(HEADER
		"ppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n", ifname, &gw), 0);
	assert_string_equal(ifname, "ppp0");
	assert_int_equal(gw, 0);
	/* none; a route that is down does not count */
	assert_int_equal(netns_parse_default_route(HEADER, ifname, &gw), -ENOENT);
	assert_int_equal(netns_parse_default_route("", ifname, &gw), -ENOENT);
	assert_int_equal(netns_parse_default_route(HEADER
		"eth0\t00000000\t01077B0A\t0002\t0\t0\t0\t00000000\t0\t0\t0\n", ifname, &gw), -ENOENT);
	/* malformed text is refused, never half-read */
	assert_int_equal(netns_parse_default_route(HEADER "eth0\tzz\n", ifname, &gw), -EINVAL);
	assert_int_equal(netns_parse_default_route(HEADER
		"averyveryverylongname\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n",
		ifname, &gw), -EINVAL);
}

static void test_record(void **state)
{
	struct netns_nic a = { .ifname = "eth0", .mac = "0a:58:0a:58:00:05",
			       .address = "10.88.0.5/16", .gateway = "10.88.0.1", .tap_fd = 7 }, b;
	json_t *j;

	(void)state;
	j = netns_nic_json(&a);
	assert_non_null(j);
	assert_int_equal(netns_nic_from_json(j, &b), 0);
	assert_string_equal(b.ifname, "eth0");
	assert_string_equal(b.mac, "0a:58:0a:58:00:05");
	assert_string_equal(b.address, "10.88.0.5/16");
	assert_string_equal(b.gateway, "10.88.0.1");
	assert_int_equal(b.tap_fd, -1); /* a descriptor never comes from a record */
	json_object_set_new(j, "interface", json_string("an-interface-name-too-long"));
	assert_int_equal(netns_nic_from_json(j, &b), -EINVAL);
	json_object_del(j, "interface");
	assert_int_equal(netns_nic_from_json(j, &b), -EINVAL);
	json_decref(j);
	assert_int_equal(netns_nic_from_json(NULL, &b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_route),
		cmocka_unit_test(test_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
