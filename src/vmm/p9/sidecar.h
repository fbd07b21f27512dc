/* SPDX-License-Identifier: MIT */
/*
 * The rootfs sidecar (docs/volumes.md, docs/security.md): the 9P server of a container's
 * root file system, in a process of its own, forked by arrowh before it jails itself. A
 * podman rootfs is root's, with root-only paths; the jailed arrowh (unprivileged, no
 * capabilities) cannot serve it and is given no capability to do so. The sidecar:
 *
 *  - enters a mount namespace of its own whose root is a tiny read-only tmpfs holding
 *    only the rootfs (bind-mounted, read-only for a read-only root) and a /proc (the
 *    server reopens its O_PATH descriptors through /proc/self/fd): nothing else of the
 *    host is reachable by name, even by a server bug;
 *  - keeps, as root, only CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER
 *    (bounding set too); rootless, no capability at all;
 *  - sets no_new_privs, closes every descriptor but its socket, and installs a seccomp
 *    allowlist of the file calls the server makes plus its socket I/O (anything else
 *    kills it);
 *  - dies with arrowh: PR_SET_PDEATHSIG, and the end of its socket.
 *
 * It serves with the rootfs policy (server.h, guest_owns).
 */
#ifndef ARROW_P9_SIDECAR_H
#define ARROW_P9_SIDECAR_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Fork the sidecar serving dir (jailed unless jail is false: --no-sandbox). Returns
 * arrowh's end of its socket (SOCK_SEQPACKET, close-on-exec), *pid its pid; -errno.
 */
int p9_sidecar_spawn(const char *dir, bool read_only, bool jail, pid_t *pid);

/* The sidecar's seccomp filter (sidecar.c); exported for tests. 0 or -errno. */
int p9_sidecar_seccomp(void);

#endif
