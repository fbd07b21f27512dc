// SPDX-License-Identifier: MIT
/*
 * Snapshots of a whole Arrow (docs/snapshots.md): pause the vCPUs, quiesce the
 * devices, write guest memory and the state file; and the way back, a clone that
 * starts from them instead of booting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "arch/x86/vmstate.h"
#include "common/protocol.h"
#include "common/runcfg.h"
#include "common/statedir.h"
#include "session.h"
#include "snap/format.h"
#include "snap/guard.h"
#include "snap/memory.h"
#include "snapshot.h"

static int path_in(char *out, size_t size, const char *dir, const char *name)
{
	return snprintf(out, size, "%s/%s", dir, name) >= (int)size ? -ENAMETOOLONG : 0;
}

/* The console, and the NIC and the vsock device when there are. */
static unsigned int nr_devices(const struct session *s)
{
	return 1u + s->has_net + s->has_vsock;
}

static void describe(struct session *s, struct snap_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->memory_bytes = s->vm.gm.total;
	m->nr_vcpus = s->vm.nr_vcpus;
	m->nr_devices = nr_devices(s);
	m->nr_ports = s->console.nr_ports;
	m->has_net = s->has_net;
	x86_host_signature(&s->vm, m);
}

/* Devices locked, vCPUs parked: nothing writes guest memory or device state. */
static int save_locked(struct session *s, int dir_fd, uint64_t *stored)
{
	static struct vconsole_state con; /* large; the main thread alone snapshots */
	struct virtio_mmio_state ms;
	struct snap_writer w;
	struct snap_meta m;
	int ret;

	ret = snap_memory_write_at(dir_fd, SNAP_MEMORY_FILE, s->vm.gm.base, s->vm.gm.total, stored);
	if (ret)
		return ret;
	snapw_init(&w);
	describe(s, &m);
	snapw_add(&w, SNAP_META, 0, &m, sizeof(m));
	ret = x86_save_state(&s->vm, &w);
	virtio_mmio_save(&s->console_mmio, &ms);
	snapw_add(&w, SNAP_MMIO, 0, &ms, sizeof(ms));
	vconsole_save(&s->console, &con);
	snapw_add(&w, SNAP_CONSOLE, 0, &con, sizeof(con));
	if (s->has_net) {
		virtio_mmio_save(&s->net_mmio, &ms);
		snapw_add(&w, SNAP_MMIO, 1, &ms, sizeof(ms));
	}
	/* vsock: the transport and its queues only; connections are host sockets a clone
	 * cannot have, so a restore resets them (vsock_transport_reset) */
	if (s->has_vsock) {
		virtio_mmio_save(&s->vsock_mmio, &ms);
		snapw_add(&w, SNAP_MMIO, 2, &ms, sizeof(ms));
	}
	/* the state file last: its presence says the snapshot is whole */
	if (!ret)
		ret = snapw_write_file_at(&w, dir_fd, SNAP_STATE_FILE);
	snapw_free(&w);
	return ret;
}

int session_snapshot(struct session *s, int dir_fd)
{
	uint64_t t0 = monotonic_ns(), stored = 0;
	int ret;

	/* the 9p server's open files are host state a clone could not have */
	if (s->cfg->nr_volumes || s->cfg->root_share)
		return -EXDEV;
	ret = vm_pause(&s->vm);
	if (ret)
		return ret;
	pthread_mutex_lock(&s->console_mmio.lock);
	if (s->has_net)
		pthread_mutex_lock(&s->net_mmio.lock);
	if (s->has_vsock)
		pthread_mutex_lock(&s->vsock_mmio.lock);
	ret = save_locked(s, dir_fd, &stored);
	if (s->has_vsock)
		pthread_mutex_unlock(&s->vsock_mmio.lock);
	if (s->has_net)
		pthread_mutex_unlock(&s->net_mmio.lock);
	pthread_mutex_unlock(&s->console_mmio.lock);
	if (s->cfg->timing)
		fprintf(stderr, "arrowh: snapshot of %llu MiB guest memory (%llu MiB not zero) in %.1f ms\n",
			(unsigned long long)(s->vm.gm.total >> 20), (unsigned long long)(stored >> 20),
			(double)(monotonic_ns() - t0) / 1e6);
	return ret;
}

/* The snapshot must describe the VM this arrowh was asked for. */
static const char *check_meta(struct session *s, const struct snap_meta *m)
{
	if (m->memory_bytes != s->cfg->memory_mib << 20)
		return "its guest memory size differs from --memory";
	if (m->nr_vcpus != s->cfg->cpus)
		return "its vCPU count differs from --cpus";
	if (!m->has_net != !s->has_net)
		return m->has_net ? "it has a NIC and this Arrow none (give it a network)"
				  : "it has no NIC and this Arrow has one (--network none)";
	if (m->nr_ports != s->console.nr_ports || m->nr_devices != nr_devices(s))
		return "its devices differ from this Arrow's (a terminal, -t, on one side only?)";
	return x86_host_compatible(&s->vm, m);
}

