/* The agent tools (avo_agent_tools.h): one implementation behind the llm operator and an
 * MCP server. Each tool takes a JSON object of arguments and answers with text. */
#include "avo_agent_tools.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_BYTES (48u << 10) /* the most one paged read returns */
#define KERNEL_LINES 400        /* default page sizes, in lines */
#define NOTE_LINES 200
#define MAX_NOTES 32
#define NOTE_BYTES 2000 /* the most of one note that is kept */

struct avo_agent_tools {
	const avo_agent_context *ctx;
	avo_agent_step_result *out;
	avo_agent_memory *mem;
	agent_edits work;
	char eval_hash[33]; /* hash of the last evaluated working copy */
	char base_hash[33]; /* hash of the version the session started from */
	int end;            /* AVO_AGENT_TOOLS_* */
	int fatal;          /* <0: a callback failed */
};

#define NOARGS "{\"type\":\"object\",\"properties\":{}}"
#define PAGING "\"offset\":{\"type\":\"integer\",\"description\":\"first line to show, 1-based (default 1)\"}," \
	       "\"limit\":{\"type\":\"integer\",\"description\":\"number of lines to show\"}"

static const avo_agent_tool_def tools[] = {
	{"read_regions", "The current text of every editable region and every knob with its value and allowed values.", NOARGS},
	{"read_kernel", "The kernel source with your working edits applied, a page of lines at a time. Only the regions and knobs can change.",
	 "{\"type\":\"object\",\"properties\":{" PAGING "}}"},
	{"read_lineage", "The committed versions so far: id, parent, operator, fitness, per-config scores, note, and what each changed.", NOARGS},
	{"read_knowledge", "Without a name: list the knowledge base notes. With a name: read one note, a page of lines at a time.",
	 "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"description\":\"note file name, e.g. tiling.md\"}," PAGING "}}"},
	{"read_feedback", "The feedback of the last evaluation: compiler errors, wrong results, timings.", NOARGS},
	{"read_attempts", "Your recent attempts in earlier steps (what changed, the evaluation, its feedback) and your notes.", NOARGS},
	{"write_note", "Keep a short note for your later steps (what worked, what failed, ideas to try).",
	 "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}"},
	{"edit_region", "Replace the whole text of one region in the working copy. The edit is validated at once.",
	 "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"text\":{\"type\":\"string\",\"description\":\"the new region text, whole lines\"}},\"required\":[\"name\",\"text\"]}"},
	{"edit_regions", "Replace several regions at once, validated together (for a change whose parts only parse together).",
	 "{\"type\":\"object\",\"properties\":{\"edits\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"text\":{\"type\":\"string\"}},\"required\":[\"name\",\"text\"]}}},\"required\":[\"edits\"]}"},
	{"set_knob", "Set one knob of the working copy to one of its allowed values.",
	 "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"value\":{\"type\":\"string\"}},\"required\":[\"name\",\"value\"]}"},
	{"evaluate", "Compile, check and time the working copy. A correct variant as fast as the best is committed and ends the step.", NOARGS},
	{"submit", "End the step with the working copy (evaluated first if needed).",
	 "{\"type\":\"object\",\"properties\":{\"note\":{\"type\":\"string\",\"description\":\"what you changed and why\"}}}"},
};
#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

const avo_agent_tool_def *avo_agent_tools_list(size_t *n)
{
	*n = NTOOLS;
	return tools;
}

static const char *arg_str(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* An integer argument >= lo, or `def` when absent; a number given as a string counts. */
long avo_agent__arg_long(const cJSON *args, const char *name, long def, long lo)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	double d = cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsString(v) ? strtod(v->valuestring, NULL) : (double)def;
	if (!(d >= (double)lo))
		return lo;
	return d > 1e9 ? 1000000000L : (long)d;
}

/* Lines [offset, offset+limit) of `text` (1-based), at most PAGE_BYTES, with a header saying
 * where the page lies and how to read on (`again` names the call). */
