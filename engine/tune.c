#include "tune.h"

#include "avo_agent.h"
#include "avo_astedit.h"
#include "avo_base.h"
#include "backend.h"
#include "buildid.h"
#include "eval.h"
#include "runrec.h"
#include "runstate.h"
#include "tunekey.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FEEDBACK_CAP 4096

/* Set by SIGINT/SIGTERM; the loop stops after the evaluation in flight and saves. */
static volatile sig_atomic_t tune__interrupted;

static void on_signal(int sig)
{
	tune__interrupted = 1;
	signal(sig, SIG_DFL); /* a second ^C kills at once */
}

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
} tune_ctx;

/* ---- small helpers ------------------------------------------------------------------ */

static int is_objective_ms(const avo_spec *s) { return s->objective && !strcmp(s->objective, "ms"); }

static int seen_edit(const tune_ctx *t, const char *h)
{
	for (size_t i = 0; i < t->nedit_hashes; i++)
		if (!strcmp(t->edit_hashes[i], h))
			return 1;
	return 0;
}

static void forget_edit(tune_ctx *t, const char *h)
{
	for (size_t i = 0; h && i < t->nedit_hashes; i++)
		if (!strcmp(t->edit_hashes[i], h)) {
			memmove(&t->edit_hashes[i], &t->edit_hashes[i + 1], (t->nedit_hashes - i - 1) * sizeof(*t->edit_hashes));
			t->nedit_hashes--;
			return;
		}
}

static void remember_edit(tune_ctx *t, const char *h)
{
	if (!h || !*h || seen_edit(t, h))
		return;
	if (t->nedit_hashes == t->aedit_hashes) {
		size_t n = t->aedit_hashes ? t->aedit_hashes * 2 : 64;
		void *p = realloc(t->edit_hashes, n * sizeof(*t->edit_hashes));
		if (!p)
			return;
		t->edit_hashes = p;
		t->aedit_hashes = n;
	}
	snprintf(t->edit_hashes[t->nedit_hashes++], 33, "%s", h);
}

/* The edits as record pairs (runrec.h). */
static int edits_pairs(avo_runrec_version *v, const avo_astedit_region_edit *re, size_t nre,
		       const avo_astedit_knob_edit *ke, size_t nke)
{
	size_t rcap = 0, kcap = 0;
	v->has_edits = 1;
	for (size_t i = 0; i < nre; i++)
		if (avo_runrec_pair_add(&v->regions, &v->nregions, &rcap, re[i].region, re[i].text) < 0)
			return AVO_ERROR;
	for (size_t i = 0; i < nke; i++)
		if (avo_runrec_pair_add(&v->knobs, &v->nknobs, &kcap, ke[i].knob, ke[i].value) < 0)
			return AVO_ERROR;
	return 0;
}

/* An evaluation's per-config results as record scores, with the timing noise when the
 * harness gave per-repetition samples. */
static int scores_from_eval(avo_runrec_scores *out, const avo_eval_result *er)
{
	memset(out, 0, sizeof(*out));
	size_t n = er ? er->nconfigs : 0;
	if (!(out->scores = calloc(n + 1, sizeof(*out->scores))))
		return avo_error_set(AVO_ERROR, "out of memory");
	for (size_t i = 0; i < n; i++, out->nscores++) {
		const avo_eval_config_result *c = &er->configs[i];
		avo_runrec_score *o = &out->scores[i];
		o->config = avo_strdup(c->name);
		o->status = avo_strdup(avo_eval_status_name(c->status));
		o->correct = c->correct;
		o->ms = isfinite(c->ms) ? c->ms : NAN;
		o->tflops = isfinite(c->tflops) ? c->tflops : NAN;
		o->max_rel_err = isfinite(c->max_rel_err) ? c->max_rel_err : NAN;
		o->samples = c->nsamples ? (long)c->nsamples : -1;
		o->noise = NAN;
		if (c->nsamples > 1) {
			double m = 0, v = 0;
			for (size_t k = 0; k < c->nsamples; k++)
				m += c->samples[k];
			m /= (double)c->nsamples;
			for (size_t k = 0; k < c->nsamples; k++)
				v += (c->samples[k] - m) * (c->samples[k] - m);
			if (m > 0)
				o->noise = sqrt(v / (double)(c->nsamples - 1)) / m;
		}
	}
	return 0;
}

static double baseline_fitness(const tune_ctx *t)
{
	double f = t->rs->log.nversions ? t->rs->log.versions[0].fitness : 0;
	return isfinite(f) ? f : 0;
}

/* ---- progress ---------------------------------------------------------------------- */

static void fmt_elapsed(char *b, size_t n, double s)
{
	int h = (int)(s / 3600), m = (int)(s / 60) % 60, sec = (int)s % 60;
	if (h)
		snprintf(b, n, "%dh%02dm%02ds", h, m, sec);
	else
		snprintf(b, n, "%dm%02ds", m, sec);
}

static void progress(tune_ctx *t, const char *what)
{
	if (t->opts->quiet)
		return;
	char el[32];
	fmt_elapsed(el, sizeof(el), avo_runstate_elapsed(t->rs));
	const char *unit = is_objective_ms(t->spec) ? "1/ms" : t->spec->objective;
	double base = baseline_fitness(t);
	double gain = base > 0 ? t->best_fitness / base : 0;
	if (t->progress) {
		fprintf(stderr, "\r\033[K[avo %s] best %.4g %s (%.3fx) | attempts %d | commits %d | %s | $%.2f | %s",
			t->spec->name, t->best_fitness, unit, gain, t->attempts, t->commits, el, t->cost,
			what ? what : "");
		fflush(stderr);
	} else if (what) {
		fprintf(stderr, "avo: [%s] %s | best %.4g %s (%.3fx), %d attempts, %d commits, $%.2f\n",
			el, what, t->best_fitness, unit, gain, t->attempts, t->commits, t->cost);
	}
}

/* ---- the lineage for operators ------------------------------------------------------- */

