#include "tune.h"

#include "avo_agent.h"
#include "avo_astedit.h"
#include "avo_base.h"
#include "backend.h"
#include "eval.h"
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
 * are borrowed from the cJSON records held by the run state. */
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

static double num(const cJSON *o, const char *k, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int is_objective_ms(const avo_spec *s) { return s->objective && !strcmp(s->objective, "ms"); }

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

static int seen_edit(const tune_ctx *t, const char *h)
{
	for (size_t i = 0; i < t->nedit_hashes; i++)
		if (!strcmp(t->edit_hashes[i], h))
			return 1;
	return 0;
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

static void progress(tune_ctx *t, const char *what)
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
static char *change_note(const tune_ctx *t, const avo_astedit_region_edit *re, size_t nre,
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

static void publish_best(tune_ctx *t, const cJSON *version)
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
	char *s = cJSON_Print(o);
	if (s && avo_cache_put(t->cache, "tune", t->tuning_key, s, strlen(s)) < 0)
		fprintf(stderr, "\navo: warning: could not publish the best variant: %s\n", avo_error_last());
	free(s);
	cJSON_Delete(o);
}

static cJSON *attempt_record(tune_ctx *t, const char *status, const char *variant, double fitness,
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
static int in_lineage(const tune_ctx *t, const char *variant)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, t->rs->lineage) {
		const char *h = str(v, "variant");
		if (h && !strcmp(h, variant))
			return 1;
	}
	return 0;
}

static int commit_version(tune_ctx *t, const char *variant, const char *src, size_t len,
			  const avo_eval_result *er, const avo_astedit_region_edit *re, size_t nre,
			  const avo_astedit_knob_edit *ke, size_t nke, const char *note)
{
	char h[AVO_CACHE_HEX];
	if (t->cache && avo_cache_put_object(t->cache, h, src, len) < 0)
		return avo_error_wrap(AVO_EIO, "storing the committed variant");
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
	cJSON_AddItemToObject(v, "edits", edits_json(re, nre, ke, nke));
	int rc = avo_runstate_add_version(t->rs, v);
	if (rc < 0)
		return rc;
	t->best_fitness = er->fitness;
	t->best_id = id;
	if (id > 0)
		t->commits++;
	publish_best(t, v);
	return 0;
}

/* Update the totals in run.json; called after every attempt. */
static int save_run(tune_ctx *t, int done)
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
#undef SET
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
		cJSON *a = attempt_record(t, "invalid_edit", NULL, 0, NULL, aerr.message, eh);
		out->feedback = avo_sprintf("edit refused: %s", aerr.message ? aerr.message : "");
		avo_agent_apply_error_dispose(&aerr);
		int rc = avo_runstate_add_attempt(t->rs, a);
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
	cJSON *a = attempt_record(t, status, er->variant_hash, er->fitness, er, er->feedback, eh);
	rc = avo_runstate_add_attempt(t->rs, a);
	if (rc == 0 && commit) {
		char *change = change_note(t, re, nre, ke, nke);
		char *note = t->step_note ? avo_sprintf("%s (%s)", change, t->step_note) : NULL;
		rc = commit_version(t, er->variant_hash, src, len, er, re, nre, ke, nke, note ? note : change);
		free(note);
		free(change);
	}
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
					    num(a, "best_before", 0),
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
	cJSON *a = attempt_record(t, "error", NULL, 0, NULL, why, eh);
	rc = avo_runstate_add_attempt(t->rs, a);
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
			cJSON *a = attempt_record(t, "error", NULL, 0, NULL, why[i], q->eh);
			rc = avo_runstate_add_attempt(t->rs, a);
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
	/* The spec's include dirs and defines reach libclang so the kernel parses as it builds. */
	size_t n = spec->ninclude_dirs + spec->ndefines + 1;
	char **args = calloc(n + 1, sizeof(*args));
	if (!args)
		return avo_error_set(AVO_ERROR, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < spec->ninclude_dirs; i++)
		args[k++] = avo_sprintf("-I%s", spec->include_dirs[i]);
	for (size_t i = 0; i < spec->ndefines; i++)
		args[k++] = avo_sprintf("-D%s", spec->defines[i]);
	/* Parse the device side for the arch we build for: sm_90a-only code is live then. */
	if (spec->is_cuda && spec->arch && *spec->arch)
		args[k++] = avo_sprintf("--cuda-gpu-arch=%s", spec->arch);
	avo_astedit_options ao = AVO_ASTEDIT_OPTIONS_INIT;
	ao.clang_args = (const char *const *)args;
	ao.nclang_args = k;
	int rc = avo_astedit_parse(out, spec->kernel, NULL, 0, &ao);
	for (size_t i = 0; i < k; i++)
		free(args[i]);
	free(args);
	return rc;
}

