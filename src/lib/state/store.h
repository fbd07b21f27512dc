/* SPDX-License-Identifier: MIT */
/*
 * The state root (docs/lifecycle.md): one directory per Arrow, named by its
 * 64-hex id, holding config.json (written once by `arrow run`), state.json
 * (written by arrowh), the log and the control socket. No daemon: every
 * command reads the files; the root lock serialises creation and removal.
 */
#ifndef ARROW_STORE_H
#define ARROW_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define ARROW_ID_LEN 64

enum arrow_status { ST_CREATED, ST_RUNNING, ST_EXITED };

struct arrow_rec {
	char id[ARROW_ID_LEN + 1];
	char dir[4096];
	json_t *config;  /* config.json; never NULL once loaded */
	enum arrow_status status;
	int pid;         /* arrowh, while running */
	int vmm_pid;     /* its jailed VMM (docs/security.md); pid when not jailed */
	int exit_code;
	uint64_t created_ns, started_ns, finished_ns; /* CLOCK_REALTIME */
};

/* --root, $ARROW_ROOT, /run/arrow as root, $XDG_RUNTIME_DIR/arrow otherwise. */
const char *store_root(void);
/* Create the root (0711) if needed. 0 or -errno. */
int store_ensure_root(void);
/* Exclusive lock on the root; returns an fd to pass to store_unlock, or -errno. */
int store_lock(void);
void store_unlock(int fd);

/* Lock held: a new Arrow directory with a fresh id. name may be NULL (one is made up).
 * -EEXIST if the name is taken. */
int store_create(const char *name, char id[ARROW_ID_LEN + 1], char *dir, size_t dirlen,
		 char *final_name, size_t namelen);
/* Load one Arrow; notices an arrowh that died without saying so (then: exited, 137). */
int store_load(const char *id, struct arrow_rec *r);
void store_free(struct arrow_rec *r);
/* Full id for a name or a unique id prefix: 0, -ENOENT, or -EAGAIN (ambiguous prefix). */
int store_resolve(const char *ref, char id[ARROW_ID_LEN + 1]);
/* Every Arrow, oldest first. Returns the count (array malloc'ed) or -errno. */
int store_list(struct arrow_rec **out);
void store_free_list(struct arrow_rec *list, int n);
/* Resolve ref and print docker-style errors: 0 or EXIT 125 cases already reported. */
int store_lookup(const char *cmd, const char *ref, struct arrow_rec *r);
const char *store_name(const struct arrow_rec *r);
/* Whether an arrowh holds the lock of the Arrow directory dir (it runs). */
bool store_dir_alive(const char *dir);
/* Block until the Arrow's arrowh is gone (or timeout_ms passes; -1: forever). 0 or -ETIMEDOUT. */
int store_wait_gone(const struct arrow_rec *r, int timeout_ms);
/* Connect to the Arrow's control socket and send one request: the socket, or -errno. */
int store_connect(const struct arrow_rec *r, uint32_t type, uint32_t arg);
/* Send one request to the Arrow's control socket; returns its reply status or -errno. */
int store_request(const struct arrow_rec *r, uint32_t type, uint32_t arg);
/* Delete the Arrow's directory (lock held by the caller). */
int store_remove(const struct arrow_rec *r);

#endif