static void lineage_free(tune_lineage *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->scores[i]);
		free(l->regions[i]);
		free(l->knobs[i]);
	}
	free(l->v), free(l->ids), free(l->parents), free(l->scores), free(l->regions), free(l->knobs);
	memset(l, 0, sizeof(*l));
}

static int lineage_build(tune_lineage *l, const avo_runstate *rs, int objective_ms)
{
	memset(l, 0, sizeof(*l));
	size_t n = rs->log.nversions;
	l->v = calloc(n + 1, sizeof(*l->v));
	l->ids = calloc(n + 1, sizeof(*l->ids));
	l->parents = calloc(n + 1, sizeof(*l->parents));
	l->scores = calloc(n + 1, sizeof(*l->scores));
	l->regions = calloc(n + 1, sizeof(*l->regions));
	l->knobs = calloc(n + 1, sizeof(*l->knobs));
	if (!l->v || !l->ids || !l->parents || !l->scores || !l->regions || !l->knobs)
		return avo_error_set(AVO_ERROR, "out of memory");
	l->n = n;
	for (size_t i = 0; i < n; i++) {
		const avo_runrec_version *rec = &rs->log.versions[i];
		avo_agent_version *v = &l->v[i];
		snprintf(l->ids[i], sizeof(l->ids[i]), "%ld", rec->id >= 0 ? rec->id : (long)i);
		v->id = l->ids[i];
		if (rec->parent >= 0) {
			snprintf(l->parents[i], sizeof(l->parents[i]), "%ld", rec->parent);
			v->parent = l->parents[i];
		}
		v->op = rec->op;
		v->fitness = isfinite(rec->fitness) ? rec->fitness : 0;
		v->note = rec->note;
		l->scores[i] = calloc(rec->s.nscores + 1, sizeof(avo_agent_score));
		l->regions[i] = calloc(rec->nregions + 1, sizeof(avo_astedit_region_edit));
		l->knobs[i] = calloc(rec->nknobs + 1, sizeof(avo_astedit_knob_edit));
		if (!l->scores[i] || !l->regions[i] || !l->knobs[i])
			return avo_error_set(AVO_ERROR, "out of memory");
		for (size_t k = 0; k < rec->s.nscores; k++) {
			double sc = objective_ms ? rec->s.scores[k].ms : rec->s.scores[k].tflops;
			l->scores[i][v->nscores++] = (avo_agent_score){rec->s.scores[k].config, isfinite(sc) ? sc : 0};
		}
		for (size_t k = 0; k < rec->nregions; k++)
			l->regions[i][v->nregions++] = (avo_astedit_region_edit){rec->regions[k].name, rec->regions[k].text};
		for (size_t k = 0; k < rec->nknobs; k++)
			l->knobs[i][v->nknobs++] = (avo_astedit_knob_edit){rec->knobs[k].name, rec->knobs[k].text};
		v->scores = l->scores[i];
		v->regions = l->regions[i];
		v->knobs = l->knobs[i];
	}
	return 0;
}

/* ---- the commit gate and the records --------------------------------------------------- */

static const char *edit_value(const avo_runrec_version *v, int knob, const char *name)
{
	if (!v)
		return NULL;
	return knob ? avo_runrec_pair_find(v->knobs, v->nknobs, name)
		    : avo_runrec_pair_find(v->regions, v->nregions, name);
}

/* What an edit changes against the best version, in a few words ("TILE_K 64->16; region
 * softmax rewritten"): the key change shown in the lineage and the report. Caller frees. */
static char *change_note(const tune_ctx *t, const avo_astedit_region_edit *re, size_t nre,
			 const avo_astedit_knob_edit *ke, size_t nke)
{
	const avo_runrec_version *bed = avo_runstate_version(t->rs, t->best_id);
	avo_buf b = AVO_BUF_INIT;
	for (size_t i = 0; i < t->unit->nknobs; i++) {
		const avo_astedit_knob *k = &t->unit->knobs[i];
		const char *now = k->value, *before = edit_value(bed, 1, k->name);
		for (size_t j = 0; j < nke; j++)
			if (!strcmp(ke[j].knob, k->name))
				now = ke[j].value;
		if (!before)
			before = k->value;
		if (strcmp(now, before))
			avo_buf_printf(&b, "%s%s %s->%s", b.size ? "; " : "", k->name, before, now);
	}
	for (size_t i = 0; i < t->unit->nregions; i++) {
		const char *name = t->unit->regions[i].name;
		const char *now = NULL, *before = edit_value(bed, 0, name);
		for (size_t j = 0; j < nre; j++)
			if (!strcmp(re[j].region, name))
				now = re[j].text;
		/* NULL means "the original text" on both sides. */
		if ((now || before) && (!now || !before || strcmp(now, before)))
			avo_buf_printf(&b, "%sregion %s %s", b.size ? "; " : "", name,
				       now ? "rewritten" : "restored");
	}
	return b.size ? avo_buf_detach(&b) : (avo_buf_dispose(&b), avo_strdup("no change"));
}

static void publish_best(tune_ctx *t, const avo_runrec_version *version)
{
	if (!t->cache)
		return;
	avo_runrec_tune e;
	avo_runrec_tune_init(&e);
	e.tuning_key = avo_strdup(t->tuning_key);
	e.variant = avo_strdup(version->variant);
	e.fitness = version->fitness;
	e.objective = avo_strdup(t->spec->objective);
	avo_runrec_scores_copy(&e.s, &version->s);
	e.baseline_fitness = baseline_fitness(t);
	e.version = version->id;
	e.kernel = avo_strdup(avo_path_basename(t->spec->kernel));
	e.arch = avo_strdup(t->spec->arch ? t->spec->arch : "");
	e.time = avo_wall();
	e.avo_version = avo_strdup(AVO_VERSION_STRING);
	e.speedup = t->rs->log.run.speedup;
	cJSON *o = avo_runrec_tune_json(&e);
	char *s = o ? cJSON_Print(o) : NULL;
	if (!s || avo_cache_put(t->cache, "tune", t->tuning_key, s, strlen(s)) < 0)
		fprintf(stderr, "\navo: warning: could not publish the best variant: %s\n", avo_error_last());
	free(s);
	cJSON_Delete(o);
	avo_runrec_tune_dispose(&e);
}

