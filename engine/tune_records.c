/* The tuning run's records and progress (tune_int.h, RUNS.md). */
#include "tune_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEEDBACK_CAP 4096

/* ---- small helpers ------------------------------------------------------------------ */

static void add_capped(cJSON *o, const char *k, const char *s)
{
	if (!s) {
		cJSON_AddNullToObject(o, k);
		return;
	}
	size_t n = strlen(s);
	if (n <= FEEDBACK_CAP) {
		cJSON_AddStringToObject(o, k, s);
		return;
	}
	/* Keep the tail: compilers and crashes put the decisive line last. */
	char *t = avo_sprintf("[...]\n%s", s + n - FEEDBACK_CAP);
	cJSON_AddStringToObject(o, k, t ? t : "");
	free(t);
}

int avo_tune__seen_edit(const tune_ctx *t, const char *h)
{
	for (size_t i = 0; i < t->nedit_hashes; i++)
		if (!strcmp(t->edit_hashes[i], h))
			return 1;
	return 0;
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

static cJSON *edits_json(const avo_astedit_region_edit *re, size_t nre,
			 const avo_astedit_knob_edit *ke, size_t nke)
{
	cJSON *e = cJSON_CreateObject(), *r = cJSON_AddObjectToObject(e, "regions"),
	      *k = cJSON_AddObjectToObject(e, "knobs");
	for (size_t i = 0; i < nre; i++)
		cJSON_AddStringToObject(r, re[i].region, re[i].text);
	for (size_t i = 0; i < nke; i++)
		cJSON_AddStringToObject(k, ke[i].knob, ke[i].value);
	return e;
}

static cJSON *scores_json(const avo_eval_result *er)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; er && i < er->nconfigs; i++) {
		const avo_eval_config_result *c = &er->configs[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "config", c->name);
		cJSON_AddBoolToObject(o, "correct", c->correct);
		cJSON_AddStringToObject(o, "status", avo_eval_status_name(c->status));
		if (isfinite(c->ms)) cJSON_AddNumberToObject(o, "ms", c->ms);
		if (isfinite(c->tflops)) cJSON_AddNumberToObject(o, "tflops", c->tflops);
		if (isfinite(c->max_rel_err)) cJSON_AddNumberToObject(o, "max_rel_err", c->max_rel_err);
		cJSON_AddItemToArray(a, o);
	}
	return a;
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
	double base = num(cJSON_GetArrayItem(t->rs->lineage, 0), "fitness", 0);
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

void avo_tune__lineage_free(tune_lineage *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->scores[i]);
		free(l->regions[i]);
		free(l->knobs[i]);
	}
	free(l->v), free(l->ids), free(l->parents), free(l->scores), free(l->regions), free(l->knobs);
	memset(l, 0, sizeof(*l));
}