char *avo_agent__page_text(const char *text, long offset, long limit, const char *again)
{
	long total = 0;
	for (const char *p = text; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n'))
		total++;
	const char *p = text;
	for (long i = 1; i < offset && *p; i++)
		p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
	if (offset > total)
		return avo_sprintf("[no line %ld: the text has %ld lines]\n", offset, total);
	const char *start = p;
	long last = offset - 1;
	while (*p && last - offset + 1 < limit) {
		size_t len = strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
		if ((size_t)(p - start) + len > PAGE_BYTES) {
			if (p == start) { /* one huge line: cut it */
				p += PAGE_BYTES;
				last++;
			}
			break;
		}
		p += len;
		last++;
	}
	avo_buf b = AVO_BUF_INIT;
	avo_buf_printf(&b, "[lines %ld-%ld of %ld]\n", offset, last, total);
	avo_buf_put(&b, start, (size_t)(p - start));
	if (p > start && p[-1] != '\n')
		avo_buf_puts(&b, "\n");
	if (last < total)
		avo_buf_printf(&b, "[more: %s with offset %ld]\n", again, last + 1);
	return avo_buf_detach(&b);
}

static char *tool_read_regions(avo_agent_tools *s)
{
	avo_buf b = AVO_BUF_INIT;
	const avo_agent_context *ctx = s->ctx;
	if (ctx->nregions == 0)
		avo_buf_puts(&b, "The kernel has no regions.\n");
	for (size_t i = 0; i < ctx->nregions; i++) {
		const char *t = avo_agent__edits_region(&s->work, ctx, ctx->regions[i].name);
		avo_buf_printf(&b, "=== region %s ===\n%s", ctx->regions[i].name, t);
		if (!*t || t[strlen(t) - 1] != '\n')
			avo_buf_puts(&b, "\n");
		avo_buf_puts(&b, "=== end ===\n\n");
	}
	if (ctx->nknobs)
		avo_buf_puts(&b, "Knobs:\n");
	for (size_t i = 0; i < ctx->nknobs; i++) {
		const avo_agent_knob *k = &ctx->knobs[i];
		avo_buf_printf(&b, "  %s = %s   allowed: ", k->name, avo_agent__edits_knob(&s->work, ctx, k->name));
		if (k->is_range)
			avo_buf_printf(&b, "%lld..%lld", k->lo, k->hi);
		for (size_t j = 0; !k->is_range && j < k->nvalues; j++)
			avo_buf_printf(&b, "%s%s", j ? " " : "", k->values[j]);
		avo_buf_puts(&b, "\n");
	}
	return avo_buf_detach(&b);
}

/* A line diff of a -> b (base/diff.c), changed lines with one line of context around them. */
static void line_diff(avo_buf *b, const char *a, const char *c)
{
	avo_diff d = {0}; /* left as is when avo_diff_lines fails */
	if (avo_diff_lines(&d, a, c) < 0 || d.whole) { /* too large to diff: show the new text */
		avo_buf_puts(b, c);
		avo_diff_dispose(&d);
		return;
	}
	int skipped = 0;
	for (size_t k = 0; k < d.nops; k++) {
		char op = d.ops[k].op;
		int near = op != ' ' || (k > 0 && d.ops[k - 1].op != ' ') || (k + 1 < d.nops && d.ops[k + 1].op != ' ');
		if (!near) {
			if (!skipped)
				avo_buf_puts(b, "   ...\n");
			skipped = 1;
			continue;
		}
		skipped = 0;
		const avo_diff_line *l = op == '+' ? &d.b[d.ops[k].bi] : &d.a[d.ops[k].ai];
		avo_buf_puts(b, op == '-' ? "  -" : op == '+' ? "  +" : "   ");
		avo_buf_put(b, l->p, l->n);
		avo_buf_puts(b, "\n");
	}
	avo_diff_dispose(&d);
}

static const char *version_region(const avo_agent_context *ctx, const avo_agent_version *v, const char *name)
{
	for (size_t i = 0; v && i < v->nregions; i++)
		if (!strcmp(v->regions[i].region, name))
			return v->regions[i].text;
	const avo_agent_region *r = avo_agent__ctx_region(ctx, name);
	return r ? r->text : "";
}

static const char *version_knob(const avo_agent_context *ctx, const avo_agent_version *v, const char *name)
{
	for (size_t i = 0; v && i < v->nknobs; i++)
		if (!strcmp(v->knobs[i].knob, name))
			return v->knobs[i].value;
	const avo_agent_knob *k = avo_agent__ctx_knob(ctx, name);
	return k && k->value ? k->value : "";
}

static char *tool_read_lineage(avo_agent_tools *s)
{
	const avo_agent_context *ctx = s->ctx;
	avo_buf b = AVO_BUF_INIT;
	if (ctx->nlineage == 0)
		avo_buf_puts(&b, "No committed versions yet.\n");
	for (size_t i = 0; i < ctx->nlineage; i++) {
		const avo_agent_version *v = &ctx->lineage[i], *parent = NULL;
		for (size_t j = 0; v->parent && j < ctx->nlineage; j++)
			if (ctx->lineage[j].id && !strcmp(ctx->lineage[j].id, v->parent))
				parent = &ctx->lineage[j];
		/* Diffs for the newest few only: the conversation must stay small. */
		int full = i + 6 >= ctx->nlineage;
		avo_buf_printf(&b, "version %s (parent %s, by %s%s): fitness %.6g\n", v->id ? v->id : "?",
			       v->parent ? v->parent : "none", v->op ? v->op : "?",
			       v == ctx->base ? ", the version you start from" : "", v->fitness);
		for (size_t j = 0; j < v->nscores; j++)
			avo_buf_printf(&b, "  score %s: %.6g\n", v->scores[j].config ? v->scores[j].config : "?", v->scores[j].score);
		if (v->note)
			avo_buf_printf(&b, "  note: %s\n", v->note);
		for (size_t j = 0; j < ctx->nknobs; j++) {
			const char *a = version_knob(ctx, parent, ctx->knobs[j].name), *c = version_knob(ctx, v, ctx->knobs[j].name);
			if (strcmp(a, c))
				avo_buf_printf(&b, "  knob %s: %s -> %s\n", ctx->knobs[j].name, a, c);
		}
		for (size_t j = 0; j < ctx->nregions; j++) {
			const char *a = version_region(ctx, parent, ctx->regions[j].name), *c = version_region(ctx, v, ctx->regions[j].name);
			if (!strcmp(a, c))
				continue;
			avo_buf_printf(&b, "  region %s changed%s\n", ctx->regions[j].name,
				       full ? (parent ? " (diff against the parent):" : " (diff against the original):") : "");
			if (full)
				line_diff(&b, a, c);
		}
	}
	return avo_buf_detach(&b);
}

static char *tool_read_knowledge(avo_agent_tools *s, const cJSON *args, int *is_error)
{
	const char *dir = s->ctx->knowledge_dir, *name = arg_str(args, "name");
	avo_buf b = AVO_BUF_INIT;
	if (!dir) {
		*is_error = 1;
		return avo_strdup("There is no knowledge base for this kernel.");
	}
	if (name && *name) {
		if (!avo_agent__knowledge_is_note(name)) {
			*is_error = 1;
			return avo_sprintf("\"%s\" is not a note name (a file name ending in .md, no directories)", name);
		}
		char *p = avo_path_join(dir, name);
		if (!p || avo_file_read(&b, p) < 0) {
			free(p);
			avo_buf_dispose(&b);
			*is_error = 1;
			return avo_sprintf("no note named \"%s\"; call read_knowledge without a name for the list", name);
		}
		free(p);
		avo_agent__result_add_knowledge(s->out, name);
		char again[300];
		snprintf(again, sizeof(again), "read_knowledge name=\"%.200s\"", name);
		char *page = avo_agent__page_text(avo_buf_cstr(&b), avo_agent__arg_long(args, "offset", 1, 1),
					     avo_agent__arg_long(args, "limit", NOTE_LINES, 1), again);
		avo_buf_dispose(&b);
		return page;
	}
	char **names = NULL;
	size_t n = 0;
	if (avo_agent__knowledge_list(&names, &n, dir) < 0) {
		*is_error = 1;
		return avo_strdup("The knowledge base cannot be read.");
	}
	avo_buf_puts(&b, n ? "Notes (call read_knowledge with a name to read one):\n" : "The knowledge base is empty.\n");
	for (size_t i = 0; i < n; i++) {
		char *title = avo_agent__knowledge_title(dir, names[i]);
		avo_buf_printf(&b, "  %s  %s\n", names[i], title);
		free(title);
	}
	avo_agent__knowledge_list_free(names, n);
	return avo_buf_detach(&b);
}

static char *tool_read_kernel(avo_agent_tools *s, const cJSON *args, int *is_error)
{
	char *src = NULL;
	avo_agent_apply_error err;
	memset(&err, 0, sizeof(err));
	const agent_edits *e = &s->work;
	int rc = s->ctx->cb.apply(&src, &err, e->r, e->nr, e->k, e->nk, s->ctx->cb.payload);
	avo_agent_apply_error_dispose(&err);
	if (rc < 0 || !src) {
		free(src);
		*is_error = 1;
		return avo_strdup("the kernel source is not available; read_regions shows the editable parts");
	}
	char *page = avo_agent__page_text(src, avo_agent__arg_long(args, "offset", 1, 1), avo_agent__arg_long(args, "limit", KERNEL_LINES, 1), "read_kernel");
	free(src);
	return page;
}

static char *tool_read_feedback(avo_agent_tools *s)
{
	const avo_agent_eval *ev = &s->out->eval;
	if (s->out->evaluations)
		return avo_agent__eval_describe(ev);
	if (s->ctx->feedback && *s->ctx->feedback)
		return avo_sprintf("Feedback of the last evaluation before this step:\n%s", s->ctx->feedback);
	return avo_strdup("No evaluation feedback yet.");
}

static char *tool_read_attempts(avo_agent_tools *s)
{
	const avo_agent_memory *m = s->mem;
	/* Notes of earlier sessions: the most recent MAX_NOTES, as the memory keeps. */
	size_t nold = s->ctx->nnotes, first = nold > MAX_NOTES ? nold - MAX_NOTES : 0;
	if ((!m || (!m->nattempts && !m->nnotes)) && !nold)
		return avo_strdup("No attempts and no notes from earlier steps yet.");
	avo_buf b = AVO_BUF_INIT;
	for (size_t i = 0; m && i < m->nattempts; i++)
		avo_buf_printf(&b, "attempt %zu of the last %zu:\n%s\n%s\n", i + 1, m->nattempts, m->attempts[i].summary,
			       m->attempts[i].outcome);
	if (nold)
		avo_buf_printf(&b, "Your notes from earlier sessions of this run (%zu):\n", nold);
	for (size_t i = first; i < nold; i++)
		avo_buf_printf(&b, "- %s\n", s->ctx->notes[i]);
	if (m && m->nnotes)
		avo_buf_puts(&b, "Your notes:\n");
	for (size_t i = 0; m && i < m->nnotes; i++)
		avo_buf_printf(&b, "- %s\n", m->notes[i]);
	return avo_buf_detach(&b);
}

static char *tool_write_note(avo_agent_tools *s, const cJSON *args, int *is_error)
{
	const char *text = arg_str(args, "text");
	*is_error = 1;
	if (!s->mem)
		return avo_strdup("notes are not kept in this session");
	if (!text || !*text)
		return avo_strdup("write_note needs a string argument \"text\"");
	char *kept = avo_strndup(text, NOTE_BYTES);
	int rc = !kept ? avo_oom() : s->ctx->cb.remember ? s->ctx->cb.remember(kept, s->ctx->cb.payload) : 0;
	free(kept);
	if (rc < 0)
		return avo_sprintf("the note was not kept: %s", avo_error_last());
	if (avo_agent_memory_note(s->mem, text) < 0)
		return avo_strdup("internal error: out of memory");
	*is_error = 0;
	return avo_strdup("noted");
}

/* Try edits on a copy; keep them only when apply() accepts them. */
static char *try_edits(avo_agent_tools *s, agent_edits *tentative, const char *what, int *is_error)
{
	char *msg = NULL;
	if (avo_agent__step_apply(&msg, s->ctx, tentative) < 0) {
		avo_agent__edits_free(tentative);
		*is_error = 1;
		char *r = avo_sprintf("edit refused, the working copy is unchanged: %s", msg ? msg : "invalid edit");
		free(msg);
		return r;
	}
	avo_agent__edits_free(&s->work);
	s->work = *tentative;
	return avo_sprintf("ok: %s. Call evaluate to measure the working copy.", what);
}

/* Puts one region's new text into tent; NULL, or why not (the caller frees it). */
static char *put_region(const avo_agent_context *ctx, agent_edits *tent, const char *name, const char *text)
{
	if (!name || !text)
		return avo_strdup("an edit needs string arguments \"name\" and \"text\"");
	if (!avo_agent__ctx_region(ctx, name)) {
		avo_buf b = AVO_BUF_INIT;
		avo_buf_printf(&b, "edit refused: there is no region named \"%s\"; only the marked regions can be edited. Regions:", name);
		for (size_t i = 0; i < ctx->nregions; i++)
			avo_buf_printf(&b, " %s", ctx->regions[i].name);
		return avo_buf_detach(&b);
	}
	size_t n = strlen(text);
	char *t = (n && text[n - 1] == '\n') ? avo_strdup(text) : avo_sprintf("%s\n", text);
	int rc = t ? avo_agent__edits_set_region(tent, ctx, name, t) : -1;
	free(t);
	return rc < 0 ? avo_strdup("internal error: out of memory") : NULL;
}

static char *tool_edit_region(avo_agent_tools *s, const cJSON *args, int *is_error)
{
	const char *name = arg_str(args, "name");
	agent_edits tent;
	*is_error = 1;
	if (avo_agent__edits_copy(&tent, &s->work) < 0)
		return avo_strdup("internal error: out of memory");
	char *why = put_region(s->ctx, &tent, name, arg_str(args, "text"));
	if (why) {
		avo_agent__edits_free(&tent);
		return why;
	}
	*is_error = 0;
	char what[256];
	snprintf(what, sizeof(what), "region %s replaced", name);
	return try_edits(s, &tent, what, is_error);
}

/* Several regions at once, validated together: a change whose parts only parse together
 * (a helper's new signature and its callers) cannot go one region at a time. */
static char *tool_edit_regions(avo_agent_tools *s, const cJSON *args, int *is_error)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(args, "edits"), *e;
	agent_edits tent;
	*is_error = 1;
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1)
		return avo_strdup("edit_regions needs \"edits\": a non-empty array of {\"name\", \"text\"}");
	if (avo_agent__edits_copy(&tent, &s->work) < 0)
		return avo_strdup("internal error: out of memory");
	avo_buf names = AVO_BUF_INIT;
	cJSON_ArrayForEach(e, list)
	{
		char *why = put_region(s->ctx, &tent, arg_str(e, "name"), arg_str(e, "text"));
		if (why) {
			avo_agent__edits_free(&tent);
			avo_buf_dispose(&names);
			return why;
		}
		avo_buf_printf(&names, "%s%s", names.size ? ", " : "", arg_str(e, "name"));
	}
	*is_error = 0;
	char *what = avo_sprintf("regions %s replaced", avo_buf_cstr(&names));
	avo_buf_dispose(&names);
	char *r = try_edits(s, &tent, what ? what : "regions replaced", is_error);
	free(what);
	return r;
}

