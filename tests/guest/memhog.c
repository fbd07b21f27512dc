/*
 * Touches memory, 1 MiB at a time, every page written with a non-zero byte (so no zero page
 * or merging can hide it): up to MIB MiB if given, else all it can get until the guest's OOM
 * killer or the host's stops it. Reports the total every 32 MiB and at the end.
 * Usage: memhog [MIB] [--hold]   (--hold: then wait, holding it, until killed)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK (1ul << 20)

int main(int argc, char **argv)
{
	unsigned long limit = 0, mib = 0;
	long page = sysconf(_SC_PAGESIZE);
	int hold = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--hold"))
			hold = 1;
		else
			limit = strtoul(argv[i], NULL, 10);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!limit || mib < limit) {
		char *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			break;
		for (unsigned long off = 0; off < CHUNK; off += (unsigned long)page)
			p[off] = 1;
		mib++;
		if (mib % 32 == 0)
			printf("memhog: %lu MiB\n", mib);
	}
	printf("memhog: touched %lu MiB\n", mib);
	while (hold)
		pause();
	return 0;
}