int avo_tune__lineage_build(tune_lineage *l, const avo_runstate *rs, int objective_ms)
{
	memset(l, 0, sizeof(*l));
	size_t n = (size_t)cJSON_GetArraySize(rs->lineage);
	l->v = calloc(n + 1, sizeof(*l->v));
	l->ids = calloc(n + 1, sizeof(*l->ids));
	l->parents = calloc(n + 1, sizeof(*l->parents));
	l->scores = calloc(n + 1, sizeof(*l->scores));
	l->regions = calloc(n + 1, sizeof(*l->regions));
	l->knobs = calloc(n + 1, sizeof(*l->knobs));
	if (!l->v || !l->ids || !l->parents || !l->scores || !l->regions || !l->knobs)
		return avo_error_set(AVO_ERROR, "out of memory");
	l->n = n;
	size_t i = 0;
	const cJSON *rec;
	cJSON_ArrayForEach(rec, rs->lineage) {
		avo_agent_version *v = &l->v[i];
		snprintf(l->ids[i], sizeof(l->ids[i]), "%d", (int)num(rec, "id", (double)i));
		v->id = l->ids[i];
		const cJSON *par = cJSON_GetObjectItemCaseSensitive(rec, "parent");
		if (cJSON_IsNumber(par)) {
			snprintf(l->parents[i], sizeof(l->parents[i]), "%d", par->valueint);
			v->parent = l->parents[i];
		}
		v->op = str(rec, "operator");
		v->fitness = num(rec, "fitness", 0);
		v->note = str(rec, "note");
		const cJSON *sc = cJSON_GetObjectItemCaseSensitive(rec, "scores"), *s;
		l->scores[i] = calloc((size_t)cJSON_GetArraySize(sc) + 1, sizeof(avo_agent_score));
		cJSON_ArrayForEach(s, sc) {
			avo_agent_score *d = &l->scores[i][v->nscores++];
			d->config = str(s, "config");
			d->score = num(s, objective_ms ? "ms" : "tflops", 0);
		}
		v->scores = l->scores[i];
		const cJSON *ed = cJSON_GetObjectItemCaseSensitive(rec, "edits");
		const cJSON *re = cJSON_GetObjectItemCaseSensitive(ed, "regions");
		const cJSON *ke = cJSON_GetObjectItemCaseSensitive(ed, "knobs"), *e;
		l->regions[i] = calloc((size_t)cJSON_GetArraySize(re) + 1, sizeof(avo_astedit_region_edit));
		l->knobs[i] = calloc((size_t)cJSON_GetArraySize(ke) + 1, sizeof(avo_astedit_knob_edit));
		cJSON_ArrayForEach(e, re) {
			if (cJSON_IsString(e))
				l->regions[i][v->nregions++] = (avo_astedit_region_edit){e->string, e->valuestring};
		}
		cJSON_ArrayForEach(e, ke) {
			if (cJSON_IsString(e))
				l->knobs[i][v->nknobs++] = (avo_astedit_knob_edit){e->string, e->valuestring};
		}
		v->regions = l->regions[i];
		v->knobs = l->knobs[i];
		i++;
	}
	return 0;
}

/* ---- the commit gate and the records --------------------------------------------------- */

static const char *edit_value(const cJSON *edits, const char *kind, const char *name)
{
	return str(cJSON_GetObjectItemCaseSensitive(edits, kind), name);
}

/* What an edit changes against the best version, in a few words ("TILE_K 64->16; region
 * softmax rewritten"): the key change shown in the lineage and the report. Caller frees. */
char *avo_tune__change_note(const tune_ctx *t, const avo_astedit_region_edit *re, size_t nre,
			 const avo_astedit_knob_edit *ke, size_t nke)
{
	const cJSON *best = cJSON_GetArrayItem(t->rs->lineage, t->best_id);
	const cJSON *bed = cJSON_GetObjectItemCaseSensitive(best, "edits");
	avo_buf b = AVO_BUF_INIT;
	for (size_t i = 0; i < t->unit->nknobs; i++) {
		const avo_astedit_knob *k = &t->unit->knobs[i];
		const char *now = k->value, *before = edit_value(bed, "knobs", k->name);
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
		const char *now = NULL, *before = edit_value(bed, "regions", name);
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

void avo_tune__publish_best(tune_ctx *t, const cJSON *version)
{
	if (!t->cache)
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "tuning_key", t->tuning_key);
	cJSON_AddStringToObject(o, "variant", str(version, "variant"));
	cJSON_AddNumberToObject(o, "fitness", num(version, "fitness", 0));
	cJSON_AddStringToObject(o, "objective", t->spec->objective);
	cJSON_AddItemToObject(o, "scores",
			      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(version, "scores"), 1));
	cJSON_AddNumberToObject(o, "baseline_fitness",
				num(cJSON_GetArrayItem(t->rs->lineage, 0), "fitness", 0));
	cJSON_AddNumberToObject(o, "version", num(version, "id", 0));
	cJSON_AddStringToObject(o, "kernel", avo_path_basename(t->spec->kernel));
	cJSON_AddStringToObject(o, "arch", t->spec->arch ? t->spec->arch : "");
	cJSON_AddNumberToObject(o, "time", avo_wall());
	cJSON_AddStringToObject(o, "avo_version", AVO_VERSION_STRING);
	if (t->final) /* the measured speedup over the original, with its interval */
		cJSON_AddItemToObject(o, "speedup", cJSON_Duplicate(t->final, 1));
	char *s = cJSON_Print(o);
	if (s && avo_cache_put(t->cache, "tune", t->tuning_key, s, strlen(s)) < 0)
		fprintf(stderr, "\navo: warning: could not publish the best variant: %s\n", avo_error_last());
	free(s);
	cJSON_Delete(o);
}

