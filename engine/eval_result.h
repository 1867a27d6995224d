/* The verdict of an evaluation (avo_eval_result) and its JSON: what the cache stores, what
 * `avo eval --json` prints and what the run records keep. The evaluator (eval.h) fills it;
 * this file owns the type, its names, its JSON and its free, and depends on base only.
 *
 * Ownership: avo_eval_result_parse() and the evaluator hand out results freed with
 * avo_eval_result_free(); avo_eval_result_json() returns a heap string (free()).
 */
#ifndef AVO_EVAL_RESULT_H
#define AVO_EVAL_RESULT_H

#include <stddef.h>

typedef enum {
	AVO_EVAL_OK = 0,        /* compiled, ran, correct on every config */
	AVO_EVAL_COMPILE,       /* the variant or harness did not compile */
	AVO_EVAL_INCORRECT,     /* ran, but some config is wrong (or NaN, or unwritten output) */
	AVO_EVAL_CRASH,         /* non-zero exit or a signal */
	AVO_EVAL_TIMEOUT,       /* killed at the timeout */
	AVO_EVAL_PROTOCOL,      /* no JSON result line, or one missing a required field */
	AVO_EVAL_SKIPPED,       /* per config only: not run because an earlier config failed */
} avo_eval_status;

const char *avo_eval_status_name(avo_eval_status s); /* "ok", "compile", "incorrect", ... */

typedef struct {
	char *name;
	avo_eval_status status;
	int correct;
	double max_rel_err, rel_l2_err, ms, tflops;
	char *feedback;   /* stderr tail / reason, for operators; may be NULL */
	double *samples;  /* per-repetition times in ms, for the gate; NULL when none (owned) */
	size_t nsamples;
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
	int unsandboxed;             /* 1 when it ran outside the sandbox (spec "sandbox": false
				      * or --no-sandbox); JSON "unsandboxed": true */
	char harness_protocol[32];   /* "avo-harness-1", or "legacy-trusted" (--trust-harness) */
	double seconds;              /* wall time spent */
} avo_eval_result;

void avo_eval_result_free(avo_eval_result *r);
/* JSON text of a result (caller frees); NaN numbers are written as null. */
char *avo_eval_result_json(const avo_eval_result *r);
/* Parse the text avo_eval_result_json() wrote; *out is caller-owned (avo_eval_result_free). */
int avo_eval_result_parse(avo_eval_result **out, const char *json, size_t len);

#endif
