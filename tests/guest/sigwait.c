/*
 * Prints "ready", then waits for signals. SIGTERM and SIGINT are caught:
 * it reports the signal and exits with 0 (a clean shutdown). With --ignore it
 * ignores SIGTERM and SIGINT instead and sleeps forever.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_signal(int sig)
{
	got = sig;
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = (argc > 1 && !strcmp(argv[1], "--ignore")) ? SIG_IGN : on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	while (!got)
		pause();
	printf("got %s, shutting down cleanly\n", got == SIGTERM ? "SIGTERM" : "SIGINT");
	return 0;
}
