// SPDX-License-Identifier: MIT
/*
 * arrow fn deploy|ls|inspect|logs|rm|invoke and arrow serve (docs/functions.md): thin
 * callers of lib/fnstore.h and lib/fndeploy.h; invoke talks to the gateway over HTTP
 * with libcurl, loaded only then (lib/image/lazylib.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/fn/fndeploy.h"
#include "lib/fn/fnstore.h"
#include "lib/image/lazylib.h"
#include "lib/state/paths.h"
#include "lib/launch/runopts.h"

#define INVOKE_BODY_MAX (1u << 20) /* the gateway's default request limit */

static const char fn_usage[] =
	"Usage: arrow fn deploy NAME [OPTIONS] IMAGE|PROGRAM [ARGS...]\n"
	"       arrow fn ls | inspect NAME | logs NAME | rm NAME...\n"
	"       arrow fn invoke [--gateway ADDR:PORT] NAME[/PATH] [< BODY]\n"
	"Functions: HTTP servers that arrow-gateway ('arrow serve') starts as clones on demand.\n"
	"\n"
	"deploy options:\n"
	"  --port P            the port the function listens on inside its Arrow (8080)\n"
	"  -e, --env K=V       environment\n"
	"  -m, --memory MiB    guest memory\n"
	"  --min N             instances kept running (warm pool, 0)\n"
	"  --max N             most instances at once (4, at most 64)\n"
	"  --concurrency C     requests one instance takes at once (1)\n"
	"  --queue Q           requests that may wait for an instance before 429 (100)\n"
	"  --idle-timeout S    stop an instance idle this long (300; 0: never)\n"
	"  --timeout S         per request, then 504 (30)\n"
	"  --fresh             a new clone for every request, destroyed after it\n";

static int num_opt(const char *opt, const char *v, unsigned long max, unsigned int *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n > max) {
		fprintf(stderr, "arrow fn deploy: %s needs a number from 0 to %lu, not '%s'\n", opt,
			max, v);
		return -EINVAL;
	}
	*out = (unsigned int)n;
	return 0;
}

enum { O_PORT = 256, O_MIN, O_MAX, O_CONC, O_QUEUE, O_IDLE, O_TIMEOUT, O_FRESH };

static int deploy_option(struct fn_spec *s, int c, const char *arg)
{
	switch (c) {
	case O_PORT:
		return num_opt("--port", arg, 65535, &s->port);
	case O_MIN:
		return num_opt("--min", arg, FN_MAX_INSTANCES, &s->min);
	case O_MAX:
		return num_opt("--max", arg, FN_MAX_INSTANCES, &s->max);
	case O_CONC:
		return num_opt("--concurrency", arg, FN_MAX_CONCURRENCY, &s->concurrency);
	case O_QUEUE:
		return num_opt("--queue", arg, FN_MAX_QUEUE, &s->queue);
	case O_IDLE:
		return num_opt("--idle-timeout", arg, FN_MAX_IDLE_S, &s->idle_timeout_s);
	case O_TIMEOUT:
		return num_opt("--timeout", arg, FN_MAX_TIMEOUT_S, &s->timeout_s);
	case O_FRESH:
		s->fresh = true;
		return 0;
	case 'e':
		if (json_array_size(s->env) >= FN_MAX_ENV)
			return -E2BIG;
		return json_array_append_new(s->env, json_string(arg)) ? -EINVAL : 0;
	case 'm':
		s->memory_mib = runopts_parse_memory(arg);
		return s->memory_mib ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

static int fn_deploy_cmd(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, O_PORT },
		{ "env", required_argument, NULL, 'e' },
		{ "memory", required_argument, NULL, 'm' },
		{ "min", required_argument, NULL, O_MIN },
		{ "max", required_argument, NULL, O_MAX },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "queue", required_argument, NULL, O_QUEUE },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "fresh", no_argument, NULL, O_FRESH },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char why[512];
	struct fn_spec s;
	json_t *j;
	int c, ret;

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "arrow fn deploy: give the function's NAME first\n%s", fn_usage);
		return EXIT_ARROW_ERROR;
	}
	if (!fnstore_valid_name(argv[1])) {
		fprintf(stderr, "arrow fn deploy: '%s' is not a function name: lower-case letters, "
				"digits and inner '-', at most %d\n", argv[1], FN_NAME_MAX);
		return EXIT_ARROW_ERROR;
	}
	fn_spec_init(&s, argv[1]);
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+e:m:h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(fn_usage, stdout);
			fn_spec_free(&s);
			return 0;
		}
		if (c == '?' || deploy_option(&s, c, optarg)) {
			if (c != '?')
				fprintf(stderr, "arrow fn deploy: bad value '%s'\n", optarg);
			fn_spec_free(&s);
			return EXIT_ARROW_ERROR;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "arrow fn deploy: give an IMAGE or PROGRAM to run\n");
		fn_spec_free(&s);
		return EXIT_ARROW_ERROR;
	}
	s.program = strdup(argv[optind]);
	for (int i = optind + 1; i < argc; i++)
		json_array_append_new(s.args, json_string(argv[i]));
	/* the same checks the store makes on every read */
	j = fn_spec_to_json(&s);
	ret = j ? fn_spec_from_json(j, &s, why, sizeof(why)) : -ENOMEM;
	json_decref(j);
	if (ret) {
		fprintf(stderr, "arrow fn deploy: %s\n", ret == -ENOMEM ? "out of memory" : why);
		fn_spec_free(&s);
		return EXIT_ARROW_ERROR;
	}
	ret = fn_deploy(&s, false);
	if (!ret)
		printf("%s\n", s.name);
	fn_spec_free(&s);
	return ret ? EXIT_ARROW_ERROR : 0;
}

