/* SPDX-License-Identifier: MIT */
/*
 * What the arrow-oci unit tests share (test_oci.c, test_ociops.c): the front end's sources,
 * which are not in the unit-test link, and a bundle in a temporary directory with a
 * config.json parser over it. One test binary includes it once.
 */
#ifndef ARROW_TESTS_OCITEST_H
#define ARROW_TESTS_OCITEST_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

#include "../../src/oci/commands.c"
#include "../../src/oci/container.c"
#include "../../src/oci/create.c"
#include "../../src/oci/guestcfg.c"
#include "../../src/oci/hooks.c"
#include "../../src/oci/log.c"
#include "../../src/oci/spec.c"
#include "../../src/oci/specgen.c"
#include "../../src/oci/update.c"
#include "lib/exec/execclient.h"
#include "lib/image/rootfs.h"

static char bundle[64];
static struct oci_spec spec;
static char why[1024];

static int make_bundle(void **state)
{
	char path[128];

	(void)state;
	snprintf(bundle, sizeof(bundle), "/tmp/arrow-oci-XXXXXX");
	if (!mkdtemp(bundle))
		return -1;
	snprintf(path, sizeof(path), "%s/rootfs", bundle);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/data", bundle);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/file", bundle);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	return 0;
}

static int remove_bundle(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", bundle);
	return system(cmd);
}

/* Parse a config.json whose text is the given process and extra members. */
static int parse_with(const char *process, const char *extra)
{
	char *text;
	int ret;

	if (asprintf(&text, "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"}%s%s%s%s}",
		     process ? ",\"process\":" : "", process ? process : "", extra ? "," : "",
		     extra ? extra : "") < 0)
		return -ENOMEM;
	why[0] = '\0';
	ret = oci_spec_parse(text, strlen(text), bundle, &spec, why, sizeof(why));
	free(text);
	return ret;
}

#define PROC "{\"args\":[\"sh\",\"-c\",\"echo hi\"],\"env\":[\"PATH=/bin\",\"A=1\"],\"cwd\":\"/\"}"

#endif
