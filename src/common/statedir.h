/* SPDX-License-Identifier: MIT */
/* Helpers shared by arrowh and the CLI for an Arrow's state directory. */
#ifndef ARROW_STATEDIR_H
#define ARROW_STATEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_LOCK_FILE "arrowh.lock"
#define STATE_FILE "state.json"
#define STATE_CONFIG_FILE "config.json"
#define STATE_LOG_FILE "log"
#define STATE_SOCKET "ctl.sock"
#define STATE_VSOCK_SOCKET "vsock.sock" /* virtio-vsock's host socket (docs/vsock.md) */
#define STATE_ARROWH_LOG "arrowh.log"
#define STATE_ROOT_LOCK ".lock"

/* Open (creating, 0600) and flock path exclusively, waiting: the fd, or -errno. */
int statedir_lock_file(const char *path);

/*
 * arrowh's liveness lock on arrowh.lock is an open-file-description write lock, held
 * for arrowh's whole life. Others only *test* it (F_OFD_GETLK), so a probe never makes
 * a starting arrowh's claim fail, as a briefly taken shared flock did.
 */
/* Take it without waiting: 0, -EBUSY (someone holds it) or -errno. */
int statedir_claim(int fd);
/* Does someone hold it? (false also when the test itself fails) */
bool statedir_claimed(int fd);
/* Wait until nobody holds it. 0 or -errno. */
int statedir_wait_unclaimed(int fd);

/* Write data to dir/name through dir/.name.tmp and rename; fsync-free (tmpfs). 0 or -errno. */
int statedir_write_file(const char *dir, const char *name, const void *data, size_t len);
/* Remove every entry of dir (flat: files and sockets), then dir. 0 or -errno. */
int statedir_remove(const char *dir);
uint64_t statedir_realtime_ns(void);

struct sockaddr_un;
/* The control socket's address in dir, also when dir is too long for sun_path (then
 * through /proc/self/fd: close *dir_fd after bind or connect). 0 or -errno. */
int statedir_sockaddr(const char *dir, struct sockaddr_un *sa, int *dir_fd);

#endif
