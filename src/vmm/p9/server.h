/* SPDX-License-Identifier: MIT */
/*
 * A 9P2000.L file server for one shared host directory (docs/volumes.md). The guest
 * is hostile: every message is parsed with bounds checks, and every file the guest
 * names is reached one component at a time with openat(O_PATH | O_NOFOLLOW) from a
 * directory fd the server already holds, starting at the volume's root. No path
 * string is ever resolved on the host, no symlink is ever followed, ".." is refused:
 * the guest cannot name anything outside the directory, whatever it renames or
 * swaps under us. A read-only volume refuses every change on the host side.
 */
#ifndef ARROW_P9_SERVER_H
#define ARROW_P9_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define P9_MSIZE_MAX (128u * 1024 + 24) /* what we offer: 128 KiB of data per read/write */
#define P9_MAX_FIDS 4096 /* per volume; arrowh lowers it to fit its descriptor budget */

struct p9_fid;

struct p9_server {
	int root_fd;     /* O_PATH directory fd of the shared directory */
	bool read_only;
	/*
	 * The rootfs policy (a container's own root, docs/oci.md) instead of the volume policy:
	 * what the guest creates belongs to the guest's uid (Tattach's n_uname) and the gid it
	 * names, and Tsetattr may give a file to any owner. Still never setuid/setgid, never a
	 * device node.
	 */
	bool guest_owns;
	uint32_t msize;  /* negotiated by Tversion */
	struct p9_fid *fids[256]; /* hash buckets */
	unsigned int nr_fids;
	unsigned int max_fids; /* each fid holds up to two host descriptors */
	dev_t root_dev;  /* the shared directory itself: its own metadata is not the guest's */
	ino_t root_ino;
};

/*
 * The ownership policy (docs/volumes.md): the guest never makes or keeps setuid/setgid
 * files, never makes device nodes, and never changes the shared directory's own mode,
 * owner or times. On a volume it never gives a file to an owner other than the server's
 * own uid/gid; on a rootfs (guest_owns) files are the guest's ids, whatever they are.
 */
#define P9_MODE_MASK 01777u /* permission bits and sticky; never S_ISUID or S_ISGID */

/* Serve the directory at path. 0 or -errno. */
int p9_server_init(struct p9_server *s, const char *path, bool read_only);
void p9_server_reset(struct p9_server *s); /* drop every fid (device reset, Tversion) */
void p9_server_free(struct p9_server *s);

/*
 * Handle one T-message of req_len bytes; the R-message (an Rlerror for anything
 * malformed or refused) goes to resp, at most resp_cap bytes. Returns its length;
 * 0 only if resp_cap cannot hold even an error reply.
 */
size_t p9_handle(struct p9_server *s, const uint8_t *req, size_t req_len, uint8_t *resp,
		 size_t resp_cap);

#endif
