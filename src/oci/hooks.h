/* SPDX-License-Identifier: MIT */
/* OCI hooks run on the host (docs/oci.md, "Hooks"). */
#ifndef ARROW_OCI_HOOKS_H
#define ARROW_OCI_HOOKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Run hooks.<kind> in order, each with state (the runtime-spec state object) on its stdin.
 * fatal (prestart, createRuntime): stop at the first failure and return -1 with why;
 * otherwise (poststart, poststop) each failure is a warning and 0 is returned.
 */
int oci_hooks_run(json_t *hooks, const char *kind, json_t *state, bool fatal, char *why,
		  size_t whylen);

#endif
