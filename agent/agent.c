/* Shared parts of avo_agent that the operators call: edit sets, the context helpers,
 * results, the callbacks. Operators are created in registry.c (which nothing here calls). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

const char *avo_agent_outcome_name(avo_agent_outcome o)
{
	switch (o) {
	case AVO_AGENT_SUBMITTED: return "submitted";
	case AVO_AGENT_COMMITTED: return "committed";
	case AVO_AGENT_EXHAUSTED: return "exhausted";
	case AVO_AGENT_BUDGET: return "budget";
	case AVO_AGENT_FAILED: return "failed";
	case AVO_AGENT_ENDED: return "ended";
	}
	return "unknown";
}

void avo_agent_eval_dispose(avo_agent_eval *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nscores; i++)
		free((char *)e->scores[i].config);
	free(e->scores);
	free(e->feedback);
	free(e->version_id);
	memset(e, 0, sizeof(*e));
}

void avo_agent_apply_error_dispose(avo_agent_apply_error *e)
{
	if (!e)
		return;
	free(e->message);
	free(e->region);
	memset(e, 0, sizeof(*e));
}

void avo_agent_step_result_dispose(avo_agent_step_result *r)
{
	if (!r)
		return;
	avo_agent_eval_dispose(&r->eval);
	for (size_t i = 0; i < r->nregions; i++) {
		free((char *)r->regions[i].region);
		free((char *)r->regions[i].text);
	}
	free(r->regions);
	for (size_t i = 0; i < r->nknobs; i++) {
		free((char *)r->knobs[i].knob);
		free((char *)r->knobs[i].value);
	}
	free(r->knobs);
	free(r->note);
	free(r->error);
	for (size_t i = 0; i < r->nknowledge_read; i++)
		free(r->knowledge_read[i]);
	free(r->knowledge_read);
	memset(r, 0, sizeof(*r));
}

int avo_agent_step(avo_agent_op *op, const avo_agent_context *ctx, avo_agent_step_result *out)
{
	memset(out, 0, sizeof(*out));
	if (!op || !ctx || !ctx->cb.apply || !ctx->cb.evaluate)
		return avo_error_set(AVO_EINVALID, "agent: step needs an operator, a context and the apply/evaluate callbacks");
	double t0 = avo_now();
	int rc = op->step(op, ctx, out);
	out->seconds = avo_now() - t0;
	return rc;
}

int avo_agent_proposes_ahead(const avo_agent_op *op)
{
	return op && op->observe;
}

void avo_agent_observe(avo_agent_op *op, const avo_agent_context *ctx, const avo_astedit_knob_edit *kedits,
		       size_t nkedits, int correct, double fitness)
{
	if (op && op->observe)
		op->observe(op, ctx, kedits, nkedits, correct, fitness);
}

void avo_agent_op_free(avo_agent_op *op)
{
	if (op)
		op->free(op);
}

/* ---- context ------------------------------------------------------------------------ */

const avo_agent_region *avo_agent__ctx_region(const avo_agent_context *ctx, const char *name)
{
	for (size_t i = 0; name && i < ctx->nregions; i++)
		if (!strcmp(ctx->regions[i].name, name))
			return &ctx->regions[i];
	return NULL;
}

const avo_agent_knob *avo_agent__ctx_knob(const avo_agent_context *ctx, const char *name)
{
	for (size_t i = 0; name && i < ctx->nknobs; i++)
		if (!strcmp(ctx->knobs[i].name, name))
			return &ctx->knobs[i];
	return NULL;
}

const char *avo_agent_region_text(const avo_agent_context *ctx, const char *name)
{
	const avo_agent_region *r = avo_agent__ctx_region(ctx, name);
	if (!r)
		return NULL;
	for (size_t i = 0; ctx->base && i < ctx->base->nregions; i++)
		if (!strcmp(ctx->base->regions[i].region, name))
			return ctx->base->regions[i].text;
	return r->text;
}

