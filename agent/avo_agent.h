/* avo_agent: variation operators (knob search, LLM agent over HTTP, external command) and
 * the supervisor that steers them when they stall.
 *
 * An operator never touches files, the compiler or the cache. The caller (the tune loop)
 * describes the kernel and the lineage as plain data in an avo_agent_context and lends
 * three callbacks: `apply` (validate edits, wrapping avo_astedit_apply), `evaluate`
 * (compile, check, time and run the commit gate: fitness is always measured by the caller,
 * never reported by the operator) and `seen` (was this knob point evaluated already).
 * One avo_agent_step() is one variation: it may evaluate several times (propose, evaluate,
 * repair) and ends with a submission, a committed improvement, exhaustion, budget or failure.
 *
 * Ownership: constructors give the caller an avo_agent_op freed with avo_agent_op_free().
 * Everything in an avo_agent_context is borrowed for the duration of one call. An
 * avo_agent_step_result is filled by the operator and released by the caller with
 * avo_agent_step_result_dispose(). Callbacks hand heap strings to the operator (see each).
 * Errors: 0 on success, negative AVO_E* (avo_base.h) with the message in avo_error_last().
 * Secrets: an API key is read from the environment at request time and never written to
 * any result, message, file or log.
 */
#ifndef AVO_AGENT_H
#define AVO_AGENT_H

#include <stddef.h>

#include "avo_astedit.h" /* avo_astedit_region_edit, avo_astedit_knob_edit */

struct cJSON;

/* ---- what the caller describes ------------------------------------------------------ */

typedef struct {
	const char *name;
	const char *text;   /* the original text of the region */
} avo_agent_region;

typedef struct {
	const char *name;
	const char *value;               /* the original value */
	const char *const *values;       /* allowed values (list form), NULL for a range */
	size_t nvalues;
	int is_range;                    /* LO..HI, integers */
	long long lo, hi;
} avo_agent_knob;

typedef struct {
	const char *config;              /* config name */
	double score;                    /* the objective on that config (ms or TFLOP/s) */
} avo_agent_score;

/* One committed version of the lineage. Its edits are relative to the original kernel:
 * only regions whose text differs and knobs whose value differs are listed. */
typedef struct {
	const char *id;
	const char *parent;              /* NULL for the root (the original kernel) */
	const char *op;                  /* operator that produced it: "knob", "llm", ... */
	double fitness;
	const avo_agent_score *scores;
	size_t nscores;
	const avo_astedit_region_edit *regions;
	size_t nregions;
	const avo_astedit_knob_edit *knobs;
	size_t nknobs;
	const char *note;                /* what the operator said it did; may be NULL */
} avo_agent_version;

/* One attempt of the run (any operator, any session), as the caller recorded it. Strings
 * may be NULL. */
typedef struct {
	long n;                          /* 1-based */
	const char *op;
	const char *status;              /* committed, slower, compile, incorrect, invalid_edit, ... */
	double fitness, best_before;
	const char *note;
	const char *feedback;            /* compiler errors, first failure, refusal, ... */
} avo_agent_attempt;

/* What the run has used of its budget; a max of 0 means no limit. */
typedef struct {
	long evaluations, max_evaluations;
	double seconds, max_seconds;
	double cost_usd, max_cost_usd;
} avo_agent_budget;

/* The result of one evaluate() call. The callback fills it with heap memory (malloc); the
 * operator releases it with avo_agent_eval_dispose(). */
typedef struct {
	int correct;                     /* correct on every config */
	int committed;                   /* the caller's commit gate took it into the lineage */
	double fitness;                  /* measured by the caller; 0 when incorrect */
	avo_agent_score *scores;         /* per config; scores[i].config is heap memory too */
	size_t nscores;
	char *feedback;                  /* compiler errors, first failure, ...; may be NULL */
	char *version_id;                /* the new version's id when committed, else NULL */
	int stop;                        /* the caller's budget is spent: end the step now */
	int pending;                     /* queued, not measured yet (the caller evaluates ahead,
					  * engine/pipeline.h): the verdict comes later through
					  * avo_agent_observe(); nothing above is set */
} avo_agent_eval;

void avo_agent_eval_dispose(avo_agent_eval *e);

/* Why an apply() failed, filled by the callback with heap strings; released by the
 * operator with avo_agent_apply_error_dispose(). */
typedef struct {
	int kind;                        /* avo_astedit_error_kind */
	char *message;                   /* one or more lines, shown to the agent as is */
	char *region;                    /* region the problem lies in, or NULL */
	unsigned region_line;            /* 1-based line inside the region text, 0 if n/a */
} avo_agent_apply_error;