cJSON *avo_tune__attempt_record(tune_ctx *t, const char *status, const char *variant, double fitness,
			     const avo_eval_result *er, const char *feedback, const char *edit_hash)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddNumberToObject(a, "n", t->attempts + 1);
	cJSON_AddNumberToObject(a, "time", avo_wall());
	cJSON_AddNumberToObject(a, "elapsed_s", avo_runstate_elapsed(t->rs));
	cJSON_AddStringToObject(a, "operator", t->step_op ? t->step_op : t->op_name);
	cJSON_AddStringToObject(a, "status", status);
	if (variant) cJSON_AddStringToObject(a, "variant", variant);
	else cJSON_AddNullToObject(a, "variant");
	cJSON_AddNumberToObject(a, "fitness", fitness);
	cJSON_AddNumberToObject(a, "best_before", t->best_fitness);
	cJSON_AddItemToObject(a, "scores", scores_json(er));
	add_capped(a, "feedback", feedback);
	cJSON_AddStringToObject(a, "edit_hash", edit_hash ? edit_hash : "");
	if (t->step_note)
		cJSON_AddStringToObject(a, "note", t->step_note);
	cJSON_AddBoolToObject(a, "from_cache", er && er->from_cache);
	return a;
}

/* Is this variant already a version of the lineage? (Never commit it twice.) */
int avo_tune__in_lineage(const tune_ctx *t, const char *variant)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, t->rs->lineage) {
		const char *h = str(v, "variant");
		if (h && !strcmp(h, variant))
			return 1;
	}
	return 0;
}

/* Commit candidate `c` (taking it: it becomes the pinned base). The only place a variant
 * enters the object store. */
int avo_tune__commit_version(tune_ctx *t, avo_candidate *c, const avo_eval_result *er, const char *note,
			  const avo_gate_verdict *gv)
{
	char h[AVO_CACHE_HEX];
	const char *variant = c->hash;
	if (t->cache && avo_cache_put_object(t->cache, h, c->source, c->len) < 0) {
		avo_candidate_free(c);
		return avo_error_wrap(AVO_EIO, "storing the committed variant");
	}
	cJSON *v = cJSON_CreateObject();
	int id = cJSON_GetArraySize(t->rs->lineage);
	cJSON_AddNumberToObject(v, "id", id);
	if (id == 0) cJSON_AddNullToObject(v, "parent");
	else cJSON_AddNumberToObject(v, "parent", t->best_id);
	cJSON_AddStringToObject(v, "operator", id == 0 ? "baseline" : (t->step_op ? t->step_op : t->op_name));
	cJSON_AddStringToObject(v, "variant", variant);
	cJSON_AddNumberToObject(v, "fitness", er->fitness);
	cJSON_AddStringToObject(v, "objective", t->spec->objective);
	cJSON_AddItemToObject(v, "scores", scores_json(er));
	cJSON_AddNumberToObject(v, "time", avo_wall());
	cJSON_AddNumberToObject(v, "elapsed_s", avo_runstate_elapsed(t->rs));
	cJSON_AddNumberToObject(v, "attempt", t->attempts + 1);
	/* A commit lands mid-step, before the step's own usage is known: record the run's
	 * totals so far (RUNS.md). */
	cJSON_AddNumberToObject(v, "tokens_in", (double)t->tokens_in);
	cJSON_AddNumberToObject(v, "tokens_out", (double)t->tokens_out);
	cJSON_AddNumberToObject(v, "cost_usd", t->cost);
	if (note) cJSON_AddStringToObject(v, "note", note);
	else cJSON_AddNullToObject(v, "note");
	cJSON_AddItemToObject(v, "edits", edits_json(c->regions, c->nregions, c->knobs, c->nknobs));
	if (gv) /* the gain over the parent, with its interval and sample count */
		cJSON_AddItemToObject(v, "gain", avo_gate_verdict_json(gv, &t->gate));
	avo_candidate_book_take(&t->book, c);
	avo_candidate_book_pin(&t->book, c);
	int rc = avo_runstate_add_version(t->rs, v);
	if (rc < 0)
		return rc;
	t->best_fitness = er->fitness;
	t->best_id = id;
	if (id > 0)
		t->commits++;
	avo_tune__publish_best(t, v);
	return 0;
}