/* The record of an attempt (the caller appends it with avo_runstate_add_attempt). */
static void attempt_record(avo_runrec_attempt *a, tune_ctx *t, const char *status, const char *variant,
			   double fitness, const avo_eval_result *er, const char *feedback, const char *edit_hash)
{
	avo_runrec_attempt_init(a);
	a->n = t->attempts + 1;
	a->time = avo_wall();
	a->elapsed_s = avo_runstate_elapsed(t->rs);
	a->op = avo_strdup(t->step_op ? t->step_op : t->op_name);
	a->status = avo_strdup(status);
	a->variant = avo_strdup(variant);
	a->fitness = fitness;
	a->best_before = t->best_fitness;
	scores_from_eval(&a->s, er);
	if (feedback) {
		/* Keep the tail: compilers and crashes put the decisive line last. */
		size_t n = strlen(feedback);
		a->feedback = n <= FEEDBACK_CAP ? avo_strdup(feedback) : avo_sprintf("[...]\n%s", feedback + n - FEEDBACK_CAP);
	}
	a->edit_hash = avo_strdup(edit_hash ? edit_hash : "");
	a->note = avo_strdup(t->step_note);
	a->from_cache = er && er->from_cache;
}

/* Is this variant already a version of the lineage? (Never commit it twice.) */
static int in_lineage(const tune_ctx *t, const char *variant)
{
	for (size_t i = 0; i < t->rs->log.nversions; i++) {
		const char *h = t->rs->log.versions[i].variant;
		if (h && !strcmp(h, variant))
			return 1;
	}
	return 0;
}

/* Store the variant and append the version. Nothing is recorded when either fails (the
 * caller records the attempt as failed with the cause): no version without its object. */
static int commit_version(tune_ctx *t, const char *variant, const char *src, size_t len,
			  const avo_eval_result *er, const avo_astedit_region_edit *re, size_t nre,
			  const avo_astedit_knob_edit *ke, size_t nke, const char *note)
{
	char h[AVO_CACHE_HEX];
	if (t->cache && avo_cache_put_object(t->cache, h, src, len) < 0)
		return avo_error_wrap(AVO_EIO, "storing the committed variant");
	avo_runrec_version v;
	avo_runrec_version_init(&v);
	long id = (long)t->rs->log.nversions;
	v.id = id;
	v.parent = id == 0 ? -1 : t->best_id;
	v.op = avo_strdup(id == 0 ? "baseline" : (t->step_op ? t->step_op : t->op_name));
	v.variant = avo_strdup(variant);
	v.fitness = er->fitness;
	v.objective = avo_strdup(t->spec->objective);
	scores_from_eval(&v.s, er);
	v.time = avo_wall();
	v.elapsed_s = avo_runstate_elapsed(t->rs);
	v.attempt = t->attempts + 1;
	/* A commit lands mid-step, before the step's own usage is known: record the run's
	 * totals so far (RUNS.md). */
	v.tokens_in = (double)t->tokens_in;
	v.tokens_out = (double)t->tokens_out;
	v.cost_usd = t->cost;
	v.note = avo_strdup(note);
	edits_pairs(&v, re, nre, ke, nke);
	int rc = avo_runstate_add_version(t->rs, &v);
	if (rc < 0)
		return rc;
	t->best_fitness = er->fitness;
	t->best_id = (int)id;
	if (id > 0)
		t->commits++;
	publish_best(t, avo_runstate_best(t->rs));
	return 0;
}

/* Update the totals in run.json; called after every attempt. */
static int save_run(tune_ctx *t, int done)
{
	avo_runrec_run *r = &t->rs->log.run;
	free(r->spec), free(r->tuning_key), free(r->objective), free(r->op), free(r->stop_reason);
	r->spec = avo_strdup(t->spec->path);
	r->tuning_key = avo_strdup(t->tuning_key);
	if (!isfinite(r->started))
		r->started = avo_wall();
	r->elapsed_s = avo_runstate_elapsed(t->rs);
	r->attempts = t->attempts;
	r->commits = t->commits;
	r->best_id = t->best_id;
	r->best_fitness = t->best_fitness;
	r->baseline_fitness = baseline_fitness(t);
	r->objective = avo_strdup(t->spec->objective);
	r->op = avo_strdup(t->op_name);
	r->tokens_in = (double)t->tokens_in;
	r->tokens_out = (double)t->tokens_out;
	r->cost_usd = t->cost;
	r->budget_seconds = t->budget_seconds;
	r->budget_evaluations = t->budget_evals;
	r->budget_cost_usd = t->budget_cost;
	r->done = done;
	r->stop_reason = avo_strdup(t->stop_reason);
	return avo_runstate_save(t->rs);
}

static const char *budget_reached(tune_ctx *t)
{
	if (tune__interrupted)
		return "interrupted";
	if (t->budget_evals > 0 && t->attempts >= t->budget_evals)
		return "evaluation budget reached";
	if (t->budget_seconds > 0 && avo_runstate_elapsed(t->rs) >= t->budget_seconds)
		return "time budget reached";
	if (t->budget_cost > 0 && t->cost >= t->budget_cost)
		return "cost budget reached";
	return NULL;
}

/* ---- callbacks lent to the operator ------------------------------------------------ */

static int cb_apply(char **out_source, avo_agent_apply_error *err, const avo_astedit_region_edit *re,
		    size_t nre, const avo_astedit_knob_edit *ke, size_t nke, void *payload)
{
	tune_ctx *t = payload;
	char *src = NULL;
	size_t len = 0;
	avo_astedit_error ae = {0};
	int rc = avo_astedit_apply(&src, &len, t->unit, re, nre, ke, nke, &ae);
	if (rc < 0) {
		if (err) {
			memset(err, 0, sizeof(*err));
			err->kind = (int)ae.kind;
			err->message = ae.diagnostic ? avo_sprintf("%s\n%s", ae.message ? ae.message : "", ae.diagnostic)
						     : avo_strdup(ae.message ? ae.message : avo_error_last());
			err->region = avo_strdup(ae.region);
			err->region_line = ae.region_line;
		}
		avo_astedit_error_dispose(&ae);
		return rc;
	}
	if (out_source)
		*out_source = src;
	else
		free(src);
	return 0;
}

