/* The evaluator: compile a variant with the spec's harness, run every config under a hard
 * timeout, judge correctness, time, and store the evaluation in the cache.
 *
 * Harness protocol: `harness <config args>` prints one JSON object as its last stdout line:
 *   {"correct":true,"max_rel_err":1.2e-3,"ms":0.83,"tflops":612.4}
 * Non-zero exit, a signal, a timeout or no JSON is a failed evaluation.
 *
 * Ownership: avo_eval_run() gives the caller an avo_eval_result freed with
 * avo_eval_result_free().
 */
#ifndef AVO_EVAL_H
#define AVO_EVAL_H

#include "spec.h"
#include "avo_cache.h"

typedef enum {
	AVO_EVAL_OK = 0,        /* compiled, ran, correct on every config */
	AVO_EVAL_COMPILE,       /* the variant or harness did not compile */
	AVO_EVAL_INCORRECT,     /* ran, but some config is wrong (or NaN, or unwritten output) */
	AVO_EVAL_CRASH,         /* non-zero exit or a signal */
	AVO_EVAL_TIMEOUT,       /* killed at the timeout */
	AVO_EVAL_PROTOCOL,      /* no JSON result line */
} avo_eval_status;

const char *avo_eval_status_name(avo_eval_status s); /* "ok", "compile", "incorrect", ... */

typedef struct {
	char *name;
	avo_eval_status status;
	int correct;
	double max_rel_err, rel_l2_err, ms, tflops;
	char *feedback;   /* stderr tail / reason, for operators; may be NULL */
} avo_eval_config_result;

typedef struct {
	avo_eval_status status;      /* worst over configs */
	int correct;                 /* every config correct within tolerance */
	double fitness;              /* geomean over configs (higher is better); 0 when incorrect */
	avo_eval_config_result *configs;
	size_t nconfigs;
	char *feedback;              /* compile errors / first failure, for operators */
	char variant_hash[33];
	char eval_key[33];
	int from_cache;              /* 1 when the whole evaluation came from the cache */
	double seconds;              /* wall time spent */
} avo_eval_result;

typedef struct {
	int jobs;                    /* parallel compiles; 0: all cores */
	int gpu;                     /* CUDA_VISIBLE_DEVICES index; -1: leave as is */
	int use_cache;               /* read and write the eval cache */
	int verbose;
	const char *scratch_dir;     /* NULL: $TMPDIR/avo-<user> */
} avo_eval_options;

#define AVO_EVAL_OPTIONS_INIT {0, -1, 1, 0, NULL}

/* Evaluate `variant` (the full kernel source text). */
int avo_eval_run(avo_eval_result **out, const avo_spec *spec, const char *variant, size_t len,
		 avo_cache *cache, const avo_eval_options *opts);
/* Evaluate several variants: compiles in parallel (opts->jobs), runs one at a time per GPU.
 * out[i] corresponds to variants[i]. */
int avo_eval_many(avo_eval_result **out, const avo_spec *spec, const char *const *variants,
		  const size_t *lens, size_t n, avo_cache *cache, const avo_eval_options *opts);
void avo_eval_result_free(avo_eval_result *r);
/* JSON text of a result (caller frees). */
char *avo_eval_result_json(const avo_eval_result *r);

#endif