/* Update the totals in run.json; called after every attempt. */
int avo_tune__save_run(tune_ctx *t, int done)
{
	cJSON *r = t->rs->run;
#define SET(k, mk) do { cJSON_DeleteItemFromObjectCaseSensitive(r, k); cJSON_AddItemToObject(r, k, mk); } while (0)
	SET("spec", cJSON_CreateString(t->spec->path));
	SET("tuning_key", cJSON_CreateString(t->tuning_key));
	if (!cJSON_GetObjectItemCaseSensitive(r, "started"))
		SET("started", cJSON_CreateNumber(avo_wall()));
	SET("elapsed_s", cJSON_CreateNumber(avo_runstate_elapsed(t->rs)));
	SET("attempts", cJSON_CreateNumber(t->attempts));
	SET("commits", cJSON_CreateNumber(t->commits));
	SET("best_id", cJSON_CreateNumber(t->best_id));
	SET("best_fitness", cJSON_CreateNumber(t->best_fitness));
	SET("baseline_fitness", cJSON_CreateNumber(num(cJSON_GetArrayItem(t->rs->lineage, 0), "fitness", 0)));
	SET("objective", cJSON_CreateString(t->spec->objective));
	SET("operator", cJSON_CreateString(t->op_name));
	SET("tokens_in", cJSON_CreateNumber((double)t->tokens_in));
	SET("tokens_out", cJSON_CreateNumber((double)t->tokens_out));
	SET("cost_usd", cJSON_CreateNumber(t->cost));
	cJSON *b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "seconds", t->budget_seconds);
	cJSON_AddNumberToObject(b, "evaluations", (double)t->budget_evals);
	cJSON_AddNumberToObject(b, "cost_usd", t->budget_cost);
	SET("budget", b);
	SET("done", cJSON_CreateBool(done));
	SET("stop_reason", t->stop_reason ? cJSON_CreateString(t->stop_reason) : cJSON_CreateNull());
	SET("min_gain", cJSON_CreateNumber(t->gate.min_gain));
	if (t->final)
		SET("final", cJSON_Duplicate(t->final, 1));
#undef SET
	return avo_runstate_save(t->rs);
}

const char *avo_tune__budget_reached(tune_ctx *t)
{
	if (avo_tune__interrupted())
		return "interrupted";
	if (t->budget_evals > 0 && t->attempts + t->pending >= t->budget_evals)
		return "evaluation budget reached";
	if (t->budget_seconds > 0 && avo_runstate_elapsed(t->rs) >= t->budget_seconds)
		return "time budget reached";
	if (t->budget_cost > 0 && t->cost >= t->budget_cost)
		return "cost budget reached";
	return NULL;
}