static void cb_annotate(const char *note, void *payload)
{
	tune_ctx *t = payload;
	free(t->step_note);
	t->step_note = avo_strdup(note);
}

static int cb_seen(const avo_astedit_region_edit *re, size_t nre, const avo_astedit_knob_edit *ke,
		   size_t nke, void *payload)
{
	char h[33];
	avo_agent_edit_hash(h, re, nre, ke, nke);
	return seen_edit(payload, h);
}

static int gate(tune_ctx *t, avo_agent_eval *out, const char *eh, const char *src, size_t len,
		const avo_eval_result *er, const avo_astedit_region_edit *re, size_t nre,
		const avo_astedit_knob_edit *ke, size_t nke);
static int eval_one(tune_ctx *t, avo_eval_result **er, avo_agent_eval *out, const char *eh,
		    const char *src, size_t len);
static int batch_queue(tune_ctx *t, avo_agent_eval *out, const char *eh, char *src,
		       const avo_astedit_region_edit *re, size_t nre, const avo_astedit_knob_edit *ke, size_t nke);

static int cb_evaluate(avo_agent_eval *out, const avo_astedit_region_edit *re, size_t nre,
		       const avo_astedit_knob_edit *ke, size_t nke, void *payload)
{
	tune_ctx *t = payload;
	memset(out, 0, sizeof(*out));
	const char *stop = budget_reached(t);
	if (stop) {
		/* Not an attempt: the step is told and the loop ends after it. */
		t->stop = 1;
		out->stop = 1;
		out->feedback = avo_sprintf("not evaluated: %s", stop);
		return 0;
	}
	char eh[33];
	avo_agent_edit_hash(eh, re, nre, ke, nke);
	remember_edit(t, eh);

	char *src = NULL;
	avo_agent_apply_error aerr = {0};
	if (cb_apply(&src, &aerr, re, nre, ke, nke, t) < 0) {
		avo_runrec_attempt a;
		attempt_record(&a, t, "invalid_edit", NULL, 0, NULL, aerr.message, eh);
		out->feedback = avo_sprintf("edit refused: %s", aerr.message ? aerr.message : "");
		avo_agent_apply_error_dispose(&aerr);
		int rc = avo_runstate_add_attempt(t->rs, &a);
		t->attempts++;
		progress(t, "invalid edit");
		return rc < 0 ? rc : 0;
	}
	size_t len = strlen(src);
	/* backend: queue in batch mode, else evaluate through the backend (engine/backend.h) */
	if (t->batching)
		return batch_queue(t, out, eh, src, re, nre, ke, nke);
	avo_eval_result *er = NULL;
	int rc = eval_one(t, &er, out, eh, src, len);
	if (rc < 0 || !er) {
		free(src);
		return rc; /* the evaluator itself could not run: nothing to judge */
	}
	rc = gate(t, out, eh, src, len, er, re, nre, ke, nke);
	avo_eval_result_free(er);
	free(src);
	return rc;
}

/* The commit gate and the attempt record for one evaluated candidate (er is borrowed). */
static int gate(tune_ctx *t, avo_agent_eval *out, const char *eh, const char *src, size_t len,
		const avo_eval_result *er, const avo_astedit_region_edit *re, size_t nre,
		const avo_astedit_knob_edit *ke, size_t nke)
{
	int rc;
	const char *status;
	int commit = 0;
	if (!er->correct)
		status = avo_eval_status_name(er->status);
	else if (in_lineage(t, er->variant_hash))
		status = "duplicate";
	else if (er->fitness >= t->best_fitness * (1.0 - t->opts->epsilon))
		status = "committed", commit = 1;
	else
		status = "slower";
	double best_before = t->best_fitness;
	char *why = NULL;
	if (commit) {
		/* The version (and its object) first: an attempt says "committed" only once its
		 * version is on record. A failed store is a failed attempt with its cause, and its
		 * edit is tried again later (restore() does not remember failed ones). */
		char *change = change_note(t, re, nre, ke, nke);
		char *note = t->step_note ? avo_sprintf("%s (%s)", change, t->step_note) : NULL;
		rc = commit_version(t, er->variant_hash, src, len, er, re, nre, ke, nke, note ? note : change);
		free(note);
		free(change);
		if (rc < 0) {
			status = "error", commit = 0;
			why = avo_sprintf("not committed: %s", avo_error_last());
		}
	}
	avo_runrec_attempt a;
	attempt_record(&a, t, status, er->variant_hash, er->fitness, er, why ? why : er->feedback, eh);
	a.best_before = best_before;
	int arc = avo_runstate_add_attempt(t->rs, &a);
	if (why) {
		forget_edit(t, eh);
		rc = avo_error_set(AVO_EIO, "%s", why);
		free(why);
	} else
		rc = arc;
	t->attempts++;
	if (rc == 0)
		rc = save_run(t, 0);

	out->correct = er->correct;
	out->committed = commit;
	out->fitness = er->fitness;
	out->scores = calloc(er->nconfigs + 1, sizeof(*out->scores));
	for (size_t i = 0; out->scores && i < er->nconfigs; i++) {
		out->scores[i].config = avo_strdup(er->configs[i].name);
		out->scores[i].score = is_objective_ms(t->spec) ? er->configs[i].ms : er->configs[i].tflops;
		out->nscores++;
	}
	if (!er->correct)
		out->feedback = avo_strdup(er->feedback ? er->feedback : avo_eval_status_name(er->status));
	else
		out->feedback = avo_sprintf("%s: fitness %.6g (best before %.6g)%s", status, er->fitness,
					    best_before,
					    commit ? "" : " - not committed");
	if (commit)
		out->version_id = avo_sprintf("%d", t->best_id);
	char what[128];
	snprintf(what, sizeof(what), "attempt %d %s: %s %.4g", t->attempts, t->step_op ? t->step_op : "",
		 status, er->fitness);
	progress(t, what);
	return rc;
}

