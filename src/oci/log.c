// SPDX-License-Identifier: MIT
/* arrow-oci's messages (oci/log.h). */
#include "log.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/statedir.h"
#include "container.h"

static int log_fd = -1;
static bool log_json, log_debug;

int ocilog_open(const char *path, bool json, bool debug)
{
	log_json = json;
	log_debug = debug;
	if (!path)
		return 0;
	log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	return log_fd < 0 ? -1 : 0;
}

void ocilog(const char *level, const char *fmt, ...)
{
	char msg[2048], now[48], *line = NULL;
	va_list ap;
	int fd = log_fd >= 0 ? log_fd : STDERR_FILENO;

	if (!strcmp(level, "debug") && !log_debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	oci_rfc3339(statedir_realtime_ns(), now, sizeof(now));
	if (log_json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", now);
		char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (text && asprintf(&line, "%s\n", text) < 0)
			line = NULL;
		free(text);
		json_decref(o);
	} else if (fd == STDERR_FILENO) {
		if (asprintf(&line, "arrow-oci: %s%s%s\n", strcmp(level, "error") ? level : "",
			     strcmp(level, "error") ? ": " : "", msg) < 0)
			line = NULL;
	} else if (asprintf(&line, "time=\"%s\" level=%s msg=\"%s\"\n", now, level, msg) < 0) {
		line = NULL;
	}
	if (line && write(fd, line, strlen(line)) < 0) {
		/* nowhere left to say it */
	}
	free(line);
}
