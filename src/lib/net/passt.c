// SPDX-License-Identifier: MIT
/* Rootless networking: start one passt per Arrow over a socket pair (docs/rootless.md). */
#include "lib/net/passt.h"
#include "common/stdfds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PASST_READY_MS 20000 /* passt is ready in milliseconds; the helper VM is slow */
#define PASST_MAX_ARGS (32 + 2 * NET_MAX_PORTS)

bool passt_installed(char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin"), *dir, *save;
	bool found = false;

	if (getenv("ARROW_PASST") && *getenv("ARROW_PASST")) { /* tests, development */
		snprintf(buf, len, "%s", getenv("ARROW_PASST"));
		free(copy);
		return access(buf, X_OK) == 0;
	}
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/passt", dir);
		found = *dir == '/' && access(buf, X_OK) == 0;
	}
	free(copy);
	if (!found && access("/usr/bin/passt", X_OK) == 0) { /* PATH may leave out /usr/bin */
		snprintf(buf, len, "/usr/bin/passt");
		found = true;
	}
	return found;
}

int passt_host_conf(struct passt_conf *c, char *err, size_t errlen)
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[256], ifname[64];
	unsigned int dest, gw, flags, mask;
	struct ifaddrs *ifa, *i;
	bool found = false;

	memset(c, 0, sizeof(*c));
	if (!f) {
		snprintf(err, errlen, "cannot read /proc/net/route: %s", strerror(errno));
		return -errno;
	}
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %x %x %x %*d %*d %*d %x", ifname, &dest, &gw, &flags, &mask) ==
			    5 &&
		    dest == 0 && mask == 0 && (flags & 0x3) == 0x3 /* RTF_UP | RTF_GATEWAY */ &&
		    strlen(ifname) < sizeof(c->ifname)) {
			snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
			c->gw = ntohl(gw);
			found = true;
		}
	fclose(f);
	if (!found) {
		snprintf(err, errlen, "the host has no IPv4 default route for passt to copy; "
				      "use --network none");
		return -ENETUNREACH;
	}
	if (getifaddrs(&ifa) < 0) {
		snprintf(err, errlen, "getifaddrs: %s", strerror(errno));
		return -errno;
	}
	found = false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask ||
		    strcmp(i->ifa_name, c->ifname))
			continue;
		c->ip = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
		mask = ntohl(((struct sockaddr_in *)(void *)i->ifa_netmask)->sin_addr.s_addr);
		c->prefix = (unsigned int)__builtin_popcount(mask);
		found = true;
	}
	freeifaddrs(ifa);
	if (!found || c->prefix < 1 || c->prefix > 30) {
		snprintf(err, errlen, "%s, the interface of the host's default route, has %s; passt "
				      "cannot give it to an Arrow (use --network none)",
			 c->ifname, found ? "a /31 or /32 address" : "no IPv4 address");
		return -EADDRNOTAVAIL;
	}
	return 0;
}