/* ---- backends and batches (engine/backend.h, CLUSTER.md) ------------------------------ */

/* One evaluation through the backend. *er NULL with 0 returned: no verdict (a lost Slurm
 * task, an interrupt); a lost one is logged as an "error" attempt, an interrupted one is
 * not an attempt at all (a resumed run proposes it again). */
static int eval_one(tune_ctx *t, avo_eval_result **er, avo_agent_eval *out, const char *eh,
		    const char *src, size_t len)
{
	char *why = NULL;
	int rc = avo_backend_eval(t->backend, er, &why, &src, &len, 1);
	if (*er) {
		free(why);
		return 0;
	}
	if (avo_backend_interrupted(t->backend)) {
		t->stop = 1;
		if (out)
			out->feedback = avo_strdup("not evaluated: interrupted");
		free(why);
		return 0;
	}
	if (rc < 0 || !why) {
		free(why);
		return rc < 0 ? rc : avo_error_set(AVO_ERROR, "the %s backend gave no verdict", avo_backend_name(t->backend));
	}
	avo_runrec_attempt a;
	attempt_record(&a, t, "error", NULL, 0, NULL, why, eh);
	rc = avo_runstate_add_attempt(t->rs, &a);
	t->attempts++;
	if (rc == 0)
		rc = save_run(t, 0);
	if (out)
		out->feedback = avo_sprintf("not evaluated: %s", why);
	progress(t, "evaluation lost");
	free(why);
	return rc;
}

/* A candidate waiting for its batch: copies of its edits and its source. */
struct tune_queued {
	char eh[33];
	char *src;
	char *note;              /* the operator's note (annotate) when it was queued */
	avo_astedit_region_edit *re;
	size_t nre;
	avo_astedit_knob_edit *ke;
	size_t nke;
};

static void queued_free(struct tune_queued *q)
{
	for (size_t i = 0; i < q->nre; i++)
		free((char *)q->re[i].region), free((char *)q->re[i].text);
	for (size_t i = 0; i < q->nke; i++)
		free((char *)q->ke[i].knob), free((char *)q->ke[i].value);
	free(q->re), free(q->ke), free(q->src), free(q->note);
}

/* cb_evaluate in batch mode: keep the candidate (taking `src`) and tell the operator it is
 * pending. Its edit hash is already remembered, so seen() keeps the next proposals new. */
static int batch_queue(tune_ctx *t, avo_agent_eval *out, const char *eh, char *src,
		       const avo_astedit_region_edit *re, size_t nre, const avo_astedit_knob_edit *ke, size_t nke)
{
	struct tune_queued *q = realloc(t->queue, (t->nqueue + 1) * sizeof(*q));
	if (!q) {
		free(src);
		return avo_error_set(AVO_ERROR, "out of memory");
	}
	t->queue = q;
	q = &t->queue[t->nqueue++];
	memset(q, 0, sizeof(*q));
	snprintf(q->eh, sizeof(q->eh), "%s", eh);
	q->src = src;
	q->note = avo_strdup(t->step_note);
	q->re = calloc(nre + 1, sizeof(*q->re));
	q->ke = calloc(nke + 1, sizeof(*q->ke));
	for (size_t i = 0; q->re && i < nre; i++, q->nre++)
		q->re[i] = (avo_astedit_region_edit){avo_strdup(re[i].region), avo_strdup(re[i].text)};
	for (size_t i = 0; q->ke && i < nke; i++, q->nke++)
		q->ke[i] = (avo_astedit_knob_edit){avo_strdup(ke[i].knob), avo_strdup(ke[i].value)};
	out->feedback = avo_strdup("pending: queued for a batch evaluation");
	return 0;
}

/* Evaluate the queued candidates together, then run the commit gate on each in proposal
 * order: the same records and commits a serial run makes for the same proposals. */
static int batch_flush(tune_ctx *t)
{
	size_t n = t->nqueue;
	if (!n)
		return 0;
	const char **srcs = calloc(n, sizeof(*srcs));
	size_t *lens = calloc(n, sizeof(*lens));
	avo_eval_result **ers = calloc(n, sizeof(*ers));
	char **why = calloc(n, sizeof(*why));
	int rc = 0;
	if (!srcs || !lens || !ers || !why) {
		rc = avo_error_set(AVO_ERROR, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		srcs[i] = t->queue[i].src;
		lens[i] = strlen(srcs[i]);
	}
	rc = avo_backend_eval(t->backend, ers, why, srcs, lens, n);
	int interrupted = avo_backend_interrupted(t->backend);
	if (rc < 0 && !interrupted)
		goto done; /* the environment failed: as in a serial run, the loop stops */
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct tune_queued *q = &t->queue[i];
		avo_agent_eval ev = {0};
		free(t->step_note); /* the note its step gave, for its records */
		t->step_note = q->note;
		q->note = NULL;
		if (ers[i]) {
			rc = gate(t, &ev, q->eh, q->src, lens[i], ers[i], q->re, q->nre, q->ke, q->nke);
		} else if (!interrupted && why[i]) {
			avo_runrec_attempt a;
			attempt_record(&a, t, "error", NULL, 0, NULL, why[i], q->eh);
			rc = avo_runstate_add_attempt(t->rs, &a);
			t->attempts++;
			if (rc == 0)
				rc = save_run(t, 0);
			progress(t, "evaluation lost");
		}
		avo_agent_eval_dispose(&ev);
	}
	if (interrupted)
		t->stop = 1;
done:
	for (size_t i = 0; i < n; i++) {
		if (ers)
			avo_eval_result_free(ers[i]);
		if (why)
			free(why[i]);
		queued_free(&t->queue[i]);
	}
	free(t->queue);
	t->queue = NULL;
	t->nqueue = 0;
	free(srcs), free(lens), free(ers), free(why);
	return rc;
}

