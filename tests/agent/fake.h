/* Fake callbacks standing in for the tune loop (astedit + evaluator + commit gate), and a
 * tiny check macro. The "kernel" is a set of regions/knobs; the fake judges text:
 *   a region text containing "SYNTAX" does not parse (apply refuses it),
 *   containing "avo:" escapes its region (apply refuses it),
 *   containing "BAD" compiles with an error (evaluate reports it),
 *   containing "GOOD" is correct and fast (fitness 2; committed when commit_good).
 * Knob tests set `landscape` instead: fitness of a knob point. */
#ifndef AVO_TEST_AGENT_FAKE_H
#define AVO_TEST_AGENT_FAKE_H

#include "avo_agent.h"
#include "avo_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                       \
		}                                                                         \
	} while (0)

typedef struct {
	int commit_good;
	int stop_at;             /* >0: the evaluation with this number says "stop" */
	int fail_eval;           /* evaluate() itself fails (the evaluator could not run) */
	/* knob landscape: fitness of the knob edits, *correct set to 0 for invalid points */
	double (*landscape)(const avo_astedit_knob_edit *k, size_t nk, int *correct, void *ud);
	void *ud;
	double best;             /* the fake commit gate's best fitness so far */
	int applies, evaluations, seen_calls;
	char **evaluated;        /* "NAME=V;..." of every evaluated knob point, in order */
	size_t nevaluated;
	int (*seen)(const avo_astedit_knob_edit *k, size_t nk, void *ud);
	const char *last_region_text; /* of the last evaluation's first region edit (borrowed copy) */
	char last_text[4096];
} fake;

/* Canonical "A=1;B=2;" text of knob edits in the order of `names`, with defaults. */
static inline void knob_key(char *out, size_t n, const avo_astedit_knob_edit *k, size_t nk,
		     const avo_agent_context *ctx)
{
	out[0] = '\0';
	for (size_t i = 0; i < ctx->nknobs; i++) {
		const char *v = ctx->knobs[i].value;
		for (size_t j = 0; j < nk; j++)
			if (!strcmp(k[j].knob, ctx->knobs[i].name))
				v = k[j].value;
		size_t l = strlen(out);
		snprintf(out + l, n - l, "%s=%s;", ctx->knobs[i].name, v);
	}
}

static const avo_agent_context *fake_ctx; /* the context the knob key is built from */

static inline int fake_apply(char **out_source, avo_agent_apply_error *err, const avo_astedit_region_edit *r,
		      size_t nr, const avo_astedit_knob_edit *k, size_t nk, void *payload)
{
	fake *f = payload;
	(void)k;
	(void)nk;
	f->applies++;
	for (size_t i = 0; i < nr; i++) {
		if (strstr(r[i].text, "SYNTAX")) {
			err->kind = AVO_ASTEDIT_ERR_PARSE;
			err->message = avo_strdup("kernel.cu:14:3: error: expected ';' after expression");
			err->region = avo_strdup(r[i].region);
			err->region_line = 2;
			return AVO_EINVALID;
		}
		if (strstr(r[i].text, "avo:")) {
			err->kind = AVO_ASTEDIT_ERR_ESCAPE;
			err->message = avo_strdup("kernel.cu:12:1: region text must not contain avo: markers");
			return AVO_EINVALID;
		}
	}
	if (out_source)
		*out_source = avo_strdup("/* new source */\n");
	return 0;
}

static inline int fake_evaluate(avo_agent_eval *out, const avo_astedit_region_edit *r, size_t nr,
			 const avo_astedit_knob_edit *k, size_t nk, void *payload)
{
	fake *f = payload;
	f->evaluations++;
	if (f->fail_eval)
		return avo_error_set(AVO_EIO, "fake evaluator: cannot run the compiler");
	if (fake_ctx && f->landscape) {
		char key[1024];
		knob_key(key, sizeof(key), k, nk, fake_ctx);
		char **p = realloc(f->evaluated, (f->nevaluated + 1) * sizeof(*p));
		if (!p)
			return AVO_ERROR;
		f->evaluated = p;
		p[f->nevaluated++] = avo_strdup(key);
		int correct = 1;
		out->fitness = f->landscape(k, nk, &correct, f->ud);
		out->correct = correct;
		if (!correct)
			out->fitness = 0;
	} else {
		out->correct = 1;
		out->fitness = 1.0;
		for (size_t i = 0; i < nr; i++) {
			snprintf(f->last_text, sizeof(f->last_text), "%s", r[i].text);
			if (strstr(r[i].text, "BAD")) {
				out->correct = 0;
				out->fitness = 0;
				out->feedback = avo_strdup("kernel.cu:13:5: error: use of undeclared identifier 'BAD'");
			} else if (strstr(r[i].text, "GOOD"))
				out->fitness = 2.0;
		}
	}
	out->nscores = 1;
	out->scores = calloc(1, sizeof(*out->scores));
	out->scores[0].config = avo_strdup("small");
	out->scores[0].score = out->fitness;
	if (f->stop_at && f->evaluations >= f->stop_at) {
		free(out->feedback);
		out->feedback = avo_strdup("not evaluated: evaluation budget reached");
		out->correct = 0;
		out->fitness = 0;
		out->stop = 1;
		return 0;
	}
	if (out->correct && out->fitness > f->best && (f->landscape || f->commit_good)) {
		f->best = out->fitness;
		out->committed = 1;
		out->version_id = avo_sprintf("v%d", f->evaluations);
	}
	return 0;
}

static inline int fake_seen(const avo_astedit_region_edit *r, size_t nr, const avo_astedit_knob_edit *k,
		     size_t nk, void *payload)
{
	fake *f = payload;
	(void)r;
	(void)nr;
	f->seen_calls++;
	return f->seen ? f->seen(k, nk, f->ud) : 0;
}

static inline void fake_dispose(fake *f)
{
	for (size_t i = 0; i < f->nevaluated; i++)
		free(f->evaluated[i]);
	free(f->evaluated);
}

static inline avo_agent_callbacks fake_callbacks(fake *f)
{
	avo_agent_callbacks cb = {fake_apply, fake_evaluate, fake_seen, f, NULL, NULL, NULL, NULL};
	return cb;
}

/* Two regions and two knobs, the shape most tests use. */
static const char *const block_values[] = {"32", "64", "128"};
static const avo_agent_region demo_regions[] = {
	{"body", "  acc += a[i] * b[i]; /* ORIGINAL */\n"},
	{"epilogue", "  out[0] = acc;\n"},
};
static const avo_agent_knob demo_knobs[] = {
	{"BLOCK", "64", block_values, 3, 0, 0, 0},
	{"UNROLL", "1", NULL, 0, 1, 1, 8},
};

static inline avo_agent_context demo_context(fake *f)
{
	avo_agent_context c;
	memset(&c, 0, sizeof(c));
	c.kernel_name = "dot";
	c.regions = demo_regions;
	c.nregions = 2;
	c.knobs = demo_knobs;
	c.nknobs = 2;
	c.cb = fake_callbacks(f);
	return c;
}

static inline const char *result_region(const avo_agent_step_result *r, const char *name)
{
	for (size_t i = 0; i < r->nregions; i++)
		if (!strcmp(r->regions[i].region, name))
			return r->regions[i].text;
	return NULL;
}

static inline const char *result_knob(const avo_agent_step_result *r, const char *name)
{
	for (size_t i = 0; i < r->nknobs; i++)
		if (!strcmp(r->knobs[i].knob, name))
			return r->knobs[i].value;
	return NULL;
}

#endif