/* A host port passt could not bind (in use, or below the unprivileged start): say so now. */
static int check_port(const struct port_map *m, char *err, size_t errlen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(m->host_port),
				   .sin_addr.s_addr = htonl(m->host_ip) };
	int s = socket(AF_INET, (m->proto == PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	int one = 1, ret = 0;
	char text[48];

	if (s < 0)
		return 0;
	if (m->proto == PROTO_TCP)
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind((s), (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		ret = -errno;
		if (errno == EACCES)
			snprintf(err, errlen, "-p %s: host port %u needs root (below "
					      "net.ipv4.ip_unprivileged_port_start)",
				 port_map_format(m, text), m->host_port);
		else
			snprintf(err, errlen, "-p %s: host port %u: %s", port_map_format(m, text),
				 m->host_port, strerror(errno));
	}
	close(s);
	return ret;
}

/* The last line passt wrote to its log: why it stopped. */
static void log_tail(const char *log, char *out, size_t len)
{
	FILE *f = fopen(log, "re");
	char line[256];

	snprintf(out, len, "no message (see %.150s)", log);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (*line && !strstr(line, "to syslog")) /* "Failed to send N bytes to syslog" */
			snprintf(out, len, "%.190s", line);
	}
	fclose(f);
}

static int wait_ready(pid_t pid, const char *pidfile, const char *log, char *err, size_t errlen)
{
	for (int ms = 0; ms < PASST_READY_MS; ms += 10) {
		struct stat st;
		int status;
		char why[200];

		if (stat(pidfile, &st) == 0 && st.st_size > 0)
			return 0; /* written once its sockets are bound, right before it serves */
		if (waitpid(pid, &status, WNOHANG) == pid) {
			log_tail(log, why, sizeof(why));
			snprintf(err, errlen, "passt stopped before the Arrow started (%s %d): %s",
				 WIFEXITED(status) ? "status" : "signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), why);
			return -ECHILD;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	snprintf(err, errlen, "passt did not get ready in %d s (see %s)", PASST_READY_MS / 1000, log);
	return -ETIMEDOUT;
}

int passt_start(const char *passt, const struct passt_conf *c, const struct port_map *ports,
		unsigned int nr_ports, const char *dir, int *fd, pid_t *pid, char *err,
		size_t errlen)
{
	char addr[16], gw[16], prefix[8], fdnum[16], pidfile[4200], log[4200];
	char specs[NET_MAX_PORTS][48];
	const char *argv[PASST_MAX_ARGS];
	int sv[2], n = 0, ret;
	pid_t p;

	for (unsigned int i = 0; i < nr_ports; i++) {
		ret = check_port(&ports[i], err, errlen);
		if (ret)
			return ret;
	}
	snprintf(pidfile, sizeof(pidfile), "%s/passt.pid", dir);
	snprintf(log, sizeof(log), "%s/passt.log", dir);
	unlink(pidfile);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -errno;
	}
	snprintf(fdnum, sizeof(fdnum), "%d", sv[1]);
	snprintf(prefix, sizeof(prefix), "%u", c->prefix);
	argv[n++] = "passt";
	argv[n++] = "--foreground"; /* never daemonize: it is ours, and ends with the socket */
	argv[n++] = "--quiet";
	argv[n++] = "--ipv4-only";  /* the guest kernel has no IPv6 */
	argv[n++] = "--fd";
	argv[n++] = fdnum;
	argv[n++] = "--address";
	argv[n++] = ip_format(c->ip, addr);
	argv[n++] = "--netmask";
	argv[n++] = prefix;
	argv[n++] = "--gateway";
	argv[n++] = ip_format(c->gw, gw);
	argv[n++] = "--interface";
	argv[n++] = c->ifname;
	argv[n++] = "--pid";
	argv[n++] = pidfile;
	if (c->dns_forward) {
		argv[n++] = "--dns-forward";
		argv[n++] = gw;
	}
	for (unsigned int i = 0; i < nr_ports; i++) {
		const struct port_map *m = &ports[i];
		char hip[16];

		if (m->host_ip)
			snprintf(specs[i], sizeof(specs[i]), "%s/%u:%u", ip_format(m->host_ip, hip),
				 m->host_port, m->port);
		else
			snprintf(specs[i], sizeof(specs[i]), "%u:%u", m->host_port, m->port);
		argv[n++] = m->proto == PROTO_UDP ? "--udp-ports" : "--tcp-ports";
		argv[n++] = specs[i];
	}
	argv[n] = NULL;

	p = fork();
	if (p < 0) {
		ret = -errno;
		close(sv[0]);
		close(sv[1]);
		snprintf(err, errlen, "fork: %s", strerror(-ret));
		return ret;
	}
	if (p == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		setsid(); /* not in the terminal's process group: Ctrl-C is the Arrow's, not passt's */
		if (null < 0 || lfd < 0 || stdfds_install(null, lfd, lfd) < 0)
			_exit(127);
		fcntl(sv[1], F_SETFD, 0); /* passt inherits its end only */
		execv(passt, (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", passt, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	ret = wait_ready(p, pidfile, log, err, errlen);
	if (ret) {
		close(sv[0]);
		return ret;
	}
	*fd = sv[0];
	*pid = p;
	return 0;
}
