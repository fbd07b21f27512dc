// SPDX-License-Identifier: MIT
/*
 * virtio-mmio + virtio-vsock (src/vmm/virtio/vsock.c) under a fuzzer-driven guest
 * (virtio_fuzz.h). A guest connect to the host (a REQUEST it writes into a transmit
 * buffer) gets one end of a socket pair; the fuzzer writes bytes into, reads from or
 * closes the other end (the host service), and runs the device thread's rounds.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio_fuzz.h"
#include "vmm/virtio/vsock.h"

#define PEERS 8

static struct virtio_mmio t;
static struct vsock vs;
static uint8_t mem[VF_MEM];
static int peers[PEERS], nr_peers;

/* A guest connect: ports below 16 are "listening", the rest refused. */
static int connect_cb(void *opaque, uint32_t port)
{
	int sv[2];

	(void)opaque;
	if (port >= 16 || nr_peers == PEERS || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		return -ECONNREFUSED;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 4096 }, sizeof(int));
	peers[nr_peers++] = sv[1];
	return sv[0];
}

static void dev_op(struct vf *v, uint8_t op, struct fz *f)
{
	static uint8_t buf[65536];
	int p = nr_peers ? peers[fz_int(f, 1) % nr_peers] : -1;

	(void)v;
	switch (op & 15) {
	case 8: { /* the host service writes bytes */
		size_t got;
		const uint8_t *b = fz_bytes(f, (size_t)fz_int(f, 2) % 8192, &got);

		if (p >= 0 && got)
			(void)!send(p, b, got, MSG_NOSIGNAL | MSG_DONTWAIT);
		break;
	}
	case 9: /* it reads what came */
		if (p >= 0)
			while (read(p, buf, sizeof(buf)) > 0)
				;
		break;
	case 10: /* it shuts down or closes its end */
		if (p >= 0)
			shutdown(p, op & 0x80 ? SHUT_RDWR : SHUT_WR);
		break;
	case 11: /* a restore's transport reset */
		vsock_transport_reset(&vs);
		break;
	default:
		break;
	}
	vsock_poll(&vs, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	struct vf v = { .mem = mem, .t = &t, .nq = 3, .qnum = 8 };

	memset(mem, 0, sizeof(mem));
	nr_peers = 0;
	gm_layout(&v.gm, mem, sizeof(mem));
	virtio_mmio_init(&t, 0xd000a000, 15, -1, &v.gm, &vsock_ops, &vs);
	if (vsock_init(&vs, &t, VSOCK_GUEST_CID, -1, connect_cb, NULL))
		abort();
	vf_run(&v, &f, dev_op);
	vsock_poll(&vs, 0);
	vsock_stop(&vs);
	for (int i = 0; i < nr_peers; i++)
		close(peers[i]);
	pthread_mutex_destroy(&t.lock);
	return 0;
}
