/* SPDX-License-Identifier: MIT */
/*
 * arrowh's I/O thread, shared between its event loop (loop.c) and its clients
 * (hostctl.c): the control socket, attach clients, the template point and start gate.
 */
#ifndef ARROW_VMM_LOOP_H
#define ARROW_VMM_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "session.h"

#define EXIT_ARROW_ERROR 125
#define FORCE_AFTER_SIGINTS 3

#define EXIT_HARD_STOP 137 /* as docker reports a container it had to kill */

enum { EV_SIGNAL, EV_STOP, EV_WAKE, EV_STDIN, EV_LISTEN, EV_BOOT_DEADLINE, EV_ACCEPT_RETRY, EV_CLIENT,
       EV_CALLER };
#define EV_CLIENT_TAG(slot) (EV_CLIENT | ((uint64_t)(slot) << 8))

struct loop {
	struct session *s;
	int ep;
	int sig_fd;
	bool stdin_pollable;
	bool stdin_polled;
	bool stdin_eof;
	bool input_paused; /* the attach client feeding stdin waits for room in the guest */
	int sigints;
	int host_status;
	int boot_timer; /* timerfd: the boot deadline (--boot-timeout), -1 if none */
	int accept_timer; /* timerfd: accepting again after running out of resources */
	bool accept_warned;
	bool user_paused; /* HOSTCTL_PAUSE: the vCPUs stay parked until HOSTCTL_RESUME */
};

/* loop.c */
void stdin_eof(struct loop *l);
int send_signal(struct loop *l, int sig);
void hard_stop(struct loop *l, int status);

/* hostctl.c */
void resume_input(struct loop *l);
void template_point(struct loop *l);
bool tell_ready(struct session *s);
void start_gate(struct loop *l);
void accept_again(struct loop *l);
void accept_clients(struct loop *l);
void client_event(struct loop *l, int slot, uint32_t events);

#endif
