// SPDX-License-Identifier: MIT
/* Functions, instances, scaling up on demand and down when idle (pool.h). */
#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/fn/fndeploy.h"
#include "lib/launch/launch.h"
#include "lib/net/netstore.h"

pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
struct function *pool_functions;
const double pool_start_buckets[POOL_START_BUCKETS] = {
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* launch.h keeps no promise about threads: one launch or stop at a time */
static pthread_mutex_t launch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reaper_cond;
static pthread_t reaper_thread;
static bool reaper_quit;
static bool quitting; /* pool_quit(): requests get 503, nothing new starts */

#define REAPER_TICK_MS 250
#define SYNC_EVERY_MS 2000
#define WARM_RETRY_MS 5000 /* after a warm-pool start failed */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timespec deadline_ts(uint64_t ms_from_now)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms_from_now / 1000);
	ts.tv_nsec += (long)(ms_from_now % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

static void cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static struct function *find(const char *name)
{
	for (struct function *f = pool_functions; f; f = f->next)
		if (!strcmp(f->spec.name, name))
			return f;
	return NULL;
}

static unsigned int live_count(const struct function *f)
{
	unsigned int n = 0;

	for (const struct instance *i = f->instances; i; i = i->next)
		n += !i->retired;
	return n;
}

static void retire_all(struct function *f)
{
	for (struct instance *i = f->instances; i; i = i->next)
		i->retired = true;
	pthread_cond_signal(&reaper_cond);
}

/* Lock held: take spec (moved) as NAME's deployment. */
static void apply_spec(struct fn_spec *spec)
{
	struct function *f = find(spec->name);

	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f) {
			fn_spec_free(spec);
			return;
		}
		cond_init(&f->cond);
		f->spec = *spec;
		f->next = pool_functions;
		pool_functions = f;
	} else if (f->removed || f->spec.created_ns != spec->created_ns) {
		/* deployed anew: instances of the old template go */
		retire_all(f);
		fn_spec_free(&f->spec);
		f->spec = *spec;
	} else {
		/* the same deployment; scaling may have changed (scale-function) */
		f->spec.min = spec->min;
		fn_spec_free(spec);
	}
	f->removed = false;
	f->seen = true;
	pthread_cond_broadcast(&f->cond);
	pthread_cond_signal(&reaper_cond);
}

void pool_sync(void)
{
	/* one sync at a time (the reaper, deploys, deletes and scale requests all sync): two
	 * interleaved would see each other's cleared marks and retire every function */
	static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;
	char **names, why[512];
	int n;

	pthread_mutex_lock(&sync_lock);
	n = fnstore_list(&names);
	if (n < 0) {
		pthread_mutex_unlock(&sync_lock);
		return;
	}
	pthread_mutex_lock(&pool_lock);
	for (struct function *f = pool_functions; f; f = f->next)
		f->seen = false;
	pthread_mutex_unlock(&pool_lock);
	for (int i = 0; i < n; i++) {
		struct fn_spec s;

		if (fnstore_load(names[i], &s, why, sizeof(why))) {
			fprintf(stderr, "arrow-gateway: skipping function %s: %s\n", names[i], why);
			fn_spec_free(&s);
			continue;
		}
		pthread_mutex_lock(&pool_lock);
		apply_spec(&s);
		pthread_mutex_unlock(&pool_lock);
	}
	fnstore_free_list(names, n);
	pthread_mutex_lock(&pool_lock);
	for (struct function *f = pool_functions; f; f = f->next) {
		if (f->seen || f->removed)
			continue;
		f->removed = true;
		retire_all(f);
		pthread_cond_broadcast(&f->cond);
	}
	pthread_mutex_unlock(&pool_lock);
	pthread_mutex_unlock(&sync_lock);
}

struct function *pool_get(const char *name, int *status)
{
	struct function *f;
	struct fn_spec s;
	char why[512];
	int ret;

