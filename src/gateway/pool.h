/* SPDX-License-Identifier: MIT */
/*
 * The gateway's functions and their instances (docs/functions.md, "Scaling"): which
 * instance takes a request, when clones start and stop. One lock guards it all; Arrows
 * are started and stopped outside it.
 */
#ifndef ARROW_GATEWAY_POOL_H
#define ARROW_GATEWAY_POOL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/fn/fnstore.h"
#include "lib/state/store.h"

#define POOL_START_BUCKETS 10

struct instance {
	char id[ARROW_ID_LEN + 1];
	char name[FN_NAME_MAX + 32];
	char ip[64];
	char dir[4096];
	unsigned int port;
	unsigned int timeout_s;  /* the function's --timeout when the request took it */
	unsigned int active;   /* requests it is serving */
	bool ready;            /* started and accepting */
	bool retired;          /* takes no more requests; stopped once idle */
	bool stopping;
	int broken;            /* the status of a request it failed (502, 504), else 0 */
	uint64_t last_used_ms;
	struct instance *next;
};

struct function {
	struct fn_spec spec;
	struct instance *instances;
	unsigned int n_instances; /* every Arrow it has: starting, serving, retired */
	unsigned int waiting;     /* requests in its queue */
	unsigned int seq;         /* for instance names fn-NAME-SEQ */
	bool removed, seen;
	uint64_t warm_retry_ms;   /* a warm-pool start failed: not again before this time */
	pthread_cond_t cond;      /* an instance became free, or one fewer exists */
	/* metrics */
	uint64_t invocations, errors, clone_starts, start_failures;
	uint64_t start_hist[POOL_START_BUCKETS], start_count;
	double start_sum_s;
	struct function *next;
};

extern const double pool_start_buckets[POOL_START_BUCKETS];
/* for metrics.c: the list and its lock (functions are never freed, only marked removed) */
extern pthread_mutex_t pool_lock;
extern struct function *pool_functions;

/* Load the deployments, stop instances a dead gateway left, start the reaper. 0 or -errno. */
int pool_start(void);
void pool_stop(void);
/* NAME's function, loaded from the store if needed: NULL and an HTTP status (404, 500). */
struct function *pool_get(const char *name, int *status);
/*
 * An instance of f for one request, started if none is free and f may have another:
 * 0, or an HTTP status (429 queue full, 502 start failed, 504 waited too long, 404 gone)
 * with why.
 */
int pool_acquire(struct function *f, struct instance **out, char *why, size_t len);
/* The request is done; broken: the instance failed it (502, 504) and is replaced. */
void pool_release(struct function *f, struct instance *inst, bool broken, int status);
/* A request answered without an instance (by the gateway: 429, 502, 504...). */
void pool_note(struct function *f, int status);
/* Re-read the store now (after a deploy or removal through the API). */
void pool_sync(void);
/*
 * fn(arg) in a child process of its own, waited for: 0 or -errno. For deploys and removals
 * from the API: launch.h makes no thread promise, so the gateway's own launches take a lock,
 * and a deploy (a boot of seconds) must not hold it; a separate process needs none.
 */
int pool_isolated(int (*fn)(void *arg), void *arg);
/* The gateway stops: waiting and new requests get 503, nothing new starts. */
void pool_quit(void);
/* OpenFaaS: set NAME's warm pool to replicas (kept in the store). 0 or an HTTP status. */
int pool_scale(const char *name, unsigned int replicas);
/* OpenFaaS FunctionStatus objects: one (name) or all (NULL: an array). */
json_t *pool_status_json(const char *name);
/* Prometheus text; malloc'ed. */
char *pool_metrics(void);

#endif