void avo_agent_apply_error_dispose(avo_agent_apply_error *e);

/* Edits are always the complete set relative to the original kernel. */
typedef struct {
	/* Validate edits (wraps avo_astedit_apply). 0: valid, and *out_source (when the pointer
	 * is non-NULL) is the new source, which the operator frees. <0: invalid, `err` filled. */
	int (*apply)(char **out_source, avo_agent_apply_error *err,
		     const avo_astedit_region_edit *redits, size_t nredits,
		     const avo_astedit_knob_edit *kedits, size_t nkedits, void *payload);
	/* Compile, check, time and gate. 0: `out` filled (an incorrect variant is still 0);
	 * <0: the evaluation itself could not run (the step fails with that error). */
	int (*evaluate)(avo_agent_eval *out, const avo_astedit_region_edit *redits, size_t nredits,
			const avo_astedit_knob_edit *kedits, size_t nkedits, void *payload);
	/* 1 when this variant (the base's regions with these knob values) has a known
	 * evaluation (cache, lineage), else 0. May be NULL. */
	int (*seen)(const avo_astedit_region_edit *redits, size_t nredits,
		    const avo_astedit_knob_edit *kedits, size_t nkedits, void *payload);
	void *payload;
	/* The operator's note for the edits about to be evaluated ("why"), so the caller can
	 * record it with the attempt. Called before evaluate() when the note is known; may be
	 * NULL. */
	void (*annotate)(const char *note, void *payload);
	/* 1 once the caller is stopping (SIGINT/SIGTERM): an operator that waits on something
	 * else than evaluate() (a client) ends its step. May be NULL. */
	int (*stopping)(void *payload);
	/* End the run now (an interactive operator's client says it is done): the final
	 * measurement of the best against the original, outside the budget, as a run that
	 * spends its budget ends. Returns a line on the result (the operator frees it), or NULL
	 * with the error set; evaluate() refuses afterwards. May be NULL. */
	char *(*finish)(void *payload);
	/* Keep the operator's note (write_note) with the run, so that a later session or a
	 * resumed run sees it in ctx->notes. 0, or <0 with the error set. May be NULL: notes
	 * then last as long as the operator. */
	int (*remember)(const char *note, void *payload);
} avo_agent_callbacks;

typedef struct {
	const char *kernel_name;         /* for prompts and requests; may be NULL */
	const avo_agent_region *regions; /* the original kernel's regions */
	size_t nregions;
	const avo_agent_knob *knobs;
	size_t nknobs;
	const avo_agent_version *lineage; /* committed versions, oldest first */
	size_t nlineage;
	const avo_agent_version *base;   /* the version to vary (usually the best); NULL: original */
	const char *knowledge_dir;       /* *.md notes; NULL: none */
	const char *feedback;            /* the last evaluation's feedback; may be NULL */
	const char *hint;                /* the supervisor's steering text; may be NULL */
	const avo_agent_attempt *attempts; /* every attempt of the run so far, oldest first */
	size_t nattempts;
	const char *const *notes;        /* notes kept in earlier sessions of the run (remember), oldest first */
	size_t nnotes;
	avo_agent_budget budget;         /* the run's budget and its use when the step starts */
	avo_agent_callbacks cb;
} avo_agent_context;

/* ---- one step ------------------------------------------------------------------------ */

typedef enum {
	AVO_AGENT_SUBMITTED = 0, /* the operator submitted edits (evaluated through the gate) */
	AVO_AGENT_COMMITTED,     /* an evaluation during the step was committed */
	AVO_AGENT_EXHAUSTED,     /* nothing new left to propose (knob space covered) */
	AVO_AGENT_BUDGET,        /* turns or tokens of the step ran out before a submission */
	AVO_AGENT_FAILED,        /* the operator failed cleanly; `error` says why */
	AVO_AGENT_ENDED,         /* an interactive operator's client left (`error` says how): stop */
} avo_agent_outcome;

const char *avo_agent_outcome_name(avo_agent_outcome o); /* "submitted", "committed", ... */

typedef struct {
	avo_agent_outcome outcome;
	int committed;                   /* some evaluation in this step was committed */
	int evaluated;                   /* the final edits were evaluated */
	avo_agent_eval eval;             /* the last evaluation of the step (zero if none) */
	avo_astedit_region_edit *regions; /* the final edits (full set), owned by the result */
	size_t nregions;
	avo_astedit_knob_edit *knobs;
	size_t nknobs;
	char edit_hash[33];              /* avo_agent_edit_hash of the final edits; "" if none made */
	char *note;                      /* the operator's note; may be NULL */
	char *error;                     /* why it failed / what was refused; NULL otherwise */
	char **knowledge_read;           /* knowledge files the operator read (names) */
	size_t nknowledge_read;
	unsigned evaluations;            /* evaluate() calls made */
	unsigned turns;                  /* LLM requests made */
	long long input_tokens, output_tokens;
	double cost_usd;
	double seconds;
} avo_agent_step_result;

