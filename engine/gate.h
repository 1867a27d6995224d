/* The confirming gate (DESIGN.md "The gate"; README "The gate").
 *
 * A candidate whose first measurement is better than the best "could win". Only such a
 * candidate is confirmed (the others cost nothing more): the best (A) and the
 * candidate (B) are measured again in `rounds` pairs, A then B on one device (A B A B ...
 * on one device; the pairs spread over several when the caller has them), each a fresh run
 * that bypasses the evaluation cache (the compiled objects still
 * come from the "bin" cache). Their per-repetition samples (eval.h; `ms` is one sample
 * when a harness gives none) go to stats.h: the gain of B over A as a ratio of geometric
 * means across configs, with a bootstrap interval at `confidence`. The candidate is
 * committed only when the LOWER end of that interval exceeds `min_gain` (so: the gain is
 * above zero at the stated confidence, and above the minimum the user asked for). The
 * first measurement never enters the verdict: it was selected for looking good.
 *
 * Defaults (AVO_GATE_OPTIONS_INIT): min_gain 0.01 (1%), confidence 0.95 (a two-sided 95%
 * interval, so the commit test is one-sided at 97.5%), 3 rounds, 2000 bootstrap replicates.
 * An A/A run (the same speed proposed again) then commits nothing: its gain interval is
 * centred on zero and lies below 1%.
 *
 * Ownership: an avo_gate_verdict is released with avo_gate_verdict_dispose().
 */
#ifndef AVO_GATE_H
#define AVO_GATE_H

#include "avo_cache.h"
#include "eval.h"
#include "spec.h"
#include "stats.h"

typedef struct {
	double min_gain;       /* the interval's lower end must exceed this (0.01 = 1%) */
	double confidence;     /* of the interval */
	unsigned rounds;       /* A B pairs per confirmation, >= 2 */
	unsigned replicates;   /* bootstrap replicates */
	uint64_t seed;         /* bootstrap RNG seed */
	/* Where the confirmation measurements run, all queued at once in their order (A B A B
	 * ...) so their builds overlap: submit() queues a remeasure of `src` (a ticket > 0, or
	 * < 0 on failure); `after` is 0 for a pair's A and A's ticket for its B, which must run
	 * on the device that ran A (pairs may run on different devices at once). wait() gives
	 * its verdict (*out the caller's; < 0 only when the environment failed) and the device
	 * it ran on (*device, -1: unknown); cancel() drops one not waited for. NULL:
	 * avo_eval_run() in this thread, one after another. The samples of each device are
	 * centred on that device's level before the interval is computed (stats.h groups):
	 * a device's speed is no part of the gain, and both sides of a pair share it. */
	long (*submit)(const char *src, size_t len, long after, void *payload);
	int (*wait)(long ticket, avo_eval_result **out, int *device, void *payload);
	void (*cancel)(long ticket, void *payload);
	void *payload;
} avo_gate_options;

#define AVO_GATE_MIN_GAIN_DEFAULT 0.01
#define AVO_GATE_OPTIONS_INIT {AVO_GATE_MIN_GAIN_DEFAULT, 0.95, 3, 2000, 1, NULL, NULL, NULL, NULL}

/* 1 when a first measurement `fitness` is worth confirming against `best` (higher is better). */
int avo_gate_could_win(const avo_gate_options *o, double fitness, double best);

/* Told of each confirmation measurement (is_b: the candidate's) as it lands; return
 * nonzero to stop the confirmation (budget spent, interrupted): then nothing commits. */
typedef int (*avo_gate_observe)(const avo_eval_result *r, int is_b, unsigned round, void *payload);

typedef struct {
	int commit;            /* confirmed: the interval's lower end exceeds min_gain */
	int complete;          /* every round measured, every measurement correct */
	avo_stats_gain gain;   /* of B over A */
	double fitness_a, fitness_b; /* from the confirmation samples (the spec's objective) */
	unsigned evaluations;  /* measurements made */
	size_t nconfigs;
	char **configs;        /* config names */
	double *noise_a, *noise_b; /* relative sd of each config's samples */
	size_t *samples_per_config; /* per side */
	char *why;             /* one line: the verdict in words */
} avo_gate_verdict;

void avo_gate_verdict_dispose(avo_gate_verdict *v);

/* Confirm B (`b_src`) against A (`a_src`). Returns < 0 only when the environment failed
 * (then *out is disposed); a stopped or incorrect confirmation is a verdict without commit. */
int avo_gate_confirm(avo_gate_verdict *out, const avo_gate_options *o, const avo_spec *spec, avo_cache *cache,
		     const avo_eval_options *eopts, const char *a_src, size_t a_len, const char *b_src,
		     size_t b_len, avo_gate_observe observe, void *payload);

/* The verdict as JSON for the run records: {"gain", "lo", "hi", "confidence", "samples",
 * "rounds", "min_gain", "noise": {"<config>": rel_sd of B}, "noise_base": {...}}. */
struct cJSON *avo_gate_verdict_json(const avo_gate_verdict *v, const avo_gate_options *o);

#endif
