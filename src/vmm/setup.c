// SPDX-License-Identifier: MIT
/* Building an Arrow's VM from the configuration, in a visible order. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "arch/x86/mptable.h"
#include "common/cgroup.h"
#include "common/statedir.h"
#include "common/streamrec.h"
#include "fdlimit.h"
#include "jail.h"
#include "p9/sidecar.h"
#include "session.h"
#include "snapshot.h"

#define EXIT_ARROW_ERROR 125
#define GUEST_MIN_FREE (24ull << 20) /* kernel working memory at boot */

static void klog_sink(void *opaque, const struct iovec *iov, unsigned int n, size_t len)
{
	struct session *s = opaque;

	(void)len;
	if (s->klog_fd >= 0 && writev(s->klog_fd, iov, (int)n) < 0) {
		close(s->klog_fd);
		s->klog_fd = -1;
	}
	for (unsigned int i = 0; i < n; i++)
		for (size_t j = 0; j < iov[i].iov_len; j++)
			s->klog[s->klog_total++ % KLOG_SIZE] = ((char *)iov[i].iov_base)[j];
}

static void fd_sink_write(void *opaque, const struct iovec *iov, unsigned int n, size_t len)
{
	struct fd_sink *sink = opaque;
	struct iovec local[VIRTQ_MAX_SEGS];
	unsigned int first = 0;

	(void)len;
	if (sink->broken || n > VIRTQ_MAX_SEGS)
		return;
	memcpy(local, iov, n * sizeof(*iov));
	while (first < n) {
		ssize_t w = writev(sink->fd, local + first, (int)(n - first));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			fd_set wfds;

			FD_ZERO(&wfds);
			FD_SET(sink->fd, &wfds);
			select(sink->fd + 1, NULL, &wfds, NULL, NULL);
			continue;
		}
		if (w <= 0) {
			sink->broken = true; /* EPIPE and friends: the reader is gone */
			return;
		}
		while (first < n && (size_t)w >= local[first].iov_len)
			w -= (ssize_t)local[first++].iov_len;
		if (first < n) {
			local[first].iov_base = (char *)local[first].iov_base + w;
			local[first].iov_len -= (size_t)w;
		}
	}
}

static void app_stream_sink(void *opaque, const struct iovec *iov, unsigned int n, size_t len)
{
	struct app_stream *as = opaque;

	if (!as->s->cfg->detached)
		fd_sink_write(&as->fd, iov, n, len);
	if (as->s->managed) {
		logfile_write(&as->s->log, as->stream, iov, n, len);
		hub_broadcast(&as->s->hub, as->stream, iov, n, len);
	}
}

static void control_handler(void *opaque, const struct arrow_ctl_msg *m)
{
	struct session *s = opaque;

	switch (m->type) {
	case ARROW_CTL_HELLO:
		if (!s->t_hello) {
			s->t_hello = monotonic_ns();
			s->guest_hello_ns = m->value;
			kvmstats_mark(&s->stats, KVMSTATS_HELLO);
		}
		break;
	case ARROW_CTL_EXEC:
		s->t_exec = monotonic_ns();
		s->app_started = true;
		kvmstats_mark(&s->stats, KVMSTATS_EXEC);
		break;
	case ARROW_CTL_TEMPLATE:
		if (s->cfg->template_out) {
			uint64_t one = 1;

			/* the main thread takes the snapshot: a vCPU cannot pause itself */
			__atomic_store_n(&s->template_ready, true, __ATOMIC_SEQ_CST);
			if (write(s->wake_fd, &one, sizeof(one)) < 0)
				perror("arrowh: wake");
		}
		break;
	case ARROW_CTL_READY:
		if (s->cfg->hold && !__atomic_load_n(&s->gate_ready, __ATOMIC_ACQUIRE)) {
			uint64_t one = 1;

			/* the main thread tells the caller (--ready-fd) and serves the start */
			__atomic_store_n(&s->gate_ready, true, __ATOMIC_SEQ_CST);
			if (write(s->wake_fd, &one, sizeof(one)) < 0)
				perror("arrowh: wake");
		}
		break;
	case ARROW_CTL_EXIT:
		if (s->app_exited)
			break;
		s->t_exit = monotonic_ns();
		kvmstats_mark(&s->stats, KVMSTATS_EXIT);
		s->app_exited = true;
		s->app_status = (int)m->arg;
		vm_request_stop(&s->vm, VM_STOP_APP_EXIT);
		break;
	}
}