static char *tool_set_knob(avo_agent_tools *s, const cJSON *args, int *is_error)
{
	const char *name = arg_str(args, "name");
	const cJSON *jv = cJSON_GetObjectItemCaseSensitive(args, "value");
	char num[64];
	const char *value = cJSON_IsString(jv) ? jv->valuestring : NULL;
	if (cJSON_IsNumber(jv)) {
		snprintf(num, sizeof(num), "%.17g", jv->valuedouble);
		value = num;
	}
	*is_error = 1;
	if (!name || !value)
		return avo_strdup("set_knob needs arguments \"name\" and \"value\"");
	const avo_agent_knob *k = avo_agent__ctx_knob(s->ctx, name);
	if (!k)
		return avo_sprintf("there is no knob named \"%s\"; read_regions lists the knobs", name);
	if (!avo_agent__knob_allows(k, value))
		return avo_sprintf("knob %s does not allow \"%s\"; read_regions lists the allowed values", name, value);
	*is_error = 0;
	agent_edits tent;
	if (avo_agent__edits_copy(&tent, &s->work) < 0 || avo_agent__edits_set_knob(&tent, s->ctx, name, value) < 0) {
		*is_error = 1;
		return avo_strdup("internal error: out of memory");
	}
	char what[256];
	snprintf(what, sizeof(what), "knob %s = %s", name, value);
	return try_edits(s, &tent, what, is_error);
}

