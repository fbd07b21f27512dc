// SPDX-License-Identifier: MIT
/*
 * The run configuration (src/common/runcfg.c): what ainit parses from the initramfs and,
 * for a clone, the identity records over it. Input: a 2-byte length of the run
 * configuration, the configuration, then an identity. A configuration that parses is
 * written again with runcfg_append and must parse to the same program, argv and env.
 */
#include "fuzz.h"
#include "common/runcfg.h"

static struct runcfg cfg, again;

static void append_all(char **buf, size_t *len, char tag, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (runcfg_append(buf, len, tag, v[i]))
			abort();
}

static void round_trip(void)
{
	char *buf = NULL;
	size_t len = 0;

	if (runcfg_append(&buf, &len, RUNCFG_PROGRAM, cfg.program))
		abort();
	append_all(&buf, &len, RUNCFG_ARG, cfg.argv, cfg.argc);
	append_all(&buf, &len, RUNCFG_ENV, cfg.envp, cfg.envc);
	if (runcfg_parse(buf, len, &again) || strcmp(again.program, cfg.program) ||
	    again.argc != cfg.argc || again.envc != cfg.envc)
		abort();
	for (size_t i = 0; i < cfg.argc; i++)
		if (strcmp(again.argv[i], cfg.argv[i]))
			abort();
	for (size_t i = 0; i < cfg.envc; i++)
		if (strcmp(again.envp[i], cfg.envp[i]))
			abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	size_t n = (size_t)fz_int(&f, 2), got, igot;
	const uint8_t *c = fz_bytes(&f, n, &got), *id = fz_bytes(&f, fz_left(&f), &igot);
	/* exact-size copies: ASan sees any read past the end */
	char *buf = malloc(got ? got : 1), *ibuf = malloc(igot ? igot : 1);

	if (!buf || !ibuf)
		abort();
	memcpy(buf, c, got);
	memcpy(ibuf, id, igot);
	if (runcfg_parse(buf, got, &cfg) == 0) {
		if (!cfg.program || cfg.argc < 1 || cfg.argv[cfg.argc] || cfg.envp[cfg.envc])
			abort();
		round_trip();
		(void)runcfg_parse_identity(ibuf, igot, &cfg);
		if (cfg.nr_dns > RUNCFG_MAX_DNS || cfg.nr_hosts > RUNCFG_MAX_HOSTS ||
		    cfg.nr_volumes > RUNCFG_MAX_VOLUMES)
			abort();
	}
	free(buf);
	free(ibuf);
	return 0;
}
