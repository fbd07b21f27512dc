/* Prints a greeting and its arguments; exits with the status given by --exit N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int status = 0;

	printf("hello from an Arrow\n");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--exit") && i + 1 < argc)
			status = atoi(argv[++i]);
		else
			printf("arg: %s\n", argv[i]);
	}
	return status;
}
