// SPDX-License-Identifier: MIT
/*
 * A clone's identity (docs/snapshots.md): every clone of one snapshot starts
 * with the same memory, so the same RNG state, clock, hostname, MAC and address.
 * arrowh sends each clone its own; this makes the guest take it: reseed the
 * kernel's RNG, set the clock, the hostname, eth0's MAC and address.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

/* <linux/random.h>, which musl's headers do not carry */
#define RNDADDENTROPY _IOW('R', 0x03, int[2])
#define RNDRESEEDCRNG _IO('R', 0x07)
#define SEED_BYTES 32

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Credit the host's seed to the input pool and reseed the CRNG now, not in a minute. */
static void reseed_rng(const char *hex)
{
	struct {
		int entropy_count;
		int buf_size;
		unsigned char buf[SEED_BYTES];
	} e = { .entropy_count = SEED_BYTES * 8, .buf_size = SEED_BYTES };
	int fd;

	if (!hex || strlen(hex) != 2 * SEED_BYTES)
		ainit_fatal("the clone's identity has no RNG seed");
	for (int i = 0; i < SEED_BYTES; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			ainit_fatal("the clone's RNG seed is not hex");
		e.buf[i] = (unsigned char)(hi << 4 | lo);
	}
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, RNDADDENTROPY, &e) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0)
		ainit_fatal("reseeding the RNG: %s", strerror(errno));
	close(fd);
	memset(&e, 0, sizeof(e));
}

/*
 * eth0 down (its routes go with it), and its new MAC if one is given: the kernel
 * takes a new hardware address only on a stopped interface. net_setup() brings it
 * up again with the clone's address and route.
 */
static void eth0_down(const char *mac)
{
	unsigned int b[6];
	struct ifreq ifr;
	int s;

	if (mac && sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		ainit_fatal("bad MAC '%s' in the clone's identity", mac);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		ainit_fatal("socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags &= (short)~IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (!mac) {
		close(s);
		return;
	}
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	for (int i = 0; i < 6; i++)
		ifr.ifr_hwaddr.sa_data[i] = (char)b[i];
	if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
		ainit_fatal("eth0 MAC %s: %s", mac, strerror(errno));
	close(s);
}

void identity_apply(struct runcfg *cfg, const char *payload, size_t len, uint64_t realtime_ns,
		    bool live)
{
	/* cfg's strings point into it from now on: it is never freed */
	char *copy = malloc(len + 1);
	struct timespec ts = { .tv_sec = (time_t)(realtime_ns / 1000000000ull),
			       .tv_nsec = (long)(realtime_ns % 1000000000ull) };
	const char *name;

	if (!copy)
		ainit_fatal("out of memory");
	memcpy(copy, payload, len);
	copy[len] = '\0';
	cfg->seed = cfg->mac = NULL;
	if (runcfg_parse_identity(copy, len, cfg))
		ainit_fatal("malformed clone identity from the host");
	reseed_rng(cfg->seed);
	cfg->seed = NULL;
	if (realtime_ns && clock_settime(CLOCK_REALTIME, &ts) < 0)
		ainit_fatal("setting the clock: %s", strerror(errno));
	name = cfg->hostname ? cfg->hostname : "arrow";
	if (sethostname(name, strlen(name)) < 0)
		ainit_fatal("sethostname: %s", strerror(errno));
	if (cfg->address && (cfg->mac || live))
		eth0_down(cfg->mac);
	if (live)
		net_setup(cfg); /* a template applies it once, after this, as a boot does */
}
