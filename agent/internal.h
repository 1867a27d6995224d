/* Helpers shared by the operators; not part of the public API. */
#ifndef AVO_AGENT_INTERNAL_H
#define AVO_AGENT_INTERNAL_H

#include "avo_agent.h"
#include "avo_base.h"

/* A working set of edits (full set relative to the original), owning its strings. */
typedef struct {
	avo_astedit_region_edit *r;
	size_t nr, ar;
	avo_astedit_knob_edit *k;
	size_t nk, ak;
} agent_edits;

void edits_free(agent_edits *e);
/* Start from ctx->base's edits (or none). */
int edits_from_base(agent_edits *e, const avo_agent_context *ctx);
int edits_copy(agent_edits *dst, const agent_edits *src);
/* Set (or replace) one region / knob edit. A text equal to the original drops the edit. */
int edits_set_region(agent_edits *e, const avo_agent_context *ctx, const char *name, const char *text);
int edits_set_knob(agent_edits *e, const avo_agent_context *ctx, const char *name, const char *value);
const char *edits_region(const agent_edits *e, const avo_agent_context *ctx, const char *name);
const char *edits_knob(const agent_edits *e, const avo_agent_context *ctx, const char *name);
void edits_hash(char out[33], const agent_edits *e);
/* Move the edits into the result (e is left empty). */
void edits_to_result(avo_agent_step_result *r, agent_edits *e);

const avo_agent_region *ctx_region(const avo_agent_context *ctx, const char *name);
const avo_agent_knob *ctx_knob(const avo_agent_context *ctx, const char *name);
/* Is `value` allowed for knob k? */
int knob_allows(const avo_agent_knob *k, const char *value);

/* Call ctx->cb.evaluate on `e`, storing the evaluation in r->eval (replacing the old one),
 * counting it and noting a commit. Returns the callback's code. */
int step_evaluate(avo_agent_step_result *r, const avo_agent_context *ctx, const agent_edits *e);
/* Call ctx->cb.apply; on failure *msg (caller frees) is the message for the agent. */
int step_apply(char **msg, const avo_agent_context *ctx, const agent_edits *e);
/* A short JSON-ish text describing an evaluation, for agents. Caller frees. */
char *eval_describe(const avo_agent_eval *ev);
int result_add_knowledge(avo_agent_step_result *r, const char *name);

/* Replace every occurrence of `secret` in s (in place, with '*'); no-op if secret is empty. */
void redact(char *s, const char *secret);


/* knowledge.c: the notes of a knowledge dir. knowledge_list gives sorted names (free with
 * knowledge_list_free); knowledge_title gives a note's first heading, "" when unreadable
 * (caller frees). */
int knowledge_is_note(const char *name);
int knowledge_list(char ***out, size_t *n, const char *dir);
void knowledge_list_free(char **names, size_t n);
char *knowledge_title(const char *dir, const char *name);

/* The embedded agent/prompts/system.md. */
extern const char avo_agent__system_prompt[];

#endif
