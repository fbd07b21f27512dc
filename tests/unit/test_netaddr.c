// SPDX-License-Identifier: MIT
/* Arrow network arithmetic and syntax: subnets, addresses, MACs, -p and run/arrowh options. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macaddr.h"
#include "common/runcfg.h"
#include "lib/net/netaddr.h"
#include "lib/launch/runopts.h"
#include "unit.h"
#include "vmm/config.h"

static void test_subnets(void **state)
{
	struct subnet a, b;
	uint32_t ip;
	char buf[19], ipb[16];

	(void)state;
	assert_int_equal(subnet_parse("10.201.0.0/16", &a), 0);
	assert_string_equal(subnet_format(&a, buf), "10.201.0.0/16");
	assert_string_equal(ip_format(subnet_gateway(&a), ipb), "10.201.0.1");
	assert_int_equal(subnet_parse("10.201.0.1/16", &b), -EINVAL); /* host bits */
	assert_int_equal(subnet_parse("10.201.0.0/7", &b), -EINVAL);
	assert_int_equal(subnet_parse("10.201.0.0/29", &b), -EINVAL);
	assert_int_equal(subnet_parse("10.201.0.0", &b), -EINVAL);
	assert_int_equal(subnet_parse("10.201.0.0/", &b), -EINVAL);
	assert_int_equal(subnet_parse("10.201.0.0/16x", &b), -EINVAL);
	assert_int_equal(subnet_parse("300.1.0.0/16", &b), -EINVAL);

	assert_int_equal(subnet_parse("10.201.128.0/17", &b), 0);
	assert_true(subnet_overlaps(&a, &b));
	assert_true(subnet_overlaps(&b, &a));
	assert_int_equal(subnet_parse("10.202.0.0/16", &b), 0);
	assert_false(subnet_overlaps(&a, &b));

	assert_int_equal(subnet_parse("10.230.0.0/24", &a), 0);
	ip_parse("10.230.0.77", &ip);
	assert_true(subnet_assignable(&a, ip));
	ip_parse("10.230.0.0", &ip);
	assert_false(subnet_assignable(&a, ip)); /* network */
	ip_parse("10.230.0.1", &ip);
	assert_false(subnet_assignable(&a, ip)); /* gateway */
	ip_parse("10.230.0.255", &ip);
	assert_false(subnet_assignable(&a, ip)); /* broadcast */
	ip_parse("10.230.1.5", &ip);
	assert_false(subnet_assignable(&a, ip)); /* outside */
}

static void test_mac(void **state)
{
	char buf[18];
	uint8_t mac[6];
	uint32_t ip;

	(void)state;
	ip_parse("10.201.0.5", &ip);
	mac_from_ip(ip, buf);
	assert_string_equal(buf, "02:a7:0a:c9:00:05");
	assert_int_equal(mac_parse(buf, mac), 0);
	assert_int_equal(mac[2], 0x0a);
	assert_int_equal(mac_parse("03:00:0a:58:00:05", mac), -EINVAL); /* multicast */
	assert_int_equal(mac_parse("02:00:0a:58:00", mac), -EINVAL);
	assert_int_equal(mac_parse("02:00:0a:58:00:05:07", mac), -EINVAL);
	assert_int_equal(mac_parse("02-00-0a-58-00-05", mac), -EINVAL);
	assert_int_equal(mac_parse(" 2:00:0a:58:00:05", mac), -EINVAL);
	assert_int_equal(mac_parse("zz:00:0a:58:00:05", mac), -EINVAL);
}

