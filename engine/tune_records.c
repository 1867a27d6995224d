/* The tuning run's records and progress (tune_int.h, RUNS.md). */
#include "tune_int.h"
#include "pipeline.h"
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEEDBACK_CAP 4096

/* ---- small helpers ------------------------------------------------------------------ */

int avo_tune__seen_edit(const tune_ctx *t, const char *h)
{
	for (size_t i = 0; i < t->nedit_hashes; i++)
		if (!strcmp(t->edit_hashes[i], h))
			return 1;
	return 0;
}

void avo_tune__forget_edit(tune_ctx *t, const char *h)
{
	for (size_t i = 0; h && i < t->nedit_hashes; i++)
		if (!strcmp(t->edit_hashes[i], h)) {
			memmove(&t->edit_hashes[i], &t->edit_hashes[i + 1], (t->nedit_hashes - i - 1) * sizeof(*t->edit_hashes));
			t->nedit_hashes--;
			return;
		}
}

void avo_tune__remember_edit(tune_ctx *t, const char *h)
{
	if (!h || !*h || avo_tune__seen_edit(t, h))
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
		return avo_oom();
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
		if (c->nsamples > 1)
			o->noise = avo_stats_rel_sd(c->samples, c->nsamples);
	}
	return 0;
}

double avo_tune__baseline_fitness(const tune_ctx *t)
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

void avo_tune__progress(tune_ctx *t, const char *what)
{
	if (t->opts->quiet)
		return;
	char el[32];
	fmt_elapsed(el, sizeof(el), avo_runstate_elapsed(t->rs));
	const char *unit = is_objective_ms(t->spec) ? "1/ms" : t->spec->objective;
	double base = avo_tune__baseline_fitness(t);
	double gain = base > 0 ? t->best_fitness / base : 0;
	char dev[256]; /* per device busy / wall, as of the last save */
	avo_tune__devices_text(t, dev, sizeof(dev));
	if (t->progress) {
		fprintf(stderr, "\r\033[K[avo %s] best %.4g %s (%.3fx) | attempts %d | commits %d | %s | $%.2f%s%s | %s",
			t->spec->name, t->best_fitness, unit, gain, t->attempts, t->commits, el, t->cost,
			dev[0] ? " | " : "", dev, what ? what : "");
		fflush(stderr);
	} else if (what) {
		fprintf(stderr, "avo: [%s] %s | best %.4g %s (%.3fx), %d attempts, %d commits, $%.2f%s%s\n",
			el, what, t->best_fitness, unit, gain, t->attempts, t->commits, t->cost,
			dev[0] ? " | busy: " : "", dev);
	}
}

/* ---- the lineage for operators ------------------------------------------------------- */

void avo_tune__lineage_free(tune_lineage *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->scores[i]);
		free(l->regions[i]);
		free(l->knobs[i]);
	}
	free(l->v), free(l->ids), free(l->parents), free(l->scores), free(l->regions), free(l->knobs);
	free(l->attempts);
	memset(l, 0, sizeof(*l));
}