const char *avo_agent_knob_value(const avo_agent_context *ctx, const char *name)
{
	const avo_agent_knob *k = avo_agent__ctx_knob(ctx, name);
	if (!k)
		return NULL;
	for (size_t i = 0; ctx->base && i < ctx->base->nknobs; i++)
		if (!strcmp(ctx->base->knobs[i].knob, name))
			return ctx->base->knobs[i].value;
	return k->value;
}

int avo_agent__knob_allows(const avo_agent_knob *k, const char *value)
{
	if (!value || !*value)
		return 0;
	if (k->is_range) {
		char *end;
		long long v = strtoll(value, &end, 10);
		return *end == '\0' && v >= k->lo && v <= k->hi;
	}
	for (size_t i = 0; i < k->nvalues; i++)
		if (!strcmp(k->values[i], value))
			return 1;
	return 0;
}

/* ---- edit sets ---------------------------------------------------------------------- */

void avo_agent__edits_free(agent_edits *e)
{
	for (size_t i = 0; i < e->nr; i++) {
		free((char *)e->r[i].region);
		free((char *)e->r[i].text);
	}
	for (size_t i = 0; i < e->nk; i++) {
		free((char *)e->k[i].knob);
		free((char *)e->k[i].value);
	}
	free(e->r);
	free(e->k);
	memset(e, 0, sizeof(*e));
}

static int put_region(agent_edits *e, const char *name, const char *text)
{
	for (size_t i = 0; i < e->nr; i++)
		if (!strcmp(e->r[i].region, name)) {
			char *t = avo_strdup(text);
			if (!t)
				return avo_oom();
			free((char *)e->r[i].text);
			e->r[i].text = t;
			return 0;
		}
	if (e->nr == e->ar) {
		size_t n = e->ar ? 2 * e->ar : 4;
		void *p = realloc(e->r, n * sizeof(*e->r));
		if (!p)
			return avo_oom();
		e->r = p;
		e->ar = n;
	}
	char *a = avo_strdup(name), *b = avo_strdup(text);
	if (!a || !b) {
		free(a);
		free(b);
		return avo_oom();
	}
	e->r[e->nr].region = a;
	e->r[e->nr].text = b;
	e->nr++;
	return 0;
}

static int put_knob(agent_edits *e, const char *name, const char *value)
{
	for (size_t i = 0; i < e->nk; i++)
		if (!strcmp(e->k[i].knob, name)) {
			char *t = avo_strdup(value);
			if (!t)
				return avo_oom();
			free((char *)e->k[i].value);
			e->k[i].value = t;
			return 0;
		}
	if (e->nk == e->ak) {
		size_t n = e->ak ? 2 * e->ak : 4;
		void *p = realloc(e->k, n * sizeof(*e->k));
		if (!p)
			return avo_oom();
		e->k = p;
		e->ak = n;
	}
	char *a = avo_strdup(name), *b = avo_strdup(value);
	if (!a || !b) {
		free(a);
		free(b);
		return avo_oom();
	}
	e->k[e->nk].knob = a;
	e->k[e->nk].value = b;
	e->nk++;
	return 0;
}

static void drop_region(agent_edits *e, const char *name)
{
	for (size_t i = 0; i < e->nr; i++)
		if (!strcmp(e->r[i].region, name)) {
			free((char *)e->r[i].region);
			free((char *)e->r[i].text);
			e->r[i] = e->r[--e->nr];
			return;
		}
}

static void drop_knob(agent_edits *e, const char *name)
{
	for (size_t i = 0; i < e->nk; i++)
		if (!strcmp(e->k[i].knob, name)) {
			free((char *)e->k[i].knob);
			free((char *)e->k[i].value);
			e->k[i] = e->k[--e->nk];
			return;
		}
}

int avo_agent__edits_set_region(agent_edits *e, const avo_agent_context *ctx, const char *name, const char *text)
{
	const avo_agent_region *r = avo_agent__ctx_region(ctx, name);
	if (r && !strcmp(r->text, text)) {
		drop_region(e, name);
		return 0;
	}
	return put_region(e, name, text);
}

