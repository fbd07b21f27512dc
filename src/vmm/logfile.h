/* SPDX-License-Identifier: MIT */
/*
 * An Arrow's log: stdout and stderr as framed records (common/streamrec.h) in
 * PATH, rotated to PATH.1 .. PATH.(files-1) when PATH would pass max_size, so
 * that a chatty app cannot fill the disk.
 */
#ifndef ARROW_VMM_LOGFILE_H
#define ARROW_VMM_LOGFILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct logfile {
	pthread_mutex_t lock;
	int fd;
	char path[4096];
	uint64_t size;
	uint64_t max_size;
	unsigned int max_files;
	bool failed; /* reported once; further records are dropped */
};

int logfile_open(struct logfile *l, const char *path, uint64_t max_size, unsigned int max_files);
/* PATH -> PATH.1 -> ... -> PATH.(files-1), then a new empty PATH: its fd, or -errno. */
int logfile_rotate_path(const char *path, unsigned int max_files);
/* Set by the jailed VMM: rotation is asked of the supervisor, which returns the new fd. */
extern int (*logfile_rotate_hook)(void);
void logfile_write(struct logfile *l, int stream, const struct iovec *iov, unsigned int n,
		   size_t len);
void logfile_close(struct logfile *l);

#endif
