/* SPDX-License-Identifier: MIT */
/*
 * virtio-9p (virtio 1.x, section 5.11 "9P transport"): one request queue, a mount tag
 * in config space, and the 9P2000.L server of src/vmm/p9 behind it, in arrowh (volumes) or
 * in a sidecar process (the rootfs: p9/sidecar.h). Requests are served in the vCPU thread
 * that kicks, one after another, synchronously.
 */
#ifndef ARROW_VIRTIO_P9_H
#define ARROW_VIRTIO_P9_H

#include <stdbool.h>
#include <stdint.h>

#include "mmio.h"
#include "vmm/p9/remote.h"
#include "vmm/p9/server.h"

#define VP9_TAG_MAX 31

struct vp9 {
	struct virtio_mmio *t;
	struct p9_server server; /* in arrowh: a volume */
	bool remote;             /* served by a sidecar process instead (the rootfs) */
	struct p9_remote sidecar;
	char tag[VP9_TAG_MAX + 1];
	uint8_t *req, *resp; /* P9_MSIZE_MAX each */
};

extern const struct virtio_device_ops vp9_ops;

/* Serve host directory path under tag. 0 or -errno. */
int vp9_init(struct vp9 *d, struct virtio_mmio *t, const char *path, const char *tag,
	     bool read_only);

/* Serve what the sidecar at the other end of sock serves, under tag. 0 or -errno. */
int vp9_init_remote(struct vp9 *d, struct virtio_mmio *t, int sock, const char *tag);

#endif
