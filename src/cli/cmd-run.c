// SPDX-License-Identifier: MIT
/* arrow run: check the program, assemble the initramfs pieces, exec arrowh. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/protocol.h"
#include "common/runcfg.h"
#include "lib/elfinfo.h"
#include "lib/paths.h"
#include "lib/piece.h"
#include "lib/runopts.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char base_passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
				  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
static const char base_group[] = "root:x:0:\nnogroup:x:65534:\n";
static const char base_hosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost\n";

char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL;

	if (strchr(name, '/'))
		return access(name, F_OK) == 0 ? strdup(name) : NULL;
	copy = strdup(path && *path ? path : DEFAULT_PATH);
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char *cand;
		struct stat st;

		if (asprintf(&cand, "%s/%s", *dir ? dir : ".", name) < 0)
			break;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			found = cand;
		else
			free(cand);
	}
	free(copy);
	return found;
}

/* 0 if the program can run as an Arrow; else prints why and returns the exit code. */
static int check_program(const char *name, const char *path)
{
	struct elf_info info;
	struct stat st;
	int ret;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "arrow: %s: %s\n", name, strerror(errno));
		return errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "arrow: %s is not a regular file\n", name);
		return EXIT_CANNOT_INVOKE;
	}
	if (access(path, X_OK) < 0) {
		fprintf(stderr, "arrow: %s is not executable (permission denied)\n", name);
		return EXIT_CANNOT_INVOKE;
	}
	ret = elfinfo_file(path, &info);
	if (ret) {
		fprintf(stderr, "arrow: cannot read %s: %s\n", name, strerror(-ret));
		return EXIT_CANNOT_INVOKE;
	}
	switch (info.kind) {
	case ELF_STATIC:
		return 0;
	case ELF_DYNAMIC:
		fprintf(stderr,
			"arrow: %s is dynamically linked (needs %s); an Arrow runs a statically linked "
			"program: link it statically (e.g. musl-gcc -static)\n",
			name, info.interp[0] ? info.interp : "an ELF interpreter");
		return EXIT_CANNOT_INVOKE;
	case ELF_SCRIPT:
		fprintf(stderr, "arrow: %s is a script; an Arrow runs a statically linked ELF program "
				"(run its interpreter, e.g. a static busybox sh, with the script)\n", name);
		return EXIT_CANNOT_INVOKE;
	case ELF_WRONG_ARCH:
		fprintf(stderr, "arrow: %s is not an x86-64 program\n", name);
		return EXIT_CANNOT_INVOKE;
	default:
		fprintf(stderr, "arrow: %s is not an executable ELF program\n", name);
		return EXIT_CANNOT_INVOKE;
	}
}

static bool env_has(const struct run_opts *o, const char *key)
{
	size_t n = strlen(key);

	for (unsigned int i = 0; i < o->nr_env; i++)
		if (!strncmp(o->env[i], key, n) && (o->env[i][n] == '=' || o->env[i][n] == '\0'))
			return true;
	return false;
}

static int build_config(const struct run_opts *o, const char *guest_prog, const char *argv0,
			char **buf, size_t *len)
{
	const char *hostname = o->hostname ? o->hostname : "arrow";
	char *kv = NULL;
	int ret = 0;

	*buf = NULL;
	*len = 0;
	ret |= runcfg_append(buf, len, RUNCFG_PROGRAM, guest_prog);
	ret |= runcfg_append(buf, len, RUNCFG_ARG, argv0);
	for (int i = 0; i < o->nr_args; i++)
		ret |= runcfg_append(buf, len, RUNCFG_ARG, o->args[i]);
	if (!env_has(o, "PATH"))
		ret |= runcfg_append(buf, len, RUNCFG_ENV, "PATH=" DEFAULT_PATH);
	if (!env_has(o, "HOSTNAME") && asprintf(&kv, "HOSTNAME=%s", hostname) > 0) {
		ret |= runcfg_append(buf, len, RUNCFG_ENV, kv);
		free(kv);
	}
	if (!env_has(o, "HOME"))
		ret |= runcfg_append(buf, len, RUNCFG_ENV, "HOME=/root");
	for (unsigned int i = 0; i < o->nr_env; i++) {
		const char *value;

		if (strchr(o->env[i], '=')) {
			ret |= runcfg_append(buf, len, RUNCFG_ENV, o->env[i]);
			continue;
		}
		value = getenv(o->env[i]); /* KEY alone: copied from here when set, as docker does */
		if (value && asprintf(&kv, "%s=%s", o->env[i], value) > 0) {
			ret |= runcfg_append(buf, len, RUNCFG_ENV, kv);
			free(kv);
		}
	}
	ret |= runcfg_append(buf, len, RUNCFG_WORKDIR, o->workdir ? o->workdir : "/");
	ret |= runcfg_append(buf, len, RUNCFG_HOSTNAME, hostname);
	return ret ? -ENOMEM : 0;
}