void avo_agent_step_result_dispose(avo_agent_step_result *r);

/* ---- operators --------------------------------------------------------------------- */

typedef struct avo_agent_op avo_agent_op;
struct avo_agent_op {
	const char *name;                /* "knob", "llm", "command", "mcp" */
	/* Serves a client (mcp): the loop keeps calling step() after the budget is spent (then
	 * evaluate() refuses, and the client may still read) until it reports AVO_AGENT_ENDED. */
	int interactive;
	int (*step)(avo_agent_op *op, const avo_agent_context *ctx, avo_agent_step_result *out);
	void (*free)(avo_agent_op *op);
	/* Proposes ahead: its steps accept a `pending` evaluation and learn the verdict later
	 * through observe() (the knob search). NULL: the operator waits for each verdict. */
	void (*observe)(avo_agent_op *op, const avo_agent_context *ctx, const avo_astedit_knob_edit *kedits,
			size_t nkedits, int correct, double fitness);
};

/* Run one variation step. `out` is always initialised (dispose it even on error; its
 * tokens and cost count even then). Returns <0 only when the step could not run at all
 * (bad context, evaluate() failed) or the run cannot go on (an LLM API refused the key, the
 * model or the request, or its quota is spent: AVO_ENET); a model or a command that
 * misbehaves gives 0 with outcome AVO_AGENT_FAILED and `error` set. */
int avo_agent_step(avo_agent_op *op, const avo_agent_context *ctx, avo_agent_step_result *out);
void avo_agent_op_free(avo_agent_op *op);
/* 1 when the operator proposes ahead (avo_agent_op.observe). */
int avo_agent_proposes_ahead(const avo_agent_op *op);
/* The verdict of a pending evaluation of these knob values (in proposal order); a no-op
 * for an operator that does not propose ahead. */
void avo_agent_observe(avo_agent_op *op, const avo_agent_context *ctx, const avo_astedit_knob_edit *kedits,
		       size_t nkedits, int correct, double fitness);

/* Built-in search over the declared knobs, no network. Options (may be NULL):
 *   {"seed": 1, "neighbors": 0.6, "crossover": 0.2, "elite": 4}
 * neighbors: share of proposals that move one knob of a top point (+-1, +-2, and x2 or /2
 * on ranges wider than 8); crossover: share that cross two top points; the rest are random
 * restarts. The operator keeps a memory of evaluated points across steps; one step
 * evaluates one new point, or reports AVO_AGENT_EXHAUSTED when none is left. */
int avo_agent_knob_new(avo_agent_op **out, const struct cJSON *options);

/* LLM agent over HTTP with tool calls (agent/llm.c; one file per wire format behind the
 * table in agent/llm.h). Options (the spec's "llm" section):
 *   {"api": "openai" | "responses" | "anthropic",  default "openai" (chat completions)
 *    "base_url": "https://api.openai.com/v1",  POST {base_url}/chat/completions, /responses;
 *                                              anthropic (default https://api.anthropic.com):
 *                                              POST {base_url}/v1/messages
 *    "model": "gpt-4.1",                       required
 *    "api_key_env": "OPENAI_API_KEY",          default by api; unset variable: no key sent
 *    "anthropic_version": "2023-06-01",
 *    "max_turns": 30, "max_tokens": 400000,    per-step budget (requests, in+out tokens)
 *    "max_output_tokens": 8192,                per request
 *    "max_tokens_field": "max_tokens",         its name in chat requests (max_completion_tokens)
 *    "max_request_bytes": 600000,              older tool results are elided above this
 *    "temperature": null,
 *    "reasoning_effort": null,                 "low" | "medium" | "high": reasoning_effort
 *                                              (chat) or reasoning.effort (responses)
 *    "extra_body": null,                       fields merged into every request (null removes)
 *    "prompt_cache": true for anthropic,       cache breakpoints (system, tools, newest turn)
 *    "timeout": 300,                           seconds per request
 *    "retries": 6, "retry_base": 1.0, "retry_cap": 60,   429/5xx backoff (Retry-After wins)
 *    "price_input": 0, "price_output": 0,      USD per million tokens
 *    "price_cached_input": 0.1x (anthropic) / 0.5x price_input, "price_cache_write": 1.25x / 1x
 *    "headers": {"X-Title": "avo"},            extra request headers
 *    "system_prompt_file": null}               default: the embedded agent/prompts/system.md
 * A step returns AVO_ENET (the run should stop) on errors that no retry fixes: HTTP 400, 401,
 * 403, 404, a spend-limit 429 (insufficient_quota), an authentication error inside a 200.
 * The operator keeps its recent attempts and the model's notes across steps. */