	pthread_mutex_lock(&pool_lock);
	f = find(name);
	if (f && !f->removed) {
		pthread_mutex_unlock(&pool_lock);
		return f;
	}
	pthread_mutex_unlock(&pool_lock);
	/* deployed since the last look at the store? */
	ret = fnstore_load(name, &s, why, sizeof(why));
	if (ret) {
		fn_spec_free(&s);
		*status = ret == -ENOENT ? 404 : 500;
		return NULL;
	}
	pthread_mutex_lock(&pool_lock);
	apply_spec(&s);
	f = find(name);
	pthread_mutex_unlock(&pool_lock);
	return f;
}

/* Start inst as a clone of f's template and wait until it accepts. Lock not held. */
static int instance_start(const char *template, struct instance *inst)
{
	struct run_opts o;
	struct launched l;
	char mac[64];
	int ret;

	memset(&o, 0, sizeof(o));
	o.cpus = 1;
	o.boot_timeout_s = -1;
	o.from = template;
	o.network = NET_DEFAULT; /* not the template's: see FN_DEPLOY_NETWORK */
	o.detach = true;
	o.name = inst->name;
	pthread_mutex_lock(&launch_lock);
	ret = launch_arrow(&o, &l);
	pthread_mutex_unlock(&launch_lock);
	free((char *)o.program); /* what the clone path copied from the snapshot */
	for (int i = 0; i < o.nr_args; i++)
		free(o.args[i]);
	free((char **)o.args);
	if (ret)
		return -EIO;
	snprintf(inst->id, sizeof(inst->id), "%s", l.id);
	snprintf(inst->dir, sizeof(inst->dir), "%s", l.dir);
	ret = fn_arrow_addr(l.dir, inst->ip, sizeof(inst->ip), mac, sizeof(mac));
	if (!ret)
		ret = fn_wait_port(inst->ip, inst->port, l.dir, mac, fn_start_timeout_ms());
	if (ret) {
		fprintf(stderr, "arrow-gateway: %s did not accept on port %u: %s\n", inst->name,
			inst->port, strerror(-ret));
		pthread_mutex_lock(&launch_lock);
		fn_arrow_stop(inst->id);
		pthread_mutex_unlock(&launch_lock);
	}
	return ret;
}

static void unlink_instance(struct function *f, struct instance *inst)
{
	for (struct instance **p = &f->instances; *p; p = &(*p)->next) {
		if (*p == inst) {
			*p = inst->next;
			break;
		}
	}
	f->n_instances--;
	free(inst);
	pthread_cond_broadcast(&f->cond);
}

static void record_start(struct function *f, uint64_t ms)
{
	double s = (double)ms / 1000.0;

	f->clone_starts++;
	f->start_count++;
	f->start_sum_s += s;
	for (int b = 0; b < POOL_START_BUCKETS; b++)
		if (s <= pool_start_buckets[b])
			f->start_hist[b]++;
}

/* Lock held: a new instance of f, started with the lock dropped; NULL if it failed. */
static struct instance *start_new(struct function *f, unsigned int active)
{
	struct instance *inst = calloc(1, sizeof(*inst));
	char template[sizeof(f->spec.template)];
	uint64_t t0 = now_ms();
	int ret;

	if (!inst)
		return NULL;
	snprintf(inst->name, sizeof(inst->name), "fn-%s-%u", f->spec.name, ++f->seq);
	snprintf(template, sizeof(template), "%s", f->spec.template);
	inst->port = f->spec.port;
	inst->active = active;
	inst->next = f->instances;
	f->instances = inst;
	f->n_instances++;
	pthread_mutex_unlock(&pool_lock);
	ret = instance_start(template, inst);
	pthread_mutex_lock(&pool_lock);
	if (ret) {
		f->start_failures++;
		unlink_instance(f, inst);
		return NULL;
	}
	record_start(f, now_ms() - t0);
	inst->ready = true;
	inst->last_used_ms = now_ms();
	pthread_cond_broadcast(&f->cond); /* it may take more than this request */
	return inst;
}

