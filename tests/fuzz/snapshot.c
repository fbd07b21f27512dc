// SPDX-License-Identifier: MIT
/*
 * A snapshot's state file and memory file as a restore reads them: the file checked and
 * its sections found (src/vmm/snap/format.c), the virtio transport and console state
 * restored into live devices and the restored queues then kicked (mmio.c, console.c),
 * the x86 VM and vCPU sections looked up and size-checked (src/vmm/arch/x86/vmstate.c,
 * compiled in; without a KVM VM every ioctl fails, so only the checks before KVM are
 * reached), and the memory file opened against the size the meta section gives.
 * Input: one mode byte (bit 0: recompute the header's length and CRC so the fuzzer gets
 * past them), then the state file.
 */
#include <zlib.h>

#include "fuzz.h"
#include "vmm/snap/format.h"
#include "vmm/snap/memory.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/net.h"

#include "../../src/vmm/arch/x86/vmstate.c"

#define MEM 0x20000u

static char dir[128], state_path[200], mem_path[200];
static uint8_t mem[MEM];
static struct vconsole con;
static struct virtio_mmio tc, tn;
static struct vm vm;

static void sink(void *opaque, const struct iovec *iov, unsigned int n, size_t len)
{
	(void)opaque;
	(void)iov;
	(void)n;
	(void)len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_mkdtemp(dir, sizeof(dir), "snap");
	snprintf(state_path, sizeof(state_path), "%s/%s", dir, SNAP_STATE_FILE);
	snprintf(mem_path, sizeof(mem_path), "%s/%s", dir, SNAP_MEMORY_FILE);
	return 0;
}

static void restore_devices(const struct snap_image *img, struct guest_mem *gm)
{
	const struct virtio_mmio_state *ms;
	const struct vconsole_state *cs;
	uint32_t v;

	virtio_mmio_init(&tc, 0xd0000000, 5, -1, gm, &vconsole_ops, &con);
	vconsole_init(&con, &tc, -1);
	vconsole_add_port(&con, "console", true, sink, NULL);
	vconsole_add_port(&con, "arrow.stdout", false, sink, NULL);
	vconsole_add_port(&con, "arrow.stdin", false, NULL, NULL);
	/* the NIC's transport only (its device is never activated: no tap) */
	virtio_mmio_init(&tn, 0xd0001000, 6, -1, gm, &vconsole_ops, &con);
	cs = snap_find(img, SNAP_CONSOLE, 0, sizeof(*cs));
	if (cs && vconsole_restore(&con, cs) == 0) {
		ms = snap_find(img, SNAP_MMIO, 0, sizeof(*ms));
		if (ms && virtio_mmio_restore(&tc, ms) == 0) {
			/* the guest goes on: kicks, a register read of the selected queue, a reset */
			for (v = 0; v < 2 * 4; v++)
				virtio_mmio_write(&tc, 0x050, &v, 4);
			virtio_mmio_read(&tc, 0x034, &v, 4);
			virtio_mmio_read(&tc, 0x044, &v, 4);
			vconsole_port_send(&con, 2, "in", 2);
			v = 0;
			virtio_mmio_write(&tc, 0x070, &v, 4);
		}
	}
	pthread_mutex_destroy(&tc.lock);
	pthread_mutex_destroy(&tn.lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	uint8_t mode = (uint8_t)fz_int(&f, 1);
	struct snap_image img;
	struct guest_mem gm;
	const struct snap_meta *m;
	const char *why = NULL;
	size_t got;
	const uint8_t *file = fz_bytes(&f, fz_left(&f), &got);
	uint8_t *copy = malloc(got ? got : 1);
	int fd;

	if (!copy)
		abort();
	memcpy(copy, file, got);
	if ((mode & 1) && got >= sizeof(struct snap_header)) {
		struct snap_header h;

		memcpy(&h, copy, sizeof(h));
		h.body_len = got - sizeof(h);
		h.body_crc32 = (uint32_t)crc32(0L, copy + sizeof(h), (uInt)(got - sizeof(h)));
		memcpy(copy, &h, sizeof(h));
	}
	fz_write_file(state_path, copy, got);
	free(copy);
	if (snap_read_file(state_path, &img, &why)) {
		if (!why)
			abort(); /* every refusal has its reason */
		return 0;
	}
	memset(mem, 0, sizeof(mem));
	gm_layout(&gm, mem, sizeof(mem));
	restore_devices(&img, &gm);

	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	vm.nr_vcpus = 2;
	for (unsigned int i = 0; i < vm.nr_vcpus; i++)
		vm.vcpus[i] = (struct vcpu){ .vm = &vm, .id = i, .fd = -1 };
	(void)x86_restore_state(&vm, &img, &why);
	for (unsigned int i = 0; i < vm.nr_vcpus; i++)
		(void)restore_vcpu(&vm, &vm.vcpus[i], &img, &why);

	m = snap_find(&img, SNAP_META, 0, sizeof(*m));
	if (m && m->memory_bytes <= 4 * MEM) {
		/* a memory file of the size it claims, and one page short */
		int t = open(mem_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (t < 0 || ftruncate(t, (off_t)(m->memory_bytes & ~(uint64_t)(SNAP_PAGE - 1))) < 0)
			abort();
		close(t);
		fd = snap_memory_open(mem_path, m->memory_bytes);
		if (fd >= 0)
			close(fd);
		fd = snap_memory_open(mem_path, m->memory_bytes + SNAP_PAGE);
		if (fd >= 0)
			abort();
	}
	snap_image_free(&img);
	return 0;
}
