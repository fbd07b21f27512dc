// SPDX-License-Identifier: MIT
/*
 * Arrowfiles (`arrow build -f ARROWFILE DIR`, docs/images.md): the JSON read by
 * read_arrowfile() in src/cli/cmd-build.c (compiled in here: the parser is static), then
 * the checks cmd_build makes (user, ports, workdir) and the image config made from it.
 * DIR is an empty scratch directory: paths are checked, never followed.
 */
#include "fuzz.h"

#include "../../src/cli/cmd-build.c"

static char dir[128], path[200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_mkdtemp(dir, sizeof(dir), "arrowfile");
	snprintf(path, sizeof(path), "%s/Arrowfile", dir);
	return 0;
}

static void release(struct build_opts *b)
{
	json_t *env = json_object_get(b->spec, "env");

	free((void *)b->args);
	if (json_is_object(env)) /* then the entries are KEY=VALUE strings made for it */
		for (unsigned int i = 0; i < b->nr_env; i++)
			free((void *)b->env[i]);
	for (unsigned int i = 0; i < b->nr_ports; i++)
		free((void *)b->ports[i]);
	for (unsigned int i = 0; i < b->nr_files; i++)
		free((void *)b->files[i]);
	for (unsigned int i = 0; i < b->nr_owned; i++)
		free(b->owned[i]);
	json_decref(b->spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct build_opts b = { .tag = "fuzz:latest", .dir = dir };
	char key[32];
	bool ok = true;

	fz_write_file(path, data, size);
	if (read_arrowfile(&b) == 0) {
		if (b.user && !user_ok(b.user))
			ok = false;
		for (unsigned int i = 0; ok && i < b.nr_ports; i++)
			ok = port_key(b.ports[i], key, sizeof(key));
		if (ok && (!b.workdir || b.workdir[0] == '/')) {
			json_t *cfg = image_config(&b, "/app/prog", "sha256:0", "/lib", "1970-01-01T00:00:00Z");
			char *text = json_dumps(cfg, JSON_COMPACT);

			if (!cfg || !text)
				abort();
			free(text);
			json_decref(cfg);
		}
	}
	release(&b);
	return 0;
}
