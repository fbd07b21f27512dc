// SPDX-License-Identifier: MIT
#include "serial8250.h"

#include <string.h>
#include <unistd.h>

#define REG_DATA 0
#define REG_IER 1
#define REG_IIR_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_THRE_TEMT 0x60
#define IIR_NO_INT 0x01
#define IIR_FIFO 0xc0

void serial8250_init(struct serial8250 *s, int out_fd)
{
	memset(s, 0, sizeof(*s));
	s->out_fd = out_fd;
	s->dll = 12; /* 9600 baud until the driver says otherwise */
}

void serial8250_flush(struct serial8250 *s)
{
	size_t done = 0;

	while (done < s->buf_len) {
		ssize_t n = write(s->out_fd, s->buf + done, s->buf_len - done);

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	s->buf_len = 0;
}

static void transmit(struct serial8250 *s, uint8_t c)
{
	s->buf[s->buf_len++] = (char)c;
	if (c == '\n' || s->buf_len == sizeof(s->buf))
		serial8250_flush(s);
}

void serial8250_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct serial8250 *s = opaque;
	uint8_t v = 0;

	switch (offset) {
	case REG_DATA:
		v = (s->lcr & LCR_DLAB) ? s->dll : 0;
		break;
	case REG_IER:
		v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
		break;
	case REG_IIR_FCR:
		v = IIR_NO_INT | ((s->fcr & 1) ? IIR_FIFO : 0);
		break;
	case REG_LCR:
		v = s->lcr;
		break;
	case REG_MCR:
		v = s->mcr;
		break;
	case REG_LSR:
		v = LSR_THRE_TEMT;
		break;
	case REG_MSR:
		if (s->mcr & MCR_LOOP) /* DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
			v = (uint8_t)(((s->mcr & 1) << 5) | ((s->mcr & 2) << 3) |
				      ((s->mcr & 4) << 4) | ((s->mcr & 8) << 4));
		else
			v = 0xb0; /* DCD, DSR, CTS */
		break;
	case REG_SCR:
		v = s->scr;
		break;
	}
	memset(data, 0, len);
	memcpy(data, &v, 1);
}

void serial8250_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct serial8250 *s = opaque;
	uint8_t v;

	if (len < 1)
		return;
	memcpy(&v, data, 1);
	switch (offset) {
	case REG_DATA:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else if (!(s->mcr & MCR_LOOP))
			transmit(s, v);
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB)
			s->dlm = v;
		else
			s->ier = v & 0x0f;
		break;
	case REG_IIR_FCR:
		s->fcr = v;
		break;
	case REG_LCR:
		s->lcr = v;
		break;
	case REG_MCR:
		s->mcr = v & 0x1f;
		break;
	case REG_SCR:
		s->scr = v;
		break;
	}
}
