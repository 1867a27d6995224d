/* The tuning driver's parts share this context: tune.c (the loop, the operators'
 * callbacks, start and resume), tune_records.c (the run records and progress), tune_gate.c
 * (the confirming gate and the final measurement), tune_batch.c (backends and batches).
 * Not a public header: names carry the avo_tune__ prefix. */
#ifndef AVO_TUNE_INT_H
#define AVO_TUNE_INT_H

#include "tune.h"

#include "avo_agent.h"
#include "avo_astedit.h"
#include "avo_base.h"
#include "backend.h"
#include "candidate.h"
#include "eval.h"
#include "gate.h"
#include "runrec.h"
#include "runstate.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <string.h>

/* The lineage as the operators see it, rebuilt from the records between steps. Strings
 * are borrowed from the typed records held by the run state (runrec.h). */
typedef struct {
	avo_agent_version *v;
	size_t n;
	char (*ids)[24];
	char (*parents)[24];
	avo_agent_score **scores;
	avo_astedit_region_edit **regions;
	avo_astedit_knob_edit **knobs;
	avo_agent_attempt *attempts;     /* the run's attempts, for operators with a memory (mcp) */
	size_t nattempts;
} tune_lineage;

typedef struct {
	const avo_spec *spec;
	avo_cache *cache;
	const avo_tune_options *opts;
	avo_astedit_unit *unit;
	avo_runstate *rs;
	char tuning_key[AVO_CACHE_HEX];
	avo_eval_options eopts;
	const char *op_name;
	double budget_seconds, budget_cost;
	long budget_evals;
	int progress;
	/* Edit hashes and variant hashes tried in this run (resumed runs included). */
	char (*edit_hashes)[33];
	size_t nedit_hashes, aedit_hashes;
	double best_fitness;
	int best_id;
	int attempts, commits;
	long long tokens_in, tokens_out;
	double cost;
	int stop;               /* budget reached inside a step */
	const volatile sig_atomic_t *interrupted; /* SIGINT/SIGTERM seen (tune.c's handler) */
	const char *stop_reason;
	/* Per-step accounting attached to the records the step produces. */
	const char *step_op;
	/* backend (engine/backend.h): where evaluations run. While `batching`, cb_evaluate only
	 * queues candidates; batch_flush() evaluates them together and gates them in order. */
	avo_backend *backend;
	int batching;
	struct tune_queued *queue;
	size_t nqueue;
	char *step_note;        /* the operator's note for the edits in flight (annotate) */
	size_t notes_before;    /* operator notes (notes.jsonl) from earlier sessions of the run */
	avo_candidate_book book; /* candidates built this session, by edit hash; the base pinned */
	avo_gate_options gate;   /* the confirming gate (gate.h) */
	int pending;             /* 1 while a candidate is confirmed: its own attempt is due */
	/* The evaluation pipeline (pipeline.h; tune_pipe.c), borrowed from the backend; NULL on
	 * slurm. An operator that proposes ahead (avo_agent_proposes_ahead) keeps up to
	 * `lookahead` candidates in flight; while `ahead`, cb_evaluate queues them in `flight`,
	 * and they are folded into the records in proposal order. */
	struct avo_pipeline *pipe;
	size_t lookahead;
	int ahead;
	int ahead_full;          /* no further proposal: the budget is spoken for */
	struct tune_flight *flight;
	size_t nflight;
	const char *eval_device; /* the device of the evaluation being recorded; NULL: none */
	int devices_frozen;      /* run.json keeps the search's utilization (not the final's) */
	struct tune_flight *folding; /* the proposal being folded (its confirmations queued ahead) */
	unsigned conf_next;      /* the next of them the gate takes */
	int interactive;         /* the operator's client stays while the budget is spent (mcp) */
	int finished;            /* the operator ended the run (finish): evaluations are refused */
	int final_done;          /* the final measurement ran (or was not needed) */
} tune_ctx;


static inline int is_objective_ms(const avo_spec *s) { return s->objective && !strcmp(s->objective, "ms"); }