static char *evaluate_work(avo_agent_tools *s, int *is_error)
{
	char h[33];
	avo_agent__edits_hash(h, &s->work);
	if (!strcmp(h, s->base_hash)) {
		*is_error = 1;
		return avo_strdup("not evaluated: the working copy is the version you started from, which is "
				  "measured already; change a region or a knob first");
	}
	if (s->out->evaluations && !strcmp(h, s->eval_hash)) {
		char *d = avo_agent__eval_describe(&s->out->eval), *r = avo_sprintf("unchanged since the last evaluation:\n%s", d ? d : "");
		free(d);
		return r;
	}
	int rc = avo_agent__step_evaluate(s->out, s->ctx, &s->work);
	if (rc < 0) {
		s->fatal = rc;
		return NULL;
	}
	memcpy(s->eval_hash, h, sizeof(h));
	if (s->out->eval.committed)
		s->end = AVO_AGENT_TOOLS_COMMITTED;
	else if (s->out->eval.stop)
		s->end = AVO_AGENT_TOOLS_STOPPED;
	return avo_agent__eval_describe(&s->out->eval);
}

static char *tool_submit(avo_agent_tools *s, const cJSON *args, int *is_error)
{
	const char *note = arg_str(args, "note");
	free(s->out->note);
	s->out->note = avo_strdup(note);
	char h[33];
	avo_agent__edits_hash(h, &s->work);
	s->end = AVO_AGENT_TOOLS_SUBMITTED;
	if (!strcmp(h, s->base_hash))
		return avo_strdup("submitted without changes");
	if (s->out->evaluations && !strcmp(h, s->eval_hash))
		return avo_strdup("submitted");
	return evaluate_work(s, is_error);
}

