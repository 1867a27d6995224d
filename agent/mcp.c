/* The mcp operator: a coding agent outside avo (Claude Code, Codex CLI, Gemini CLI, Cursor,
 * ...) works on the kernel through the Model Context Protocol. Its tools are the llm
 * operator's (avo_agent_tools.h: one implementation serves both) plus what an agent that
 * keeps its own memory across a run needs: the run's status and budget, the attempts with
 * their feedback, any version's source, and a checkout of any version.
 *
 * One step serves the client's calls until one of them evaluates the working copy through
 * the caller's evaluate() (the tune loop's trusted evaluator and commit gate); the verdict
 * is the tool's answer and the step returns, so the next step sees the new lineage. The
 * working copy lives on across steps. Once the budget is spent, evaluate() refuses and the
 * step keeps serving reads; it ends with AVO_AGENT_ENDED when the client leaves. */
#include "avo_agent_tools.h"
#include "internal.h"
#include "mcp_io.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTEMPTS_SHOWN 10
#define FEEDBACK_SHOWN 600 /* bytes of feedback per attempt in a list */
#define VERSION_LINES 400

typedef struct {
	avo_agent_op op;
	mcp_io *io;
	agent_edits carry;   /* the client's working copy between steps */
	int has_carry;
	char *spent;         /* why evaluations are refused now (the budget), or NULL */
	char *finished;      /* finish's answer once the run was finished, or NULL */
	avo_agent_memory mem;
} mcp_op;

static const char instructions[] =
	"avo tunes one GPU (or CPU) kernel. Only its marked regions and knobs can change. You work "
	"on a private working copy: read_regions, read_kernel and read_knowledge show the kernel "
	"and the notes; edit_region and set_knob change the copy (each edit is validated at once); "
	"evaluate compiles, checks and times the copy with avo's own harness, and the copy becomes a "
	"new version of the lineage only when it is correct on every config and at least as fast as "
	"the best. status shows the budget; list_attempts and read_lineage show what was tried; "
	"read_version and checkout go back to any version. The run's records persist: a later "
	"session continues where this one stopped.";

/* ---- the tools avo mcp adds ------------------------------------------------------------ */

#define ID_ARG "\"id\":{\"type\":\"integer\",\"description\":\"version id (0 is the original kernel)\"}"

static const avo_agent_tool_def extra_tools[] = {
	{"status", "The run: best version and its gain over the original, evaluations, time and cost used "
		   "against the budget, and whether evaluate still runs.",
	 "{\"type\":\"object\",\"properties\":{}}"},
	{"list_attempts", "Every evaluation of this run (all sessions and operators), newest last: status "
			  "(committed, slower, compile, incorrect, ...), fitness, note and feedback. With n: one attempt in full.",
	 "{\"type\":\"object\",\"properties\":{\"last\":{\"type\":\"integer\",\"description\":\"how many of the newest "
	 "attempts to list (default 10)\"},\"n\":{\"type\":\"integer\",\"description\":\"the number of one attempt to show in full\"}}}"},
	{"read_version", "The full kernel source of one committed version, a page of lines at a time.",
	 "{\"type\":\"object\",\"properties\":{" ID_ARG ",\"offset\":{\"type\":\"integer\",\"description\":"
	 "\"first line, 1-based\"},\"limit\":{\"type\":\"integer\",\"description\":\"number of lines\"}},\"required\":[\"id\"]}"},
	{"checkout", "Replace the working copy with the edits of one committed version (to branch from it).",
	 "{\"type\":\"object\",\"properties\":{" ID_ARG "},\"required\":[\"id\"]}"},
	{"finish", "End the run: avo measures the best version against the original, interleaved on the same "
		   "device, and answers with the speedup and its interval (this may take minutes). evaluate "
		   "refuses afterwards; reads still work. A run whose budget is spent is measured by itself.",
	 "{\"type\":\"object\",\"properties\":{}}"},
};
#define NEXTRA (sizeof(extra_tools) / sizeof(extra_tools[0]))

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const avo_agent_version *find_version(const avo_agent_context *ctx, const cJSON *args, char **why)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(args, "id");
	char want[32];
	if (cJSON_IsNumber(id))
		snprintf(want, sizeof(want), "%d", id->valueint);
	else if (cJSON_IsString(id))
		snprintf(want, sizeof(want), "%s", id->valuestring);
	else {
		*why = avo_strdup("needs an integer argument \"id\" (read_lineage lists the versions)");
		return NULL;
	}
	for (size_t i = 0; i < ctx->nlineage; i++)
		if (ctx->lineage[i].id && !strcmp(ctx->lineage[i].id, want))
			return &ctx->lineage[i];
	*why = avo_sprintf("there is no version %s; the lineage has versions 0..%zu", want,
			   ctx->nlineage ? ctx->nlineage - 1 : 0);
	return NULL;
}