/* Lock held: a started instance with room, checked to be alive before it gets a request. */
static struct instance *free_instance(struct function *f)
{
	for (struct instance *i = f->instances; i; i = i->next) {
		if (!i->ready || i->retired || i->active >= f->spec.concurrency)
			continue;
		if (!i->active && !store_dir_alive(i->dir)) {
			i->retired = true; /* it ended on its own: replaced */
			pthread_cond_signal(&reaper_cond);
			continue;
		}
		return i;
	}
	return NULL;
}

int pool_acquire(struct function *f, struct instance **out, char *why, size_t len)
{
	struct timespec deadline;
	struct instance *inst;

	pthread_mutex_lock(&pool_lock);
	deadline = deadline_ts((uint64_t)f->spec.timeout_s * 1000);
	for (;;) {
		if (quitting) {
			pthread_mutex_unlock(&pool_lock);
			snprintf(why, len, "the gateway is stopping\n");
			return 503;
		}
		if (f->removed) {
			pthread_mutex_unlock(&pool_lock);
			snprintf(why, len, "function %s was removed\n", f->spec.name);
			return 404;
		}
		inst = f->spec.fresh ? NULL : free_instance(f);
		if (inst) {
			inst->active++;
			break;
		}
		if (f->n_instances < f->spec.max) {
			inst = start_new(f, 1);
			if (inst)
				break;
			pthread_mutex_unlock(&pool_lock);
			snprintf(why, len, "function %s: an instance did not start (see the gateway's "
					   "log)\n", f->spec.name);
			return 502;
		}
		if (f->waiting >= f->spec.queue) {
			pthread_mutex_unlock(&pool_lock);
			snprintf(why, len, "function %s is busy: %u instances at their concurrency and "
					   "%u requests queued (--max %u, --queue %u)\n",
				 f->spec.name, f->n_instances, f->waiting, f->spec.max, f->spec.queue);
			return 429;
		}
		f->waiting++;
		int ret = pthread_cond_timedwait(&f->cond, &pool_lock, &deadline);
		f->waiting--;
		if (ret == ETIMEDOUT) {
			pthread_mutex_unlock(&pool_lock);
			snprintf(why, len, "function %s: no instance became free within %u s\n",
				 f->spec.name, f->spec.timeout_s);
			return 504;
		}
	}
	inst->timeout_s = f->spec.timeout_s;
	pthread_mutex_unlock(&pool_lock);
	*out = inst;
	return 0;
}

void pool_note(struct function *f, int status)
{
	pthread_mutex_lock(&pool_lock);
	f->invocations++;
	if (status >= 500 || status == 429)
		f->errors++;
	pthread_mutex_unlock(&pool_lock);
}

void pool_release(struct function *f, struct instance *inst, bool broken, int status)
{
	pthread_mutex_lock(&pool_lock);
	inst->active--;
	inst->last_used_ms = now_ms();
	if (broken && !inst->broken)
		inst->broken = status;
	if (broken || f->spec.fresh) {
		inst->retired = true;
		pthread_cond_signal(&reaper_cond);
	}
	if (status >= 500 || status == 429)
		f->errors++;
	f->invocations++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&pool_lock);
}

/* Lock held: one thing the reaper should do now for f; true if it did something. */
static bool reap_one(struct function *f, uint64_t now)
{
	for (struct instance *i = f->instances; i; i = i->next) {
		if (i->ready && !i->retired && !i->active && f->spec.idle_timeout_s &&
		    now - i->last_used_ms >= (uint64_t)f->spec.idle_timeout_s * 1000 &&
		    live_count(f) > f->spec.min)
			i->retired = true; /* idle: scale down, to zero unless --min */
		if (i->retired && i->ready && !i->active && !i->stopping) {
			char id[sizeof(i->id)], name[sizeof(i->name)];
			int broken = i->broken;

			i->stopping = true;
			snprintf(id, sizeof(id), "%s", i->id);
			snprintf(name, sizeof(name), "%s", i->name);
			if (broken)
				fprintf(stderr, "arrow-gateway: %s failed a request (%d%s): stopped, with "
						"what its arrowh and console said last\n", i->name, broken,
					broken < 500 ? ", its answer cut short" : "");
			pthread_mutex_unlock(&pool_lock);
			/* the teardown without the launch lock: a request starting an instance
			 * meanwhile must not wait for it (scale to zero, then a request at once) */
			if (fn_arrow_halt(id)) /* the removal below tries the hard stop again */
				fprintf(stderr, "arrow-gateway: %s did not stop at once\n", name);
			pthread_mutex_lock(&launch_lock);
			if (broken) /* the evidence goes to the gateway's log before the state goes */
				fn_arrow_stop_report(id, stderr);
			else
				fn_arrow_stop(id);
			pthread_mutex_unlock(&launch_lock);
			pthread_mutex_lock(&pool_lock);
			unlink_instance(f, i);
			return true;
		}
	}
	if (!quitting && !f->removed && live_count(f) < f->spec.min && f->n_instances < f->spec.max &&
	    now >= f->warm_retry_ms) {
		if (start_new(f, 0)) /* the warm pool */
			return true;
		/* the template is gone, or the function dies at once: the reaper goes on with
		 * the other functions and its syncs, and tries this one again later */
		f->warm_retry_ms = now_ms() + WARM_RETRY_MS;
	}
	return false;
}