char *avo_agent_tools_call(avo_agent_tools *s, const char *name, const cJSON *args, int *is_error)
{
	*is_error = 0;
	if (s->end || s->fatal) {
		*is_error = 1;
		return avo_strdup("not run: the step has ended");
	}
	if (!name)
		name = "";
	if (!strcmp(name, "read_regions"))
		return tool_read_regions(s);
	if (!strcmp(name, "read_kernel"))
		return tool_read_kernel(s, args, is_error);
	if (!strcmp(name, "read_lineage"))
		return tool_read_lineage(s);
	if (!strcmp(name, "read_knowledge"))
		return tool_read_knowledge(s, args, is_error);
	if (!strcmp(name, "read_feedback"))
		return tool_read_feedback(s);
	if (!strcmp(name, "read_attempts"))
		return tool_read_attempts(s);
	if (!strcmp(name, "write_note"))
		return tool_write_note(s, args, is_error);
	if (!strcmp(name, "edit_regions"))
		return tool_edit_regions(s, args, is_error);
	if (!strcmp(name, "edit_region"))
		return tool_edit_region(s, args, is_error);
	if (!strcmp(name, "set_knob"))
		return tool_set_knob(s, args, is_error);
	if (!strcmp(name, "evaluate"))
		return evaluate_work(s, is_error);
	if (!strcmp(name, "submit"))
		return tool_submit(s, args, is_error);
	*is_error = 1;
	avo_buf b = AVO_BUF_INIT;
	avo_buf_printf(&b, "unknown tool \"%s\"; the tools are:", name);
	for (size_t i = 0; i < NTOOLS; i++)
		avo_buf_printf(&b, " %s", tools[i].name);
	return avo_buf_detach(&b);
}