static void budget_line(avo_buf *b, const char *what, double used, double limit, const char *fmt_unit)
{
	if (limit > 0)
		avo_buf_printf(b, "%s: %.6g of %.6g %s used (%.6g left)\n", what, used, limit, fmt_unit,
			       limit > used ? limit - used : 0);
	else
		avo_buf_printf(b, "%s: %.6g %s used (no limit)\n", what, used, fmt_unit);
}

static char *tool_status(mcp_op *m, const avo_agent_context *ctx)
{
	const avo_agent_budget *b = &ctx->budget;
	avo_buf t = AVO_BUF_INIT;
	double base = ctx->nlineage ? ctx->lineage[0].fitness : 0;
	avo_buf_printf(&t, "kernel: %s (fitness: higher is better, measured by avo)\n",
		       ctx->kernel_name ? ctx->kernel_name : "?");
	if (ctx->base)
		avo_buf_printf(&t, "best: version %s, fitness %.6g (%.3fx the original's %.6g)\n", ctx->base->id,
			       ctx->base->fitness, base > 0 ? ctx->base->fitness / base : 0, base);
	avo_buf_printf(&t, "versions: %zu committed (the original included)\n", ctx->nlineage);
	budget_line(&t, "evaluations", (double)b->evaluations, (double)b->max_evaluations, "evaluations");
	budget_line(&t, "time", floor(b->seconds), b->max_seconds, "s");
	budget_line(&t, "cost", b->cost_usd, b->max_cost_usd, "USD");
	const char *spent = m->spent ? m->spent
			    : b->max_evaluations && b->evaluations >= b->max_evaluations ? "evaluation budget reached"
			    : b->max_seconds > 0 && b->seconds >= b->max_seconds ? "time budget reached"
			    : b->max_cost_usd > 0 && b->cost_usd >= b->max_cost_usd ? "cost budget reached" : NULL;
	if (spent)
		avo_buf_printf(&t, "evaluate: refused (%s); reads still work\n", spent);
	else
		avo_buf_puts(&t, "evaluate: available\n");
	if (ctx->hint && *ctx->hint)
		avo_buf_printf(&t, "hint: %s\n", ctx->hint);
	return avo_buf_detach(&t);
}

static void attempt_line(avo_buf *b, const avo_agent_attempt *a, size_t cap)
{
	avo_buf_printf(b, "attempt %ld by %s: %s, fitness %.6g (best before %.6g)\n", a->n, a->op ? a->op : "?",
		       a->status ? a->status : "?", a->fitness, a->best_before);
	if (a->note)
		avo_buf_printf(b, "  note: %s\n", a->note);
	if (a->feedback && *a->feedback) {
		size_t n = strlen(a->feedback);
		avo_buf_printf(b, "  feedback: %.*s%s\n", (int)(n > cap ? cap : n), a->feedback,
			       n > cap ? " [...] (list_attempts with n shows it all)" : "");
	}
}

