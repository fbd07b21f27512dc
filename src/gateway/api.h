/* SPDX-License-Identifier: MIT */
/* The gateway's endpoints other than /function/: OpenFaaS faas-provider, metrics, health. */
#ifndef ARROW_GATEWAY_API_H
#define ARROW_GATEWAY_API_H

#include <jansson.h>
#include <stddef.h>

#include "lib/fn/fnstore.h"
#include "route.h"

struct reply {
	int status;
	char *body; /* malloc'ed */
	size_t len;
	const char *type;
};

/* Answer one API request (route kinds other than ROUTE_FUNCTION). */
void api_handle(const struct route *rt, const char *method, const char *body, size_t len,
		struct reply *r);
/* An OpenFaaS FunctionDeployment as a function spec (validated): 0, or -EINVAL with why. */
int api_spec_from_openfaas(json_t *req, struct fn_spec *s, char *why, size_t whylen);
/* Fill r with a text body (printf-style). */
void reply_text(struct reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