static void test_port_maps(void **state)
{
	struct port_map m;
	char buf[48];

	(void)state;
	assert_int_equal(port_map_parse("8080:80", &m), 0);
	assert_int_equal(m.host_port, 8080);
	assert_int_equal(m.port, 80);
	assert_int_equal(m.proto, PROTO_TCP);
	assert_int_equal(m.host_ip, 0);
	assert_string_equal(port_map_format(&m, buf), "0.0.0.0:8080->80/tcp");
	assert_int_equal(port_map_parse("127.0.0.1:5353:53/udp", &m), 0);
	assert_int_equal(m.proto, PROTO_UDP);
	assert_string_equal(port_map_format(&m, buf), "127.0.0.1:5353->53/udp");
	assert_int_equal(port_map_parse("1:65535/tcp", &m), 0);

	static const char *const bad[] = { "80", "a:80", "8080:0", "0:80", "8080:65536",
					   "8080:80/sctp", "1.2.3:8080:80", ":80", "8080:",
					   "::8080:80", "8080:80/", "99999999999999999999:80" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(port_map_parse(bad[i], &m), -EINVAL);
}

static void test_run_network_options(void **state)
{
	char *ok[] = { "run", "--network", "front", "-p", "8080:80", "-p", "53:53/udp", "--ip",
		       "10.202.0.9", "--mac-address", "02:11:22:33:44:55", "--dns", "192.0.2.1",
		       "prog", NULL };
	char *none[] = { "run", "--network", "none", "-p", "8080:80", "prog", NULL };
	char *badnet[] = { "run", "--network", "-x", "prog", NULL };
	char *badmac[] = { "run", "--mac-address", "01:00:00:00:00:01", "prog", NULL };
	struct run_opts o;
	char err[256];

	(void)state;
	assert_int_equal(runopts_parse(&o, 14, ok, err, sizeof(err)), 0);
	assert_string_equal(o.network, "front");
	assert_int_equal(o.nr_ports, 2);
	assert_int_equal(o.ports[1].proto, PROTO_UDP);
	assert_string_equal(o.ip, "10.202.0.9");
	assert_string_equal(o.mac, "02:11:22:33:44:55");
	assert_int_equal(o.nr_dns, 1);
	assert_int_equal(runopts_parse(&o, 6, none, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "need a network"));
	assert_int_equal(runopts_parse(&o, 4, badnet, err, sizeof(err)), -EINVAL);
	assert_int_equal(runopts_parse(&o, 4, badmac, err, sizeof(err)), -EINVAL);
}

static void test_arrowh_nic_options(void **state)
{
	char *ok[] = { "arrowh", "--kernel", "k", "--initrd", "i", "--tap-fd", "7", "--mac",
		       "02:a7:0a:c9:00:05", "--exit-hook", "/bin/true", "--exit-hook", "x", NULL };
	char *both[] = { "arrowh", "--kernel", "k", "--initrd", "i", "--tap-fd", "7", "--tap",
			 "t0", NULL };
	char *macalone[] = { "arrowh", "--kernel", "k", "--initrd", "i", "--mac",
			     "02:a7:0a:c9:00:05", NULL };
	struct arrowh_config c;
	char err[256];

	(void)state;
	assert_int_equal(arrowh_config_parse(&c, 13, ok, err, sizeof(err)), 0);
	assert_int_equal(c.tap_fd, 7);
	assert_true(c.has_mac);
	assert_int_equal(c.mac[5], 5);
	assert_int_equal(c.nr_exit_hook, 2);
	assert_null(c.exit_hook[2]);
	assert_int_equal(arrowh_config_parse(&c, 9, both, err, sizeof(err)), -EINVAL);
	assert_int_equal(arrowh_config_parse(&c, 7, macalone, err, sizeof(err)), -EINVAL);
}

static void test_runcfg_network_records(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	struct runcfg cfg;

	(void)state;
	runcfg_append(&buf, &len, RUNCFG_PROGRAM, "/app/p");
	runcfg_append(&buf, &len, RUNCFG_ARG, "p");
	runcfg_append(&buf, &len, RUNCFG_ADDRESS, "10.201.0.5/16");
	runcfg_append(&buf, &len, RUNCFG_GATEWAY, "10.201.0.1");
	for (int i = 0; i < 3; i++)
		runcfg_append(&buf, &len, RUNCFG_DNS, "192.0.2.1");
	runcfg_append(&buf, &len, RUNCFG_HOST, "10.201.0.2\tweb");
	assert_int_equal(runcfg_parse(buf, len, &cfg), 0);
	assert_string_equal(cfg.address, "10.201.0.5/16");
	assert_string_equal(cfg.gateway, "10.201.0.1");
	assert_int_equal(cfg.nr_dns, 3);
	assert_int_equal(cfg.nr_hosts, 1);
	/* a fourth nameserver is more than resolv.conf takes */
	runcfg_append(&buf, &len, RUNCFG_DNS, "192.0.2.2");
	assert_int_equal(runcfg_parse(buf, len, &cfg), -E2BIG);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subnets),	      cmocka_unit_test(test_mac),
		cmocka_unit_test(test_port_maps),     cmocka_unit_test(test_run_network_options),
		cmocka_unit_test(test_arrowh_nic_options), cmocka_unit_test(test_runcfg_network_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