static char *tool_list_attempts(const avo_agent_context *ctx, const cJSON *args, int *is_error)
{
	const cJSON *one = cJSON_GetObjectItemCaseSensitive(args, "n");
	avo_buf b = AVO_BUF_INIT;
	if (one) {
		for (size_t i = 0; cJSON_IsNumber(one) && i < ctx->nattempts; i++)
			if (ctx->attempts[i].n == (long)one->valuedouble) {
				attempt_line(&b, &ctx->attempts[i], (size_t)-1);
				return avo_buf_detach(&b);
			}
		*is_error = 1;
		return avo_sprintf("there is no attempt with that n; the run has attempts 1..%zu", ctx->nattempts);
	}
	long last = avo_agent__arg_long(args, "last", ATTEMPTS_SHOWN, 1);
	size_t from = ctx->nattempts > (size_t)last ? ctx->nattempts - (size_t)last : 0;
	avo_buf_printf(&b, "%zu attempts in this run%s\n", ctx->nattempts, from ? " (the newest follow)" : "");
	for (size_t i = from; i < ctx->nattempts; i++)
		attempt_line(&b, &ctx->attempts[i], FEEDBACK_SHOWN);
	return avo_buf_detach(&b);
}

static char *tool_read_version(const avo_agent_context *ctx, const cJSON *args, int *is_error)
{
	char *why = NULL, *src = NULL;
	const avo_agent_version *v = find_version(ctx, args, &why);
	*is_error = 1;
	if (!v)
		return why;
	avo_agent_apply_error err = {0};
	int rc = ctx->cb.apply(&src, &err, v->regions, v->nregions, v->knobs, v->nknobs, ctx->cb.payload);
	avo_agent_apply_error_dispose(&err);
	if (rc < 0 || !src) {
		free(src);
		return avo_sprintf("the source of version %s cannot be rebuilt: %s", v->id, avo_error_last());
	}
	*is_error = 0;
	char again[64];
	snprintf(again, sizeof(again), "read_version id=%s", v->id);
	char *page = avo_agent__page_text(src, avo_agent__arg_long(args, "offset", 1, 1), avo_agent__arg_long(args, "limit", VERSION_LINES, 1),
				     again);
	free(src);
	return page;
}

static char *tool_checkout(avo_agent_tools *ts, const avo_agent_context *ctx, const cJSON *args, int *is_error)
{
	char *why = NULL;
	const avo_agent_version *v = find_version(ctx, args, &why);
	*is_error = 1;
	if (!v)
		return why;
	if (avo_agent_tools_set_work(ts, v->regions, v->nregions, v->knobs, v->nknobs) < 0)
		return avo_sprintf("checkout failed: %s", avo_error_last());
	*is_error = 0;
	return avo_sprintf("the working copy is now version %s (fitness %.6g); edit it, then evaluate", v->id, v->fitness);
}

/* finish: the run's final measurement, once; evaluations are refused after it. */
static char *tool_finish(mcp_op *m, const avo_agent_context *ctx, const cJSON *req, int *is_error)
{
	if (m->finished)
		return avo_sprintf("the run was already finished: %s", m->finished);
	if (!ctx->cb.finish) {
		*is_error = 1;
		return avo_strdup("finish is not available in this run");
	}
	avo_agent__mcp_io_busy(m->io, req, "avo is measuring the best version against the original");
	char *line = ctx->cb.finish(ctx->cb.payload);
	if (!line) {
		*is_error = 1;
		return avo_sprintf("the final measurement failed: %s", avo_error_last());
	}
	m->finished = line;
	free(m->spent);
	m->spent = avo_strdup("the run was finished (finish)");
	return avo_sprintf("%s. evaluate is refused from now on; the records are kept, and a later avo mcp "
			   "session with a larger budget continues the run.", line);
}

static int is_extra(const char *name)
{
	for (size_t i = 0; i < NEXTRA; i++)
		if (!strcmp(extra_tools[i].name, name))
			return 1;
	return 0;
}

/* ---- the step ------------------------------------------------------------------------ */