int avo_agent__edits_set_knob(agent_edits *e, const avo_agent_context *ctx, const char *name, const char *value)
{
	const avo_agent_knob *k = avo_agent__ctx_knob(ctx, name);
	if (k && k->value && !strcmp(k->value, value)) {
		drop_knob(e, name);
		return 0;
	}
	return put_knob(e, name, value);
}

int avo_agent__edits_from_base(agent_edits *e, const avo_agent_context *ctx)
{
	memset(e, 0, sizeof(*e));
	const avo_agent_version *b = ctx->base;
	int rc = 0;
	for (size_t i = 0; b && rc == 0 && i < b->nregions; i++)
		rc = avo_agent__edits_set_region(e, ctx, b->regions[i].region, b->regions[i].text);
	for (size_t i = 0; b && rc == 0 && i < b->nknobs; i++)
		rc = avo_agent__edits_set_knob(e, ctx, b->knobs[i].knob, b->knobs[i].value);
	if (rc < 0)
		avo_agent__edits_free(e);
	return rc;
}

int avo_agent__edits_copy(agent_edits *dst, const agent_edits *src)
{
	memset(dst, 0, sizeof(*dst));
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < src->nr; i++)
		rc = put_region(dst, src->r[i].region, src->r[i].text);
	for (size_t i = 0; rc == 0 && i < src->nk; i++)
		rc = put_knob(dst, src->k[i].knob, src->k[i].value);
	if (rc < 0)
		avo_agent__edits_free(dst);
	return rc;
}

const char *avo_agent__edits_region(const agent_edits *e, const avo_agent_context *ctx, const char *name)
{
	for (size_t i = 0; i < e->nr; i++)
		if (!strcmp(e->r[i].region, name))
			return e->r[i].text;
	const avo_agent_region *r = avo_agent__ctx_region(ctx, name);
	return r ? r->text : NULL;
}

const char *avo_agent__edits_knob(const agent_edits *e, const avo_agent_context *ctx, const char *name)
{
	for (size_t i = 0; i < e->nk; i++)
		if (!strcmp(e->k[i].knob, name))
			return e->k[i].value;
	const avo_agent_knob *k = avo_agent__ctx_knob(ctx, name);
	return k ? k->value : NULL;
}

static int cmp_region_edit(const void *a, const void *b)
{
	return strcmp(((const avo_astedit_region_edit *)a)->region, ((const avo_astedit_region_edit *)b)->region);
}

static int cmp_knob_edit(const void *a, const void *b)
{
	return strcmp(((const avo_astedit_knob_edit *)a)->knob, ((const avo_astedit_knob_edit *)b)->knob);
}

void avo_agent_edit_hash(char out[33], const avo_astedit_region_edit *redits, size_t nredits,
			 const avo_astedit_knob_edit *kedits, size_t nkedits)
{
	/* Sort copies of the (borrowed) pointers so the order of edits does not matter. */
	avo_astedit_region_edit *r = nredits ? malloc(nredits * sizeof(*r)) : NULL;
	avo_astedit_knob_edit *k = nkedits ? malloc(nkedits * sizeof(*k)) : NULL;
	XXH3_state_t *st = XXH3_createState();
	out[0] = '\0';
	if ((nredits && !r) || (nkedits && !k) || !st)
		goto done;
	if (nredits) {
		memcpy(r, redits, nredits * sizeof(*r));
		qsort(r, nredits, sizeof(*r), cmp_region_edit);
	}
	if (nkedits) {
		memcpy(k, kedits, nkedits * sizeof(*k));
		qsort(k, nkedits, sizeof(*k), cmp_knob_edit);
	}
	XXH3_128bits_reset(st);
	/* NUL-separated, tagged: no two different edit sets give the same byte stream. */
	for (size_t i = 0; i < nredits; i++) {
		XXH3_128bits_update(st, "R", 1);
		XXH3_128bits_update(st, r[i].region, strlen(r[i].region) + 1);
		XXH3_128bits_update(st, r[i].text, strlen(r[i].text) + 1);
	}
	for (size_t i = 0; i < nkedits; i++) {
		XXH3_128bits_update(st, "K", 1);
		XXH3_128bits_update(st, k[i].knob, strlen(k[i].knob) + 1);
		XXH3_128bits_update(st, k[i].value, strlen(k[i].value) + 1);
	}
	XXH128_hash_t h = XXH3_128bits_digest(st);
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
done:
	XXH3_freeState(st);
	free(r);
	free(k);
}

