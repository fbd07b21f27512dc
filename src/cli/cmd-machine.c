// SPDX-License-Identifier: MIT
/*
 * arrow machine: run a command inside a helper VM whose kernel offers a real
 * /dev/kvm, for hosts where KVM is hidden or paravirtual (kvm-pvm). QEMU boots
 * the helper kernel; the host's / is shared read-only and the working
 * directory read-write over virtio-9p; the command's stdout and stderr come
 * back on two virtio-console ports; its exit status through a control share.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <poll.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/*
 * tsc=reliable: under TCG's load the timer interrupts the clocksource watchdog compares the
 * TSC against come late, so the helper kernel marked the TSC unstable and fell back to
 * jiffies, after which its guests' sleeps stalled for minutes (docs/machine.md).
 */
#define HELPER_CMDLINE                                                                        \
	" oops=panic apparmor=0 audit=0 mitigations=off init_on_alloc=0 nokaslr preempt=none " \
	"tsc=reliable"
#include "common/kvmprobe.h"
#include "lib/state/paths.h"
#include "lib/launch/runopts.h"

extern char **environ;

/*
 * The host's TSC rate in kHz, measured against CLOCK_MONOTONIC_RAW over about 20 ms;
 * 0 if it cannot be measured. Under TCG the helper's TSC is the host's (QEMU's rdtsc
 * returns the host's counter), so this is the helper's TSC rate too.
 */
static unsigned long host_tsc_khz(void)
{
#if defined(__x86_64__)
	struct timespec a, b;
	unsigned long long t0, t1;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC_RAW, &a);
	t0 = __builtin_ia32_rdtsc();
	nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	t1 = __builtin_ia32_rdtsc();
	clock_gettime(CLOCK_MONOTONIC_RAW, &b);
	ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	if (ns <= 0 || t1 <= t0)
		return 0;
	return (unsigned long)((t1 - t0) * 1000000ULL / (unsigned long long)ns);
#else
	return 0;
#endif
}

static const char usage[] =
	"Usage: arrow machine [OPTIONS] -- COMMAND [ARGS...]\n"
	"Run COMMAND inside the helper VM (QEMU; KVM when it works, else software emulation\n"
	"with emulated AMD SVM) whose kernel provides /dev/kvm. The host's / is visible\n"
	"read-only, the working directory read-write; output streams back and the exit\n"
	"status is COMMAND's.\n"
	"\n"
	"Options:\n"
	"  -m, --memory SIZE   helper VM memory (default 4g)\n"
	"      --cpus N        helper VM CPUs (default 2)\n"
	"      --tcg           force software emulation even when KVM works\n"
	"      --debug         show the helper kernel's messages on stderr\n"
	"  -h, --help          this text\n";

static pid_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* Quote s for POSIX sh inside single quotes. */
static void put_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

static bool env_name_ok(const char *kv)
{
	const char *eq = strchr(kv, '=');

	if (!eq || eq == kv || (kv[0] >= '0' && kv[0] <= '9'))
		return false;
	for (const char *p = kv; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return strncmp(kv, "PWD=", 4) && strncmp(kv, "OLDPWD=", 7) && strncmp(kv, "SHLVL=", 6) &&
	       strncmp(kv, "_=", 2);
}

/* DIR/NAME holds TEXT and a newline (the helper's init reads these with cat). */
static int write_line(const char *dir, const char *name, const char *text)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", text);
	return fclose(f) ? -errno : 0;
}

static int write_script(const char *dir, const char *cwd, char *const *cmd)
{
	char epoch[32];
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/run.sh", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs("# written by arrow machine\n", f);
	for (char **e = environ; *e; e++) {
		if (!env_name_ok(*e))
			continue;
		fputs("export ", f);
		put_quoted(f, *e);
		fputc('\n', f);
	}
	/* The host's home is read-only in here: keep Arrow's cache on the helper's tmpfs. */
	fputs("export ARROW_IN_MACHINE=1\n", f);
	fputs("[ -n \"$ARROW_CACHE\" ] || export ARROW_CACHE=/tmp/arrow-cache\n", f);
	/* the host's / is read-only in there: snapshots and images live (and die) with the helper VM */
	fputs("[ -n \"$ARROW_SNAPSHOTS\" ] || export ARROW_SNAPSHOTS=/tmp/arrow-snapshots\n", f);
	fputs("[ -n \"$ARROW_IMAGES\" ] || export ARROW_IMAGES=/tmp/arrow-images\n", f);
	fputs("cd ", f);
	put_quoted(f, cwd);
	fputs(" || exit 125\nexec", f);
	for (; *cmd; cmd++) {
		fputc(' ', f);
		put_quoted(f, *cmd);
	}
	fputc('\n', f);
	if (fclose(f))
		return -errno;
	if (write_line(dir, "cwd", cwd))
		return -errno;
	/* The helper has no RTC: it takes the host's time from here. */
	snprintf(epoch, sizeof(epoch), "%lld", (long long)time(NULL));
	return write_line(dir, "epoch", epoch);
}

