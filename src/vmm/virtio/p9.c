// SPDX-License-Identifier: MIT
#include "p9.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VIRTIO_ID_9P 9
#define VIRTIO_9P_MOUNT_TAG 0

static uint64_t vp9_features(void *dev)
{
	(void)dev;
	return (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_9P_MOUNT_TAG);
}

/* struct virtio_9p_config: le16 tag_len, then the tag (not NUL-terminated). */
static void vp9_config_read(void *dev, uint32_t offset, void *data, uint32_t len)
{
	struct vp9 *d = dev;
	uint8_t cfg[2 + VP9_TAG_MAX];
	size_t tl = strlen(d->tag);

	memset(data, 0, len);
	cfg[0] = (uint8_t)tl;
	cfg[1] = 0;
	memcpy(cfg + 2, d->tag, tl);
	if (offset < 2 + tl)
		memcpy(data, cfg + offset, len < 2 + tl - offset ? len : 2 + tl - offset);
}

static void vp9_queue_notify(void *dev, struct virtio_mmio *t, unsigned int idx)
{
	struct vp9 *d = dev;
	struct virtq *q = virtio_mmio_queue(t, idx);
	struct virtq_elem e;
	int r;

	if (!q)
		return;
	do {
		while ((r = virtq_pop(q, t->gm, &e)) == 1) {
			size_t len = iov_to_buf(e.iov, e.nr_out, d->req, P9_MSIZE_MAX);
			size_t cap = e.in_len < P9_MSIZE_MAX ? e.in_len : P9_MSIZE_MAX;
			size_t out = d->remote ? p9_remote_call(&d->sidecar, d->req, len, d->resp, cap)
					       : p9_handle(&d->server, d->req, len, d->resp, cap);

			out = iov_from_buf(e.iov + e.nr_out, e.nr_in, d->resp, out);
			virtq_push(q, t->gm, e.head, (uint32_t)out);
		}
	} while (r == 0 && virtio_mmio_rearm(t, q));
	if (r < 0)
		virtio_mmio_set_broken(t, "bad 9p request chain");
	virtio_mmio_notify_used(t, idx);
}

/* A sidecar's fids go with the guest's next Tversion (a driver's first message). */
static void vp9_reset(void *dev)
{
	struct vp9 *d = dev;

	if (!d->remote)
		p9_server_reset(&d->server);
}

const struct virtio_device_ops vp9_ops = {
	.device_id = VIRTIO_ID_9P,
	.num_queues = 1,
	.queue_max = 128,
	.features = vp9_features,
	.config_read = vp9_config_read,
	.queue_notify = vp9_queue_notify,
	.reset = vp9_reset,
};

static int vp9_init_common(struct vp9 *d, struct virtio_mmio *t, const char *tag)
{
	memset(d, 0, sizeof(*d));
	d->server.root_fd = -1;
	if (!tag[0] || strlen(tag) > VP9_TAG_MAX)
		return -EINVAL;
	snprintf(d->tag, sizeof(d->tag), "%s", tag);
	d->t = t;
	d->req = malloc(P9_MSIZE_MAX);
	d->resp = malloc(P9_MSIZE_MAX);
	return d->req && d->resp ? 0 : -ENOMEM;
}

int vp9_init(struct vp9 *d, struct virtio_mmio *t, const char *path, const char *tag,
	     bool read_only)
{
	int ret = vp9_init_common(d, t, tag);

	return ret ? ret : p9_server_init(&d->server, path, read_only);
}

int vp9_init_remote(struct vp9 *d, struct virtio_mmio *t, int sock, const char *tag)
{
	int ret = vp9_init_common(d, t, tag);

	if (ret)
		return ret;
	d->remote = true;
	return p9_remote_init(&d->sidecar, sock, P9_REMOTE_TIMEOUT_MS);
}
