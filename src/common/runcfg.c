// SPDX-License-Identifier: MIT
#include "runcfg.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int parse_id(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT_MAX - 1)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* Tags a clone's identity may carry (ARROW_CTL_IDENTITY); the rest belongs to the app. */
static bool identity_tag(char tag)
{
	return strchr("hirdHms", tag) != NULL;
}

static int parse_records(char *buf, size_t len, struct runcfg *cfg, bool identity)
{
	bool new_dns = identity, new_hosts = identity;
	size_t pos = 0;
	unsigned int id;

	while (pos < len) {
		char tag = buf[pos];
		char *value = buf + pos + 1;
		char *nul = memchr(value, '\0', len - pos - 1);

		if (pos + 1 > len || !nul)
			return -EINVAL;
		pos = (size_t)(nul - buf) + 1;
		if (identity != identity_tag(tag) && (identity || tag == RUNCFG_MAC || tag == RUNCFG_SEED))
			return -EINVAL;
		switch (tag) {
		case RUNCFG_PROGRAM:
			cfg->program = value;
			break;
		case RUNCFG_ARG:
			if (cfg->argc >= RUNCFG_MAX_ITEMS)
				return -E2BIG;
			cfg->argv[cfg->argc++] = value;
			break;
		case RUNCFG_ENV:
			if (cfg->envc >= RUNCFG_MAX_ITEMS)
				return -E2BIG;
			if (!strchr(value, '='))
				return -EINVAL;
			cfg->envp[cfg->envc++] = value;
			break;
		case RUNCFG_WORKDIR:
			if (value[0] != '/')
				return -EINVAL;
			cfg->workdir = value;
			break;
		case RUNCFG_HOSTNAME:
			cfg->hostname = value;
			break;
		case RUNCFG_TTY:
			cfg->tty = !strcmp(value, "1");
			break;
		case RUNCFG_ADDRESS:
			cfg->address = value;
			break;
		case RUNCFG_GATEWAY:
			cfg->gateway = value;
			break;
		case RUNCFG_DNS:
			if (new_dns) /* an identity's list replaces the old one */
				cfg->nr_dns = 0;
			new_dns = false;
			if (cfg->nr_dns >= RUNCFG_MAX_DNS)
				return -E2BIG;
			cfg->dns[cfg->nr_dns++] = value;
			break;
		case RUNCFG_HOST:
			if (new_hosts)
				cfg->nr_hosts = 0;
			new_hosts = false;
			if (cfg->nr_hosts >= RUNCFG_MAX_HOSTS || strchr(value, '\n'))
				return -E2BIG;
			cfg->hosts[cfg->nr_hosts++] = value;
			break;
		case RUNCFG_TEMPLATE:
			cfg->template = !strcmp(value, "1");
			break;
		case RUNCFG_HOLD:
			cfg->hold = !strcmp(value, "1");
			break;
		case RUNCFG_VOLUME: {
			const char *c1 = strchr(value, ':');

			if (cfg->nr_volumes >= RUNCFG_MAX_VOLUMES || !c1 || c1 == value ||
			    (strncmp(c1, ":ro:/", 5) && strncmp(c1, ":rw:/", 5)))
				return -EINVAL;
			cfg->volumes[cfg->nr_volumes++] = value;
			break;
		}
		case RUNCFG_ROOT:
			if (strcmp(value, "rw") && strcmp(value, "ro"))
				return -EINVAL;
			cfg->root_share = true;
			cfg->root_read_only = !strcmp(value, "ro");
			break;
		case RUNCFG_BIND:
			if (cfg->nr_binds >= RUNCFG_MAX_BINDS)
				return -E2BIG;
			if (value[0] != '/' || !value[1] || strstr(value, "/../") ||
			    (strlen(value) >= 3 && !strcmp(value + strlen(value) - 3, "/..")))
				return -EINVAL;
			cfg->binds[cfg->nr_binds++] = value;
			break;
		case RUNCFG_MAC:
			cfg->mac = value;
			break;
		case RUNCFG_SEED:
			cfg->seed = value;
			break;
		case RUNCFG_UID:
			if (parse_id(value, &id))
				return -EINVAL;
			cfg->uid = id;
			break;
		case RUNCFG_GID:
			if (parse_id(value, &id))
				return -EINVAL;
			cfg->gid = id;
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

int runcfg_parse_identity(char *buf, size_t len, struct runcfg *cfg)
{
	return parse_records(buf, len, cfg, true);
}

int runcfg_parse(char *buf, size_t len, struct runcfg *cfg)
{
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->workdir = "/";
	ret = parse_records(buf, len, cfg, false);
	if (ret)
		return ret;
	if (!cfg->program || cfg->program[0] != '/' || cfg->argc == 0)
		return -EINVAL;
	cfg->argv[cfg->argc] = NULL;
	cfg->envp[cfg->envc] = NULL;
	return 0;
}

int runcfg_append(char **buf, size_t *len, char tag, const char *value)
{
	size_t n = strlen(value);
	char *p;

	if (!tag)
		return -EINVAL;
	p = realloc(*buf, *len + n + 2);
	if (!p)
		return -ENOMEM;
	p[*len] = tag;
	memcpy(p + *len + 1, value, n + 1);
	*buf = p;
	*len += n + 2;
	return 0;
}