static bool copy_once(int from, int to)
{
	char buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	for (ssize_t done = 0; done < n;) {
		ssize_t w = write(to, buf + done, (size_t)(n - done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return true; /* our reader left: keep draining so QEMU never blocks */
		done += w;
	}
	return true;
}

/* Copy the helper's stdout and stderr to ours until QEMU closes both. */
static void relay(int out, int err)
{
	struct pollfd p[2] = { { .fd = out, .events = POLLIN }, { .fd = err, .events = POLLIN } };

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !copy_once(p[i].fd, i ? STDERR_FILENO : STDOUT_FILENO)) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		}
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The last lines the helper kernel printed (its warnings and panics), on stderr. */
static void show_console_tail(const char *dir)
{
	char path[4200], buf[4096];
	ssize_t len;
	off_t size;
	int fd;

	snprintf(path, sizeof(path), "%s/console.log", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	len = size > 0 ? pread(fd, buf, sizeof(buf), size > (off_t)sizeof(buf) ? size - (off_t)sizeof(buf) : 0) : 0;
	close(fd);
	if (len <= 0) {
		fputs("arrow machine: the helper kernel printed no warning or panic\n", stderr);
		return;
	}
	fputs("arrow machine: the helper kernel's last console output:\n", stderr);
	fwrite(buf, 1, (size_t)len, stderr);
	if (buf[len - 1] != '\n')
		fputc('\n', stderr);
}

static int read_status(const char *dir)
{
	char path[4200];
	FILE *f;
	int status = -1;

	snprintf(path, sizeof(path), "%s/status", dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &status) != 1)
		status = -1;
	fclose(f);
	return status;
}

int cmd_machine(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "memory", required_argument, NULL, 'm' }, { "cpus", required_argument, NULL, 'c' },
		{ "tcg", no_argument, NULL, 't' },          { "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	char ctl[] = "/tmp/arrow-machine.XXXXXX";
	char cwd[4096], kernel[4200], initrd[4200], mem[32], fs_ctl[4300], fs_work[8300];
	char modules[4200], modules_abs[PATH_MAX];
	char chr_out[64], chr_err[64], console[4300];
	int po[2], pe[2];
	const char *qemu_argv[64];
	uint64_t memory = 4096;
	unsigned long cpus = 2;
	bool tcg = false, debug = false, share_cwd;
	const char *why;
	char *qemu;
	int c, n = 0, status, wstatus;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+m:h", options, NULL)) != -1) {
		switch (c) {
		case 'm':
			memory = runopts_parse_memory(optarg);
			if (memory < 512) {
				fprintf(stderr, "arrow machine: invalid --memory '%s' (at least 512m)\n", optarg);
				return EXIT_ARROW_ERROR;
			}
			break;
		case 'c':
			cpus = strtoul(optarg, NULL, 10);
			if (cpus < 1 || cpus > 16) {
				fprintf(stderr, "arrow machine: invalid --cpus '%s' (1-16)\n", optarg);
				return EXIT_ARROW_ERROR;
			}
			break;
		case 't':
			tcg = true;
			break;
		case 'd':
			debug = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr, "arrow machine: unknown option '%s'\nSee 'arrow machine --help'.\n",
				argv[optind - 1]);
			return EXIT_ARROW_ERROR;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "arrow machine: give a command to run: arrow machine -- COMMAND [ARGS...]\n");
		return EXIT_ARROW_ERROR;
	}

	qemu = find_program("qemu-system-x86_64");
	if (!qemu) {
		fprintf(stderr, "arrow machine: qemu-system-x86_64 not found; apt-get install qemu-system-x86\n");
		return EXIT_ARROW_ERROR;
	}
	snprintf(kernel, sizeof(kernel), "%s/machine/bzImage", arrow_libdir());
	snprintf(initrd, sizeof(initrd), "%s/machine/initramfs.cpio", arrow_libdir());
	snprintf(modules, sizeof(modules), "%s/machine/modules", arrow_libdir());
	if (access(kernel, R_OK) || access(initrd, R_OK) || !realpath(modules, modules_abs)) {
		fprintf(stderr, "arrow machine: helper kernel, modules or initramfs missing under %s/machine; run make\n",
			arrow_libdir());
		return EXIT_ARROW_ERROR;
	}
	if (!getcwd(cwd, sizeof(cwd)) || !mkdtemp(ctl)) {
		fprintf(stderr, "arrow machine: %s\n", strerror(errno));
		return EXIT_ARROW_ERROR;
	}
	if (write_script(ctl, cwd, argv + optind) || write_line(ctl, "modules", modules_abs)) {
		fprintf(stderr, "arrow machine: cannot write to %s\n", ctl);
		nftw(ctl, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		return EXIT_ARROW_ERROR;
	}
	share_cwd = strcmp(cwd, "/") != 0 && !strchr(cwd, ',');
	if (share_cwd) {
		char flag[4200];
		FILE *f;

		snprintf(flag, sizeof(flag), "%s/share-cwd", ctl);
		f = fopen(flag, "w");
		if (f)
			fclose(f);
	}

	why = kvm_unusable_reason();
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)memory);
	snprintf(fs_ctl, sizeof(fs_ctl), "local,id=ctl,path=%s,security_model=none", ctl);
	snprintf(fs_work, sizeof(fs_work), "local,id=work,path=%s,security_model=none,multidevs=remap",
		 cwd);
	qemu_argv[n++] = "qemu-system-x86_64";
	qemu_argv[n++] = "-M";
	/* ACPI describes the virtio-mmio devices to the kernel (its virtio_mmio module). */
	qemu_argv[n++] = "microvm,acpi=on,rtc=off";
	if (why || tcg) {
		qemu_argv[n++] = "-accel";
		qemu_argv[n++] = "tcg,thread=multi";
		qemu_argv[n++] = "-cpu";
		qemu_argv[n++] = "max,+svm";
	} else {
		qemu_argv[n++] = "-accel";
		qemu_argv[n++] = "kvm";
		qemu_argv[n++] = "-cpu";
		qemu_argv[n++] = "host";
	}
	{
		static char smp[16];

		snprintf(smp, sizeof(smp), "%lu", cpus);
		qemu_argv[n++] = "-smp";
		qemu_argv[n++] = smp;
	}
	qemu_argv[n++] = "-m";
	qemu_argv[n++] = mem;
	qemu_argv[n++] = "-nodefaults";
	qemu_argv[n++] = "-no-user-config";
	qemu_argv[n++] = "-display";
	qemu_argv[n++] = "none";
	qemu_argv[n++] = "-no-reboot";
	/*
	 * The helper kernel's console: all of it on stderr with --debug; otherwise
	 * (loglevel quiet: warnings, oopses, panics) in a file shown only when the
	 * helper stops without a result.
	 */
	snprintf(console, sizeof(console), "file:%s/console.log", ctl);
	qemu_argv[n++] = "-serial";
	qemu_argv[n++] = debug ? "file:/proc/self/fd/2" : console;
	qemu_argv[n++] = "-kernel";
	qemu_argv[n++] = kernel;
	qemu_argv[n++] = "-initrd";
	qemu_argv[n++] = initrd;
	qemu_argv[n++] = "-append";
	/*
	 * Under TCG the helper kernel calibrates its TSC against the PIT only (microvm has
	 * no HPET or PM timer); when the host is busy that fails ("tsc: Unable to calibrate
	 * against PIT ... could not calculate TSC khz"), tsc_khz stays 0 and so does KVM's
	 * per-CPU cpu_tsc_khz (the emulated CPU has no constant_tsc): kvm_guest_time_update()
	 * then re-requests KVM_REQ_CLOCK_UPDATE forever and no guest ever runs its first
	 * instruction, the "bad session" of docs/machine.md. Tell the helper the rate.
	 */
	{
		static char append[320];
		unsigned long khz = why || tcg ? host_tsc_khz() : 0;
		/*
		 * Debian's packaged kernel (machine/kernel.sh), set to behave like a lean
		 * test machine: panic on oops; no AppArmor (podman and dockerd would try to
		 * load profiles the helper does not have); no speculation mitigations,
		 * zeroing of every allocation or kernel address randomisation, each of
		 * which costs time under emulation and only ever runs our own tests.
		 */
		const char *base = debug ? "console=ttyS0 panic=-1 reboot=t" HELPER_CMDLINE
					 : "console=ttyS0 quiet panic=-1 reboot=t" HELPER_CMDLINE;

		if (khz)
			snprintf(append, sizeof(append), "%s tsc_early_khz=%lu", base, khz);
		else
			snprintf(append, sizeof(append), "%s", base);
		qemu_argv[n++] = append;
	}
	qemu_argv[n++] = "-fsdev";
	qemu_argv[n++] = "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap";
	qemu_argv[n++] = "-device";
	qemu_argv[n++] = "virtio-9p-device,fsdev=hostroot,mount_tag=hostroot";
	qemu_argv[n++] = "-fsdev";
	qemu_argv[n++] = fs_ctl;
	qemu_argv[n++] = "-device";
	qemu_argv[n++] = "virtio-9p-device,fsdev=ctl,mount_tag=ctl";
	if (share_cwd) {
		qemu_argv[n++] = "-fsdev";
		qemu_argv[n++] = fs_work;
		qemu_argv[n++] = "-device";
		qemu_argv[n++] = "virtio-9p-device,fsdev=work,mount_tag=work";
	}
	qemu_argv[n++] = "-device";
	qemu_argv[n++] = "virtio-serial-device,max_ports=4";
	qemu_argv[n++] = "-chardev";
	qemu_argv[n++] = chr_out;
	qemu_argv[n++] = "-device";
	qemu_argv[n++] = "virtserialport,chardev=out,name=stdout";
	qemu_argv[n++] = "-chardev";
	qemu_argv[n++] = chr_err;
	qemu_argv[n++] = "-device";
	qemu_argv[n++] = "virtserialport,chardev=err,name=stderr";
	qemu_argv[n] = NULL;

	if (getenv("ARROW_MACHINE_VERBOSE"))
		fprintf(stderr, "arrow machine: %s\n", why || tcg ? "software emulation (TCG) with emulated SVM" : "KVM");

	/*
	 * QEMU's file chardev reopens its path: a pipe of ours keeps the caller's
	 * stdout and stderr offsets and modes intact whatever they are.
	 */
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		fprintf(stderr, "arrow machine: pipe: %s\n", strerror(errno));
		status = EXIT_ARROW_ERROR;
		goto out;
	}
	snprintf(chr_out, sizeof(chr_out), "file,id=out,path=/proc/self/fd/%d", po[1]);
	snprintf(chr_err, sizeof(chr_err), "file,id=err,path=/proc/self/fd/%d", pe[1]);

	signal(SIGINT, forward);
	signal(SIGTERM, forward);
	signal(SIGHUP, forward);
	child_pid = fork();
	if (child_pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		fcntl(po[1], F_SETFD, 0);
		fcntl(pe[1], F_SETFD, 0);
		{
			int null = open("/dev/null", O_RDONLY);

			if (null >= 0 && null != 0) {
				dup2(null, 0);
				close(null);
			}
		}
		execv(qemu, (char *const *)qemu_argv);
		fprintf(stderr, "arrow machine: cannot run %s: %s\n", qemu, strerror(errno));
		_exit(EXIT_ARROW_ERROR);
	}
	if (child_pid < 0) {
		fprintf(stderr, "arrow machine: fork: %s\n", strerror(errno));
		status = EXIT_ARROW_ERROR;
		goto out;
	}
	close(po[1]);
	close(pe[1]);
	relay(po[0], pe[0]);
	while (waitpid(child_pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	status = read_status(ctl);
	if (status < 0) {
		if (WIFSIGNALED(wstatus)) {
			status = 128 + WTERMSIG(wstatus);
		} else {
			fprintf(stderr, "arrow machine: the helper VM stopped without a result "
					"(QEMU exit %d; try --debug)\n", WEXITSTATUS(wstatus));
			show_console_tail(ctl);
			status = EXIT_ARROW_ERROR;
		}
	}
out:
	nftw(ctl, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(qemu);
	return status;
}