static int move_aside(const char *dir)
{
	if (!avo_path_exists(dir))
		return 0;
	char *to = avo_sprintf("%s.old-%ld", dir, (long)avo_wall());
	int rc = rename(dir, to) < 0 ? avo_error_set(AVO_EIO, "%s: cannot move the old run aside", dir) : 0;
	if (rc == 0)
		fprintf(stderr, "avo: the previous run was moved to %s\n", to);
	free(to);
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
	cJSON *a = attempt_record(t, "committed", er->variant_hash, er->fitness, er, NULL, "");
	cJSON_ReplaceItemInObjectCaseSensitive(a, "operator", cJSON_CreateString("baseline"));
	if ((rc = avo_runstate_add_attempt(t->rs, a)) == 0)
		rc = commit_version(t, er->variant_hash, t->unit->source, t->unit->source_len, er,
				    NULL, 0, NULL, 0, "the original kernel");
	t->attempts++;
	avo_eval_result_free(er);
	return rc;
}

/* Restore counters from the records of an earlier session. */
static void restore(tune_ctx *t)
{
	const cJSON *v;
	t->best_fitness = 0;
	t->best_id = 0;
	cJSON_ArrayForEach(v, t->rs->lineage) {
		double f = num(v, "fitness", 0);
		if (f >= t->best_fitness) {
			t->best_fitness = f;
			t->best_id = (int)num(v, "id", 0);
		}
	}
	t->commits = cJSON_GetArraySize(t->rs->lineage) > 0 ? cJSON_GetArraySize(t->rs->lineage) - 1 : 0;
	t->attempts = cJSON_GetArraySize(t->rs->attempts);
	cJSON_ArrayForEach(v, t->rs->attempts) {
		t->tokens_in += (long long)num(v, "tokens_in", 0);
		t->tokens_out += (long long)num(v, "tokens_out", 0);
		t->cost += num(v, "cost_usd", 0);
		remember_edit(t, str(v, "edit_hash"));
	}
}

static cJSON *op_options(const avo_spec *spec, const char *op)
{
	cJSON *root = spec->json ? cJSON_Parse(spec->json) : NULL;
	cJSON *o = cJSON_DetachItemFromObjectCaseSensitive(root, op);
	cJSON_Delete(root);
	return o;
}

static char *knowledge_dir(const avo_spec *spec)
{
	cJSON *root = spec->json ? cJSON_Parse(spec->json) : NULL;
	const char *k = str(root, "knowledge");
	char *dir = k ? avo_path_join(spec->dir, k) : NULL;
	cJSON_Delete(root);
	if (dir && !avo_path_exists(dir)) {
		fprintf(stderr, "avo: warning: knowledge dir %s does not exist\n", dir);
		free(dir);
		dir = NULL;
	}
	return dir;
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
	if (opts->fresh_run && (rc = move_aside(run_dir)) < 0)
		goto done;
	if ((rc = avo_runstate_open(&t.rs, run_dir, !opts->resume)) < 0)
		goto done;
	const char *old_key = str(t.rs->run, "tuning_key");
	if (opts->resume && old_key && strcmp(old_key, t.tuning_key)) {
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
	if (cJSON_GetArraySize(t.rs->lineage) == 0 && (rc = baseline(&t)) < 0)
		goto done;
	if ((rc = save_run(&t, 0)) < 0)
		goto done;

	oopts = op_options(spec, t.op_name);
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
			cJSON *last = cJSON_GetArrayItem(t.rs->attempts, cJSON_GetArraySize(t.rs->attempts) - 1);
			cJSON_AddNumberToObject(last, "tokens_in", (double)res.input_tokens);
			cJSON_AddNumberToObject(last, "tokens_out", (double)res.output_tokens);
			cJSON_AddNumberToObject(last, "cost_usd", res.cost_usd);
		}
		/* A step that ended without an evaluation is still an attempt to log when it failed
		 * or was billed (a model that submits without changes costs tokens too; a fatal API
		 * error stops the run after its spend is recorded). */
		int billed = res.input_tokens || res.output_tokens || res.cost_usd > 0;
		int failed = res.outcome == AVO_AGENT_FAILED || res.outcome == AVO_AGENT_BUDGET;
		if (t.attempts == attempts_before && (billed || (rc >= 0 && failed))) {
			int nochange = rc >= 0 && !failed;
			cJSON *a = attempt_record(&t, nochange ? "no_change" : "error", NULL, 0, NULL,
						  res.error ? res.error : nochange ? "submitted without changes"
										   : avo_agent_outcome_name(res.outcome),
						  res.edit_hash);
			cJSON_AddNumberToObject(a, "tokens_in", (double)res.input_tokens);
			cJSON_AddNumberToObject(a, "tokens_out", (double)res.output_tokens);
			cJSON_AddNumberToObject(a, "cost_usd", res.cost_usd);
			avo_runstate_add_attempt(t.rs, a);
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
		double base = num(cJSON_GetArrayItem(t.rs->lineage, 0), "fitness", 0);
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