/* Keep the client's working copy (now in the step result) for the next session. */
static int keep_work(mcp_op *m, const avo_agent_context *ctx, const avo_agent_step_result *r)
{
	avo_agent__edits_free(&m->carry);
	m->has_carry = 1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < r->nregions; i++)
		rc = avo_agent__edits_set_region(&m->carry, ctx, r->regions[i].region, r->regions[i].text);
	for (size_t i = 0; rc == 0 && i < r->nknobs; i++)
		rc = avo_agent__edits_set_knob(&m->carry, ctx, r->knobs[i].knob, r->knobs[i].value);
	return rc;
}

static int open_session(avo_agent_tools **ts, mcp_op *m, const avo_agent_context *ctx, avo_agent_step_result *out)
{
	int rc = avo_agent_tools_new(ts, ctx, out, &m->mem);
	if (rc == 0 && m->has_carry)
		rc = avo_agent_tools_set_work(*ts, m->carry.r, m->carry.nr, m->carry.k, m->carry.nk);
	return rc;
}

/* A session that ended without an evaluation to report (a refusal, a submit without
 * changes) is reopened with the same working copy. */
static int reopen_session(avo_agent_tools **ts, mcp_op *m, const avo_agent_context *ctx, avo_agent_step_result *out)
{
	avo_agent_tools_finish(*ts);
	int rc = keep_work(m, ctx, out);
	avo_agent_tools_free(*ts);
	*ts = NULL;
	return rc < 0 ? rc : open_session(ts, m, ctx, out);
}

static int is_evaluation(const char *name)
{
	return !strcmp(name, "evaluate") || !strcmp(name, "submit");
}

/* Serve one tools/call. *evaluated: an evaluation ran and its verdict was sent. */
static int serve_call(mcp_op *m, avo_agent_tools **ts, const avo_agent_context *ctx, avo_agent_step_result *out,
		      const cJSON *req, int *evaluated)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
	const char *name = jstr(params, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	if (args && !cJSON_IsObject(args) && !cJSON_IsNull(args))
		return avo_agent__mcp_io_tool_result(m->io, req, "the arguments must be a JSON object", 1);
	if (cJSON_IsNull(args))
		args = NULL;
	int is_error = 0;
	char *text = NULL;
	unsigned before = out->evaluations;
	if (!strcmp(name, "status"))
		text = tool_status(m, ctx);
	else if (!strcmp(name, "list_attempts"))
		text = tool_list_attempts(ctx, args, &is_error);
	else if (!strcmp(name, "read_version"))
		text = tool_read_version(ctx, args, &is_error);
	else if (!strcmp(name, "checkout"))
		text = tool_checkout(*ts, ctx, args, &is_error);
	else if (!strcmp(name, "finish"))
		text = tool_finish(m, ctx, req, &is_error);
	else if (is_evaluation(name) && m->spent) {
		is_error = 1;
		text = avo_sprintf("refused: %s. The budget of this run is spent; the records are kept, and "
				   "avo mcp with a larger --evals, --budget or --max-cost continues the run.", m->spent);
	} else {
		if (is_evaluation(name))
			avo_agent__mcp_io_busy(m->io, req, "avo is compiling, checking and timing the working copy");
		text = avo_agent_tools_call(*ts, name, args, &is_error);
		if (!text) {
			int rc = avo_agent_tools_failed(*ts);
			char *msg = avo_sprintf("the evaluation could not run: %s", avo_error_last());
			avo_agent__mcp_io_tool_result(m->io, req, msg ? msg : "the evaluation could not run", 1);
			free(msg);
			return rc < 0 ? rc : avo_oom();
		}
	}
	int ran = out->evaluations > before;
	if (ran && out->eval.stop) {
		/* evaluate() refused: the budget is spent. Not an evaluation; say why, clearly. */
		free(m->spent);
		m->spent = avo_strdup(out->eval.feedback && !strncmp(out->eval.feedback, "not evaluated: ", 15)
					      ? out->eval.feedback + 15 : "the budget is spent");
		free(text);
		text = avo_sprintf("refused: %s. The budget of this run is spent; the records are kept, and "
				   "avo mcp with a larger --evals, --budget or --max-cost continues the run.", m->spent);
		is_error = 1;
		ran = 0;
	}
	int rc = avo_agent__mcp_io_tool_result(m->io, req, text ? text : "internal error: out of memory", is_error || !text);
	if (ran) {
		char *outcome = avo_agent__eval_describe(&out->eval);
		avo_agent_memory_add(&m->mem, out->note ? out->note : "an evaluation requested over MCP", outcome ? outcome : "");
		free(outcome);
		*evaluated = 1;
	}
	free(text);
	if (rc == 0 && !*evaluated && avo_agent_tools_ended(*ts))
		rc = reopen_session(ts, m, ctx, out);
	return rc < 0 && avo_agent__mcp_io_closed(m->io) ? 0 : rc;
}

