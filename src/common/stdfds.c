// SPDX-License-Identifier: MIT
#include "stdfds.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int stdfds_install(int in, int out, int err)
{
	int src[3] = { in, out, err }, lifted[3] = { -1, -1, -1 }, ret = 0, saved;

	for (int i = 0; i < 3 && ret == 0; i++)
		if ((lifted[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3)) < 0)
			ret = -1;
	for (int i = 0; i < 3 && ret == 0; i++)
		if (dup2(lifted[i], i) < 0) /* a new descriptor: its close-on-exec flag is clear */
			ret = -1;
	saved = errno;
	for (int i = 0; i < 3; i++)
		if (lifted[i] >= 0)
			close(lifted[i]);
	errno = saved;
	return ret;
}
