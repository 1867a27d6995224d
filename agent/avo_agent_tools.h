/* avo_agent_tools: the tools a coding agent works with, one implementation for the llm
 * operator and for an MCP server. Reads: the regions and knobs, the kernel source (paged),
 * the lineage, the knowledge base (paged), the last feedback, the recent attempts and the
 * notes. Writes: a region, a knob, a note. Actions: evaluate, submit.
 *
 * A session works on a private copy of the edits that starts from ctx->base. Edits are
 * validated at once through ctx->cb.apply; a refused edit leaves the copy unchanged and
 * the reason is the tool's answer. evaluate goes through ctx->cb.evaluate (the caller's
 * trusted evaluator and commit gate) and its evaluation lands in the session's step result.
 *
 * Ownership: avo_agent_tools_new() gives the caller a session freed with
 * avo_agent_tools_free(). The context, the step result and the memory are borrowed and
 * must outlive the session (avo_agent_tools_set_context() swaps the context, e.g. after a
 * commit changed the lineage). avo_agent_tools_call() returns a heap string the caller
 * frees. Tool definitions are static.
 */
#ifndef AVO_AGENT_TOOLS_H
#define AVO_AGENT_TOOLS_H

#include "avo_agent.h"

struct cJSON;

typedef struct {
	const char *name;
	const char *description;
	const char *schema; /* JSON Schema of the arguments (an object), as JSON text */
} avo_agent_tool_def;

/* The tools, in a stable order; *n is set to their number. */
const avo_agent_tool_def *avo_agent_tools_list(size_t *n);

/* What an agent remembers across steps: its recent attempts and its notes. An operator
 * that lives across steps owns one; the tools read it (read_attempts) and add notes to it
 * (write_note). Strings are heap memory owned by the memory. */
typedef struct {
	char *summary;  /* what changed (regions, knobs) and the agent's note */
	char *outcome;  /* the evaluation (correct, fitness, committed) and its feedback */
} avo_agent_memory_attempt;

typedef struct {
	avo_agent_memory_attempt *attempts; /* oldest first, at most `keep` */
	size_t nattempts;
	size_t keep;                        /* 0: 8 */
	char **notes;                       /* oldest first, at most 32 */
	size_t nnotes;
} avo_agent_memory;

/* Add an attempt (the strings are copied); the oldest is dropped above `keep`. */
int avo_agent_memory_add(avo_agent_memory *m, const char *summary, const char *outcome);
int avo_agent_memory_note(avo_agent_memory *m, const char *note);
void avo_agent_memory_dispose(avo_agent_memory *m);

typedef struct avo_agent_tools avo_agent_tools;

/* Why a session's work ended (avo_agent_tools_ended). */
enum { AVO_AGENT_TOOLS_OPEN = 0, AVO_AGENT_TOOLS_SUBMITTED, AVO_AGENT_TOOLS_COMMITTED, AVO_AGENT_TOOLS_STOPPED };

/* memory may be NULL (read_attempts then says there is none, write_note refuses). */
int avo_agent_tools_new(avo_agent_tools **out, const avo_agent_context *ctx, avo_agent_step_result *result,
			avo_agent_memory *memory);
void avo_agent_tools_set_context(avo_agent_tools *t, const avo_agent_context *ctx);
void avo_agent_tools_free(avo_agent_tools *t);

/* Run tool `name` with `args` (a JSON object; NULL means {}). Returns the text for the
 * agent (caller frees), *is_error set when the call was refused. NULL only when an
 * evaluate() callback failed (avo_agent_tools_failed() then holds its code) or on OOM. */
char *avo_agent_tools_call(avo_agent_tools *t, const char *name, const struct cJSON *args, int *is_error);

/* 1 when `name` is one of the tools. */
int avo_agent_tools_has(const char *name);
/* Replace the working copy with these edits (the full set relative to the original, e.g. a
 * lineage version's, or a copy kept from an earlier session); not validated again. */
int avo_agent_tools_set_work(avo_agent_tools *t, const avo_astedit_region_edit *redits, size_t nredits,
			     const avo_astedit_knob_edit *kedits, size_t nkedits);

/* AVO_AGENT_TOOLS_OPEN while the agent may go on; else why the work ended. */
int avo_agent_tools_ended(const avo_agent_tools *t);
/* <0: an evaluate() callback failed with that code; else 0. */
int avo_agent_tools_failed(const avo_agent_tools *t);
/* 1 when the working copy differs from the version the session started from. */
int avo_agent_tools_changed(const avo_agent_tools *t);
/* Move the working copy into the step result (edits, edit_hash, evaluated). */
void avo_agent_tools_finish(avo_agent_tools *t);

#endif