static void *reaper(void *arg)
{
	uint64_t last_sync = now_ms();

	(void)arg;
	pthread_mutex_lock(&pool_lock);
	while (!reaper_quit) {
		struct timespec t = deadline_ts(REAPER_TICK_MS);
		bool again = true;

		pthread_cond_timedwait(&reaper_cond, &pool_lock, &t);
		if (now_ms() - last_sync >= SYNC_EVERY_MS) {
			pthread_mutex_unlock(&pool_lock);
			pool_sync(); /* deployed or removed by `arrow fn` */
			pthread_mutex_lock(&pool_lock);
			last_sync = now_ms();
		}
		while (again && !reaper_quit) {
			again = false;
			for (struct function *f = pool_functions; f && !again; f = f->next)
				again = reap_one(f, now_ms());
		}
	}
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

int pool_start(void)
{
	int n = fn_stop_instances(NULL); /* what a gateway that died left running */

	if (n > 0)
		fprintf(stderr, "arrow-gateway: stopped %d instance%s an earlier gateway left\n", n,
			n == 1 ? "" : "s");
	cond_init(&reaper_cond);
	pool_sync();
	return -pthread_create(&reaper_thread, NULL, reaper, NULL);
}

void pool_stop(void)
{
	pthread_mutex_lock(&pool_lock);
	reaper_quit = true;
	pthread_cond_signal(&reaper_cond);
	pthread_mutex_unlock(&pool_lock);
	pthread_join(reaper_thread, NULL);
	fn_stop_instances(NULL);
}

void pool_quit(void)
{
	pthread_mutex_lock(&pool_lock);
	quitting = true;
	for (struct function *f = pool_functions; f; f = f->next)
		pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&pool_lock);
}

int pool_isolated(int (*fn)(void *arg), void *arg)
{
	int status, ret;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;

		/* one thread, its own process: launch.h's calls need no lock here; what it
		 * starts must not inherit the gateway's blocked SIGINT/SIGTERM */
		sigemptyset(&none);
		pthread_sigmask(SIG_SETMASK, &none, NULL);
		/* nor hold the listener and the clients' connections open after the gateway
		 * closes them (this child never execs, so close-on-exec does not help) */
		close_range(3, ~0u, 0);
		ret = fn(arg);
		fflush(NULL);
		_exit(ret < 0 && ret > -256 ? -ret : ret ? EIO : 0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return -WEXITSTATUS(status);
	fprintf(stderr, "arrow-gateway: a deployment process died of signal %d\n",
		WTERMSIG(status));
	return -EIO;
}

int pool_scale(const char *name, unsigned int replicas)
{
	struct fn_spec s;
	char why[512];
	int ret = fnstore_load(name, &s, why, sizeof(why));

	if (ret) {
		fn_spec_free(&s);
		return ret == -ENOENT ? 404 : 500;
	}
	s.min = replicas > s.max ? s.max : replicas;
	ret = fnstore_save(&s);
	fn_spec_free(&s);
	if (ret)
		return 500;
	pool_sync();
	return 0;
}