static int fn_ls(void)
{
	char **names, why[512];
	int n = fnstore_list(&names);

	if (n < 0) {
		fprintf(stderr, "arrow fn ls: %s: %s\n", fnstore_dir(), strerror(-n));
		return EXIT_ARROW_ERROR;
	}
	printf("%-24s %-32s %-6s %-4s %-4s %-5s %s\n", "NAME", "PROGRAM", "PORT", "MIN", "MAX",
	       "CONC", "FRESH");
	for (int i = 0; i < n; i++) {
		struct fn_spec s;

		if (fnstore_load(names[i], &s, why, sizeof(why)))
			printf("%-24s (damaged: %s)\n", names[i], why);
		else
			printf("%-24s %-32.32s %-6u %-4u %-4u %-5u %s\n", s.name, s.program, s.port,
			       s.min, s.max, s.concurrency, s.fresh ? "yes" : "no");
		fn_spec_free(&s);
	}
	fnstore_free_list(names, n);
	return 0;
}

static int fn_inspect(const char *name)
{
	char why[512];
	struct fn_spec s;
	json_t *j;

	if (fnstore_load(name, &s, why, sizeof(why))) {
		fprintf(stderr, "arrow fn inspect: %s\n", why);
		fn_spec_free(&s);
		return EXIT_ARROW_ERROR;
	}
	j = fn_spec_to_json(&s);
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(j);
	fn_spec_free(&s);
	return 0;
}

/* Every instance's output, one after another, each under a header. */
static int fn_logs(const char *name)
{
	struct arrow_rec *list;
	char why[512];
	struct fn_spec s;
	int n, ret = fnstore_load(name, &s, why, sizeof(why));

	fn_spec_free(&s);
	if (ret) {
		fprintf(stderr, "arrow fn logs: %s\n", why);
		return EXIT_ARROW_ERROR;
	}
	n = store_list(&list);
	for (int i = 0; i < n; i++) {
		if (!fnstore_is_instance(store_name(&list[i]), name))
			continue;
		printf("==> %s <==\n", store_name(&list[i]));
		fflush(stdout);
		arrow_print_logs(&list[i], -1, false, false);
		fflush(stdout);
	}
	if (n > 0)
		store_free_list(list, n);
	return 0;
}

static int fn_rm(int argc, char *argv[])
{
	int status = 0;

	for (int i = 1; i < argc; i++) {
		int ret = fnstore_valid_name(argv[i]) ? fn_undeploy(argv[i]) : -EINVAL;

		if (ret) {
			fprintf(stderr, "arrow fn rm: %s: %s\n", argv[i],
				ret == -ENOENT ? "no such function" :
				ret == -EINVAL ? "not a function name" : strerror(-ret));
			status = EXIT_ARROW_ERROR;
		} else {
			printf("%s\n", argv[i]);
		}
	}
	return status;
}


int cmd_fn(int argc, char *argv[])
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(fn_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ARROW_ERROR : 0;
	}
	if (!strcmp(argv[1], "deploy"))
		return fn_deploy_cmd(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ls") && argc == 2)
		return fn_ls();
	if (!strcmp(argv[1], "inspect") && argc == 3)
		return fn_inspect(argv[2]);
	if (!strcmp(argv[1], "logs") && argc == 3)
		return fn_logs(argv[2]);
	if (!strcmp(argv[1], "rm") && argc >= 3)
		return fn_rm(argc - 1, argv + 1);
	if (!strcmp(argv[1], "invoke"))
		return fn_invoke(argc - 1, argv + 1);
	fprintf(stderr, "arrow fn: unknown command or wrong arguments\n%s", fn_usage);
	return EXIT_ARROW_ERROR;
}

/* arrow serve: the gateway is its own program next to arrow. */
int cmd_serve(int argc, char *argv[])
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/arrow-gateway", arrow_bindir());
	argv[0] = "arrow-gateway";
	(void)argc;
	execv(path, argv);
	fprintf(stderr, "arrow serve: cannot start %s: %s\n", path, strerror(errno));
	return EXIT_ARROW_ERROR;
}
