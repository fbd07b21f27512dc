// SPDX-License-Identifier: MIT
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/un.h>

#include "common/macaddr.h"
#include "vm.h"

const char arrowh_usage[] =
	"Usage: arrowh --kernel VMLINUX --initrd CPIO [--initrd CPIO]... [OPTIONS]\n"
	"Run one Arrow: a KVM virtual machine booting VMLINUX with the given initramfs pieces.\n"
	"Normally started by 'arrow run'.\n"
	"\n"
	"  --kernel PATH       uncompressed vmlinux ELF\n"
	"  --initrd PATH       cpio piece; pieces are concatenated in order\n"
	"  --memory MIB        guest RAM in MiB (default 128, 32..65536)\n"
	"  --cpus N            vCPUs (default 1, 1..32)\n"
	"  --cmdline ARGS      extra kernel command line arguments\n"
	"  --debug-console     kernel messages on stderr through an 8250 UART\n"
	"  --console-log FILE  append the guest console (hvc0) to FILE\n"
	"  --timing            print the boot phases on stderr at exit\n"
	"  --boot-timeout S    stop the guest (status 125, with a stall report) if ainit has\n"
	"                      not started S seconds after the vCPUs did; 0: no limit\n"
	"  --t0 NS             CLOCK_MONOTONIC start of the caller, for --timing\n"
	"  --state-dir DIR     keep state.json, the log and ctl.sock in DIR (a managed Arrow)\n"
	"  --detached          no stdio: output goes to the log and attached clients\n"
	"  --attach-stdin      the app's standard input comes from 'arrow attach'\n"
	"  --tty               give the app a terminal (virtio-console hvc1) on stdin/out/err\n"
	"  --rm                delete the state directory when the Arrow ends\n"
	"  --log-max-size N    rotate the log at N bytes (default 16 MiB, 0: never)\n"
	"  --log-max-files N   keep N log files, the current one included (default 3)\n"
	"  --ready-fd FD       write one byte to FD once the Arrow runs, then close it\n"
	"  --hold              boot and set up, but start the app only on a start request on\n"
	"                      the control socket (needs --state-dir); --ready-fd is written\n"
	"                      once the guest waits for it (arrow-oci create/start)\n"
	"  --tap-fd FD         a virtio-net NIC on this tap (IFF_TAP, IFF_NO_PI, IFF_VNET_HDR)\n"
	"  --tap NAME          a virtio-net NIC on the tap interface NAME (opened or created)\n"
	"  --net-stream-fd FD  a virtio-net NIC on this connected unix stream socket, framed as\n"
	"                      passt's qemu protocol (rootless networking, docs/rootless.md)\n"
	"  --mac MAC           the NIC's address (default: random, locally administered)\n"
	"  --volume DIR:TAG[:ro]  serve host directory DIR over virtio-9p as mount tag TAG\n"
	"  --root-share DIR[:ro]  serve DIR as the guest's root file system over virtio-9p (tag\n"
	"                      arrowroot) from a jailed sidecar process; writes land in DIR\n"
	"  --exit-hook ARG     run a command when the Arrow ended; repeat for each argv entry\n"
	"  --restore DIR       start from the snapshot in DIR instead of booting (a clone)\n"
	"  --identity FILE     with --restore: the clone's hostname and network for ainit\n"
	"  --template-out DIR  when ainit reports the template point, snapshot into DIR and end\n"
	"  --cgroup DIR        join the cgroup v2 directory DIR before guest memory exists\n"
	"  --no-sandbox        run without the jail and seccomp filter (debugging only)\n"
	"  --vsock-uds PATH    a virtio-vsock device (guest CID 3): host programs connect to the\n"
	"                      unix socket PATH, guest connects to CID 2 port P reach PATH_P\n"
	"  --jail-user UID:GID the unprivileged ids the jailed VMM runs as (default 65534:65534)\n"
	"  -h, --help          this text\n"
	"  --version           version\n";

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_MEMORY, OPT_CPUS, OPT_CMDLINE, OPT_CONSOLE_LOG, OPT_DEBUG, OPT_TIMING,
       OPT_T0, OPT_VERSION, OPT_STATE_DIR, OPT_DETACHED, OPT_ATTACH_STDIN, OPT_RM, OPT_LOG_SIZE,
       OPT_LOG_FILES, OPT_READY_FD, OPT_TTY, OPT_TAP_FD, OPT_NET_STREAM_FD, OPT_TAP, OPT_MAC, OPT_EXIT_HOOK,
       OPT_RESTORE, OPT_IDENTITY, OPT_TEMPLATE_OUT, OPT_VOLUME, OPT_BOOT_TIMEOUT,
       OPT_CGROUP, OPT_NO_SANDBOX, OPT_JAIL_USER, OPT_SECCOMP_SELFTEST,
       OPT_VSOCK_UDS, OPT_ROOT_SHARE, OPT_HOLD };