static void control_sink(void *opaque, const struct iovec *iov, unsigned int n, size_t len)
{
	struct session *s = opaque;

	(void)len;
	ctl_stream_feed(&s->ctl, iov, n);
}

static void mmio_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	virtio_mmio_read(opaque, off, data, len);
}

static void mmio_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	virtio_mmio_write(opaque, off, data, len);
}

/* Port 0x64, the i8042 command port: 0xfe pulses the reset line (reboot=k). */
static void i8042_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct session *s = opaque;

	if (off == 0 && len == 1 && *(const uint8_t *)data == 0xfe) {
		const char *none = NULL;

		__atomic_compare_exchange_n(&s->vm.reset_kind, &none,
					    "reset request (a kernel panic, or ainit gave up)", false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		vm_request_stop(&s->vm, VM_STOP_GUEST_RESET);
	}
}

static void i8042_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

static int load_initrds(struct session *s, uint64_t kernel_end, uint64_t *gpa, uint64_t *size)
{
	const struct arrowh_config *cfg = s->cfg;
	int fds[ARROWH_MAX_INITRDS];
	uint64_t sizes[ARROWH_MAX_INITRDS];
	uint64_t total = 0, at;
	int ret = EXIT_ARROW_ERROR;
	unsigned int i;

	for (i = 0; i < cfg->nr_initrds; i++) {
		struct stat st;

		fds[i] = open(cfg->initrds[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0 || fstat(fds[i], &st) < 0) {
			fprintf(stderr, "arrowh: cannot read initramfs piece %s: %s\n",
				cfg->initrds[i], strerror(errno));
			goto out;
		}
		sizes[i] = (uint64_t)st.st_size;
		total = (total + 3) & ~3ull; /* pieces start 4-byte aligned */
		total += sizes[i];
	}
	if (boot_initrd_place(&s->vm.gm, kernel_end, total, &at)) {
		fprintf(stderr, "arrowh: the initramfs (%llu MiB) does not fit in guest memory; "
				"raise --memory\n", (unsigned long long)(total >> 20));
		goto out;
	}
	*gpa = at;
	*size = total;
	for (i = 0; i < cfg->nr_initrds; i++) {
		uint8_t *dst;
		uint64_t done = 0;

		at = (at + 3) & ~3ull;
		dst = gm_ptr(&s->vm.gm, at, sizes[i]);
		if (!dst)
			goto out;
		while (done < sizes[i]) {
			ssize_t n = pread(fds[i], dst + done, sizes[i] - done, (off_t)done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fprintf(stderr, "arrowh: reading %s failed\n", cfg->initrds[i]);
				goto out;
			}
			done += (uint64_t)n;
		}
		at += sizes[i];
	}
	ret = 0;
	i = cfg->nr_initrds;
out:
	while (i-- > 0)
		if (fds[i] >= 0)
			close(fds[i]);
	return ret;
}

/* The NIC: virtio-net on the second device slot, over the caller's tap. */
static int add_net(struct session *s, char *cmdline, size_t cmdlen)
{
	const struct arrowh_config *cfg = s->cfg;
	uint64_t base = MMIO_DEVICES_GPA + VIRTIO_MMIO_SIZE;
	unsigned int irq = FIRST_DEVICE_IRQ + 1;
	uint8_t mac[6];
	int irqfd, ret;

	if (cfg->has_mac) {
		memcpy(mac, cfg->mac, sizeof(mac));
	} else {
		if (getrandom(mac, sizeof(mac), 0) != sizeof(mac))
			return -EIO;
		mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02); /* unicast, locally administered */
	}
	irqfd = vm_irqfd(&s->vm, irq);
	if (irqfd < 0)
		return irqfd;
	virtio_mmio_init(&s->net_mmio, base, irq, irqfd, &s->vm.gm, &vnet_ops, &s->net);
	if (cfg->net_stream_fd >= 0) {
		ret = vnet_init_stream(&s->net, &s->net_mmio, s->tap_fd, mac);
		if (ret == -ENOTSOCK || ret == -EPROTOTYPE)
			fprintf(stderr, "arrowh: --net-stream-fd %d is not a connected unix stream "
					"socket\n", s->tap_fd);
	} else
		ret = vnet_init(&s->net, &s->net_mmio, s->tap_fd, mac);
	if (ret)
		return ret;
	ret = bus_add(&s->vm.mmio, base, VIRTIO_MMIO_SIZE, mmio_read, mmio_write, &s->net_mmio);
	if (ret)
		return ret;
	/*
	 * Kicks as eventfds: KVM completes the guest's QueueNotify write itself and wakes the
	 * device thread, instead of an exit to arrowh per kick. Without them (an old KVM), a
	 * kick is an MMIO exit and transmit runs in the vCPU thread, as before.
	 */
	if (vm_ioeventfd(&s->vm, base + VIRTIO_MMIO_QUEUE_NOTIFY, VNET_RXQ, s->net.kick_fd) ||
	    vm_ioeventfd(&s->vm, base + VIRTIO_MMIO_QUEUE_NOTIFY, VNET_TXQ, s->net.tx_kick_fd))
		fprintf(stderr, "arrowh: note: no KVM ioeventfds; the NIC's kicks exit to arrowh\n");
	snprintf(cmdline, cmdlen, " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)base, irq);
	return 0;
}

/* --tap-fd or --tap: a tap with vnet headers, or a clear error. */
static int open_tap(struct session *s)
{
	const struct arrowh_config *cfg = s->cfg;
	int fd = cfg->tap_fd, ret;

	if (cfg->tap_name) {
		fd = vnet_tap_open(cfg->tap_name);
		if (fd < 0) {
			fprintf(stderr, "arrowh: cannot open the tap %s: %s\n", cfg->tap_name,
				strerror(-fd));
			return fd;
		}
	}
	ret = vnet_tap_prepare(fd);
	if (ret) {
		fprintf(stderr, "arrowh: descriptor %d is not a usable tap: %s\n", fd,
			ret == -ENOTTY	 ? "not a tap without packet information (IFF_TAP | IFF_NO_PI)"
			: ret == -EPROTO ? "it was opened without IFF_VNET_HDR"
					 : strerror(-ret));
		if (cfg->tap_name)
			close(fd);
		return ret;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC); /* the exit hook does not inherit it */
	s->tap_fd = fd;
	s->has_net = true;
	return 0;
}

/* --net-stream-fd: the socket passt serves (docs/rootless.md); checked in vnet_init_stream. */
static int open_net_stream(struct session *s)
{
	int fd = s->cfg->net_stream_fd;

	if (fcntl(fd, F_GETFD) < 0) {
		fprintf(stderr, "arrowh: --net-stream-fd %d: %s\n", fd, strerror(errno));
		return -EBADF;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC); /* the exit hook does not inherit it: passt sees the end */
	s->tap_fd = fd;
	s->has_net = true;
	return 0;
}

/* This process's descriptor budget (fdlimit.h): the limit was raised at set-up. */
static struct fdlimit_plan fd_plan(const struct arrowh_config *cfg)
{
	struct rlimit rl;
	unsigned int limit = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		limit = rl.rlim_cur < NOFILE_CEILING ? (unsigned int)rl.rlim_cur : NOFILE_CEILING;
	return fdlimit_plan(limit, cfg->nr_volumes, cfg->vsock_uds != NULL);
}

/* Volume i: virtio-9p after the console and the NIC's slot, IRQs 7 and up. */
static int add_volume(struct session *s, unsigned int i, char *cmdline, size_t cmdlen)
{
	const struct arrowh_volume *v = &s->cfg->volumes[i];
	uint64_t base = MMIO_DEVICES_GPA + (2 + i) * VIRTIO_MMIO_SIZE;
	unsigned int irq = FIRST_DEVICE_IRQ + 2 + i;
	int irqfd, ret;

	irqfd = vm_irqfd(&s->vm, irq);
	if (irqfd < 0)
		return irqfd;
	virtio_mmio_init(&s->vol_mmio[i], base, irq, irqfd, &s->vm.gm, &vp9_ops, &s->vol[i]);
	ret = vp9_init(&s->vol[i], &s->vol_mmio[i], v->path, v->tag, v->read_only);
	if (ret) {
		fprintf(stderr, "arrowh: volume %s: %s\n", v->path, strerror(-ret));
		return ret;
	}
	s->vol[i].server.max_fids = fd_plan(s->cfg).fids_per_volume;
	ret = bus_add(&s->vm.mmio, base, VIRTIO_MMIO_SIZE, mmio_read, mmio_write, &s->vol_mmio[i]);
	if (ret)
		return ret;
	snprintf(cmdline, cmdlen, " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)base, irq);
	return 0;
}

/* --root-share: the sidecar (spawned before guest memory exists) behind a virtio-9p device
 * on the slot after vsock's. */
static int add_root_share(struct session *s, char *cmdline, size_t cmdlen)
{
	uint64_t base = MMIO_DEVICES_GPA + (3 + ARROWH_MAX_VOLUMES) * VIRTIO_MMIO_SIZE;
	unsigned int irq = FIRST_DEVICE_IRQ + 3 + ARROWH_MAX_VOLUMES;
	int irqfd, ret;

	irqfd = vm_irqfd(&s->vm, irq);
	if (irqfd < 0)
		return irqfd;
	virtio_mmio_init(&s->root_mmio, base, irq, irqfd, &s->vm.gm, &vp9_ops, &s->root);
	ret = vp9_init_remote(&s->root, &s->root_mmio, s->root_sock, ARROWH_ROOT_TAG);
	if (ret)
		return ret;
	s->root_sock = -1; /* the device's now */
	ret = bus_add(&s->vm.mmio, base, VIRTIO_MMIO_SIZE, mmio_read, mmio_write, &s->root_mmio);
	if (ret)
		return ret;
	snprintf(cmdline, cmdlen, " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)base, irq);
	return 0;
}

/*
 * A guest connect to the host's port: the unix socket "<--vsock-uds>_<port>". Jailed, the
 * VMM reaches no path and may not make sockets: the supervisor connects and passes the
 * descriptor back over the broker (docs/security.md).
 */
static int vsock_connect_host(void *opaque, uint32_t port)
{
	struct session *s = opaque;
	int fd = -1, ret;

	if (jail_broker_fd < 0)
		return vsock_connect_path(s->cfg->vsock_uds, port);
	/* fails within JAIL_BROKER_TIMEOUT_MS if the supervisor does not answer: a reset */
	ret = jail_request(JAIL_REQ_VSOCK_CONNECT, port, &fd);
	if (ret || fd < 0) {
		if (fd >= 0)
			close(fd);
		return ret ? ret : -EPROTO;
	}
	return fd;
}

/* --vsock-uds: virtio-vsock after the volumes' slots; its listener is made now, before
 * the jail, and is the only socket it ever binds. */
static int add_vsock(struct session *s, char *cmdline, size_t cmdlen)
{
	uint64_t base = MMIO_DEVICES_GPA + (2 + ARROWH_MAX_VOLUMES) * VIRTIO_MMIO_SIZE;
	unsigned int irq = FIRST_DEVICE_IRQ + 2 + ARROWH_MAX_VOLUMES;
	int irqfd, fd, ret;

	fd = vsock_listen(s->cfg->vsock_uds);
	if (fd < 0) {
		fprintf(stderr, "arrowh: cannot listen on %s: %s\n", s->cfg->vsock_uds,
			fd == -EEXIST ? "something that is not a socket is there" : strerror(-fd));
		return fd;
	}
	irqfd = vm_irqfd(&s->vm, irq);
	if (irqfd < 0) {
		close(fd);
		return irqfd;
	}
	virtio_mmio_init(&s->vsock_mmio, base, irq, irqfd, &s->vm.gm, &vsock_ops, &s->vsock);
	s->has_vsock = true;
	ret = vsock_init(&s->vsock, &s->vsock_mmio, VSOCK_GUEST_CID, fd, vsock_connect_host, s);
	if (ret)
		return ret;
	/* min(VSOCK_MAX_CONNS, what the descriptor limit leaves after arrowh's reserve) */
	vsock_set_fd_budget(&s->vsock, fd_plan(s->cfg).vsock_fds);
	ret = bus_add(&s->vm.mmio, base, VIRTIO_MMIO_SIZE, mmio_read, mmio_write, &s->vsock_mmio);
	if (ret)
		return ret;
	/* kicks on any of its three queues wake the device thread without an exit (as the NIC) */
	for (unsigned int q = 0; q < vsock_ops.num_queues; q++)
		if (vm_ioeventfd(&s->vm, base + VIRTIO_MMIO_QUEUE_NOTIFY, q, s->vsock.kick_fd)) {
			fprintf(stderr, "arrowh: note: no KVM ioeventfds; vsock kicks exit to arrowh\n");
			break;
		}
	snprintf(cmdline, cmdlen, " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)base, irq);
	return 0;
}

static int add_devices(struct session *s, char *cmdline, size_t cmdlen)
{
	const struct arrowh_config *cfg = s->cfg;
	int irqfd, ret;
	size_t used = strlen(cmdline);

	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0)
		return -errno;

	/* virtio-console: hvc0 for kernel messages plus the Arrow's named ports. */
	irqfd = vm_irqfd(&s->vm, FIRST_DEVICE_IRQ);
	if (irqfd < 0)
		return irqfd;
	virtio_mmio_init(&s->console_mmio, MMIO_DEVICES_GPA, FIRST_DEVICE_IRQ, irqfd, &s->vm.gm,
			 &vconsole_ops, &s->console);
	vconsole_init(&s->console, &s->console_mmio, s->wake_fd);
	s->out = (struct app_stream){ s, STREAM_STDOUT, { .fd = STDOUT_FILENO } };
	s->err = (struct app_stream){ s, STREAM_STDERR, { .fd = STDERR_FILENO } };
	if (vconsole_add_port(&s->console, "console", true, klog_sink, s) != 0)
		return -EINVAL;
	s->port_stdin = (unsigned int)vconsole_add_port(&s->console, ARROW_PORT_STDIN, false, NULL, s);
	s->port_stdout = (unsigned int)vconsole_add_port(&s->console, ARROW_PORT_STDOUT, false,
							 app_stream_sink, &s->out);
	s->port_stderr = (unsigned int)vconsole_add_port(&s->console, ARROW_PORT_STDERR, false,
							 app_stream_sink, &s->err);
	s->port_control = (unsigned int)vconsole_add_port(&s->console, ARROW_PORT_CONTROL, false,
							  control_sink, s);
	s->port_input = s->port_stdin;
	if (cfg->tty) {
		int port = vconsole_add_port(&s->console, ARROW_PORT_TTY, true, app_stream_sink,
					     &s->out);

		if (port < 0)
			return port;
		s->port_tty = s->port_input = (unsigned int)port;
	}
	ctl_stream_init(&s->ctl, control_handler, s);
	ret = bus_add(&s->vm.mmio, MMIO_DEVICES_GPA, VIRTIO_MMIO_SIZE, mmio_read, mmio_write,
		      &s->console_mmio);
	if (ret)
		return ret;
	used += (size_t)snprintf(cmdline + used, cmdlen - used,
				 " virtio_mmio.device=4K@0x%llx:%d",
				 (unsigned long long)MMIO_DEVICES_GPA, FIRST_DEVICE_IRQ);

	if (s->has_net) {
		ret = add_net(s, cmdline + used, cmdlen - used);
		if (ret)
			return ret;
		used = strlen(cmdline);
	}

	for (unsigned int i = 0; i < cfg->nr_volumes; i++) {
		ret = add_volume(s, i, cmdline + used, cmdlen - used);
		if (ret)
			return ret;
		used = strlen(cmdline);
	}

	if (cfg->vsock_uds) {
		ret = add_vsock(s, cmdline + used, cmdlen - used);
		if (ret)
			return ret;
		used = strlen(cmdline);
	}

	if (cfg->root_share) {
		ret = add_root_share(s, cmdline + used, cmdlen - used);
		if (ret)
			return ret;
		used = strlen(cmdline);
	}

	/* Legacy bits: the reset line, and a UART only when asked for. */
	ret = bus_add(&s->vm.pio, 0x64, 1, i8042_read, i8042_write, s);
	if (ret)
		return ret;
	if (cfg->debug_console) {
		serial8250_init(&s->uart, STDERR_FILENO);
		ret = bus_add(&s->vm.pio, SERIAL8250_COM1, SERIAL8250_SIZE, serial8250_read,
			      serial8250_write, &s->uart);
		if (ret)
			return ret;
	}
	return used < cmdlen ? 0 : -E2BIG;
}

/* --state-dir: claim the Arrow, open its log and control socket. */
static int managed_setup(struct session *s)
{
	const struct arrowh_config *cfg = s->cfg;
	char path[4096];
	int ret;

	s->managed = true;
	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, STATE_LOG_FILE);
	ret = logfile_open(&s->log, path, cfg->log_max_size, cfg->log_max_files);
	if (ret) {
		fprintf(stderr, "arrowh: cannot open the log %s: %s\n", path, strerror(-ret));
		return ret;
	}
	ret = hub_listen(&s->hub, cfg->state_dir);
	if (ret)
		fprintf(stderr, "arrowh: cannot listen on %s/%s: %s\n", cfg->state_dir, STATE_SOCKET,
			strerror(-ret));
	return ret;
}

/*
 * --timing: KVM's exit counters from here on. Nothing has run yet, so this is the count
 * at the first KVM_RUN. Without them the timing lines say why; the Arrow runs anyway.
 */
/*
 * Pages arrowh already wrote (or a snapshot's pages in the page cache) go into KVM's stage-2
 * tables now, not at the guest's first touch of each (an exit apiece). ARROW_PREFAULT=0
 * turns it off, for measuring what it saves (bench/boot.py).
 */
static void prefault(struct session *s, const struct vmlinux_info *k)
{
	const char *env = getenv("ARROW_PREFAULT");

	if (env && !strcmp(env, "0")) {
		s->prefault_err = -ECANCELED;
		return;
	}
	s->prefault_err = vm_prefault_resident(&s->vm, &s->prefaulted);
	/*
	 * The kernel's pages mapped from the vmlinux file too, resident or not (the page cache
	 * may not hold them yet: the first Arrow after a reboot, a file system without a page
	 * cache): the guest reads its text and data at once; host memory they take is the
	 * shared page cache, not this Arrow's.
	 */
	for (unsigned int i = 0; i < k->nr_shared && !s->prefault_err; i++) {
		s->prefault_err = vm_prefault(&s->vm, k->shared[i].gpa, k->shared[i].len);
		if (!s->prefault_err)
			s->prefaulted_kernel += k->shared[i].len / (uint64_t)sysconf(_SC_PAGESIZE);
	}
}

static void start_kvmstats(struct session *s)
{
	if (!s->cfg->timing)
		return;
	kvmstats_open(&s->stats, &s->vm);
	kvmstats_mark(&s->stats, KVMSTATS_START);
}

/* --restore: the VM from a snapshot, devices as a boot would make them, then their state. */
static int setup_restore(struct session *s)
{
	char cmdline[BOOT_CMDLINE_MAX] = "";
	struct snap_image img;
	int mem_fd = -1, ret;

	s->restored = true;
	if (session_restore_memory(s, &img, &mem_fd))
		return EXIT_ARROW_ERROR;
	ret = vm_create(&s->vm, s->cfg->memory_mib << 20, s->cfg->cpus, mem_fd);
	close(mem_fd);
	if (ret) {
		fprintf(stderr, "arrowh: cannot create the VM: %s\n", strerror(-ret));
		snap_image_free(&img);
		return EXIT_ARROW_ERROR;
	}
	ret = add_devices(s, cmdline, sizeof(cmdline));
	if (ret)
		fprintf(stderr, "arrowh: cannot set up devices: %s\n", strerror(-ret));
	if (!ret)
		ret = session_restore_state(s, &img);
	snap_image_free(&img);
	if (!ret && (ret = session_send_identity(s)))
		fprintf(stderr, "arrowh: cannot pass the clone its identity: %s\n", strerror(-ret));
	if (!ret)
		start_kvmstats(s);
	/* the state file and CPUID tables were read into the heap: give those pages back, they
	 * would stay private to every clone */
	malloc_trim(0);
	return ret ? EXIT_ARROW_ERROR : 0;
}

int session_claim(struct session *s, const struct arrowh_config *cfg)
{
	int ret;

	s->cfg = cfg;
	s->sf.lock_fd = -1;
	s->template_dir_fd = -1;
	if (!cfg->state_dir)
		return 0;
	ret = statefile_claim(&s->sf, cfg->state_dir);
	if (ret) {
		fprintf(stderr, "arrowh: %s: %s\n", cfg->state_dir,
			ret == -EBUSY ? "another arrowh runs this Arrow" : strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	return 0;
}

/*
 * --template-out: the directory is opened now; jailed, the VMM writes into it as the
 * jail's user (the supervisor gives it back to its owner afterwards, docs/security.md).
 */
static int open_template_dir(struct session *s)
{
	const struct arrowh_config *cfg = s->cfg;

	s->template_dir_fd = open(cfg->template_out, O_DIRECTORY | O_CLOEXEC);
	if (s->template_dir_fd < 0) {
		fprintf(stderr, "arrowh: cannot open %s: %s\n", cfg->template_out, strerror(errno));
		return -errno;
	}
	if (jail_wanted(cfg) && fchown(s->template_dir_fd, cfg->jail_uid, cfg->jail_gid) < 0) {
		fprintf(stderr, "arrowh: cannot hand %s to the jail's user: %s\n", cfg->template_out,
			strerror(errno));
		return -errno;
	}
	return 0;
}

int session_setup(struct session *s, const struct arrowh_config *cfg)
{
	char cmdline[BOOT_CMDLINE_MAX];
	struct vmlinux_info kinfo;
	const char *why;
	uint64_t initrd_gpa = 0, initrd_size = 0;
	int kfd, ret;

	/* s is arrowh's static session, zero from the start: not memset, so the pages of its
	 * device buffers are not made resident (and private) before a device uses them */
	s->cfg = cfg;
	s->wake_fd = -1;
	s->klog_fd = -1;
	s->t_arrowh = monotonic_ns();
	s->hub.listen_fd = -1;
	s->hub.spare_fd = -1;
	s->log.fd = -1;
	s->tap_fd = -1;
	/* always, not only for volumes: vsock connections, attach clients and snapshots need
	 * descriptors too, and a soft limit of 1024 is soon gone (fdlimit.h) */
	fdlimit_raise();
	ret = cgroup_join(cfg->cgroup); /* first: guest memory is charged where it is touched */
	if (ret) {
		fprintf(stderr, "arrowh: cannot join the cgroup %s: %s\n", cfg->cgroup, strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	/* the rootfs's sidecar: forked now, before guest memory and most descriptors exist,
	 * and before the jail (it makes its own) */
	s->root_sock = -1;
	if (cfg->root_share) {
		ret = p9_sidecar_spawn(cfg->root_share, cfg->root_read_only, jail_wanted(cfg),
				       &s->root_pid);
		if (ret < 0) {
			fprintf(stderr, "arrowh: cannot serve the root %s: %s\n", cfg->root_share,
				strerror(-ret));
			return EXIT_ARROW_ERROR;
		}
		s->root_sock = ret;
	}
	if (cfg->state_dir && managed_setup(s))
		return EXIT_ARROW_ERROR;
	if (cfg->template_out && open_template_dir(s))
		return EXIT_ARROW_ERROR;
	if ((cfg->tap_fd >= 0 || cfg->tap_name) && open_tap(s))
		return EXIT_ARROW_ERROR;
	if (cfg->net_stream_fd >= 0 && open_net_stream(s))
		return EXIT_ARROW_ERROR;
	if (cfg->console_log) {
		s->klog_fd = open(cfg->console_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (s->klog_fd < 0) {
			fprintf(stderr, "arrowh: cannot open %s: %s\n", cfg->console_log, strerror(errno));
			return EXIT_ARROW_ERROR;
		}
	}

	if (cfg->restore_dir)
		return setup_restore(s);
	ret = vm_create(&s->vm, cfg->memory_mib << 20, cfg->cpus, -1);
	if (ret) {
		fprintf(stderr, "arrowh: cannot create the VM: %s\n", strerror(-ret));
		return EXIT_ARROW_ERROR;
	}

	kfd = open(cfg->kernel, O_RDONLY | O_CLOEXEC);
	if (kfd < 0) {
		fprintf(stderr, "arrowh: cannot open kernel %s: %s\n", cfg->kernel, strerror(errno));
		return EXIT_ARROW_ERROR;
	}
	ret = vmlinux_load(&s->vm.gm, kfd, &kinfo, &why);
	close(kfd);
	if (ret) {
		fprintf(stderr, "arrowh: cannot load kernel %s: %s\n", cfg->kernel, why);
		return EXIT_ARROW_ERROR;
	}
	if (load_initrds(s, kinfo.kernel_end, &initrd_gpa, &initrd_size))
		return EXIT_ARROW_ERROR;
	/*
	 * The kernel unpacks the initramfs next to itself before freeing it, and
	 * needs working memory of its own: too little RAM makes a guest that
	 * thrashes or livelocks instead of booting. Refuse that up front.
	 */
	{
		uint64_t need = kinfo.kernel_end + 2 * initrd_size + GUEST_MIN_FREE;
		uint64_t need_mib = (need + (1 << 20) - 1) >> 20;

		if (cfg->memory_mib < need_mib) {
			fprintf(stderr, "arrowh: %llu MiB of guest memory is too little for this kernel "
					"and initramfs; give at least --memory %llu\n",
				(unsigned long long)cfg->memory_mib, (unsigned long long)need_mib);
			return EXIT_ARROW_ERROR;
		}
	}

	/*
	 * panic=-1 and reboot=k turn a guest panic into an immediate reset exit;
	 * no_timer_check skips a PIT probe that costs exits. (8250.nr_uarts=0
	 * would save a few port reads, but 6.12 then hangs early at loglevel=8.)
	 */
	snprintf(cmdline, sizeof(cmdline), "%s panic=-1 reboot=k no_timer_check tsc=reliable %s",
		 cfg->debug_console ? "console=ttyS0 earlyprintk=serial,ttyS0" : "console=hvc0 quiet",
		 cfg->cmdline_extra ? cfg->cmdline_extra : "");
	ret = add_devices(s, cmdline, sizeof(cmdline));
	if (ret) {
		fprintf(stderr, "arrowh: cannot set up devices: %s\n", strerror(-ret));
		return EXIT_ARROW_ERROR;
	}

	ret = mptable_write(&s->vm.gm, BOOT_MPTABLE_GPA, cfg->cpus);
	if (!ret)
		ret = boot_params_write(&s->vm.gm, cmdline, initrd_gpa, initrd_size);
	if (!ret)
		ret = boot_page_tables_write(&s->vm.gm);
	if (!ret)
		ret = boot_gdt_write(&s->vm.gm);
	if (!ret)
		ret = vm_setup_vcpus(&s->vm, kinfo.entry);
	if (ret) {
		fprintf(stderr, "arrowh: cannot prepare the boot: %s\n", strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	prefault(s, &kinfo);
	start_kvmstats(s);
	return 0;
}
