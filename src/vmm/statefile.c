// SPDX-License-Identifier: MIT
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/statedir.h"

int statefile_claim(struct statefile *sf, const char *dir)
{
	char path[4096];
	int ret;

	memset(sf, 0, sizeof(*sf));
	sf->dir = dir;
	sf->lock_fd = -1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, STATE_LOCK_FILE) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	sf->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (sf->lock_fd < 0)
		return -errno;
	ret = statedir_claim(sf->lock_fd);
	if (ret) {
		close(sf->lock_fd);
		sf->lock_fd = -1;
		return ret;
	}
	return 0;
}

int statefile_running(struct statefile *sf, int vmm_pid)
{
	char buf[256];
	int n;

	sf->started_ns = statedir_realtime_ns();
	n = snprintf(buf, sizeof(buf),
		     "{\"status\": \"running\", \"pid\": %d, \"vmm_pid\": %d, \"started_ns\": %llu}\n",
		     (int)getpid(), vmm_pid ? vmm_pid : (int)getpid(),
		     (unsigned long long)sf->started_ns);
	return statedir_write_file(sf->dir, STATE_FILE, buf, (size_t)n);
}

int statefile_exited(struct statefile *sf, int exit_code)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "{\"status\": \"exited\", \"pid\": 0, \"started_ns\": %llu, "
		     "\"finished_ns\": %llu, \"exit_code\": %d}\n",
		     (unsigned long long)sf->started_ns,
		     (unsigned long long)statedir_realtime_ns(), exit_code);
	return statedir_write_file(sf->dir, STATE_FILE, buf, (size_t)n);
}

void statefile_remove(struct statefile *sf)
{
	statedir_remove(sf->dir);
}