int avo_tune__lineage_build(tune_lineage *l, const avo_runstate *rs, int objective_ms)
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
		return avo_oom();
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
			return avo_oom();
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
	if (!(l->attempts = calloc(rs->log.nattempts + 1, sizeof(*l->attempts))))
		return avo_oom();
	for (size_t i = 0; i < rs->log.nattempts; i++) {
		const avo_runrec_attempt *a = &rs->log.attempts[i];
		l->attempts[l->nattempts++] = (avo_agent_attempt){a->n >= 0 ? a->n : (long)i + 1, a->op, a->status,
			isfinite(a->fitness) ? a->fitness : 0, isfinite(a->best_before) ? a->best_before : 0, a->note, a->feedback};
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
char *avo_tune__change_note(const tune_ctx *t, const avo_astedit_region_edit *re, size_t nre,
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

void avo_tune__publish_best(tune_ctx *t, const avo_runrec_version *version)
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
	e.baseline_fitness = avo_tune__baseline_fitness(t);
	e.version = version->id;
	e.kernel = avo_strdup(avo_path_basename(t->spec->kernel));
	e.arch = avo_strdup(t->spec->arch ? t->spec->arch : "");
	e.time = avo_wall();
	e.avo_version = avo_strdup(AVO_VERSION_STRING);
	e.speedup = t->rs->log.run.speedup;
	e.guard.trust = avo_strdup(version->guard.trust);
	e.guard.sandbox = avo_strdup(version->guard.sandbox);
	cJSON *o = avo_runrec_tune_json(&e);
	char *s = o ? cJSON_Print(o) : NULL;
	if (!s || avo_cache_put(t->cache, "tune", t->tuning_key, s, strlen(s)) < 0)
		fprintf(stderr, "\navo: warning: could not publish the best variant: %s\n", avo_error_last());
	free(s);
	cJSON_Delete(o);
	avo_runrec_tune_dispose(&e);
}

/* How the evaluation was trusted and contained (runrec.h): its harness protocol
 * ("avo-harness-1", or "legacy-trusted" under --trust-harness) and its sandbox. */
static void guard_from_eval(avo_runrec_guard *g, const avo_eval_result *er)
{
	if (er && er->harness_protocol[0]) {
		g->trust = avo_strdup(er->harness_protocol);
		g->sandbox = avo_strdup(er->unsandboxed ? "none" : "bwrap");
	}
}

/* The same for the run as a whole (run.json), from its spec. */
static void guard_from_spec(avo_runrec_guard *g, const avo_spec *s)
{
	free(g->trust), free(g->sandbox);
	g->trust = avo_strdup(s->harness_protocol ? s->harness_protocol : "avo-harness-1");
	g->sandbox = avo_strdup(s->sandbox ? "bwrap" : "none");
}

/* The record of an attempt (the caller appends it with avo_runstate_add_attempt). */
void avo_tune__attempt_record(avo_runrec_attempt *a, tune_ctx *t, const char *status, const char *variant,
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
	if (er && !er->from_cache && t->eval_device)
		a->device = avo_strdup(t->eval_device);
	guard_from_eval(&a->guard, er);
	/* Where the time went: the evaluation's own wall time, and for an operator's attempt
	 * the time it took before asking (since the previous record: reading, thinking, its
	 * model's calls). Costs are charged by the tune loop to the step's last record. */
	if (er)
		a->eval_s = er->seconds;
	size_t i = t->rs->log.nattempts;
	double spent = er ? er->seconds : 0; /* and the gate's confirmations of this candidate */
	while (i > 0 && t->rs->log.attempts[i - 1].op && !strcmp(t->rs->log.attempts[i - 1].op, "gate")) {
		double g = t->rs->log.attempts[--i].eval_s;
		spent += isfinite(g) ? g : 0;
	}
	if (i > 0) {
		double d = a->elapsed_s - t->rs->log.attempts[i - 1].elapsed_s - spent;
		if (isfinite(d))
			a->operator_s = d > 0 ? d : 0;
	}
}

/* Is this variant already a version of the lineage? (Never commit it twice.) */
int avo_tune__in_lineage(const tune_ctx *t, const char *variant)
{
	for (size_t i = 0; i < t->rs->log.nversions; i++) {
		const char *h = t->rs->log.versions[i].variant;
		if (h && !strcmp(h, variant))
			return 1;
	}
	return 0;
}

/* A gate verdict as a record interval: the ratio (1 + gain) and its interval. */
avo_runrec_interval avo_tune__gate_interval(const avo_gate_verdict *v)
{
	avo_runrec_interval i = AVO_RUNREC_INTERVAL_NONE;
	if (v && v->complete) {
		i.value = 1 + v->gain.gain;
		i.lo = 1 + v->gain.lo;
		i.hi = 1 + v->gain.hi;
		i.confidence = v->gain.confidence;
		i.samples = (long)v->gain.samples;
	}
	return i;
}

/* Store candidate `c` (the only place a variant enters the object store) and append its
 * version, with the gate's verdict `gv` (NULL for the baseline). Takes `c`: on success it
 * becomes the pinned base. Nothing is recorded when either fails (the caller records the
 * attempt as failed with the cause): no version without its object. */
int avo_tune__commit_version(tune_ctx *t, avo_candidate *c, const avo_eval_result *er, const char *note,
			  const avo_gate_verdict *gv)
{
	char h[AVO_CACHE_HEX];
	if (t->cache && avo_cache_put_object(t->cache, h, c->source, c->len) < 0) {
		avo_candidate_free(c);
		return avo_error_wrap(AVO_EIO, "storing the committed variant");
	}
	avo_runrec_version v;
	avo_runrec_version_init(&v);
	long id = (long)t->rs->log.nversions;
	v.id = id;
	v.parent = id == 0 ? -1 : t->best_id;
	v.op = avo_strdup(id == 0 ? "baseline" : (t->step_op ? t->step_op : t->op_name));
	v.variant = avo_strdup(c->hash);
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
	edits_pairs(&v, c->regions, c->nregions, c->knobs, c->nknobs);
	v.gain = avo_tune__gate_interval(gv); /* the gain over the parent, with its interval */
	guard_from_eval(&v.guard, er);
	int rc = avo_runstate_add_version(t->rs, &v);
	if (rc < 0) {
		avo_candidate_free(c);
		return rc;
	}
	avo_candidate_book_take(&t->book, c);
	avo_candidate_book_pin(&t->book, c);
	t->best_fitness = er->fitness;
	t->best_id = (int)id;
	if (id > 0)
		t->commits++;
	avo_tune__publish_best(t, avo_runstate_best(t->rs));
	return 0;
}

/* Update the totals in run.json; called after every attempt. */
int avo_tune__save_run(tune_ctx *t, int done)
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
	r->baseline_fitness = avo_tune__baseline_fitness(t);
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
	guard_from_spec(&r->guard, t->spec);
	avo_tune__devices_save(t);
	return avo_runstate_save(t->rs);
}