/* One round of batch mode: up to `slots` proposals from a fresh knob operator, then one
 * batch evaluation. The operator is made anew each round (seed + attempts so far, so a
 * resumed run proposes the same) because its memory would otherwise hold the queued
 * points as failures: fresh, it learns the measured fitness from the lineage and skips
 * every point tried so far through seen(). Sets *exhausted when nothing new is left. */
static int batch_round(tune_ctx *t, const cJSON *oopts, avo_agent_context *ctx, int *exhausted)
{
	size_t k = avo_backend_slots(t->backend);
	if (t->budget_evals > 0 && (long)k > t->budget_evals - t->attempts)
		k = t->budget_evals > t->attempts ? (size_t)(t->budget_evals - t->attempts) : 0;
	cJSON *o = oopts ? cJSON_Duplicate(oopts, 1) : cJSON_CreateObject();
	const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
	double s = (cJSON_IsNumber(seed) ? seed->valuedouble : 1) + t->attempts;
	cJSON_DeleteItemFromObjectCaseSensitive(o, "seed");
	cJSON_AddNumberToObject(o, "seed", s);
	avo_agent_op *op = NULL;
	int rc = avo_agent_op_new(&op, "knob", o);
	cJSON_Delete(o);
	t->batching = 1;
	for (size_t j = 0; rc == 0 && j < k && !t->stop; j++) {
		avo_agent_step_result res;
		free(t->step_note);
		t->step_note = NULL;
		rc = avo_agent_step(op, ctx, &res);
		if (rc == 0 && res.outcome == AVO_AGENT_EXHAUSTED)
			*exhausted = 1;
		avo_agent_step_result_dispose(&res);
		if (*exhausted)
			break;
	}
	t->batching = 0;
	avo_agent_op_free(op);
	int frc = batch_flush(t);
	return rc < 0 ? rc : frc;
}

/* ---- the loop ---------------------------------------------------------------------- */

char *avo_tune_default_run_dir(const avo_spec *spec)
{
	return avo_sprintf("%s/.avo/%s", spec->dir, spec->name);
}

static int parse_kernel(avo_astedit_unit **out, const avo_spec *spec)
{
	/* The kernel parses as it builds: the compiler's include dirs, defines and arch. */
	avo_buildid_argv a = AVO_BUILDID_ARGV_INIT;
	int rc = avo_buildid_clang_argv(&a, spec);
	if (rc == 0) {
		avo_astedit_options ao = AVO_ASTEDIT_OPTIONS_INIT;
		ao.clang_args = a.v;
		ao.nclang_args = a.n;
		rc = avo_astedit_parse(out, spec->kernel, NULL, 0, &ao);
	}
	avo_buildid_argv_dispose(&a);
	return rc;
}

static int baseline(tune_ctx *t)
{
	avo_eval_result *er = NULL;
	if (!t->opts->quiet)
		fprintf(stderr, "avo: evaluating the original kernel %s\n", t->spec->kernel);
	char *why = NULL; /* backend: the baseline runs where the candidates will */
	const char *src = t->unit->source;
	size_t len = t->unit->source_len;
	int rc = avo_backend_eval(t->backend, &er, &why, &src, &len, 1);
	if (!er) {
		rc = avo_error_set(rc < 0 ? rc : AVO_EIO, "%s: the original kernel was not evaluated: %s", t->spec->kernel,
				   why ? why : avo_error_last());
		free(why);
		return rc;
	}
	free(why);
	if (!er->correct) {
		rc = avo_error_set(AVO_EINVALID, "%s: the original kernel fails its harness (%s); fix it before tuning:\n%s",
				   t->spec->kernel, avo_eval_status_name(er->status),
				   er->feedback ? er->feedback : "");
		avo_eval_result_free(er);
		return rc;
	}
	t->best_fitness = 0;
	/* As in gate(): the version first, so a failed store leaves a failed attempt. */
	rc = commit_version(t, er->variant_hash, t->unit->source, t->unit->source_len, er,
			    NULL, 0, NULL, 0, "the original kernel");
	char *fail = rc < 0 ? avo_sprintf("not committed: %s", avo_error_last()) : NULL;
	avo_runrec_attempt a;
	attempt_record(&a, t, rc < 0 ? "error" : "committed", er->variant_hash, er->fitness, er, fail, "");
	free(a.op);
	a.op = avo_strdup("baseline");
	a.best_before = 0;
	int arc = avo_runstate_add_attempt(t->rs, &a);
	if (fail)
		rc = avo_error_set(AVO_EIO, "%s", fail);
	else
		rc = arc;
	free(fail);
	t->attempts++;
	avo_eval_result_free(er);
	return rc;
}

/* Restore counters from the records of an earlier session. */
static void restore(tune_ctx *t)
{
	const avo_runrec_log *log = &t->rs->log;
	t->best_fitness = 0;
	t->best_id = 0;
	for (size_t i = 0; i < log->nversions; i++) {
		double f = isfinite(log->versions[i].fitness) ? log->versions[i].fitness : 0;
		if (f >= t->best_fitness) {
			t->best_fitness = f;
			t->best_id = (int)(log->versions[i].id >= 0 ? log->versions[i].id : 0);
		}
	}
	t->commits = log->nversions > 0 ? (int)log->nversions - 1 : 0;
	t->attempts = (int)log->nattempts;
	for (size_t i = 0; i < log->nattempts; i++) {
		const avo_runrec_attempt *a = &log->attempts[i];
		t->tokens_in += isfinite(a->tokens_in) ? (long long)a->tokens_in : 0;
		t->tokens_out += isfinite(a->tokens_out) ? (long long)a->tokens_out : 0;
		t->cost += isfinite(a->cost_usd) ? a->cost_usd : 0;
		/* An attempt that failed for a reason outside the candidate (a lost evaluation, a
		 * failed store) is tried again. */
		if (strcmp(a->status, "error"))
			remember_edit(t, a->edit_hash);
	}
}

static cJSON *op_options(const avo_spec *spec, const char *op)
{
	const cJSON *o = avo_spec_section(spec, op);
	return o ? cJSON_Duplicate(o, 1) : NULL;
}