/* ---- sessions ------------------------------------------------------------------------- */

int avo_agent_tools_new(avo_agent_tools **out, const avo_agent_context *ctx, avo_agent_step_result *result,
			avo_agent_memory *memory)
{
	*out = NULL;
	avo_agent_tools *s = calloc(1, sizeof(*s));
	if (!s)
		return avo_oom();
	s->ctx = ctx;
	s->out = result;
	s->mem = memory;
	if (avo_agent__edits_from_base(&s->work, ctx) < 0) {
		free(s);
		return avo_oom();
	}
	avo_agent__edits_hash(s->base_hash, &s->work);
	*out = s;
	return 0;
}

int avo_agent_tools_has(const char *name)
{
	for (size_t i = 0; name && i < NTOOLS; i++)
		if (!strcmp(tools[i].name, name))
			return 1;
	return 0;
}

int avo_agent_tools_set_work(avo_agent_tools *t, const avo_astedit_region_edit *redits, size_t nredits,
			     const avo_astedit_knob_edit *kedits, size_t nkedits)
{
	agent_edits e;
	memset(&e, 0, sizeof(e));
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nredits; i++)
		rc = avo_agent__edits_set_region(&e, t->ctx, redits[i].region, redits[i].text);
	for (size_t i = 0; rc == 0 && i < nkedits; i++)
		rc = avo_agent__edits_set_knob(&e, t->ctx, kedits[i].knob, kedits[i].value);
	if (rc < 0) {
		avo_agent__edits_free(&e);
		return rc;
	}
	avo_agent__edits_free(&t->work);
	t->work = e;
	return 0;
}