/* Base piece: directory skeleton, /dev/console, /etc basics and ainit as /init. */
static int base_piece(const char *cache, const void *ainit, size_t ainit_len, char **path)
{
	const struct piece_file files[] = {
		{ "dev", S_IFDIR | 0755 },
		{ "dev/console", S_IFCHR | 0600, .rdev_major = 5, .rdev_minor = 1 },
		{ "proc", S_IFDIR | 0555 },
		{ "sys", S_IFDIR | 0555 },
		{ "tmp", S_IFDIR | 01777 },
		{ "run", S_IFDIR | 0755 },
		{ "root", S_IFDIR | 0700 },
		{ "app", S_IFDIR | 0755 },
		{ ".arrow", S_IFDIR | 0700 },
		{ "etc", S_IFDIR | 0755 },
		{ "etc/passwd", S_IFREG | 0644, base_passwd, sizeof(base_passwd) - 1 },
		{ "etc/group", S_IFREG | 0644, base_group, sizeof(base_group) - 1 },
		{ "etc/hosts", S_IFREG | 0644, base_hosts, sizeof(base_hosts) - 1 },
		{ "init", S_IFREG | 0755, ainit, ainit_len },
	};

	return piece_cached(cache, files, sizeof(files) / sizeof(files[0]), path);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cmd_run(int argc, char *argv[])
{
	uint64_t t0 = now_ns();
	struct run_opts o;
	char err[512], kernel[4096], ainit_path[4096], arrowh[4096];
	char *prog_path, *base = NULL, *prog = NULL, *config = NULL, *cfgbuf, *guest_prog;
	char *prog_copy, *argv0, mem[32], cpus[16], t0s[32];
	void *ainit_data, *prog_data;
	size_t ainit_len, prog_len, cfglen;
	const char *cache = arrow_cache_dir();
	const char *hv[32];
	int n = 0, ret;

	if (runopts_parse(&o, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "arrow run: %s\nSee 'arrow run --help'.\n", err);
		return EXIT_ARROW_ERROR;
	}
	if (o.help) {
		fputs(runopts_usage, stdout);
		return 0;
	}

	prog_path = find_program(o.program);
	if (!prog_path) {
		fprintf(stderr, "arrow: %s: program not found%s\n", o.program,
			strchr(o.program, '/') ? "" : " in $PATH");
		return EXIT_NOT_FOUND;
	}
	ret = check_program(o.program, prog_path);
	if (ret)
		return ret;

	snprintf(kernel, sizeof(kernel), "%s", o.kernel ? o.kernel : "");
	if (!o.kernel)
		snprintf(kernel, sizeof(kernel), "%s/vmlinux", arrow_libdir());
	if (access(kernel, R_OK) < 0) {
		fprintf(stderr, "arrow: guest kernel %s: %s; build it with 'make' or pass --kernel PATH\n",
			kernel, strerror(errno));
		return EXIT_ARROW_ERROR;
	}
	snprintf(ainit_path, sizeof(ainit_path), "%s/ainit", arrow_libdir());
	/* ARROW_ARROWH: another hypervisor binary (development, benchmarks). */
	if (getenv("ARROW_ARROWH") && *getenv("ARROW_ARROWH"))
		snprintf(arrowh, sizeof(arrowh), "%s", getenv("ARROW_ARROWH"));
	else
		snprintf(arrowh, sizeof(arrowh), "%s/arrowh", arrow_bindir());
	if (access(arrowh, X_OK) < 0) {
		fprintf(stderr, "arrow: %s is missing; reinstall arrow\n", arrowh);
		return EXIT_ARROW_ERROR;
	}

	ret = read_whole_file(ainit_path, &ainit_data, &ainit_len);
	if (ret) {
		fprintf(stderr, "arrow: %s: %s; reinstall arrow\n", ainit_path, strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	ret = read_whole_file(prog_path, &prog_data, &prog_len);
	if (ret) {
		fprintf(stderr, "arrow: cannot read %s: %s\n", prog_path, strerror(-ret));
		return EXIT_CANNOT_INVOKE;
	}

	prog_copy = strdup(prog_path);
	argv0 = basename(prog_copy);
	if (asprintf(&guest_prog, "/app/%s", argv0) < 0)
		return EXIT_ARROW_ERROR;
	ret = base_piece(cache, ainit_data, ainit_len, &base);
	if (!ret) {
		const struct piece_file pf[] = {
			{ "app", S_IFDIR | 0755 },
			{ guest_prog + 1, S_IFREG | 0755, prog_data, prog_len },
		};
		ret = piece_cached(cache, pf, 2, &prog);
	}
	if (!ret)
		ret = build_config(&o, guest_prog, argv0, &cfgbuf, &cfglen);
	if (!ret) {
		const struct piece_file cf[] = {
			{ ".arrow", S_IFDIR | 0700 },
			{ ARROW_CONFIG_PATH + 1, S_IFREG | 0600, cfgbuf, cfglen },
		};
		ret = piece_memfd(cf, 2, &config);
	}
	if (ret) {
		fprintf(stderr, "arrow: cannot assemble the initramfs: %s\n", strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	free(prog_data);
	free(ainit_data);

	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)o.memory_mib);
	snprintf(cpus, sizeof(cpus), "%u", o.cpus);
	snprintf(t0s, sizeof(t0s), "%llu", (unsigned long long)t0);
	hv[n++] = "arrowh";
	hv[n++] = "--kernel";
	hv[n++] = kernel;
	hv[n++] = "--initrd";
	hv[n++] = base;
	hv[n++] = "--initrd";
	hv[n++] = prog;
	hv[n++] = "--initrd";
	hv[n++] = config;
	hv[n++] = "--memory";
	hv[n++] = mem;
	hv[n++] = "--cpus";
	hv[n++] = cpus;
	if (o.timing) {
		hv[n++] = "--timing";
		hv[n++] = "--t0";
		hv[n++] = t0s;
	}
	if (o.debug_console)
		hv[n++] = "--debug-console";
	if (o.kernel_args) {
		hv[n++] = "--cmdline";
		hv[n++] = o.kernel_args;
	}
	hv[n] = NULL;
	/* arrowh takes over this process: signals, stdio and the exit status are its. */
	execv(arrowh, (char *const *)hv);
	fprintf(stderr, "arrow: cannot start %s: %s\n", arrowh, strerror(errno));
	return EXIT_ARROW_ERROR;
}
