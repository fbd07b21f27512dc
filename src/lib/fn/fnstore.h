/* SPDX-License-Identifier: MIT */
/*
 * Function deployments (docs/functions.md): one directory per function,
 * DIR/NAME/function.json, written atomically (temporary file, fsync, rename) and validated
 * on every read, so a damaged or hand-edited file is refused with a reason instead of
 * driving the gateway. Used by `arrow fn` and by arrow-gateway.
 */
#ifndef ARROW_FNSTORE_H
#define ARROW_FNSTORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FN_FILE "function.json"
#define FN_NAME_MAX 48       /* DNS-label-like; instances are fn-NAME-N */
#define FN_MAX_ARGS 256
#define FN_MAX_ENV 256
#define FN_ARG_MAX 4096      /* bytes per argument or K=V */
#define FN_MAX_INSTANCES 64  /* --max */
#define FN_MAX_CONCURRENCY 1024
#define FN_MAX_QUEUE 10000
#define FN_MAX_TIMEOUT_S 3600
#define FN_MAX_IDLE_S 86400

/* What `arrow fn deploy` was asked for, and the template it made. */
struct fn_spec {
	char name[FN_NAME_MAX + 1];
	char *program;       /* host program or image reference, as given */
	json_t *args;        /* array of strings */
	json_t *env;         /* array of "K=V" */
	unsigned int port;   /* where the function listens inside its Arrow */
	uint64_t memory_mib; /* 0: arrow run's default */
	unsigned int min, max, concurrency, queue;
	unsigned int idle_timeout_s; /* 0: never scale to zero */
	unsigned int timeout_s;      /* per request */
	bool fresh;          /* a new clone per request */
	char template[FN_NAME_MAX + 16]; /* the snapshot clones start from: fn-NAME */
	uint64_t created_ns;
};

/* $ARROW_FUNCTIONS, /var/lib/arrow/functions as root, else under $XDG_DATA_HOME/arrow. */
const char *fnstore_dir(void);
/* [a-z0-9]([a-z0-9-]*[a-z0-9])?, at most FN_NAME_MAX bytes. */
bool fnstore_valid_name(const char *name);
/* Defaults: port 8080, min 0, max 4, concurrency 1, queue 100, idle 300 s, timeout 30 s. */
void fn_spec_init(struct fn_spec *s, const char *name);
void fn_spec_free(struct fn_spec *s);
/* Validate j into s (s initialised, freed on error): 0, or -EINVAL with why. */
int fn_spec_from_json(json_t *j, struct fn_spec *s, char *why, size_t whylen);
json_t *fn_spec_to_json(const struct fn_spec *s);
/* NAME's deployment: 0, -ENOENT, or -EINVAL with why (damaged file). */
int fnstore_load(const char *name, struct fn_spec *s, char *why, size_t whylen);
/* Write s atomically (replacing an older deployment of that name). 0 or -errno. */
int fnstore_save(const struct fn_spec *s);
/* Remove NAME's directory. 0 or -errno (-ENOENT: none). */
int fnstore_remove(const char *name);
/* Names of the deployed functions, sorted; the count (array malloc'ed) or -errno. */
int fnstore_list(char ***names);
void fnstore_free_list(char **names, int n);
/* Is the Arrow name an instance of function fn (fn-FN-DIGITS)? */
bool fnstore_is_instance(const char *arrow_name, const char *fn);
/* The function an instance name belongs to, into out (fn-NAME-DIGITS): true if it is one. */
bool fnstore_instance_of(const char *arrow_name, char *out, size_t len);

#endif
