/* SPDX-License-Identifier: MIT */
/*
 * A 16550A UART at COM1, output only and polled: enough for the kernel's
 * serial console (--debug-console). Transmitted bytes go to a host fd.
 */
#ifndef ARROW_SERIAL8250_H
#define ARROW_SERIAL8250_H

#include <stdint.h>

#define SERIAL8250_COM1 0x3f8
#define SERIAL8250_SIZE 8

struct serial8250 {
	int out_fd;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	uint32_t buf_len;
	char buf[256];
};

void serial8250_init(struct serial8250 *s, int out_fd);
void serial8250_read(void *opaque, uint64_t offset, void *data, uint32_t len);
void serial8250_write(void *opaque, uint64_t offset, const void *data, uint32_t len);
void serial8250_flush(struct serial8250 *s);

#endif
