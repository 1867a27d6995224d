/* The evaluation pipeline (pipeline.h): a compile pool and one run worker per device over
 * one list of jobs in submission order, under one mutex. */
#include "pipeline.h"

#include "avo_base.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef enum { J_QUEUED, J_COMPILING, J_READY, J_RUNNING, J_DONE } job_state;

typedef struct job {
	long id;
	char *src;
	size_t len;
	int pin, remeasure;      /* AVO_PIPELINE_CONFIRM (first), AVO_PIPELINE_AHEAD (last) */
	long after;              /* > 0: runs on the device that runs job `after`, right after it */
	avo_pipeline_make make; /* set: src comes from make(make_arg) on a compile thread */
	void *make_arg;
	void (*free_arg)(void *);
	int refused;             /* make() refused it */
	job_state st;
	int cancelled;
	avo_eval_built *built;
	avo_eval_result *res;
	int rc;                  /* < 0: the environment failed; err says why */
	char *err;
	int device;              /* the device it ran on, -1: none */
	struct job *next;
} job;

typedef struct {
	avo_pipeline *p;
	size_t index;
	int gpu;                 /* CUDA_VISIBLE_DEVICES index; -1: a CPU worker */
	char name[32];
	avo_pipeline_device_stats st;
} device;

struct avo_pipeline {
	avo_eval_session *sess;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	job *head, *tail;
	long next_id;
	unsigned long finished;  /* jobs done so far (avo_pipeline_wait_event) */
	int quit;
	double t0;               /* first submission; 0: none yet */
	device *dev;
	size_t ndev;
	pthread_t *th;
	size_t nth;
};

static void job_free(avo_pipeline *p, job *j)
{
	if (!j)
		return;
	avo_eval_built_free(p->sess, j->built);
	avo_eval_result_free(j->res);
	if (j->free_arg && j->make_arg)
		j->free_arg(j->make_arg);
	free(j->src);
	free(j->err);
	free(j);
}

static void release_followers(avo_pipeline *p, const job *j, int dev);

/* A job leaves the list: those that follow it and have no device yet go anywhere. */
static void job_unlink(avo_pipeline *p, job *j)
{
	release_followers(p, j, j->device);
	job **pp = &p->head, *prev = NULL;
	while (*pp && *pp != j)
		prev = *pp, pp = &(*pp)->next;
	if (!*pp)
		return;
	*pp = j->next;
	if (p->tail == j)
		p->tail = prev;
}

/* Finished (or failed) work on `j`: a cancelled job goes, a waited one wakes its waiter. */
static void job_settle(avo_pipeline *p, job *j)
{
	if (j->st == J_DONE && j->device < 0)
		release_followers(p, j, AVO_PIPELINE_ANY);
	if (j->cancelled && (j->st == J_DONE || j->st == J_READY)) {
		job_unlink(p, j);
		job_free(p, j);
		pthread_cond_broadcast(&p->work);
		return;
	}
	if (j->st == J_DONE)
		p->finished++;
	pthread_cond_broadcast(&p->done);
	pthread_cond_broadcast(&p->work);
}

/* Job `j` starts on device `dev` (or will never run: AVO_PIPELINE_ANY): the jobs that
 * follow it go to the same device (a confirmation pair: both sides on one device), or are
 * free to go anywhere. */
static void release_followers(avo_pipeline *p, const job *j, int dev)
{
	for (job *k = p->head; k; k = k->next)
		if (k->after == j->id) {
			k->after = 0;
			k->pin = dev;
		}
}

static void job_fail(job *j, int rc)
{
	j->rc = rc;
	j->err = avo_strdup(avo_error_last());
	j->st = J_DONE;
}

/* ---- the workers -------------------------------------------------------------------- */

/* Confirmation runs first (they hold up the lineage), then first looks in submission
 * order, then confirmations ahead (when nothing else waits). A device runs the jobs pinned
 * to it in the order they came (a pair's A then its B): while the oldest one is still
 * being built, it waits for it rather than start another run. A job that follows another
 * (`after`) waits until that one has a device. The compile pool (dev < 0) builds pinned
 * and following jobs with the confirmation runs. */
