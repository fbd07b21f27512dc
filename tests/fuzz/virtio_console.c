// SPDX-License-Identifier: MIT
/*
 * virtio-mmio + virtio-console (src/vmm/virtio: mmio.c, queue.c, console.c) under a
 * fuzzer-driven guest (virtio_fuzz.h): register accesses and guest RAM are the input,
 * with the host side (input for a port, a port opened or closed, a resize) mixed in.
 * Three ports as arrowh has them: a console, a data port with a sink, and one without.
 */
#include <errno.h>
#include <sys/uio.h>

#include "virtio_fuzz.h"
#include "vmm/virtio/console.h"

static struct virtio_mmio t;
static struct vconsole con;
static uint8_t mem[VF_MEM];
static size_t sunk;

static void sink(void *opaque, const struct iovec *iov, unsigned int n, size_t len)
{
	size_t sum = 0;

	(void)opaque;
	for (unsigned int i = 0; i < n; i++) {
		volatile const uint8_t *p = iov[i].iov_base; /* touch every byte: ASan checks them */

		for (size_t k = 0; k < iov[i].iov_len; k++)
			(void)p[k];
		sum += iov[i].iov_len;
	}
	if (sum != len)
		abort();
	sunk += len;
}

static const uint8_t *src_data;
static size_t src_len;

static ssize_t source(void *opaque, const struct iovec *iov, unsigned int n)
{
	(void)opaque;
	if (!src_len)
		return opaque ? -EAGAIN : 0;
	return (ssize_t)iov_from_buf(iov, n, src_data, src_len);
}

static void dev_op(struct vf *v, uint8_t op, struct fz *f)
{
	unsigned int port = (unsigned int)fz_int(f, 1) % (VCON_MAX_PORTS + 1);
	size_t got;

	(void)v;
	switch (op & 15) {
	case 8: { /* host input for a port */
		const uint8_t *b = fz_bytes(f, (size_t)fz_int(f, 2) % 8192, &got);

		vconsole_port_send(&con, port, b, got);
		break;
	}
	case 9: /* the guest's buffers filled from a source */
		src_data = fz_bytes(f, (size_t)fz_int(f, 1), &src_len);
		vconsole_port_fill(&con, port, source, (op & 0x80) ? &con : NULL);
		break;
	case 10:
		vconsole_port_set_host_connected(&con, port, op & 0x80);
		break;
	case 11:
		vconsole_port_resize(&con, port, (uint16_t)fz_int(f, 2), (uint16_t)fz_int(f, 2));
		break;
	case 12:
		(void)vconsole_port_room(&con, port);
		(void)vconsole_port_guest_connected(&con, port);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	struct vf v = { .mem = mem, .t = &t, .nq = 2 * (3 + 1), .qnum = 8 };

	memset(mem, 0, sizeof(mem));
	gm_layout(&v.gm, mem, sizeof(mem));
	virtio_mmio_init(&t, 0xd0000000, 5, -1, &v.gm, &vconsole_ops, &con);
	vconsole_init(&con, &t, -1);
	vconsole_add_port(&con, "console", true, sink, NULL);
	vconsole_add_port(&con, "arrow.stdout", false, sink, NULL);
	vconsole_add_port(&con, "arrow.stdin", false, NULL, NULL);
	vf_run(&v, &f, dev_op);
	pthread_mutex_destroy(&t.lock);
	return 0;
}
