/* Helpers shared by the operators (agent.c, knowledge.c); not part of the public API. Every
 * name carries the semi-private prefix avo_agent__. */
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

void avo_agent__edits_free(agent_edits *e);
/* Start from ctx->base's edits (or none). */
int avo_agent__edits_from_base(agent_edits *e, const avo_agent_context *ctx);
int avo_agent__edits_copy(agent_edits *dst, const agent_edits *src);
/* Set (or replace) one region / knob edit. A text equal to the original drops the edit. */
int avo_agent__edits_set_region(agent_edits *e, const avo_agent_context *ctx, const char *name, const char *text);
int avo_agent__edits_set_knob(agent_edits *e, const avo_agent_context *ctx, const char *name, const char *value);
const char *avo_agent__edits_region(const agent_edits *e, const avo_agent_context *ctx, const char *name);
const char *avo_agent__edits_knob(const agent_edits *e, const avo_agent_context *ctx, const char *name);
void avo_agent__edits_hash(char out[33], const agent_edits *e);
/* Move the edits into the result (e is left empty). */
void avo_agent__edits_to_result(avo_agent_step_result *r, agent_edits *e);

const avo_agent_region *avo_agent__ctx_region(const avo_agent_context *ctx, const char *name);
const avo_agent_knob *avo_agent__ctx_knob(const avo_agent_context *ctx, const char *name);
/* Is `value` allowed for knob k? */
int avo_agent__knob_allows(const avo_agent_knob *k, const char *value);

/* Call ctx->cb.evaluate on `e`, storing the evaluation in r->eval (replacing the old one),
 * counting it and noting a commit. Returns the callback's code. */
int avo_agent__step_evaluate(avo_agent_step_result *r, const avo_agent_context *ctx, const agent_edits *e);
/* Call ctx->cb.apply; on failure *msg (caller frees) is the message for the agent. */
int avo_agent__step_apply(char **msg, const avo_agent_context *ctx, const agent_edits *e);
/* A short JSON-ish text describing an evaluation, for agents. Caller frees. */
char *avo_agent__eval_describe(const avo_agent_eval *ev);
int avo_agent__result_add_knowledge(avo_agent_step_result *r, const char *name);

/* Replace every occurrence of `secret` in s (in place, with '*'); no-op if secret is empty. */
void avo_agent__redact(char *s, const char *secret);


/* knowledge.c: the notes of a knowledge dir. _knowledge_list gives sorted names (free with
 * _knowledge_list_free); _knowledge_title gives a note's first heading, "" when unreadable
 * (caller frees). */
int avo_agent__knowledge_is_note(const char *name);
int avo_agent__knowledge_list(char ***out, size_t *n, const char *dir);
void avo_agent__knowledge_list_free(char **names, size_t n);
char *avo_agent__knowledge_title(const char *dir, const char *name);
/* tools.c: lines [offset, offset+limit) of text (1-based) with a header saying where the
 * page lies and, when more follows, how to read on (`again` names the call); caller frees.
 * An integer argument >= lo, or `def` when absent. */
char *avo_agent__page_text(const char *text, long offset, long limit, const char *again);
long avo_agent__arg_long(const struct cJSON *args, const char *name, long def, long lo);


/* The embedded agent/prompts/system.md. */
extern const char avo_agent__system_prompt[];

#endif
