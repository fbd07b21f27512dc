/* SPDX-License-Identifier: MIT */
/*
 * virtio-9p (virtio 1.x, section 5.11 "9P transport"): one request queue, a mount tag
 * in config space, and the 9P2000.L server of src/vmm/p9 behind it. Requests are served
 * in the vCPU thread that kicks, one after another, synchronously.
 */
#ifndef ARROW_VIRTIO_P9_H
#define ARROW_VIRTIO_P9_H

#include <stdbool.h>
#include <stdint.h>

#include "mmio.h"
#include "vmm/p9/server.h"

#define VP9_TAG_MAX 31

struct vp9 {
	struct virtio_mmio *t;
	struct p9_server server;
	char tag[VP9_TAG_MAX + 1];
	uint8_t *req, *resp; /* P9_MSIZE_MAX each */
};

extern const struct virtio_device_ops vp9_ops;

/* Serve host directory path under tag. 0 or -errno. */
int vp9_init(struct vp9 *d, struct virtio_mmio *t, const char *path, const char *tag,
	     bool read_only);

#endif