static int mcp_step(avo_agent_op *op, const avo_agent_context *ctx, avo_agent_step_result *out)
{
	mcp_op *m = (mcp_op *)op;
	avo_agent_tools *ts = NULL;
	int rc = open_session(&ts, m, ctx, out), evaluated = 0;
	while (rc == 0 && !evaluated) {
		cJSON *req = NULL;
		int r = avo_agent__mcp_io_next(m->io, &req, ctx->cb.stopping, ctx->cb.payload);
		if (r != 0) {
			out->outcome = AVO_AGENT_ENDED;
			out->error = avo_strdup(r > 0 ? "the client closed the connection" : "interrupted");
			break;
		}
		const char *name = jstr(cJSON_GetObjectItemCaseSensitive(req, "params"), "name");
		if (!is_extra(name) && !avo_agent_tools_has(name)) {
			char *msg = avo_sprintf("unknown tool \"%s\" (tools/list names them)", name);
			rc = avo_agent__mcp_io_error(m->io, req, MCP_INVALID_PARAMS, msg ? msg : "unknown tool");
			free(msg);
			rc = avo_agent__mcp_io_closed(m->io) ? 0 : rc;
		} else {
			rc = serve_call(m, &ts, ctx, out, req, &evaluated);
		}
		cJSON_Delete(req);
	}
	if (ts) {
		avo_agent_tools_finish(ts);
		if (keep_work(m, ctx, out) < 0 && rc == 0)
			rc = avo_oom();
		avo_agent_tools_free(ts);
	}
	if (evaluated)
		out->outcome = out->committed ? AVO_AGENT_COMMITTED : AVO_AGENT_SUBMITTED;
	return rc;
}

static void mcp_free(avo_agent_op *op)
{
	mcp_op *m = (mcp_op *)op;
	avo_agent__mcp_io_free(m->io);
	avo_agent__edits_free(&m->carry);
	free(m->spent);
	free(m->finished);
	avo_agent_memory_dispose(&m->mem);
	free(m);
}

static cJSON *tool_json(const avo_agent_tool_def *d)
{
	cJSON *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "name", d->name);
	cJSON_AddStringToObject(t, "description", d->description);
	cJSON *schema = cJSON_Parse(d->schema);
	cJSON_AddItemToObject(t, "inputSchema", schema ? schema : cJSON_CreateObject());
	return t;
}

int avo_agent_mcp_new(avo_agent_op **out, const avo_agent_mcp_options *o)
{
	*out = NULL;
	mcp_op *m = calloc(1, sizeof(*m));
	if (!m)
		return avo_oom();
	m->op.name = "mcp";
	m->op.interactive = 1;
	m->op.step = mcp_step;
	m->op.free = mcp_free;
	cJSON *tools = cJSON_CreateArray();
	size_t n = 0;
	const avo_agent_tool_def *defs = avo_agent_tools_list(&n);
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(tools, tool_json(&defs[i]));
	for (size_t i = 0; i < NEXTRA; i++)
		cJSON_AddItemToArray(tools, tool_json(&extra_tools[i]));
	mcp_io_options io = {o->in_fd, o->out_fd, "avo", AVO_VERSION_STRING, instructions, tools};
	int rc = avo_agent__mcp_io_start(&m->io, &io);
	if (rc < 0) {
		free(m);
		return rc;
	}
	*out = &m->op;
	return 0;
}
