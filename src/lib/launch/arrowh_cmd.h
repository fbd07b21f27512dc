/* SPDX-License-Identifier: MIT */
/*
 * The launch description (docs/design.md, "One launch path"): everything arrowh is told
 * about one Arrow, filled in by a front end — `arrow run`, clones and templates
 * (src/lib/launch/), the functions gateway through them, and `arrow-oci create` — and
 * turned into arrowh's command line in one place (src/lib/launch/argv.c). Nothing here
 * prints: the front end says what it has to in its own voice (stderr, or the OCI log).
 */
#ifndef ARROW_ARROWH_CMD_H
#define ARROW_ARROWH_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/image/imglimit.h"
#include "lib/launch/runopts.h"

/* base piece, image layers, program, run configuration, with room to spare */
#define ARROWH_MAX_INITRDS (IMAGE_MAX_LAYERS + 4)
#define ARROWH_MAX_VOLUMES RUNOPTS_MAX_VOLUMES
#define ARROWH_ARGV_MAX (2 * ARROWH_MAX_INITRDS + 2 * ARROWH_MAX_VOLUMES + 80)

struct arrowh_desc {
	/* a boot: the kernel and initramfs pieces; or a clone: the snapshot and identity */
	const char *kernel;
	const char *initrds[ARROWH_MAX_INITRDS];
	unsigned int nr_initrds;
	const char *restore, *identity;
	const char *template_out; /* boot to ainit's template point and store it there */
	/* "DIR:rw" or "DIR:ro": a host directory is the guest's root (arrow-oci's rootfs) */
	const char *root_share;
	const char *volumes[ARROWH_MAX_VOLUMES]; /* "HOST:TAG[:ro]", checked by the caller */
	unsigned int nr_volumes;

	uint64_t memory_mib;
	unsigned int cpus;
	unsigned int boot_timeout_s;
	const char *state_dir;
	const char *vsock_uds;   /* NULL: no vsock device */
	uint64_t log_max_size;   /* 0: arrowh's default */
	unsigned int log_max_files;
	const char *cmdline;     /* extra kernel command line */
	const char *cgroup;      /* a cgroup directory arrowh moves into, or NULL */

	bool remove, tty, detached, attach_stdin, debug_console;
	bool hold; /* boot and set up, run the app on a start request (arrow-oci create/start) */
	bool timing;
	uint64_t t0; /* --timing's origin (CLOCK_MONOTONIC ns) */
	bool no_sandbox;       /* --no-sandbox: no jail, no filter (the caller warns) */
	bool seccomp_selftest; /* tests only */

	/* the NIC: a tap descriptor, or passt's stream socket (rootless); -1 for none */
	int tap_fd, net_stream_fd;
	const char *mac;
	/* when the Arrow ends, `BINDIR/arrow _release ID` gives its address and ports back */
	const char *release_id;
};

/* arrowh's argv, and the text its numbers point into. */
struct arrowh_argv {
	const char *v[ARROWH_ARGV_MAX + 1];
	int n;
	char mem[32], cpus[16], t0[32], timeout[16], logsize[32], logfiles[16], fd[16];
	char jail[32], ready[16];
	char release[4096];
};

/* An empty description: no NIC, no descriptors. */
void arrowh_desc_init(struct arrowh_desc *d);
/* argv from d (argv[0] "arrowh", NULL-terminated): 0, or -E2BIG / -EINVAL (nothing to boot). */
int arrowh_argv_build(const struct arrowh_desc *d, struct arrowh_argv *a);
/* Append "OPT VALUE" (VALUE may be NULL) after building: 0 or -E2BIG. */
int arrowh_argv_add(struct arrowh_argv *a, const char *opt, const char *value);

/*
 * Seconds a boot may take to reach ainit (arrowh --boot-timeout): explicit_s when >= 0,
 * else $ARROW_BOOT_TIMEOUT, else 60 s — a real KVM boots in well under a second, so only a
 * stuck guest takes that long — and 600 s inside the machine-mode helper VM, where every
 * exit is emulated and twenty concurrent boots take minutes. *env_ignored (if given) is set
 * when $ARROW_BOOT_TIMEOUT was there but not 0 to 86400.
 */
unsigned int arrowh_boot_timeout(int explicit_s, bool *env_ignored);
/* ARROW_NO_SANDBOX=1 in the environment (the debugging escape hatch). */
bool arrowh_no_sandbox_env(void);
/* The arrowh binary ($ARROW_ARROWH, else BINDIR/arrowh) into out: 0, or -errno if unusable. */
int arrowh_find(char *out, size_t len);
/* The guest kernel: LIBDIR/vmlinux-net for an Arrow with a NIC, else LIBDIR/vmlinux. */
void arrowh_kernel_path(bool with_nic, char *out, size_t len);

#endif