/* --operator-options: its top-level fields replace the spec section's. */
static int op_override(cJSON **oopts, const char *json)
{
	cJSON *over = cJSON_Parse(json), *it;
	if (!cJSON_IsObject(over)) {
		cJSON_Delete(over);
		return avo_error_set(AVO_EINVALID, "--operator-options: not a JSON object: %.80s", json);
	}
	if (!cJSON_IsObject(*oopts)) {
		cJSON_Delete(*oopts);
		*oopts = cJSON_CreateObject();
	}
	int rc = 0;
	while (rc == 0 && over->child) {
		it = cJSON_DetachItemViaPointer(over, over->child);
		char *key = avo_strdup(it->string); /* cJSON frees the item's own name first */
		cJSON_DeleteItemFromObjectCaseSensitive(*oopts, key);
		if (!key || !cJSON_AddItemToObject(*oopts, key, it)) {
			cJSON_Delete(it);
			rc = avo_error_set(AVO_ERROR, "out of memory");
		}
		free(key);
	}
	cJSON_Delete(over);
	return rc;
}

static char *knowledge_dir(const avo_spec *spec)
{
	if (spec->knowledge && !avo_path_exists(spec->knowledge)) {
		fprintf(stderr, "avo: warning: knowledge dir %s does not exist\n", spec->knowledge);
		return NULL;
	}
	return avo_strdup(spec->knowledge);
}

