// SPDX-License-Identifier: MIT
/*
 * Clones and templates (docs/snapshots.md): `arrow run --from NAME` starts an
 * Arrow from a snapshot instead of booting it; `arrow template create` boots a
 * program up to the point where ainit would start it and keeps that snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "common/runcfg.h"
#include "common/statedir.h"
#include "common/stdfds.h"
#include "lib/net/netstore.h"
#include "lib/launch/runopts.h"
#include "lib/state/snapstore.h"
#include "lib/state/store.h"

#define IDENTITY_FILE "identity"

/* What a snapshot's meta.json says about the Arrow it was taken from. */
json_t *snapshot_meta_new(const char *name, const char *kind, const char *source,
			  const char *program, json_t *args, uint64_t memory_mib, unsigned int cpus,
			  bool tty, const char *network)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:I, s:i, s:b, s:s, s:s}", "name", name,
			 "kind", kind, "created_ns", (json_int_t)statedir_realtime_ns(), "source", source,
			 "program", program, "args", args, "memory_mib", (json_int_t)memory_mib,
			 "cpus", (int)cpus, "tty", tty, "network", network, "arrow_version",
			 ARROW_VERSION);
}

int template_begin(const char *name, const struct run_opts *o, const char *prog_path,
		   const struct net_attach *net, char *tmp, size_t len)
{
	json_t *args = json_array(), *meta;
	int ret;

	for (int i = 0; i < o->nr_args; i++)
		json_array_append_new(args, json_string(o->args[i]));
	meta = snapshot_meta_new(name, "template", "-", prog_path, args, o->memory_mib,
				 o->cpus, o->tty, net ? net->net.name : "none");
	ret = meta ? snapstore_begin(name, meta, tmp, len) : -ENOMEM;
	json_decref(meta);
	if (ret == -EEXIST)
		fprintf(stderr, "arrow: a snapshot or template named '%s' exists; remove it "
				"(arrow template rm %s) or choose another name\n", name, name);
	else if (ret)
		fprintf(stderr, "arrow: cannot create the template in %s: %s\n", snapstore_dir(),
			strerror(-ret));
	return ret ? EXIT_ARROW_ERROR : 0;
}

int template_finish(const struct new_arrow *a, const char *arrowh, const char **hv,
		    const char *tmp, const char *name)
{
	char state[4300];
	int st = 0, ret;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null < 0 || stdfds_install(null, 1, 2) < 0)
			_exit(EXIT_ARROW_ERROR);
		execv(arrowh, (char *const *)hv);
		fprintf(stderr, "arrow: cannot start %s: %s\n", arrowh, strerror(errno));
		_exit(EXIT_ARROW_ERROR);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		unregister_arrow(a);
		snapstore_remove_dir(tmp);
		return EXIT_ARROW_ERROR;
	}
	snprintf(state, sizeof(state), "%s/state", tmp);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || access(state, F_OK) < 0) {
		fprintf(stderr, "arrow: the template was not made: the Arrow %s before ainit reached "
				"the template point\n",
			WIFEXITED(st) ? "ended" : "was killed");
		snapstore_remove_dir(tmp);
		return WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : EXIT_ARROW_ERROR;
	}
	ret = snapstore_commit(tmp, name);
	if (ret) {
		fprintf(stderr, "arrow: cannot store template %s: %s\n", name, strerror(-ret));
		snapstore_remove_dir(tmp);
		return EXIT_ARROW_ERROR;
	}
	return 0;
}

