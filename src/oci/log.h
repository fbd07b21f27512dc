/* SPDX-License-Identifier: MIT */
/*
 * arrow-oci's messages, as runc writes them: to --log FILE when given (text, or one JSON
 * object per line with --log-format json: {"level","msg","time"}), else to stderr. The
 * callers (conmon, containerd's shim) read that file when a command fails; stderr of
 * `create` is the container's own stderr, so nothing else is written there then.
 */
#ifndef ARROW_OCI_LOG_H
#define ARROW_OCI_LOG_H

#include <stdbool.h>

/* 0, or -errno when the file cannot be opened (messages then go to stderr). */
int ocilog_open(const char *path, bool json, bool debug);
void ocilog(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define oci_error(...) ocilog("error", __VA_ARGS__)
#define oci_warn(...) ocilog("warning", __VA_ARGS__)
#define oci_debug(...) ocilog("debug", __VA_ARGS__)

#endif