int session_restore_memory(struct session *s, struct snap_image *img, int *mem_fd)
{
	const struct snap_meta *m;
	char path[4200];
	const char *why;
	int ret;

	ret = path_in(path, sizeof(path), s->cfg->restore_dir, SNAP_STATE_FILE);
	if (!ret)
		ret = snap_read_file(path, img, &why);
	if (ret) {
		fprintf(stderr, "arrowh: cannot restore %s: %s (%s)\n", s->cfg->restore_dir, why,
			strerror(-ret));
		return ret;
	}
	m = snap_find(img, SNAP_META, 0, sizeof(*m));
	if (!m || m->memory_bytes != s->cfg->memory_mib << 20) {
		fprintf(stderr, "arrowh: cannot restore %s: %s\n", s->cfg->restore_dir,
			m ? "its guest memory size differs from --memory" : "it has no description");
		return -EINVAL;
	}
	path_in(path, sizeof(path), s->cfg->restore_dir, SNAP_MEMORY_FILE);
	*mem_fd = snap_memory_open(path, m->memory_bytes);
	if (*mem_fd < 0) {
		fprintf(stderr, "arrowh: cannot restore %s: its memory file %s\n", s->cfg->restore_dir,
			*mem_fd == -EINVAL ? "is not the size the state file says (truncated?)"
					   : strerror(-*mem_fd));
		return *mem_fd;
	}
	/* should the file change under this clone, it ends with a message, not a signal */
	ret = snap_guard_arm(path, *mem_fd, m->memory_bytes);
	if (ret) {
		fprintf(stderr, "arrowh: cannot watch %s: %s\n", path, strerror(-ret));
		close(*mem_fd);
		*mem_fd = -1;
		return ret;
	}
	return 0;
}

int session_restore_state(struct session *s, const struct snap_image *img)
{
	const struct snap_meta *m = snap_find(img, SNAP_META, 0, sizeof(*m));
	const struct virtio_mmio_state *con_t = snap_find(img, SNAP_MMIO, 0, sizeof(*con_t));
	const struct virtio_mmio_state *net_t = snap_find(img, SNAP_MMIO, 1, sizeof(*net_t));
	const struct virtio_mmio_state *vsock_t = snap_find(img, SNAP_MMIO, 2, sizeof(*vsock_t));
	const struct vconsole_state *con = snap_find(img, SNAP_CONSOLE, 0, sizeof(*con));
	const char *why = NULL;
	struct kvm_cpuid2 *cpuid;
	int ret = 0;

	if (!vsock_t != !s->has_vsock)
		why = vsock_t ? "it has a vsock device and this Arrow none (--vsock-uds)"
			      : "it has no vsock device and this Arrow has one (--vsock-uds)";
	if (!why)
		why = check_meta(s, m);
	if (!why && (!con_t || !con || (s->has_net && !net_t)))
		why = "it lacks a device's state";
	if (!why && (virtio_mmio_restore(&s->console_mmio, con_t) ||
		     vconsole_restore(&s->console, con) ||
		     (s->has_net && virtio_mmio_restore(&s->net_mmio, net_t)) ||
		     (s->has_vsock && virtio_mmio_restore(&s->vsock_mmio, vsock_t))))
		why = "a device's saved state is inconsistent";
	if (why) {
		fprintf(stderr, "arrowh: cannot restore %s: %s\n", s->cfg->restore_dir, why);
		return -EINVAL;
	}
	/* the guest's connections were the snapshotted arrowh's: it hears they are gone */
	if (s->has_vsock)
		vsock_transport_reset(&s->vsock);
	/* the same CPUID the guest booted with (this host's, checked above), then its state */
	cpuid = cpuid_supported(s->vm.kvm_fd);
	if (!cpuid)
		return -ENOMEM;
	for (unsigned int i = 0; i < s->vm.nr_vcpus && !ret; i++)
		ret = cpu_set_cpuid(s->vm.vcpus[i].fd, cpuid, i, s->vm.nr_vcpus);
	free(cpuid);
	why = "KVM refused the CPUID";
	if (!ret)
		ret = x86_restore_state(&s->vm, img, &why);
	if (ret)
		fprintf(stderr, "arrowh: cannot restore %s: %s (%s)\n", s->cfg->restore_dir, why,
			strerror(-ret));
	return ret;
}

int session_send_identity(struct session *s)
{
	uint8_t buf[sizeof(struct arrow_ctl_msg) + ARROW_HOSTS_MAX];
	char *rec = NULL, hex[65];
	size_t len = 0;
	uint8_t seed[32];
	struct arrow_ctl_msg m;
	int ret = 0;

	if (s->cfg->identity) {
		void *data;
		struct stat st;
		int fd = open(s->cfg->identity, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > ARROW_HOSTS_MAX - 80) {
			fprintf(stderr, "arrowh: --identity %s: %s\n", s->cfg->identity,
				fd < 0 ? strerror(errno) : "missing or too large");
			if (fd >= 0)
				close(fd);
			return -EINVAL;
		}
		len = (size_t)st.st_size;
		data = malloc(len + 1);
		if (!data || read(fd, data, len) != (ssize_t)len)
			ret = -EIO;
		close(fd);
		rec = data;
	}
	/* fresh randomness for the guest's RNG: no two clones share a stream */
	if (!ret && getrandom(seed, sizeof(seed), 0) != sizeof(seed))
		ret = -EIO;
	for (unsigned int i = 0; !ret && i < sizeof(seed); i++)
		snprintf(hex + 2 * i, 3, "%02x", seed[i]);
	if (!ret)
		ret = runcfg_append(&rec, &len, RUNCFG_SEED, hex);
	if (!ret && len > ARROW_HOSTS_MAX)
		ret = -E2BIG;
	if (!ret) {
		ctl_encode(&m, ARROW_CTL_IDENTITY, (uint32_t)len, statedir_realtime_ns());
		memcpy(buf, &m, sizeof(m));
		memcpy(buf + sizeof(m), rec, len);
		ret = vconsole_port_send(&s->console, s->port_control, buf, sizeof(m) + len);
	}
	free(rec);
	return ret;
}