void avo_agent_tools_set_context(avo_agent_tools *t, const avo_agent_context *ctx)
{
	t->ctx = ctx;
}

void avo_agent_tools_free(avo_agent_tools *t)
{
	if (!t)
		return;
	avo_agent__edits_free(&t->work);
	free(t);
}

int avo_agent_tools_ended(const avo_agent_tools *t) { return t->end; }
int avo_agent_tools_failed(const avo_agent_tools *t) { return t->fatal; }

int avo_agent_tools_changed(const avo_agent_tools *t)
{
	char h[33];
	avo_agent__edits_hash(h, &t->work);
	return strcmp(h, t->base_hash) != 0;
}

void avo_agent_tools_finish(avo_agent_tools *t)
{
	char h[33];
	avo_agent__edits_hash(h, &t->work);
	t->out->evaluated = t->out->evaluations > 0 && !strcmp(h, t->eval_hash);
	avo_agent__edits_to_result(t->out, &t->work);
}

/* ---- memory --------------------------------------------------------------------------- */

int avo_agent_memory_add(avo_agent_memory *m, const char *summary, const char *outcome)
{
	size_t keep = m->keep ? m->keep : 8;
	char *a = avo_strdup(summary ? summary : ""), *b = avo_strdup(outcome ? outcome : "");
	avo_agent_memory_attempt *p = realloc(m->attempts, (m->nattempts + 1) * sizeof(*p));
	if (!a || !b || !p) {
		free(a);
		free(b);
		if (p)
			m->attempts = p;
		return avo_oom();
	}
	m->attempts = p;
	p[m->nattempts++] = (avo_agent_memory_attempt){a, b};
	while (m->nattempts > keep) {
		free(p[0].summary);
		free(p[0].outcome);
		memmove(p, p + 1, --m->nattempts * sizeof(*p));
	}
	return 0;
}

int avo_agent_memory_note(avo_agent_memory *m, const char *note)
{
	char *n = avo_strndup(note, NOTE_BYTES);
	char **p = realloc(m->notes, (m->nnotes + 1) * sizeof(*p));
	if (!n || !p) {
		free(n);
		if (p)
			m->notes = p;
		return avo_oom();
	}
	m->notes = p;
	p[m->nnotes++] = n;
	while (m->nnotes > MAX_NOTES) {
		free(p[0]);
		memmove(p, p + 1, --m->nnotes * sizeof(*p));
	}
	return 0;
}

void avo_agent_memory_dispose(avo_agent_memory *m)
{
	for (size_t i = 0; i < m->nattempts; i++) {
		free(m->attempts[i].summary);
		free(m->attempts[i].outcome);
	}
	free(m->attempts);
	for (size_t i = 0; i < m->nnotes; i++)
		free(m->notes[i]);
	free(m->notes);
	size_t keep = m->keep;
	memset(m, 0, sizeof(*m));
	m->keep = keep;
}
