// SPDX-License-Identifier: MIT
/*
 * virtio-mmio + virtio-net (src/vmm/virtio: mmio.c, queue.c, net.c) under a
 * fuzzer-driven guest (virtio_fuzz.h). A datagram socket pair stands in for the tap,
 * as in tests/unit/test_net.c: frames from the "network" (op 8, any length, then the
 * receive pump) go into whatever receive buffers the guest posted; transmit chains are
 * drained from the other end.
 */
#include <sys/socket.h>

#include "virtio_fuzz.h"
#include "vmm/virtio/net.h"

static struct virtio_mmio t;
static struct vnet n;
static uint8_t mem[VF_MEM];
static int peer;

static void drain(void)
{
	static uint8_t buf[VNET_HDR_LEN + VNET_FRAME_MAX];

	while (recv(peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void dev_op(struct vf *v, uint8_t op, struct fz *f)
{
	static uint8_t frame[VNET_HDR_LEN + VNET_FRAME_MAX + 16];

	(void)v;
	switch (op & 15) {
	case 8: { /* a frame (with its vnet header) from the network: bytes, or a big one */
		size_t len = (size_t)fz_int(f, 2), got;
		const uint8_t *b;

		if (op & 0x80) {
			len = len * 2 % sizeof(frame);
			memset(frame, (int)len, len);
			b = frame;
			got = len;
		} else {
			b = fz_bytes(f, len % 2048, &got);
		}
		if (send(peer, b, got, MSG_DONTWAIT) < 0)
			break;
		/* fall through: pump */
	}
	/* fall through */
	case 9:
		vnet_rx_pump(&n);
		break;
	case 10:
		drain();
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 2, 0, 10, 88, 0, 5 };
	struct fz f = { data, size, 0 };
	struct vf v = { .mem = mem, .t = &t, .nq = 2, .qnum = 8 };
	int sv[2];

	memset(mem, 0, sizeof(mem));
	gm_layout(&v.gm, mem, sizeof(mem));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		abort();
	peer = sv[1];
	setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	virtio_mmio_init(&t, 0xd0001000, 6, -1, &v.gm, &vnet_ops, &n);
	if (vnet_init(&n, &t, sv[0], mac))
		abort();
	vf_run(&v, &f, dev_op);
	vnet_stop(&n);
	close(sv[0]);
	close(peer);
	pthread_mutex_destroy(&t.lock);
	return 0;
}
