// SPDX-License-Identifier: MIT
/* holdfiles DIR N: create and hold open up to N files in DIR, say how many, then wait for
 * a signal (the default action ends it). A guest that pins host descriptors of arrowh. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
	struct rlimit rl = { 65536, 65536 };
	int n, held = 0, err = 0;
	char path[4096];

	if (argc != 3)
		return 2;
	n = atoi(argv[2]);
	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%d", argv[1], i);
		if (open(path, O_RDWR | O_CREAT, 0644) < 0) {
			err = errno;
			break;
		}
		held++;
	}
	printf("held %d files%s%s\n", held, err ? ", then: " : "", err ? strerror(err) : "");
	fflush(stdout);
	for (;;)
		pause();
}