int avo_tune_run(const avo_spec *spec, avo_cache *cache, const avo_tune_options *opts)
{
	tune_ctx t = {0};
	tune_lineage lin = {0};
	avo_agent_op *op = NULL;
	avo_agent_supervisor *sup = NULL;
	avo_agent_region *regions = NULL;
	avo_agent_knob *knobs = NULL;
	char *run_dir = NULL, *hint = NULL, *kdir = NULL, *last_feedback = NULL;
	cJSON *oopts = NULL;
	int rc;

	t.spec = spec;
	t.cache = cache;
	t.opts = opts;
	t.op_name = opts->op ? opts->op : (spec->op ? spec->op : "knob");
	t.budget_seconds = opts->budget_seconds >= 0 ? opts->budget_seconds : spec->budget_seconds;
	t.budget_evals = opts->budget_evaluations >= 0 ? opts->budget_evaluations : spec->budget_evaluations;
	t.budget_cost = opts->budget_cost_usd >= 0 ? opts->budget_cost_usd : spec->budget_cost_usd;
	t.progress = opts->progress >= 0 ? opts->progress : isatty(2);
	t.eopts = (avo_eval_options)AVO_EVAL_OPTIONS_INIT;
	t.eopts.jobs = opts->jobs;
	t.eopts.gpu = opts->gpu;

	run_dir = opts->run_dir ? avo_strdup(opts->run_dir) : avo_tune_default_run_dir(spec);
	avo_backend_options bo = AVO_BACKEND_OPTIONS_INIT; /* backend: spec's or --backend */
	bo.kind = opts->backend;
	bo.quiet = opts->quiet;
	if ((rc = avo_backend_open(&t.backend, spec, cache, &t.eopts, &bo)) < 0)
		goto done;
	if ((rc = avo_tunekey_compute(t.tuning_key, spec, cache)) < 0 || (rc = parse_kernel(&t.unit, spec)) < 0)
		goto done;
	if ((rc = avo_runstate_open(&t.rs, run_dir, opts->fresh_run ? AVO_RUNSTATE_FRESH
					     : opts->resume ? AVO_RUNSTATE_RESUME : AVO_RUNSTATE_NEW)) < 0)
		goto done;
	const char *old_key = t.rs->log.run.tuning_key;
	char legacy[AVO_CACHE_HEX]; /* a run that an older avo keyed (tunekey.h) */
	if (opts->resume && old_key && strcmp(old_key, t.tuning_key) &&
	    !(avo_tunekey_legacy(legacy, t.tuning_key) == 0 && !strcmp(old_key, legacy))) {
		rc = avo_error_set(AVO_EINVALID,
				   "%s: this run was for another version of the kernel, harness or configs "
				   "(tuning key %.12s.., now %.12s..); start over with --fresh-run",
				   run_dir, old_key, t.tuning_key);
		goto done;
	}
	restore(&t);
	if (!opts->quiet)
		fprintf(stderr, "avo: tuning %s with the %s operator on the %s backend; run dir %s%s\n", spec->kernel,
			t.op_name, avo_backend_name(t.backend), run_dir, opts->resume && t.attempts ? " (resumed)" : "");
	if (t.rs->log.nversions == 0 && (rc = baseline(&t)) < 0)
		goto done;
	if ((rc = save_run(&t, 0)) < 0)
		goto done;

	oopts = op_options(spec, t.op_name);
	if (opts->op_json && (rc = op_override(&oopts, opts->op_json)) < 0)
		goto done;
	if (!strcmp(t.op_name, "command") && cJSON_IsObject(oopts) &&
	    !cJSON_GetObjectItemCaseSensitive(oopts, "base_dir"))
		cJSON_AddStringToObject(oopts, "base_dir", spec->dir);
	if ((rc = avo_agent_op_new(&op, t.op_name, oopts)) < 0)
		goto done;
	avo_agent_supervisor_options so = AVO_AGENT_SUPERVISOR_OPTIONS_INIT;
	if (opts->stall_attempts)
		so.stall_attempts = opts->stall_attempts;
	if ((rc = avo_agent_supervisor_new(&sup, &so)) < 0)
		goto done;

	regions = calloc(t.unit->nregions + 1, sizeof(*regions));
	knobs = calloc(t.unit->nknobs + 1, sizeof(*knobs));
	char **rtexts = calloc(t.unit->nregions + 1, sizeof(char *));
	for (size_t i = 0; i < t.unit->nregions; i++) {
		rtexts[i] = avo_astedit_region_text(t.unit, &t.unit->regions[i]);
		regions[i] = (avo_agent_region){t.unit->regions[i].name, rtexts[i]};
	}
	for (size_t i = 0; i < t.unit->nknobs; i++) {
		const avo_astedit_knob *k = &t.unit->knobs[i];
		knobs[i] = (avo_agent_knob){k->name, k->value, (const char *const *)k->values, k->nvalues,
					    k->is_range, k->lo, k->hi};
	}
	kdir = knowledge_dir(spec);

	struct sigaction sa = {0}, old_int, old_term;
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	tune__interrupted = 0;

	while (!(t.stop_reason = budget_reached(&t)) && !t.stop) {
		lineage_free(&lin);
		if ((rc = lineage_build(&lin, t.rs, is_objective_ms(spec))) < 0)
			break;
		avo_agent_context ctx = {0};
		ctx.kernel_name = avo_path_basename(spec->kernel);
		ctx.regions = regions;
		ctx.nregions = t.unit->nregions;
		ctx.knobs = knobs;
		ctx.nknobs = t.unit->nknobs;
		ctx.lineage = lin.v;
		ctx.nlineage = lin.n;
		ctx.base = (size_t)t.best_id < lin.n ? &lin.v[t.best_id] : NULL;
		ctx.knowledge_dir = kdir;
		ctx.feedback = last_feedback;
		ctx.hint = hint;
		ctx.cb = (avo_agent_callbacks){cb_apply, cb_evaluate, cb_seen, &t, cb_annotate};
		t.step_op = op->name;
		free(t.step_note);
		t.step_note = NULL;
		/* backend: several evaluations at once; knob proposals go in batches */
		if (avo_backend_slots(t.backend) > 1 && !strcmp(op->name, "knob")) {
			int exhausted = 0;
			if ((rc = batch_round(&t, oopts, &ctx, &exhausted)) < 0)
				break;
			if (exhausted && !t.stop) {
				t.stop_reason = "search space exhausted";
				break;
			}
			continue;
		}

		avo_agent_step_result res;
		int attempts_before = t.attempts;
		rc = avo_agent_step(op, &ctx, &res);
		t.tokens_in += res.input_tokens;
		t.tokens_out += res.output_tokens;
		t.cost += res.cost_usd;
		/* Charge the step's tokens to the last record it produced (attempt and version). */
		if (t.attempts > attempts_before && (res.input_tokens || res.output_tokens || res.cost_usd)) {
			avo_runrec_attempt *last = &t.rs->log.attempts[t.rs->log.nattempts - 1];
			last->tokens_in = (double)res.input_tokens;
			last->tokens_out = (double)res.output_tokens;
			last->cost_usd = res.cost_usd;
		}
		/* A step that ended without an evaluation is still an attempt to log when it failed
		 * or was billed (a model that submits without changes costs tokens too; a fatal API
		 * error stops the run after its spend is recorded). */
		int billed = res.input_tokens || res.output_tokens || res.cost_usd > 0;
		int failed = res.outcome == AVO_AGENT_FAILED || res.outcome == AVO_AGENT_BUDGET;
		if (t.attempts == attempts_before && (billed || (rc >= 0 && failed))) {
			int nochange = rc >= 0 && !failed;
			avo_runrec_attempt a;
			attempt_record(&a, &t, nochange ? "no_change" : "error", NULL, 0, NULL,
				       res.error ? res.error : nochange ? "submitted without changes"
									: avo_agent_outcome_name(res.outcome),
				       res.edit_hash);
			a.tokens_in = (double)res.input_tokens;
			a.tokens_out = (double)res.output_tokens;
			a.cost_usd = res.cost_usd;
			avo_runstate_add_attempt(t.rs, &a);
			t.attempts++;
			save_run(&t, 0);
		}
		if (rc < 0) {
			avo_agent_step_result_dispose(&res);
			break;
		}
		if (failed)
			progress(&t, res.error ? res.error : avo_agent_outcome_name(res.outcome));
		free(last_feedback);
		last_feedback = avo_strdup(res.eval.feedback ? res.eval.feedback : res.error);
		avo_agent_supervisor_observe(sup, &res);
		free(hint);
		hint = NULL;
		if (avo_agent_supervisor_stalled(sup))
			avo_agent_supervisor_hint(&hint, sup, &ctx);
		int exhausted = res.outcome == AVO_AGENT_EXHAUSTED;
		avo_agent_step_result_dispose(&res);
		if (exhausted) {
			t.stop_reason = "search space exhausted";
			break;
		}
	}
	if (t.stop && !t.stop_reason)
		t.stop_reason = budget_reached(&t);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	for (size_t i = 0; i < t.unit->nregions; i++)
		free(rtexts[i]);
	free(rtexts);
	if (rc >= 0) {
		int srrc = save_run(&t, !tune__interrupted);
		rc = srrc < 0 ? srrc : 0;
	}
	if (t.progress && !opts->quiet)
		fputc('\n', stderr);
	if (!opts->quiet && rc >= 0) {
		double base = baseline_fitness(&t);
		fprintf(stderr, "avo: %s: stopped (%s): best version %d, fitness %.6g %s (%.3fx the original), "
				"%d attempts, %d commits, %lld+%lld tokens, $%.2f\n",
			spec->name, t.stop_reason ? t.stop_reason : "done", t.best_id, t.best_fitness,
			is_objective_ms(spec) ? "1/ms" : spec->objective, base > 0 ? t.best_fitness / base : 0,
			t.attempts, t.commits, t.tokens_in, t.tokens_out, t.cost);
	}
	if (rc >= 0 && tune__interrupted)
		rc = AVO_TUNE_INTERRUPTED;
done:
	lineage_free(&lin);
	avo_agent_op_free(op);
	avo_agent_supervisor_free(sup);
	cJSON_Delete(oopts);
	free(regions);
	free(knobs);
	free(kdir);
	free(hint);
	free(last_feedback);
	free(run_dir);
	free(t.edit_hashes);
	avo_backend_free(t.backend);
	free(t.step_note);
	avo_runstate_free(t.rs);
	avo_astedit_unit_free(t.unit);
	return rc;
}
