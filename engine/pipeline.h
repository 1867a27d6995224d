/* The evaluation pipeline: compiles on a pool of threads (every core by default) into a
 * queue, and one run worker per device (a GPU index, or a CPU worker) that takes the next
 * compiled candidate the moment it is free. A verdict known without a run (the "eval"
 * cache had it; it did not compile) never takes a device. Confirmation runs go first, in
 * the compile pool and on the devices; confirmations queued ahead (speculative) go last,
 * on a device that has nothing else to do, until promoted. A job may be pinned to one device, or
 * follow another job onto whichever device runs that one (a confirmation pair: A on the
 * first free device, its B right after it on the same device, while the next pair may run
 * on another device at the same time); a device serves the jobs pinned to it first.
 *
 * Jobs finish in any order; the caller waits for the one it wants (the tune loop folds
 * them into the lineage in proposal order: tune_pipe.c). Any thread may submit and wait.
 *
 * Utilization: per device, the seconds it spent running harnesses and how many it ran;
 * the wall clock runs from the first submission.
 *
 * Ownership: avo_pipeline_open() gives the caller a pipeline freed with avo_pipeline_free()
 * (which stops the workers after the runs in progress; jobs not run are dropped). It
 * borrows the spec and the cache until then. Sources are copied at submission; a result
 * handed out by avo_pipeline_wait() is the caller's (avo_eval_result_free).
 */
#ifndef AVO_PIPELINE_H
#define AVO_PIPELINE_H

#include "eval.h"

#include <signal.h>

typedef struct avo_pipeline avo_pipeline;

typedef struct {
	const int *gpus;          /* CUDA_VISIBLE_DEVICES index per device; -1: a CPU worker */
	size_t ndevices;          /* >= 1 */
	int compile_jobs;         /* compile threads; 0: all cores */
} avo_pipeline_options;

int avo_pipeline_open(avo_pipeline **out, const avo_spec *spec, avo_cache *cache, const avo_eval_options *eopts,
		      const avo_pipeline_options *opts);
void avo_pipeline_free(avo_pipeline *p);

size_t avo_pipeline_ndevices(const avo_pipeline *p);
/* "GPU 1" or "worker 2": device i in messages and records (borrowed). */
const char *avo_pipeline_device_name(const avo_pipeline *p, size_t i);

#define AVO_PIPELINE_ANY (-1)
#define AVO_PIPELINE_CONFIRM 1 /* remeasure: a confirmation run, before other work */
#define AVO_PIPELINE_AHEAD 2   /* remeasure: a confirmation queued ahead, after other work */
/* Queue a variant (copied). pin: a device index (0-based) it must run on, or
 * AVO_PIPELINE_ANY; remeasure: 0, or bypass ns "eval" (AVO_PIPELINE_CONFIRM or
 * AVO_PIPELINE_AHEAD: the priority). Returns a job id > 0, or a negative AVO_E* (out of
 * memory). */
long avo_pipeline_submit(avo_pipeline *p, const char *src, size_t len, int pin, int remeasure);
/* The same, and when `after` > 0 the job runs on the device that runs job `after`, next
 * after it (both sides of a confirmation pair on one device); anywhere when `after` ends
 * without a device (cancelled, failed to build). */
long avo_pipeline_submit_after(avo_pipeline *p, const char *src, size_t len, int pin, int remeasure, long after);
/* Queue a variant that a compile thread makes first (the tune loop's edit check: a libclang
 * parse, off the loop's thread): make(arg, &src, &len) gives the source (malloc'd; the
 * pipeline frees it) and returns 0, or returns 1 when it refuses the variant (the job
 * then ends without a build or a device: avo_pipeline_wait returns 1), or < 0 when the
 * environment failed. The pipeline owns `arg` (free_arg) until avo_pipeline_wait hands it
 * back. */
typedef int (*avo_pipeline_make)(void *arg, char **src, size_t *len);
long avo_pipeline_submit_make(avo_pipeline *p, avo_pipeline_make make, void *arg, void (*free_arg)(void *));
/* 1 when job `id` has its verdict (or failed), without waiting. */
int avo_pipeline_ready(avo_pipeline *p, long id);
/* Wait for job `id` and forget it: *out its verdict (NULL when the environment failed: the
 * return value is then negative with the message in the error slot), *device the device it
 * ran on (-1: none; cached or not compiled). `device` may be NULL. Returns 1 (and no
 * verdict) when its make() refused it, AVO_ERROR when `stop` (may be NULL) became nonzero
 * while waiting (the job stays queued). `arg` (may be NULL): the make() argument of the
 * job, handed to the caller (when waited for to the end). */
int avo_pipeline_wait(avo_pipeline *p, long id, avo_eval_result **out, int *device,
		      const volatile sig_atomic_t *stop, void **arg);
/* Without waiting: 1 when job `id` is done, with its verdict (NULL: refused or failed),
 * its make() argument and its device, all borrowed until it is waited for or cancelled;
 * 0 while it is not. Any pointer may be NULL. */
int avo_pipeline_peek(avo_pipeline *p, long id, const avo_eval_result **res, void **arg, int *device);
/* Block until job `id` is done (returns 1), or another job finished since the caller last
 * looked (*seen: the count of finished jobs it saw), or a moment passed (returns 0). */
int avo_pipeline_wait_event(avo_pipeline *p, long id, unsigned long *seen);
/* A confirmation queued ahead (AVO_PIPELINE_AHEAD) becomes one to run first. */
void avo_pipeline_promote(avo_pipeline *p, long id);
/* Drop job `id`: its result is discarded (a run in progress finishes first). */
void avo_pipeline_cancel(avo_pipeline *p, long id);

typedef struct {
	double busy_s;            /* seconds spent running harnesses */
	unsigned runs;            /* harness runs (evaluations) */
	unsigned dropped;         /* of them, runs whose verdict was cancelled (not used) */
} avo_pipeline_device_stats;

/* Per device (`out` holds ndevices entries) and the wall seconds since the first
 * submission (0 before it). */
void avo_pipeline_stats(avo_pipeline *p, avo_pipeline_device_stats *out, double *wall_s);
/* Start counting afresh now (the tune loop: the search, after the baseline). */
void avo_pipeline_stats_reset(avo_pipeline *p);

#endif
