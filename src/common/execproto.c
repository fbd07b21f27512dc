// SPDX-License-Identifier: MIT
/* The exec protocol's frames (execproto.h, docs/exec.md): shared by ainit and the CLI. */
#include "execproto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* START's fixed part: version, flags, rows, cols (u16 each), uid, gid, argc, envc (u32). */
#define START_FIXED 24u
#define TOP_FIXED 24u

long execproto_max_len(enum execproto_side from, uint16_t type)
{
	if (from == EXECPROTO_FROM_HOST) {
		switch (type) {
		case EXEC_START:
			return EXECPROTO_START_MAX;
		case EXEC_STDIN:
			return EXECPROTO_DATA_MAX;
		case EXEC_STDIN_EOF:
		case EXEC_TOP:
			return 0;
		case EXEC_RESIZE:
		case EXEC_SIGNAL:
			return 4;
		}
		return -1;
	}
	switch (type) {
	case EXEC_STARTED:
	case EXEC_EXIT:
		return 4;
	case EXEC_ERROR:
		return 4 + EXECPROTO_MSG_MAX;
	case EXEC_STDOUT:
	case EXEC_STDERR:
		return EXECPROTO_DATA_MAX;
	case EXEC_TOP_ROW:
		return TOP_FIXED + EXECPROTO_CMD_MAX;
	case EXEC_TOP_END:
		return 0;
	}
	return -1;
}

bool execproto_fixed_len(uint16_t type)
{
	return type == EXEC_STDIN_EOF || type == EXEC_TOP || type == EXEC_RESIZE ||
	       type == EXEC_SIGNAL || type == EXEC_STARTED || type == EXEC_EXIT ||
	       type == EXEC_TOP_END;
}

void execproto_hdr_put(uint8_t hdr[EXECPROTO_HDR_LEN], uint16_t type, uint32_t len)
{
	execproto_put32(hdr, len);
	execproto_put16(hdr + 4, type);
	execproto_put16(hdr + 6, 0);
}

int execproto_hdr_parse(const uint8_t hdr[EXECPROTO_HDR_LEN], enum execproto_side from,
			uint16_t *type, uint32_t *len)
{
	long max;

	*len = execproto_get32(hdr);
	*type = execproto_get16(hdr + 4);
	max = execproto_max_len(from, *type);
	if (max < 0 || execproto_get16(hdr + 6) != 0)
		return -EPROTO;
	if (*len > (unsigned long)max)
		return -EMSGSIZE;
	if (execproto_fixed_len(*type) && *len != (unsigned long)max)
		return -EMSGSIZE;
	if (*type == EXEC_ERROR && *len < 4)
		return -EMSGSIZE;
	if (*type == EXEC_TOP_ROW && *len < TOP_FIXED)
		return -EMSGSIZE;
	return 0;
}

static bool env_entry_ok(const char *e)
{
	const char *eq = strchr(e, '=');

	return eq && eq != e;
}

int execproto_start_encode(const struct exec_start *s, uint8_t **out, size_t *len)
{
	size_t total = START_FIXED, workdir_len = strlen(s->workdir ? s->workdir : "") + 1;
	uint8_t *buf, *p;

	if (s->argc < 1 || !s->argv[0][0] || (s->flags & ~EXEC_F_ALL))
		return -EINVAL;
	if (s->argc > EXECPROTO_MAX_ARGS || s->envc > EXECPROTO_MAX_ENV ||
	    workdir_len > EXECPROTO_PATH_MAX)
		return -E2BIG;
	if (workdir_len > 1 && s->workdir[0] != '/')
		return -EINVAL;
	for (uint32_t i = 0; i < s->argc; i++) {
		total += strlen(s->argv[i]) + 1;
		if (total > EXECPROTO_START_MAX)
			return -E2BIG;
	}
	for (uint32_t i = 0; i < s->envc; i++) {
		if (!env_entry_ok(s->env[i]))
			return -EINVAL;
		total += strlen(s->env[i]) + 1;
		if (total > EXECPROTO_START_MAX)
			return -E2BIG;
	}
	total += workdir_len;
	if (total > EXECPROTO_START_MAX)
		return -E2BIG;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	execproto_put16(buf, EXECPROTO_VERSION);
	execproto_put16(buf + 2, s->flags);
	execproto_put16(buf + 4, s->rows);
	execproto_put16(buf + 6, s->cols);
	execproto_put32(buf + 8, s->uid);
	execproto_put32(buf + 12, s->gid);
	execproto_put32(buf + 16, s->argc);
	execproto_put32(buf + 20, s->envc);
	p = buf + START_FIXED;
	for (uint32_t i = 0; i < s->argc; i++)
		p = (uint8_t *)stpcpy((char *)p, s->argv[i]) + 1;
	for (uint32_t i = 0; i < s->envc; i++)
		p = (uint8_t *)stpcpy((char *)p, s->env[i]) + 1;
	memcpy(p, s->workdir ? s->workdir : "", workdir_len);
	*out = buf;
	*len = total;
	return 0;
}

