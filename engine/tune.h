/* The tuning driver: the AVO loop. A single lineage; a version is committed only when it is
 * correct on every config and the confirming gate (gate.h) finds its gain over the best
 * above the minimum gain at the stated confidence. Confirmation measurements are attempts
 * (operator "gate", status "confirm") and count in the evaluation budget. At the end, the
 * best is measured against the original (run.json "final"). Every attempt is logged; the
 * run resumes from its files after any crash (RUNS.md).
 *
 * Ownership: nothing returned; the caller owns the spec and the cache.
 */
#ifndef AVO_TUNE_H
#define AVO_TUNE_H

#include "avo_cache.h"
#include "avo_astedit.h"
#include "spec.h"

struct avo_agent_op;

typedef struct {
	const char *op;          /* operator name; NULL: spec's, else "knob" */
	const char *run_dir;     /* NULL: <spec dir>/.avo/<spec name> */
	int resume;              /* continue an existing run */
	int fresh_run;           /* move an existing run aside and start over */
	double budget_seconds;   /* <0: spec's; 0: none */
	long budget_evaluations; /* <0: spec's; 0: none */
	double budget_cost_usd;  /* <0: spec's; 0: none */
	double epsilon;          /* unused: the gate confirms (min_gain) */
	unsigned stall_attempts; /* supervisor: steps without a commit before steering */
	int jobs;
	int gpu;
	int quiet;
	int progress;            /* -1: auto (a TTY on stderr) */
	const char *backend;     /* "inline" | "local" | "slurm"; NULL: the spec's (engine/backend.h) */
	double min_gain;         /* the gate's minimum gain; <0: the spec's, else 0.01 */
	unsigned confirm_rounds; /* A B pairs per confirmation; 0: 3 */
	struct avo_agent_op *op_instance; /* an operator the caller made (borrowed; `op` is then
				   * ignored), e.g. avo mcp's server; NULL: made from `op` */
	int trust_harness;       /* --trust-harness: accept "harness_protocol": "legacy-trusted" */
	const char *op_json;     /* a JSON object whose fields replace those of the operator's
				  * spec section (e.g. the llm's extra_body); NULL: none */
	const char *devices;     /* local backend: "N" CPU workers or "0,1" GPUs (backend.h) */
	unsigned lookahead;      /* candidates in flight for an operator that proposes ahead
				  * (knob); 0: 4 per device, 1 on one device (serial). The lineage
				  * depends on it, not on the devices (engine/tune_pipe.c) */
} avo_tune_options;

#define AVO_TUNE_OPTIONS_INIT {NULL, NULL, 0, 0, -1, -1, -1, 0.0, 4, 0, -1, 0, -1, NULL, -1, 0, NULL, 0, NULL, NULL, 0}

/* Returns 0 when the run finished within its budget (or the space was exhausted), a
 * negative AVO_E* on errors, and AVO_TUNE_INTERRUPTED after SIGINT/SIGTERM (state saved). */
#define AVO_TUNE_INTERRUPTED 1
int avo_tune_run(const avo_spec *spec, avo_cache *cache, const avo_tune_options *opts);

/* Parse the spec's kernel as tuning does (its include dirs, defines, arch, flags,
 * parse_flags, language); the caller frees *out with avo_astedit_unit_free(). */
int avo_tune_parse_kernel(avo_astedit_unit **out, const avo_spec *spec);

/* Default run directory of a spec (caller frees). */
char *avo_tune_default_run_dir(const avo_spec *spec);

#endif