static const struct option options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "volume", required_argument, NULL, OPT_VOLUME },
	{ "root-share", required_argument, NULL, OPT_ROOT_SHARE },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "debug-console", no_argument, NULL, OPT_DEBUG },
	{ "console-log", required_argument, NULL, OPT_CONSOLE_LOG },
	{ "timing", no_argument, NULL, OPT_TIMING },
	{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
	{ "t0", required_argument, NULL, OPT_T0 },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "detached", no_argument, NULL, OPT_DETACHED },
	{ "attach-stdin", no_argument, NULL, OPT_ATTACH_STDIN },
	{ "tty", no_argument, NULL, OPT_TTY },
	{ "rm", no_argument, NULL, OPT_RM },
	{ "log-max-size", required_argument, NULL, OPT_LOG_SIZE },
	{ "log-max-files", required_argument, NULL, OPT_LOG_FILES },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "hold", no_argument, NULL, OPT_HOLD },
	{ "tap-fd", required_argument, NULL, OPT_TAP_FD },
	{ "tap", required_argument, NULL, OPT_TAP },
	{ "net-stream-fd", required_argument, NULL, OPT_NET_STREAM_FD },
	{ "mac", required_argument, NULL, OPT_MAC },
	{ "exit-hook", required_argument, NULL, OPT_EXIT_HOOK },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "jail-user", required_argument, NULL, OPT_JAIL_USER },
	{ "seccomp-selftest", no_argument, NULL, OPT_SECCOMP_SELFTEST },
	{ "identity", required_argument, NULL, OPT_IDENTITY },
	{ "template-out", required_argument, NULL, OPT_TEMPLATE_OUT },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "vsock-uds", required_argument, NULL, OPT_VSOCK_UDS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int arrowh_config_parse(struct arrowh_config *cfg, int argc, char *const argv[], char *err,
			unsigned int errlen)
{
	uint64_t v;
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->memory_mib = 128;
	cfg->cpus = 1;
	cfg->log_max_size = 16ull << 20;
	cfg->log_max_files = 3;
	cfg->ready_fd = -1;
	cfg->tap_fd = -1;
	cfg->net_stream_fd = -1;
	cfg->jail_uid = cfg->jail_gid = 65534; /* nobody, nogroup: the CLI passes the arrow user */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			cfg->kernel = optarg;
			break;
		case OPT_INITRD:
			if (cfg->nr_initrds >= ARROWH_MAX_INITRDS) {
				snprintf(err, errlen, "at most %d --initrd pieces", ARROWH_MAX_INITRDS);
				return -EINVAL;
			}
			cfg->initrds[cfg->nr_initrds++] = optarg;
			break;
		case OPT_VOLUME: {
			struct arrowh_volume *vol = &cfg->volumes[cfg->nr_volumes];
			char *c1 = strrchr(optarg, ':');
			bool ro = c1 && !strcmp(c1, ":ro");

			if (c1 && (ro || !strcmp(c1, ":rw")))
				*c1 = '\0';
			c1 = strrchr(optarg, ':');
			if (cfg->nr_volumes >= ARROWH_MAX_VOLUMES || !c1 || c1 == optarg || !c1[1] ||
			    strlen(c1 + 1) >= sizeof(vol->tag)) {
				snprintf(err, errlen, "--volume takes DIR:TAG[:ro] (TAG up to 31 bytes, "
					 "at most %d volumes)", ARROWH_MAX_VOLUMES);
				return -EINVAL;
			}
			*c1 = '\0';
			snprintf(vol->tag, sizeof(vol->tag), "%s", c1 + 1);
			vol->path = optarg;
			vol->read_only = ro;
			cfg->nr_volumes++;
			break;
		}
		case OPT_ROOT_SHARE: {
			char *c1 = strrchr(optarg, ':');

			cfg->root_read_only = c1 && !strcmp(c1, ":ro");
			if (c1 && (cfg->root_read_only || !strcmp(c1, ":rw")))
				*c1 = '\0';
			if (!optarg[0] || cfg->root_share) {
				snprintf(err, errlen, "--root-share takes DIR[:ro], once");
				return -EINVAL;
			}
			cfg->root_share = optarg;
			break;
		}
		case OPT_MEMORY:
			if (parse_u64(optarg, 32, 65536, &v)) {
				snprintf(err, errlen, "--memory takes MiB between 32 and 65536, not '%s'",
					 optarg);
				return -EINVAL;
			}
			cfg->memory_mib = v;
			break;
		case OPT_CPUS:
			if (parse_u64(optarg, 1, VM_MAX_VCPUS, &v)) {
				snprintf(err, errlen, "--cpus takes 1 to %d, not '%s'", VM_MAX_VCPUS,
					 optarg);
				return -EINVAL;
			}
			cfg->cpus = (unsigned int)v;
			break;
		case OPT_CMDLINE:
			cfg->cmdline_extra = optarg;
			break;
		case OPT_CONSOLE_LOG:
			cfg->console_log = optarg;
			break;
		case OPT_DEBUG:
			cfg->debug_console = true;
			break;
		case OPT_TIMING:
			cfg->timing = true;
			break;
		case OPT_BOOT_TIMEOUT:
			if (parse_u64(optarg, 0, 86400, &v)) {
				snprintf(err, errlen, "--boot-timeout takes 0 to 86400 seconds, not '%s'",
					 optarg);
				return -EINVAL;
			}
			cfg->boot_timeout_s = (unsigned int)v;
			break;
		case OPT_T0:
			if (parse_u64(optarg, 0, UINT64_MAX, &v)) {
				snprintf(err, errlen, "--t0 takes nanoseconds, not '%s'", optarg);
				return -EINVAL;
			}
			cfg->t0_ns = v;
			break;
		case OPT_STATE_DIR:
			cfg->state_dir = optarg;
			break;
		case OPT_DETACHED:
			cfg->detached = true;
			break;
		case OPT_ATTACH_STDIN:
			cfg->attach_stdin = true;
			break;
		case OPT_TTY:
			cfg->tty = true;
			break;
		case OPT_RM:
			cfg->remove = true;
			break;
		case OPT_LOG_SIZE:
			if (parse_u64(optarg, 0, UINT64_MAX, &v) || (v && v < 4096)) {
				snprintf(err, errlen, "--log-max-size takes 0 or at least 4096 bytes, not '%s'",
					 optarg);
				return -EINVAL;
			}
			cfg->log_max_size = v;
			break;
		case OPT_LOG_FILES:
			if (parse_u64(optarg, 1, 100, &v)) {
				snprintf(err, errlen, "--log-max-files takes 1 to 100, not '%s'", optarg);
				return -EINVAL;
			}
			cfg->log_max_files = (unsigned int)v;
			break;
		case OPT_READY_FD:
			if (parse_u64(optarg, 3, 65535, &v)) {
				snprintf(err, errlen, "--ready-fd takes a descriptor number, not '%s'", optarg);
				return -EINVAL;
			}
			cfg->ready_fd = (int)v;
			break;
		case OPT_HOLD:
			cfg->hold = true;
			break;
		case OPT_TAP_FD:
			if (parse_u64(optarg, 3, 65535, &v)) {
				snprintf(err, errlen, "--tap-fd takes a descriptor number, not '%s'", optarg);
				return -EINVAL;
			}
			cfg->tap_fd = (int)v;
			break;
		case OPT_NET_STREAM_FD:
			if (parse_u64(optarg, 3, 65535, &v)) {
				snprintf(err, errlen, "--net-stream-fd takes a descriptor number, not '%s'",
					 optarg);
				return -EINVAL;
			}
			cfg->net_stream_fd = (int)v;
			break;
		case OPT_TAP:
			if (!*optarg || strlen(optarg) >= 16) {
				snprintf(err, errlen, "--tap takes an interface name of 1 to 15 bytes");
				return -EINVAL;
			}
			cfg->tap_name = optarg;
			break;
		case OPT_MAC:
			if (mac_parse(optarg, cfg->mac)) {
				snprintf(err, errlen, "--mac takes a unicast address like 02:00:0a:58:00:05, not '%s'",
					 optarg);
				return -EINVAL;
			}
			cfg->has_mac = true;
			break;
		case OPT_EXIT_HOOK:
			if (cfg->nr_exit_hook >= ARROWH_MAX_HOOK_ARGS) {
				snprintf(err, errlen, "at most %d --exit-hook arguments", ARROWH_MAX_HOOK_ARGS);
				return -EINVAL;
			}
			cfg->exit_hook[cfg->nr_exit_hook++] = optarg;
			break;
		case OPT_RESTORE:
			cfg->restore_dir = optarg;
			break;
		case OPT_IDENTITY:
			cfg->identity = optarg;
			break;
		case OPT_TEMPLATE_OUT:
			cfg->template_out = optarg;
			break;
		case OPT_CGROUP:
			if (optarg[0] != '/') {
				snprintf(err, errlen, "--cgroup takes an absolute directory, not '%s'", optarg);
				return -EINVAL;
			}
			cfg->cgroup = optarg;
			break;
		case OPT_NO_SANDBOX:
			cfg->no_sandbox = true;
			break;
		case OPT_VSOCK_UDS:
			/* room for "_4294967295" in a sockaddr_un: the guest's connects use it */
			if (!optarg[0] || strlen(optarg) + 11 >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
				snprintf(err, errlen, "--vsock-uds takes a socket path of at most %zu bytes",
					 sizeof(((struct sockaddr_un *)0)->sun_path) - 12);
				return -EINVAL;
			}
			cfg->vsock_uds = optarg;
			break;
		case OPT_JAIL_USER: {
			unsigned long long u, g = 0;
			char *end;

			errno = 0;
			u = strtoull(optarg, &end, 10);
			if (!errno && *end == ':' && end > optarg)
				g = strtoull(end + 1, &end, 10);
			if (errno || *end || u == 0 || u >= 0xffffffffull || g == 0 || g >= 0xffffffffull ||
			    !strchr(optarg, ':')) {
				snprintf(err, errlen, "--jail-user takes UID:GID, both non-zero, not '%s'", optarg);
				return -EINVAL;
			}
			cfg->jail_uid = (unsigned int)u;
			cfg->jail_gid = (unsigned int)g;
			break;
		}
		case OPT_SECCOMP_SELFTEST:
			cfg->seccomp_selftest = true;
			break;
		case 'h':
			cfg->help = true;
			return 0;
		case OPT_VERSION:
			cfg->version = true;
			return 0;
		default:
			snprintf(err, errlen, "unknown or incomplete option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	/* rootless: the jailed VMM stays the caller, in a user namespace of its own (jail.c) */
	if (geteuid() != 0) {
		cfg->jail_uid = geteuid();
		cfg->jail_gid = getegid();
	}
	if (!cfg->state_dir && (cfg->detached || cfg->attach_stdin || cfg->remove)) {
		snprintf(err, errlen, "--detached, --attach-stdin and --rm need --state-dir");
		return -EINVAL;
	}
	if (cfg->tap_fd >= 0 && cfg->tap_name) {
		snprintf(err, errlen, "--tap-fd and --tap are one NIC each; give one of them");
		return -EINVAL;
	}
	if (cfg->net_stream_fd >= 0 && (cfg->tap_fd >= 0 || cfg->tap_name)) {
		snprintf(err, errlen, "--net-stream-fd and --tap-fd/--tap are one NIC each; give one");
		return -EINVAL;
	}
	if (cfg->has_mac && cfg->tap_fd < 0 && !cfg->tap_name && cfg->net_stream_fd < 0) {
		snprintf(err, errlen, "--mac needs a NIC (--tap-fd, --tap or --net-stream-fd)");
		return -EINVAL;
	}
	if ((cfg->restore_dir || cfg->template_out) && cfg->nr_volumes) {
		snprintf(err, errlen, "--volume does not go with snapshots: the files a volume has "
				      "open are host state a clone cannot share");
		return -EINVAL;
	}
	if ((cfg->restore_dir || cfg->template_out) && cfg->root_share) {
		snprintf(err, errlen, "--root-share does not go with snapshots: the root's open files "
				      "are host state a clone cannot share");
		return -EINVAL;
	}
	if (cfg->restore_dir && (cfg->kernel || cfg->nr_initrds || cfg->template_out)) {
		snprintf(err, errlen, "--restore starts from a snapshot: no --kernel, --initrd or "
				      "--template-out with it");
		return -EINVAL;
	}
	if (cfg->hold && (cfg->restore_dir || cfg->template_out || !cfg->state_dir)) {
		snprintf(err, errlen, "--hold boots an Arrow with a --state-dir (its control socket "
				      "takes the start request): not with --restore or --template-out");
		return -EINVAL;
	}
	if (cfg->identity && !cfg->restore_dir) {
		snprintf(err, errlen, "--identity goes with --restore");
		return -EINVAL;
	}
	if (cfg->restore_dir)
		return 0;
	if (!cfg->kernel) {
		snprintf(err, errlen, "--kernel is required");
		return -EINVAL;
	}
	if (!cfg->nr_initrds) {
		snprintf(err, errlen, "at least one --initrd is required");
		return -EINVAL;
	}
	return 0;
}