void avo_agent__edits_hash(char out[33], const agent_edits *e)
{
	avo_agent_edit_hash(out, e->r, e->nr, e->k, e->nk);
}

void avo_agent__edits_to_result(avo_agent_step_result *r, agent_edits *e)
{
	for (size_t i = 0; i < r->nregions; i++) {
		free((char *)r->regions[i].region);
		free((char *)r->regions[i].text);
	}
	for (size_t i = 0; i < r->nknobs; i++) {
		free((char *)r->knobs[i].knob);
		free((char *)r->knobs[i].value);
	}
	free(r->regions);
	free(r->knobs);
	avo_agent__edits_hash(r->edit_hash, e);
	r->regions = e->r;
	r->nregions = e->nr;
	r->knobs = e->k;
	r->nknobs = e->nk;
	memset(e, 0, sizeof(*e));
}

/* ---- callbacks ---------------------------------------------------------------------- */

int avo_agent__step_evaluate(avo_agent_step_result *r, const avo_agent_context *ctx, const agent_edits *e)
{
	avo_agent_eval ev;
	memset(&ev, 0, sizeof(ev));
	if (ctx->cb.annotate)
		ctx->cb.annotate(r->note, ctx->cb.payload);
	int rc = ctx->cb.evaluate(&ev, e->r, e->nr, e->k, e->nk, ctx->cb.payload);
	r->evaluations++;
	if (rc < 0) {
		avo_agent_eval_dispose(&ev);
		return rc;
	}
	avo_agent_eval_dispose(&r->eval);
	r->eval = ev;
	if (ev.committed)
		r->committed = 1;
	return 0;
}

int avo_agent__step_apply(char **msg, const avo_agent_context *ctx, const agent_edits *e)
{
	*msg = NULL;
	avo_agent_apply_error err;
	memset(&err, 0, sizeof(err));
	int rc = ctx->cb.apply(NULL, &err, e->r, e->nr, e->k, e->nk, ctx->cb.payload);
	if (rc < 0) {
		if (err.region && err.region_line)
			*msg = avo_sprintf("region %s, line %u: %s", err.region, err.region_line,
					   err.message ? err.message : "invalid edit");
		else
			*msg = avo_strdup(err.message ? err.message : "invalid edit");
	}
	avo_agent_apply_error_dispose(&err);
	return rc;
}

char *avo_agent__eval_describe(const avo_agent_eval *ev)
{
	avo_buf b = AVO_BUF_INIT;
	avo_buf_printf(&b, "correct: %s\nfitness: %.6g\ncommitted: %s\n", ev->correct ? "yes" : "no",
		       ev->fitness, ev->committed ? "yes (a new best version)" : "no");
	for (size_t i = 0; i < ev->nscores; i++)
		avo_buf_printf(&b, "score %s: %.6g\n", ev->scores[i].config ? ev->scores[i].config : "?",
			       ev->scores[i].score);
	if (ev->feedback && *ev->feedback)
		avo_buf_printf(&b, "feedback:\n%s\n", ev->feedback);
	return avo_buf_detach(&b);
}

int avo_agent__result_add_knowledge(avo_agent_step_result *r, const char *name)
{
	for (size_t i = 0; i < r->nknowledge_read; i++)
		if (!strcmp(r->knowledge_read[i], name))
			return 0;
	char **p = realloc(r->knowledge_read, (r->nknowledge_read + 1) * sizeof(*p));
	if (!p)
		return avo_oom();
	r->knowledge_read = p;
	if (!(p[r->nknowledge_read] = avo_strdup(name)))
		return avo_oom();
	r->nknowledge_read++;
	return 0;
}

void avo_agent__redact(char *s, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	if (!s || n == 0)
		return;
	for (char *p = strstr(s, secret); p; p = strstr(p + n, secret))
		memset(p, '*', n);
}
