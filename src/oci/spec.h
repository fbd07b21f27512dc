/* SPDX-License-Identifier: MIT */
/*
 * An OCI bundle's config.json (runtime-spec 1.x) as arrow-oci honours it (docs/oci.md).
 * The document is untrusted: every field read is type-checked and bounded; what has no
 * meaning in a VM is ignored (a warning says so where a caller may expect an effect);
 * what cannot be honoured safely is refused with a reason.
 */
#ifndef ARROW_OCI_SPEC_H
#define ARROW_OCI_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCI_CONFIG_MAX_BYTES (4u << 20) /* config.json */
#define OCI_MAX_ARGS 4096
#define OCI_MAX_ENV 1024
#define OCI_STRING_MAX (64u << 10)        /* one argument or variable */
#define OCI_PROCESS_MAX_BYTES (1u << 20)  /* args and env together */
#define OCI_MAX_VOLUMES 8                 /* directory bind mounts (arrowh's limit) */
#define OCI_MAX_FILES 32                  /* file bind mounts, copied at create */
#define OCI_FILE_MAX_BYTES (4u << 20)     /* one copied file */
#define OCI_MAX_MOUNTS 256
#define OCI_MAX_WARNINGS 16
#define OCI_MIN_MEMORY_MIB 64
#define OCI_MAX_MEMORY_MIB (256u << 10)
#define OCI_MAX_CPUS 64
#define OCI_ID_MAX 200
#define OCI_MAX_HOOKS 32                 /* per kind */
#define OCI_HOOK_MAX_ARGS 256            /* args or env of one hook */
#define OCI_HOOK_MAX_TIMEOUT 3600        /* seconds */
#define OCI_HOOK_DEFAULT_TIMEOUT 300     /* without "timeout": a hook may not hang create */

struct oci_bind {
	char *host;  /* resolved absolute host path (malloc'ed) */
	char *guest; /* absolute, checked (malloc'ed) */
	bool read_only;
};

struct oci_spec {
	json_t *doc;             /* the parsed document: the strings below point into it */
	const char *oci_version;
	char *root;              /* root.path resolved against the bundle (malloc'ed) */
	bool root_readonly;
	const char *args[OCI_MAX_ARGS];
	size_t nr_args;
	const char *env[OCI_MAX_ENV];
	size_t nr_env;
	const char *cwd;
	uint32_t uid, gid;
	bool user_given;         /* process.user was there */
	bool terminal;
	const char *hostname;    /* NULL: none given */
	uint64_t memory_mib;     /* 0: not given (linux.resources.memory.limit) */
	unsigned int cpus;       /* 0: not given (linux.resources.cpu quota/period) */
	const char *cgroups_path; /* NULL: none given */
	const char *netns_path;  /* linux.namespaces network path to join; NULL: loopback only */
	bool netns_fresh;        /* a network namespace without a path: the container process
				  * makes one, hooks may give it an interface (Docker) */
	struct oci_bind volumes[OCI_MAX_VOLUMES];
	unsigned int nr_volumes;
	struct oci_bind files[OCI_MAX_FILES];
	unsigned int nr_files;
	json_t *annotations;     /* an object (maybe empty), a reference of its own */
	json_t *hooks;           /* the checked hooks object (NULL: none), a reference of its own */
	char warnings[OCI_MAX_WARNINGS][256];
	bool warning_is_debug[OCI_MAX_WARNINGS]; /* expected from every caller: --debug only */
	unsigned int nr_warnings;
};

/* Container ids: 1 to OCI_ID_MAX of [A-Za-z0-9_+.-], not "." or ".." (runc's rule). */
bool oci_id_valid(const char *id);

/*
 * Parse config.json text (len bytes) of the bundle directory bundle (absolute). Host paths
 * (root.path, bind mount sources) are resolved and checked here. 0, or -errno with a
 * one-line reason in why; s is freed on failure.
 */
int oci_spec_parse(const char *text, size_t len, const char *bundle, struct oci_spec *s,
		   char *why, size_t whylen);
/* Read bundle/config.json (a regular file of at most OCI_CONFIG_MAX_BYTES) and parse it. */
int oci_spec_load(const char *bundle, struct oci_spec *s, char *why, size_t whylen);
void oci_spec_free(struct oci_spec *s);

/*
 * An OCI process object alone, as `exec --process FILE` passes it: args, env, cwd, user
 * and terminal checked as config.json's process (the other members ignored). The strings
 * point into s->doc; oci_spec_free releases it. 0, or -errno with why.
 */
int oci_process_parse(const char *text, size_t len, struct oci_spec *s, char *why,
		      size_t whylen);
int oci_process_load(const char *path, struct oci_spec *s, char *why, size_t whylen);

/* "ro"/"rw"-style lists: is opt among a mount's options? */
bool oci_mount_has_option(json_t *options, const char *opt);
/* A guest path: absolute, at most 4095 bytes, no empty, "." or ".." component, no
 * control characters. NULL: fine; else why not. */
const char *oci_guest_path_problem(const char *p);

#endif
