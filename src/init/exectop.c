// SPDX-License-Identifier: MIT
/* arrow top's guest side: the processes of /proc as TOP_ROW frames (docs/exec.md). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/execproto.h"
#include "execsvc.h"

#define TOP_MAX_ROWS 65536 /* the host refuses more */

static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t have = 0;

	if (fd < 0)
		return -1;
	while (have < size - 1) {
		ssize_t n = read(fd, buf + have, size - 1 - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	return (ssize_t)have;
}

/* One process into r; false for kernel threads and processes gone meanwhile. */
static bool top_row(unsigned int pid, long tick, struct exec_top_row *r)
{
	char path[64], buf[4096], *p;
	unsigned long utime, stime;
	int ppid;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return false;
	/* "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime ...": comm may hold anything, so parse after its last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ppid,
			 &utime, &stime) != 3)
		return false;
	r->pid = pid;
	r->ppid = (uint32_t)ppid;
	if (r->pid == 2 || ppid == 2)
		return false; /* kthreadd and its kernel threads */
	r->cpu_ms = (uint64_t)(utime + stime) * 1000 / (uint64_t)tick;
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (read_small(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "\nUid:")))
		return false;
	r->uid = (uint32_t)strtoul(p + 5, NULL, 10);
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	n = read_small(path, r->cmd, sizeof(r->cmd));
	if (n <= 0) { /* a zombie has none: its name then, as ps shows it */
		snprintf(path, sizeof(path), "/proc/%u/comm", pid);
		if (read_small(path, buf, 64) <= 0)
			return false;
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(r->cmd, sizeof(r->cmd), "[%.64s]", buf);
		return true;
	}
	while (n > 0 && r->cmd[n - 1] == '\0')
		n--;
	if (n == 5 && !memcmp(r->cmd, "/init", 5)) {
		/* ainit and its forks (the exec service, its sessions) by their own names */
		snprintf(path, sizeof(path), "/proc/%u/comm", pid);
		if (read_small(path, buf, 64) > 5 && !strncmp(buf, "ainit", 5)) {
			buf[strcspn(buf, "\n")] = '\0';
			snprintf(r->cmd, sizeof(r->cmd), "%.64s", buf);
			return true;
		}
	}
	for (ssize_t i = 0; i < n; i++)
		if (r->cmd[i] == '\0')
			r->cmd[i] = ' ';
	r->cmd[n] = '\0';
	return true;
}

int exec_top_send(int fd, int skip_pid)
{
	static uint8_t buf[32 + EXECPROTO_CMD_MAX];
	long tick = sysconf(_SC_CLK_TCK);
	DIR *d = opendir("/proc");
	struct dirent *e;
	int ret = 0, rows = 0;

	if (tick <= 0)
		tick = 100;
	if (!d) {
		uint8_t err[64];
		int n = snprintf((char *)err + 4, sizeof(err) - 4, "cannot read /proc: %s",
				 strerror(errno));

		execproto_put32(err, 125);
		return execproto_write(fd, EXEC_ERROR, err, 4 + (uint32_t)n);
	}
	while (!ret && rows < TOP_MAX_ROWS && (e = readdir(d))) {
		struct exec_top_row r;

		if (!isdigit((unsigned char)e->d_name[0]) || atoi(e->d_name) == skip_pid ||
		    !top_row((unsigned int)atoi(e->d_name), tick, &r))
			continue;
		ret = execproto_write(fd, EXEC_TOP_ROW, buf,
				      (uint32_t)execproto_top_row_encode(&r, buf));
		rows++;
	}
	closedir(d);
	return ret ? ret : execproto_write(fd, EXEC_TOP_END, NULL, 0);
}