static job *pick(avo_pipeline *p, job_state st, long dev)
{
	job *best[3] = {NULL, NULL, NULL}; /* confirmation, first look, ahead */
	for (job *j = p->head; j; j = j->next) {
		if (j->cancelled)
			continue;
		if (dev >= 0 && j->pin == dev && j->st < J_RUNNING)
			return j->st == st ? j : NULL;
		if (j->st != st || (dev >= 0 && (j->pin >= 0 || j->after > 0)))
			continue;
		int level = j->remeasure == AVO_PIPELINE_CONFIRM || j->pin >= 0 || j->after > 0 ? 0
			    : j->remeasure == AVO_PIPELINE_AHEAD			 ? 2
										 : 1;
		if (!best[level])
			best[level] = j;
	}
	return best[0] ? best[0] : best[1] ? best[1] : best[2];
}

static void *compile_worker(void *arg)
{
	avo_pipeline *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		job *j = NULL;
		while (!p->quit && !(j = pick(p, J_QUEUED, -1)))
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		j->st = J_COMPILING;
		pthread_mutex_unlock(&p->mu);
		avo_eval_built *b = NULL;
		avo_eval_result *r = NULL;
		int rc = j->make ? j->make(j->make_arg, &j->src, &j->len) : 0;
		if (rc == 0)
			rc = avo_eval_session_build(p->sess, j->src, j->len, j->remeasure != 0, &b, &r);
		pthread_mutex_lock(&p->mu);
		if (rc > 0) {
			j->refused = 1;
			j->st = J_DONE;
		} else if (rc < 0)
			job_fail(j, rc);
		else if (b) {
			j->built = b;
			j->st = J_READY;
		} else {
			j->res = r;
			j->st = J_DONE;
		}
		job_settle(p, j);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void *device_worker(void *arg)
{
	device *d = arg;
	avo_pipeline *p = d->p;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		job *j = NULL;
		while (!p->quit && !(j = pick(p, J_READY, (long)d->index)))
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		j->st = J_RUNNING;
		j->device = (int)d->index;
		release_followers(p, j, j->device);
		avo_eval_built *b = j->built;
		j->built = NULL;
		pthread_mutex_unlock(&p->mu);
		double t0 = avo_now();
		avo_eval_result *r = NULL;
		int rc = avo_eval_session_run(p->sess, b, d->gpu, &r);
		double busy = avo_now() - t0;
		pthread_mutex_lock(&p->mu);
		d->st.busy_s += busy;
		d->st.runs++;
		d->st.dropped += j->cancelled != 0;
		if (rc < 0)
			job_fail(j, rc);
		else {
			j->res = r;
			j->st = J_DONE;
		}
		job_settle(p, j);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- open / free -------------------------------------------------------------------- */

int avo_pipeline_open(avo_pipeline **out, const avo_spec *spec, avo_cache *cache, const avo_eval_options *eopts,
		      const avo_pipeline_options *opts)
{
	*out = NULL;
	if (!opts || opts->ndevices == 0)
		return avo_error_set(AVO_EINVALID, "pipeline: no device");
	avo_pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return avo_oom();
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->next_id = 1;
	avo_eval_options eo = eopts ? *eopts : (avo_eval_options)AVO_EVAL_OPTIONS_INIT;
	if (opts->gpus[0] >= 0 && eo.gpu < 0)
		eo.gpu = opts->gpus[0]; /* the device identity in the keys: the first GPU's */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nc = opts->compile_jobs > 0 ? (size_t)opts->compile_jobs : cores > 0 ? (size_t)cores : 1;
	int rc = avo_eval_session_open(&p->sess, spec, cache, &eo);
	if (rc == 0 && (!(p->dev = calloc(opts->ndevices, sizeof(*p->dev))) ||
			!(p->th = calloc(opts->ndevices + nc, sizeof(*p->th)))))
		rc = avo_oom();
	if (rc < 0) {
		avo_pipeline_free(p);
		return rc;
	}
	p->ndev = opts->ndevices;
	for (size_t i = 0; i < p->ndev; i++) {
		p->dev[i].p = p;
		p->dev[i].index = i;
		p->dev[i].gpu = opts->gpus[i];
		if (opts->gpus[i] >= 0)
			snprintf(p->dev[i].name, sizeof(p->dev[i].name), "GPU %d", opts->gpus[i]);
		else if (spec->is_cuda)
			snprintf(p->dev[i].name, sizeof(p->dev[i].name), "GPU");
		else
			snprintf(p->dev[i].name, sizeof(p->dev[i].name), "worker %zu", i);
	}
	for (size_t i = 0; i < p->ndev + nc; i++) {
		int e = i < p->ndev ? pthread_create(&p->th[i], NULL, device_worker, &p->dev[i])
				    : pthread_create(&p->th[i], NULL, compile_worker, p);
		if (e != 0) {
			rc = avo_error_set(AVO_EIO, "pipeline: cannot start a thread: %s", strerror(e));
			break;
		}
		p->nth++;
	}
	if (rc == 0 && p->nth < p->ndev + 1)
		rc = avo_error_set(AVO_EIO, "pipeline: cannot start its threads");
	if (rc < 0) {
		avo_pipeline_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void avo_pipeline_free(avo_pipeline *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	while (p->head) {
		job *j = p->head;
		p->head = j->next;
		job_free(p, j);
	}
	avo_eval_session_free(p->sess);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p->dev);
	free(p->th);
	free(p);
}

size_t avo_pipeline_ndevices(const avo_pipeline *p)
{
	return p->ndev;
}

const char *avo_pipeline_device_name(const avo_pipeline *p, size_t i)
{
	return i < p->ndev ? p->dev[i].name : "?";
}

/* ---- jobs --------------------------------------------------------------------------- */

static job *find(avo_pipeline *p, long id)
{
	for (job *j = p->head; j; j = j->next)
		if (j->id == id)
			return j;
	return NULL;
}

static long enqueue(avo_pipeline *p, job *j)
{
	j->device = -1;
	pthread_mutex_lock(&p->mu);
	if (!p->t0)
		p->t0 = avo_now();
	j->id = p->next_id++;
	job *lead = j->after > 0 ? find(p, j->after) : NULL;
	if (j->after > 0 && (!lead || lead->st >= J_RUNNING)) { /* it has its device (or none) */
		j->pin = lead ? lead->device : AVO_PIPELINE_ANY;
		j->after = 0;
	}
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_broadcast(&p->work);
	long id = j->id;
	pthread_mutex_unlock(&p->mu);
	return id;
}

long avo_pipeline_submit(avo_pipeline *p, const char *src, size_t len, int pin, int remeasure)
{
	return avo_pipeline_submit_after(p, src, len, pin, remeasure, 0);
}

long avo_pipeline_submit_after(avo_pipeline *p, const char *src, size_t len, int pin, int remeasure, long after)
{
	job *j = calloc(1, sizeof(*j));
	if (!j || !(j->src = malloc(len ? len : 1))) {
		free(j);
		return avo_oom();
	}
	memcpy(j->src, src, len);
	j->len = len;
	j->pin = pin >= 0 && (size_t)pin < p->ndev ? pin : AVO_PIPELINE_ANY;
	j->remeasure = remeasure;
	j->after = after > 0 ? after : 0;
	return enqueue(p, j);
}

long avo_pipeline_submit_make(avo_pipeline *p, avo_pipeline_make make, void *arg, void (*free_arg)(void *))
{
	job *j = calloc(1, sizeof(*j));
	if (!j) {
		if (free_arg)
			free_arg(arg);
		return avo_oom();
	}
	j->make = make;
	j->make_arg = arg;
	j->free_arg = free_arg;
	j->pin = AVO_PIPELINE_ANY;
	return enqueue(p, j);
}

int avo_pipeline_ready(avo_pipeline *p, long id)
{
	pthread_mutex_lock(&p->mu);
	job *j = find(p, id);
	int r = j && j->st == J_DONE;
	pthread_mutex_unlock(&p->mu);
	return r;
}

int avo_pipeline_peek(avo_pipeline *p, long id, const avo_eval_result **res, void **arg, int *device)
{
	pthread_mutex_lock(&p->mu);
	job *j = find(p, id);
	int done = j && j->st == J_DONE;
	if (res)
		*res = done ? j->res : NULL;
	if (arg)
		*arg = done ? j->make_arg : NULL;
	if (device)
		*device = done ? j->device : -1;
	pthread_mutex_unlock(&p->mu);
	return done;
}

static void deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += ms * 1000 * 1000;
	if (ts->tv_nsec >= 1000000000L)
		ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

int avo_pipeline_wait_event(avo_pipeline *p, long id, unsigned long *seen)
{
	pthread_mutex_lock(&p->mu);
	job *j = find(p, id);
	if (j && j->st != J_DONE && p->finished == *seen) {
		struct timespec ts;
		deadline(&ts, 100);
		pthread_cond_timedwait(&p->done, &p->mu, &ts);
	}
	int done = !j || j->st == J_DONE;
	*seen = p->finished;
	pthread_mutex_unlock(&p->mu);
	return done;
}

int avo_pipeline_wait(avo_pipeline *p, long id, avo_eval_result **out, int *device, const volatile sig_atomic_t *stop,
		      void **arg)
{
	if (arg)
		*arg = NULL;
	*out = NULL;
	if (device)
		*device = -1;
	pthread_mutex_lock(&p->mu);
	job *j = find(p, id);
	while (j && j->st != J_DONE && !(stop && *stop)) {
		/* a signal sets `stop` without waking us: look again now and then */
		struct timespec ts;
		deadline(&ts, 100);
		pthread_cond_timedwait(&p->done, &p->mu, &ts);
	}
	int rc;
	if (!j)
		rc = avo_error_set(AVO_ENOTFOUND, "pipeline: no job %ld", id);
	else if (j->st != J_DONE)
		rc = avo_error_set(AVO_ERROR, "interrupted");
	else {
		job_unlink(p, j);
		rc = j->refused ? 1 : j->rc;
		if (rc < 0)
			avo_error_set(rc, "%s", j->err ? j->err : "evaluation failed");
		*out = j->res;
		j->res = NULL;
		if (device)
			*device = j->device;
		if (arg) {
			*arg = j->make_arg;
			j->make_arg = NULL;
		}
		job_free(p, j);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void avo_pipeline_promote(avo_pipeline *p, long id)
{
	pthread_mutex_lock(&p->mu);
	job *j = find(p, id);
	if (j && j->remeasure == AVO_PIPELINE_AHEAD) {
		j->remeasure = AVO_PIPELINE_CONFIRM;
		pthread_cond_broadcast(&p->work);
	}
	pthread_mutex_unlock(&p->mu);
}

void avo_pipeline_cancel(avo_pipeline *p, long id)
{
	pthread_mutex_lock(&p->mu);
	job *j = find(p, id);
	if (j) {
		j->cancelled = 1;
		if (j->st == J_DONE && j->device >= 0 && (size_t)j->device < p->ndev)
			p->dev[j->device].st.dropped++; /* run for nothing */
		if (j->st == J_QUEUED || j->st == J_READY || j->st == J_DONE) {
			job_unlink(p, j);
			job_free(p, j);
		}
		pthread_cond_broadcast(&p->work); /* a device may have been waiting for it */
	}
	pthread_mutex_unlock(&p->mu);
}

void avo_pipeline_stats(avo_pipeline *p, avo_pipeline_device_stats *out, double *wall_s)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->ndev; i++)
		out[i] = p->dev[i].st;
	if (wall_s)
		*wall_s = p->t0 ? avo_now() - p->t0 : 0;
	pthread_mutex_unlock(&p->mu);
}

void avo_pipeline_stats_reset(avo_pipeline *p)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->ndev; i++)
		memset(&p->dev[i].st, 0, sizeof(p->dev[i].st));
	p->t0 = avo_now();
	pthread_mutex_unlock(&p->mu);
}