int avo_agent_llm_new(avo_agent_op **out, const struct cJSON *options);

/* External agent program (protocol in agent/COMMAND.md). Options (the spec's "command"):
 *   {"argv": ["./my-agent", "--fast"], "timeout": 600, "scratch_dir": null,
 *    "max_output": 4194304, "base_dir": null}
 * A relative program path with a '/' is resolved against base_dir (default: the current
 * directory) when the operator is created; a bare name is looked up in PATH. */
int avo_agent_command_new(avo_agent_op **out, const struct cJSON *options);

/* A Model Context Protocol server over two file descriptors (the stdio transport:
 * newline-delimited JSON-RPC 2.0) that lends the llm operator's tools to an MCP client, plus
 * status, list_attempts, read_version and checkout. It answers initialize, ping and
 * tools/list from a thread of its own from the moment it is made; each step serves tools/call
 * until one evaluation (through the caller's evaluate()) has run. Interactive: see
 * avo_agent_op. The descriptors stay the caller's. `avo mcp` is its command. */
typedef struct {
	int in_fd;                       /* requests and notifications from the client */
	int out_fd;                      /* responses; nothing else is written there */
} avo_agent_mcp_options;

int avo_agent_mcp_new(avo_agent_op **out, const avo_agent_mcp_options *options);

/* By name ("knob", "llm", "command"; "mcp" needs avo_agent_mcp_new): the registry in
 * agent/registry.c. */
int avo_agent_op_new(avo_agent_op **out, const char *name, const struct cJSON *options);

/* ---- the supervisor ---------------------------------------------------------------- */

typedef struct {
	unsigned stall_attempts;         /* steps without a commit before steering; 0: 4 */
} avo_agent_supervisor_options;

#define AVO_AGENT_SUPERVISOR_OPTIONS_INIT {4}

typedef struct avo_agent_supervisor avo_agent_supervisor;

int avo_agent_supervisor_new(avo_agent_supervisor **out, const avo_agent_supervisor_options *opts);
void avo_agent_supervisor_free(avo_agent_supervisor *s);
/* Record one finished step. */
int avo_agent_supervisor_observe(avo_agent_supervisor *s, const avo_agent_step_result *r);
/* 1 when the last observed steps stalled (no commit in stall_attempts steps, or an edit
 * hash seen before was tried again), else 0. */
int avo_agent_supervisor_stalled(const avo_agent_supervisor *s);
/* A steering hint for the next step, or *out = NULL when none is needed. Names untried
 * knobs, untouched regions and knowledge notes not read yet. Caller frees *out. */
int avo_agent_supervisor_hint(char **out, avo_agent_supervisor *s, const avo_agent_context *ctx);

/* ---- helpers --------------------------------------------------------------------- */

/* The text of region `name` in ctx->base (or the original); borrowed, NULL if unknown. */
const char *avo_agent_region_text(const avo_agent_context *ctx, const char *name);
/* The value of knob `name` in ctx->base (or the original); borrowed, NULL if unknown. */
const char *avo_agent_knob_value(const avo_agent_context *ctx, const char *name);
/* XXH3-128 hex of an edit set, independent of the order of the edits. */
void avo_agent_edit_hash(char out[33], const avo_astedit_region_edit *redits, size_t nredits,
			 const avo_astedit_knob_edit *kedits, size_t nkedits);

/* ---- astedit adapters (agent/unit.c) ------------------------------------------------ */

/* The regions and knobs of a parsed unit as operator data. Region texts are owned by the
 * view; knob strings are borrowed from the unit, which must outlive the view. */
typedef struct {
	avo_agent_region *regions;
	size_t nregions;
	avo_agent_knob *knobs;
	size_t nknobs;
} avo_agent_unit_view;

int avo_agent_unit_view_init(avo_agent_unit_view *out, const avo_astedit_unit *u);
void avo_agent_unit_view_dispose(avo_agent_unit_view *v);

/* A ready-made avo_agent_callbacks.apply: payload is the original `const avo_astedit_unit *`;
 * wraps avo_astedit_apply() and turns its error (with the clang diagnostic) into `err`. */
int avo_agent_astedit_apply(char **out_source, avo_agent_apply_error *err,
			    const avo_astedit_region_edit *redits, size_t nredits,
			    const avo_astedit_knob_edit *kedits, size_t nkedits, void *payload);

#endif
