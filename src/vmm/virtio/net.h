/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (virtio 1.x, section 5.1) with a tap backend. Frames carry the
 * 12-byte virtio_net_hdr_v1 both ways, which the tap understands natively
 * (IFF_VNET_HDR): checksum and segmentation offloads pass through untouched.
 *
 * Both directions run in a thread of the device's own that sleeps in epoll
 * while the tap is empty and no kick came: nothing spins when idle. The guest's
 * kicks reach it as eventfds KVM signals (KVM_IOEVENTFD), without an exit to
 * arrowh; where those are not set up, a kick is an MMIO exit and transmit runs
 * in the vCPU thread that kicked (a tap write never blocks).
 */
#ifndef ARROW_VIRTIO_NET_H
#define ARROW_VIRTIO_NET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "mmio.h"

#define VNET_RXQ 0
#define VNET_TXQ 1
#define VNET_HDR_LEN 12          /* struct virtio_net_hdr_v1 */
#define VNET_FRAME_MAX 65550     /* a 64 KiB GSO frame plus its Ethernet header */
#define VNET_RX_CHAINS_MAX 64    /* receive buffers one frame may span (MRG_RXBUF) */

/* Bumped whenever the saved part of struct vnet changes layout. */
#define VNET_STATE_VERSION 1

struct vnet_stats {
	uint64_t rx_frames, rx_bytes, rx_dropped;
	uint64_t tx_frames, tx_bytes, tx_dropped;
};

/*
 * The stream backend's framing state (net_stream.c): each frame on the socket is a
 * 4-byte big-endian length, then the Ethernet frame, with no virtio_net_hdr.
 */
struct vnet_stream_state {
	uint8_t len_buf[4];
	uint32_t len_got;   /* bytes of the length prefix read so far */
	uint32_t frame_len; /* the current frame's length once its prefix is whole, else 0 */
	uint32_t frame_got; /* bytes of it read so far (kept in frame[] after the header) */
	uint32_t skip;      /* bytes of a refused frame (empty or too long) still to discard */
	bool closed;        /* receive thread: the peer closed the socket, or it broke */
	bool tx_cut;        /* transmit (lock held): a frame could not be finished, link cut */
};

struct vnet {
	uint32_t version; /* VNET_STATE_VERSION */
	uint8_t mac[6];
	struct virtio_mmio *t;
	int tap_fd;        /* tap with IFF_VNET_HDR (or, in tests, a datagram socket) */
	bool tap_is_tun;   /* offload ioctls apply */
	int ep;            /* receive thread's epoll */
	int kick_fd;       /* eventfd: the guest posted receive buffers, or the device was (re)set */
	int tx_kick_fd;    /* eventfd: the guest queued frames to send (KVM_IOEVENTFD) */
	int stop_fd;       /* eventfd: the receive thread must end */
	bool tap_polled;   /* the tap is in the epoll set with EPOLLIN */
	bool thread_started;
	pthread_t thread;
	struct vnet_stats stats;
	bool stream;       /* --net-stream-fd: frames in passt's stream framing (net_stream.c) */
	struct vnet_stream_state srx;
	/* a frame read from the tap and not yet delivered (the guest had no room) */
	uint32_t pending_len;
	uint8_t frame[VNET_HDR_LEN + VNET_FRAME_MAX];
	struct virtq_elem chains[VNET_RX_CHAINS_MAX];
};

extern const struct virtio_device_ops vnet_ops;

/*
 * Prepare the device on tap_fd (non-blocking after this call). Returns 0 or
 * -errno. mac is the guest's address.
 */
int vnet_init(struct vnet *n, struct virtio_mmio *t, int tap_fd, const uint8_t mac[6]);
/* Device thread: the transmit eventfd fired (exposed for tests). */
void vnet_tx_kicked(struct vnet *n);
/* Start and stop the receive thread. */
int vnet_start(struct vnet *n);
void vnet_stop(struct vnet *n);
/*
 * Move frames from the tap to the guest until the tap is empty or the guest
 * has no room (the receive thread's work; exposed for tests). Takes the lock.
 * Returns the number of frames delivered.
 */
unsigned int vnet_rx_pump(struct vnet *n);
/* Counters and receive state, for the report of a guest stopped by the host. */
void vnet_report(struct vnet *n, FILE *out);

/*
 * The tap side, for whoever owns the fd: check that fd is a tap with vnet
 * headers and set the header size. 0 or -errno (-ENOTTY: not a tap,
 * -EPROTO: no IFF_VNET_HDR).
 */
int vnet_tap_prepare(int fd);
/* Open (or create) the tap interface name with vnet headers. fd or -errno. */
int vnet_tap_open(const char *name);

/*
 * The stream backend (net_stream.c): fd is a connected unix stream socket speaking
 * passt's qemu protocol. The device then offers no checksum or segmentation offloads.
 * 0 or -errno (-ENOTSOCK: not a socket; -EPROTOTYPE: not a unix stream socket).
 */
int vnet_init_stream(struct vnet *n, struct virtio_mmio *t, int fd, const uint8_t mac[6]);
/* Receive thread: the next whole frame into n->frame. 1: got one; 0: none yet; -1: closed. */
int vnet_stream_read_frame(struct vnet *n);
/*
 * vCPU thread, lock held: send one transmit chain (virtio_net_hdr first, len bytes in all)
 * as length + frame, whole. Waits a bounded time for room. Bytes sent, or -1 (dropped).
 */
ssize_t vnet_stream_send(struct vnet *n, const struct iovec *iov, unsigned int nr, uint32_t len);

#endif