const char *avo_tune__budget_reached(tune_ctx *t)
{
	if (*t->interrupted)
		return "interrupted";
	if (t->finished)
		return "the operator finished the run";
	if (t->budget_evals > 0 && t->attempts + t->pending + (t->ahead ? (long)t->nflight : 0) >= t->budget_evals)
		return "evaluation budget reached";
	if (t->budget_seconds > 0 && avo_runstate_elapsed(t->rs) >= t->budget_seconds)
		return "time budget reached";
	if (t->budget_cost > 0 && t->cost >= t->budget_cost)
		return "cost budget reached";
	return NULL;
}

/* ---- utilization of the pipeline's devices (tune_pipe.c) ---------------------------- */

void avo_tune__devices_save(tune_ctx *t)
{
	if (!t->pipe || t->devices_frozen)
		return;
	size_t n = avo_pipeline_ndevices(t->pipe);
	avo_pipeline_device_stats *st = calloc(n, sizeof(*st));
	avo_runrec_device *d = calloc(n, sizeof(*d));
	double wall = 0;
	if (st && d) {
		avo_pipeline_stats(t->pipe, st, &wall);
		for (size_t i = 0; i < n; i++)
			d[i] = (avo_runrec_device){(char *)avo_pipeline_device_name(t->pipe, i), st[i].busy_s, (long)st[i].runs,
						   (long)st[i].dropped};
		if (avo_runrec_run_set_devices(&t->rs->log.run, d, n, wall) < 0)
			avo_error_clear();
	}
	free(st);
	free(d);
}

void avo_tune__devices_text(tune_ctx *t, char *buf, size_t n)
{
	buf[0] = '\0';
	const avo_runrec_run *r = &t->rs->log.run;
	if (!r->ndevices || !(r->devices_wall_s > 0))
		return;
	size_t off = 0;
	for (size_t i = 0; i < r->ndevices && off + 1 < n; i++) {
		int w = snprintf(buf + off, n - off, "%s%s %.0f%%", i ? ", " : "", r->devices[i].name,
				 100 * r->devices[i].busy_s / r->devices_wall_s);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}