/* The NUL-terminated string at *pos, or NULL if none ends inside the payload. */
static char *next_string(const uint8_t *payload, size_t len, size_t *pos)
{
	const uint8_t *nul;
	char *s;

	if (*pos >= len)
		return NULL;
	nul = memchr(payload + *pos, '\0', len - *pos);
	if (!nul)
		return NULL;
	s = (char *)(payload + *pos);
	*pos = (size_t)(nul - payload) + 1;
	return s;
}

int execproto_start_decode(const uint8_t *payload, size_t len, struct exec_start *s)
{
	size_t pos = START_FIXED;

	memset(s, 0, sizeof(*s));
	if (len < START_FIXED || len > EXECPROTO_START_MAX ||
	    execproto_get16(payload) != EXECPROTO_VERSION)
		return -EPROTO;
	s->flags = execproto_get16(payload + 2);
	s->rows = execproto_get16(payload + 4);
	s->cols = execproto_get16(payload + 6);
	s->uid = execproto_get32(payload + 8);
	s->gid = execproto_get32(payload + 12);
	s->argc = execproto_get32(payload + 16);
	s->envc = execproto_get32(payload + 20);
	/* each string takes at least its NUL: counts beyond the bytes left are lies */
	if ((s->flags & ~EXEC_F_ALL) || s->argc < 1 || s->argc > EXECPROTO_MAX_ARGS ||
	    s->envc > EXECPROTO_MAX_ENV || (size_t)s->argc + s->envc + 1 > len - START_FIXED)
		return -EPROTO;
	s->argv = calloc((size_t)s->argc + 1, sizeof(char *));
	s->env = calloc((size_t)s->envc + 1, sizeof(char *));
	if (!s->argv || !s->env) {
		execproto_start_free(s);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->argc; i++)
		if (!(s->argv[i] = next_string(payload, len, &pos)))
			goto bad;
	for (uint32_t i = 0; i < s->envc; i++)
		if (!(s->env[i] = next_string(payload, len, &pos)) || !env_entry_ok(s->env[i]))
			goto bad;
	s->workdir = next_string(payload, len, &pos);
	if (!s->workdir || pos != len || !s->argv[0][0] ||
	    (s->workdir[0] && s->workdir[0] != '/') || strlen(s->workdir) >= EXECPROTO_PATH_MAX)
		goto bad;
	return 0;
bad:
	execproto_start_free(s);
	return -EPROTO;
}

void execproto_start_free(struct exec_start *s)
{
	free(s->argv);
	free(s->env);
	s->argv = s->env = NULL;
}

size_t execproto_top_row_encode(const struct exec_top_row *r, uint8_t *buf)
{
	size_t n = strnlen(r->cmd, EXECPROTO_CMD_MAX);

	execproto_put32(buf, r->pid);
	execproto_put32(buf + 4, r->ppid);
	execproto_put32(buf + 8, r->uid);
	execproto_put32(buf + 12, 0);
	execproto_put32(buf + 16, (uint32_t)r->cpu_ms);
	execproto_put32(buf + 20, (uint32_t)(r->cpu_ms >> 32));
	memcpy(buf + TOP_FIXED, r->cmd, n);
	return TOP_FIXED + n;
}