/* The clone's run options from the snapshot's meta.json; 0 or 125 after printing why. */
static int clone_options(struct run_opts *o, json_t *meta, const char **net_name)
{
	const char *network = json_string_value(json_object_get(meta, "network"));
	json_int_t mem = json_integer_value(json_object_get(meta, "memory_mib"));
	json_int_t cpus = json_integer_value(json_object_get(meta, "cpus"));

	o->program = json_string_value(json_object_get(meta, "program"));
	o->program = o->program ? strdup(o->program) : NULL; /* outlives meta */
	if (!network || !o->program || mem < 32 || cpus < 1 || cpus > 32) {
		fprintf(stderr, "arrow: snapshot %s: its %s is damaged\n", o->from, SNAP_META_FILE);
		return EXIT_ARROW_ERROR;
	}
	/* the command the snapshot runs, for config.json and `arrow ps` */
	if (json_array_size(json_object_get(meta, "args")) <= 256) {
		json_t *args = json_object_get(meta, "args");
		char **v = calloc(json_array_size(args) + 1, sizeof(*v));

		for (size_t i = 0; v && i < json_array_size(args); i++)
			if (json_is_string(json_array_get(args, i)))
				v[o->nr_args++] = strdup(json_string_value(json_array_get(args, i)));
		o->args = v;
	}
	o->memory_mib = (uint64_t)mem;
	o->cpus = (unsigned int)cpus;
	o->tty = json_is_true(json_object_get(meta, "tty"));
	/* a NIC is part of the snapshot: the clone joins a network if and only if it had one */
	if (!strcmp(network, "none") && (o->nr_ports || o->ip || o->mac || o->nr_dns)) {
		fprintf(stderr, "arrow: snapshot %s has no network device; -p, --ip, --mac-address "
				"and --dns need one\n", o->from);
		return EXIT_ARROW_ERROR;
	}
	if (!strcmp(network, "none") && o->network && strcmp(o->network, "none")) {
		fprintf(stderr, "arrow: snapshot %s has no network device; its clones cannot join "
				"network '%s'\n", o->from, o->network);
		return EXIT_ARROW_ERROR;
	}
	if (strcmp(network, "none") && o->network && !strcmp(o->network, "none")) {
		fprintf(stderr, "arrow: snapshot %s has a network device: its clones need a network, "
				"not --network none\n", o->from);
		return EXIT_ARROW_ERROR;
	}
	*net_name = strdup(o->network ? o->network : network); /* meta goes before it is used */
	return *net_name ? 0 : EXIT_ARROW_ERROR;
}

/* What ainit in the clone takes on: hostname, address, gateway, DNS, peers, MAC. */
static int write_identity(const struct run_opts *o, const struct new_arrow *a,
			  const struct net_attach *net, char *path, size_t len)
{
	char *buf = NULL;
	size_t n = 0;
	int ret = runcfg_append(&buf, &n, RUNCFG_HOSTNAME, o->hostname ? o->hostname : a->name);

	if (!ret && net)
		ret = run_net_config(o, net, &buf, &n);
	if (!ret && net)
		ret = runcfg_append(&buf, &n, RUNCFG_MAC, net->mac);
	if (!ret)
		ret = statedir_write_file(a->dir, IDENTITY_FILE, buf, n);
	free(buf);
	snprintf(path, len, "%s/%s", a->dir, IDENTITY_FILE);
	return ret;
}

int run_clone(struct run_opts *o, uint64_t t0, struct launched *out)
{
	char arrowh[4096], snapdir[4200], identity[4200], label[300];
	const char *net_name = "none";
	struct new_arrow arrow;
	struct net_attach net;
	struct launch_bufs lb;
	struct arrowh_desc d;
	json_t *meta;
	bool has_net;
	int ret;

	meta = snapstore_meta(o->from, &ret);
	if (!meta) {
		fprintf(stderr, "arrow: no snapshot or template named '%s'%s%s\n", o->from,
			ret == -ENOENT ? "" : ": ", ret == -ENOENT ? "" : strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	ret = clone_options(o, meta, &net_name);
	if (!ret)
		ret = find_arrowh(arrowh, sizeof(arrowh));
	snapstore_path(o->from, snapdir, sizeof(snapdir));
	snprintf(label, sizeof(label), "snapshot:%s", o->from);
	if (!ret)
		ret = register_arrow(o, label, &arrow);
	json_decref(meta);
	if (ret)
		return ret;
	has_net = strcmp(net_name, "none") != 0;
	if (has_net) {
		o->network = net_name;
		ret = run_net_attach(o, arrow.id, arrow.name, arrow.dir, &net);
		if (!ret && record_network(&arrow, &net))
			ret = EXIT_ARROW_ERROR;
		if (ret) {
			unregister_arrow(&arrow);
			return ret;
		}
	}
	if (write_identity(o, &arrow, has_net ? &net : NULL, identity, sizeof(identity))) {
		fprintf(stderr, "arrow: cannot write the clone's identity\n");
		unregister_arrow(&arrow);
		return EXIT_ARROW_ERROR;
	}
	arrowh_desc_init(&d);
	d.restore = snapdir;
	d.identity = identity;
	launch_desc_common(o, &arrow, has_net ? &net : NULL, t0, &lb, &d);
	return launch_arrowh(o, &arrow, has_net ? &net : NULL, arrowh, &d, out);
}