/* tune_records.c */
int avo_tune__seen_edit(const tune_ctx *t, const char *h);
void avo_tune__forget_edit(tune_ctx *t, const char *h);
void avo_tune__remember_edit(tune_ctx *t, const char *h);
double avo_tune__baseline_fitness(const tune_ctx *t);
void avo_tune__progress(tune_ctx *t, const char *what);
void avo_tune__lineage_free(tune_lineage *l);
int avo_tune__lineage_build(tune_lineage *l, const avo_runstate *rs, int objective_ms);
/* What an edit changes against the best version, in a few words. Caller frees. */
char *avo_tune__change_note(const tune_ctx *t, const avo_astedit_region_edit *re, size_t nre,
			    const avo_astedit_knob_edit *ke, size_t nke);
void avo_tune__publish_best(tune_ctx *t, const avo_runrec_version *version);
/* The record of an attempt (the caller appends it with avo_runstate_add_attempt). */
void avo_tune__attempt_record(avo_runrec_attempt *a, tune_ctx *t, const char *status, const char *variant,
			      double fitness, const avo_eval_result *er, const char *feedback, const char *edit_hash);
int avo_tune__in_lineage(const tune_ctx *t, const char *variant);
/* A gate verdict as a record interval: the ratio (1 + gain) and its interval. */
avo_runrec_interval avo_tune__gate_interval(const avo_gate_verdict *v);
/* Commit candidate `c` (taking it; it becomes the pinned base); `gv` NULL for the baseline. */
int avo_tune__commit_version(tune_ctx *t, avo_candidate *c, const avo_eval_result *er, const char *note,
			     const avo_gate_verdict *gv);
int avo_tune__save_run(tune_ctx *t, int done);
/* Why the run must stop, or NULL. */
const char *avo_tune__budget_reached(tune_ctx *t);

/* tune_gate.c */
int avo_tune__ensure_base(tune_ctx *t);
/* Gate one evaluated candidate (taking `c`, borrowing `er`) and fill `out`. */
int avo_tune__gate(tune_ctx *t, avo_agent_eval *out, avo_candidate *c, const avo_eval_result *er);
int avo_tune__final_measure(tune_ctx *t);
/* A line on the final measurement for an interactive operator (caller frees). */
char *avo_tune__final_line(tune_ctx *t);

/* tune_pipe.c */
/* One evaluation through the pipeline, on any device. *er NULL with 0 returned:
 * interrupted. Sets t->eval_device. */
int avo_tune__pipe_eval(tune_ctx *t, avo_eval_result **er, const char *src, size_t len);
/* The gate's hooks (gate.h): remeasures, pair by pair, each pair on one device. */
long avo_tune__pipe_gate_submit(const char *src, size_t len, long after, void *payload);
int avo_tune__pipe_gate_wait(long ticket, avo_eval_result **out, int *device, void *payload);
void avo_tune__pipe_gate_cancel(long ticket, void *payload);
/* cb_evaluate while t->ahead: queue the edits (checked and built on the pipeline's compile
 * threads), pending. */
int avo_tune__ahead_queue(tune_ctx *t, avo_agent_eval *out, const char *eh, const avo_astedit_region_edit *re,
			  size_t nre, const avo_astedit_knob_edit *ke, size_t nke);
/* An edit refusal in words (caller frees). */
char *avo_tune__refusal_text(const avo_astedit_error *ae);
/* One turn of proposing ahead: a proposal while there is room, else the oldest candidate
 * folded into the records. *finished when nothing is in flight nor will be. */
int avo_tune__ahead_turn(tune_ctx *t, avo_agent_op *op, avo_agent_context *ctx, int *finished, int *exhausted);
/* Drop the candidates still in flight (the run stops): they are not attempts. */
void avo_tune__ahead_drop(tune_ctx *t);
/* The refusal of an edit as an attempt record (invalid_edit). */
int avo_tune__record_refusal(tune_ctx *t, const char *eh, const char *why);
/* Per device utilization into run.json, and as text for the progress line ("" if none). */
void avo_tune__devices_save(tune_ctx *t);
void avo_tune__devices_text(tune_ctx *t, char *buf, size_t n);

/* tune_batch.c */
int avo_tune__eval_one(tune_ctx *t, avo_eval_result **er, avo_agent_eval *out, const char *eh,
		       const char *src, size_t len);
int avo_tune__batch_queue(tune_ctx *t, avo_agent_eval *out, avo_candidate *c);
int avo_tune__batch_flush(tune_ctx *t);
int avo_tune__batch_round(tune_ctx *t, const cJSON *oopts, avo_agent_context *ctx, int *exhausted);

#endif