int execproto_top_row_decode(const uint8_t *payload, size_t len, struct exec_top_row *r)
{
	size_t n;

	if (len < TOP_FIXED || len > TOP_FIXED + EXECPROTO_CMD_MAX)
		return -EPROTO;
	r->pid = execproto_get32(payload);
	r->ppid = execproto_get32(payload + 4);
	r->uid = execproto_get32(payload + 8);
	r->cpu_ms = execproto_get32(payload + 16) | (uint64_t)execproto_get32(payload + 20) << 32;
	n = len - TOP_FIXED;
	memcpy(r->cmd, payload + TOP_FIXED, n);
	r->cmd[n] = '\0';
	/* the guest's text goes to the user's terminal: no control characters */
	for (size_t i = 0; i < n && r->cmd[i]; i++)
		if ((unsigned char)r->cmd[i] < 0x20 || r->cmd[i] == 0x7f)
			r->cmd[i] = '?';
	return 0;
}

int execproto_reader_init(struct execproto_reader *r, enum execproto_side from)
{
	memset(r, 0, sizeof(*r));
	r->from = from;
	r->payload = malloc(EXECPROTO_FRAME_MAX);
	return r->payload ? 0 : -ENOMEM;
}

void execproto_reader_free(struct execproto_reader *r)
{
	free(r->payload);
	r->payload = NULL;
}

int execproto_read(struct execproto_reader *r, int fd)
{
	ssize_t n;

	if (r->have == EXECPROTO_HDR_LEN + r->len && r->have >= EXECPROTO_HDR_LEN)
		r->have = 0; /* the previous frame was handed out */
	if (r->have < EXECPROTO_HDR_LEN)
		n = read(fd, r->hdr + r->have, EXECPROTO_HDR_LEN - r->have);
	else
		n = read(fd, r->payload + (r->have - EXECPROTO_HDR_LEN),
			 EXECPROTO_HDR_LEN + r->len - r->have);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0 && r->have) {
		r->have = 0;
		r->len = 0;
		return -ECONNRESET;
	}
	if (n == 0)
		return EXECPROTO_EOF;
	r->have += (size_t)n;
	if (r->have == EXECPROTO_HDR_LEN) {
		int ret = execproto_hdr_parse(r->hdr, r->from, &r->type, &r->len);

		if (ret) {
			r->have = 0;
			r->len = 0;
			return ret;
		}
	}
	return r->have >= EXECPROTO_HDR_LEN && r->have == EXECPROTO_HDR_LEN + r->len ? 1 : 0;
}

int execproto_write(int fd, uint16_t type, const void *payload, uint32_t len)
{
	uint8_t hdr[EXECPROTO_HDR_LEN];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)payload, len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t left = sizeof(hdr) + len;
	bool sock = true;

	execproto_hdr_put(hdr, type, len);
	while (left) {
		ssize_t n = sock ? sendmsg(fd, &msg, MSG_NOSIGNAL) : writev(fd, msg.msg_iov,
									  (int)msg.msg_iovlen);

		if (n < 0 && errno == ENOTSOCK && sock) {
			sock = false;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		left -= (size_t)n;
		while (n > 0) {
			size_t take = (size_t)n < msg.msg_iov->iov_len ? (size_t)n
								       : msg.msg_iov->iov_len;

			msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + take;
			msg.msg_iov->iov_len -= take;
			n -= (ssize_t)take;
			if (!msg.msg_iov->iov_len && msg.msg_iovlen > 1) {
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
		}
	}
	return 0;
}

int execproto_write_u32(int fd, uint16_t type, uint32_t value)
{
	uint8_t p[4];

	execproto_put32(p, value);
	return execproto_write(fd, type, p, sizeof(p));
}
