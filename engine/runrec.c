/* The run records: one typed model, its JSON form and the one JSONL reader (runrec.h). */
#include "runrec.h"
#include "avo_base.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* ---- reading fields ----------------------------------------------------------------- */

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static long jlong(const cJSON *o, const char *k, long dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 1e15)
		return dflt;
	return (long)v->valuedouble;
}

static int jbool(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;
}

#define jstr avo_runrec_field_str

char *avo_runrec_field_str(const cJSON *o, const char *k, int *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsString(v) || !v->valuestring)
		return NULL;
	char *s = avo_strdup(v->valuestring);
	if (!s)
		*err = 1;
	return s;
}

/* ---- writing fields: unknown numbers and NULL strings are left out ------------------- */

static void put_num(cJSON *o, const char *k, double v)
{
	if (isfinite(v))
		cJSON_AddNumberToObject(o, k, v);
}

static void put_long(cJSON *o, const char *k, long v)
{
	if (v >= 0)
		cJSON_AddNumberToObject(o, k, (double)v);
}

static void put_str(cJSON *o, const char *k, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, k, s);
}

/* For fields RUNS.md writes as null when unknown. */
static void put_str_or_null(cJSON *o, const char *k, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, k, s);
	else
		cJSON_AddNullToObject(o, k);
}

/* ---- pairs, intervals, scores, guards ---------------------------------------------------- */

void avo_runrec_pairs_free(avo_runrec_pair *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].text);
	}
	free(p);
}

const char *avo_runrec_pair_find(const avo_runrec_pair *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].name, name))
			return p[i].text;
	return NULL;
}

int avo_runrec_pair_add(avo_runrec_pair **p, size_t *n, size_t *cap, const char *name, const char *text)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		void *q = realloc(*p, nc * sizeof(**p));
		if (!q)
			return avo_oom();
		*p = q;
		*cap = nc;
	}
	avo_runrec_pair *e = &(*p)[*n];
	e->name = avo_strdup(name);
	e->text = avo_strdup(text);
	(*n)++;
	return e->name && e->text ? 0 : avo_oom();
}

/* A JSON value as text: strings as they are, numbers as %.15g (knob values may be either). */
static char *value_text(const cJSON *v)
{
	if (cJSON_IsString(v))
		return avo_strdup(v->valuestring);
	if (cJSON_IsNumber(v))
		return avo_sprintf("%.15g", v->valuedouble);
	if (cJSON_IsBool(v))
		return avo_strdup(cJSON_IsTrue(v) ? "true" : "false");
	char *s = cJSON_PrintUnformatted(v);
	char *r = avo_strdup(s ? s : "");
	free(s);
	return r;
}

static int pairs_parse(avo_runrec_pair **p, size_t *n, const cJSON *obj)
{
	size_t cap = 0;
	const cJSON *e;
	if (!cJSON_IsObject(obj))
		return 0;
	cJSON_ArrayForEach(e, obj) {
		char *t = value_text(e);
		if (!t || !e->string)
			return free(t), avo_oom();
		int rc = avo_runrec_pair_add(p, n, &cap, e->string, t);
		free(t);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static cJSON *pairs_json(const avo_runrec_pair *p, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; o && i < n; i++)
		cJSON_AddStringToObject(o, p[i].name, p[i].text);
	return o;
}

int avo_runrec_interval_known(const avo_runrec_interval *i)
{
	return isfinite(i->value);
}

const char *avo_runrec_interval_text(char *b, size_t n, const avo_runrec_interval *i)
{
	if (!avo_runrec_interval_known(i))
		snprintf(b, n, "?");
	else if (isfinite(i->lo) && isfinite(i->hi))
		snprintf(b, n, "%.3fx [%.3f, %.3f]", i->value, i->lo, i->hi);
	else
		snprintf(b, n, "%.3fx", i->value);
	return b;
}

static void interval_parse(avo_runrec_interval *i, const cJSON *o)
{
	*i = (avo_runrec_interval)AVO_RUNREC_INTERVAL_NONE;
	if (!cJSON_IsObject(o))
		return;
	i->value = jnum(o, "value");
	i->lo = jnum(o, "lo");
	i->hi = jnum(o, "hi");
	i->confidence = jnum(o, "confidence");
	i->samples = jlong(o, "samples", -1);
}

static void put_interval(cJSON *o, const char *k, const avo_runrec_interval *i)
{
	if (!avo_runrec_interval_known(i))
		return;
	cJSON *j = cJSON_AddObjectToObject(o, k);
	put_num(j, "value", i->value);
	put_num(j, "lo", i->lo);
	put_num(j, "hi", i->hi);
	put_num(j, "confidence", i->confidence);
	put_long(j, "samples", i->samples);
}

static int guard_parse(avo_runrec_guard *g, const cJSON *o)
{
	int err = 0;
	g->trust = jstr(o, "trust", &err);
	g->sandbox = jstr(o, "sandbox", &err);
	return err ? avo_oom() : 0;
}

static void put_guard(cJSON *o, const avo_runrec_guard *g)
{
	put_str(o, "trust", g->trust);
	put_str(o, "sandbox", g->sandbox);
}

static void guard_dispose(avo_runrec_guard *g)
{
	free(g->trust), free(g->sandbox);
	g->trust = g->sandbox = NULL;
}

void avo_runrec_scores_dispose(avo_runrec_scores *s)
{
	for (size_t i = 0; i < s->nscores; i++)
		free(s->scores[i].config), free(s->scores[i].status);
	free(s->scores);
	s->scores = NULL;
	s->nscores = 0;
}

const avo_runrec_score *avo_runrec_score_find(const avo_runrec_scores *s, const char *config)
{
	for (size_t i = 0; s && i < s->nscores; i++)
		if (!strcmp(s->scores[i].config, config))
			return &s->scores[i];
	return NULL;
}

static int scores_parse(avo_runrec_scores *out, const cJSON *arr)
{
	const cJSON *e;
	int err = 0;
	if (!cJSON_IsArray(arr))
		return 0;
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (!(out->scores = calloc(n + 1, sizeof(*out->scores))))
		return avo_oom();
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsObject(e))
			continue;
		avo_runrec_score *s = &out->scores[out->nscores++];
		s->config = jstr(e, "config", &err);
		if (!s->config && !err)
			s->config = avo_strdup("?");
		s->status = jstr(e, "status", &err);
		if (!s->config || err)
			return avo_oom();
		s->correct = jbool(e, "correct");
		s->ms = jnum(e, "ms");
		s->tflops = jnum(e, "tflops");
		s->max_rel_err = jnum(e, "max_rel_err");
		s->samples = jlong(e, "samples", -1);
		s->noise = jnum(e, "noise");
	}
	return 0;
}

cJSON *avo_runrec_scores_json(const avo_runrec_scores *s)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < s->nscores; i++) {
		const avo_runrec_score *c = &s->scores[i];
		cJSON *o = cJSON_CreateObject();
		put_str(o, "config", c->config);
		if (c->correct >= 0)
			cJSON_AddBoolToObject(o, "correct", c->correct);
		put_str(o, "status", c->status);
		put_num(o, "ms", c->ms);
		put_num(o, "tflops", c->tflops);
		put_num(o, "max_rel_err", c->max_rel_err);
		put_long(o, "samples", c->samples);
		put_num(o, "noise", c->noise);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

int avo_runrec_scores_copy(avo_runrec_scores *out, const avo_runrec_scores *in)
{
	memset(out, 0, sizeof(*out));
	if (!(out->scores = calloc(in->nscores + 1, sizeof(*out->scores))))
		return avo_oom();
	for (size_t i = 0; i < in->nscores; i++, out->nscores++) {
		out->scores[i] = in->scores[i];
		out->scores[i].config = avo_strdup(in->scores[i].config);
		out->scores[i].status = avo_strdup(in->scores[i].status);
		if ((in->scores[i].config && !out->scores[i].config) || (in->scores[i].status && !out->scores[i].status))
			return avo_oom();
	}
	return 0;
}

/* ---- versions -------------------------------------------------------------------------- */

void avo_runrec_version_init(avo_runrec_version *v)
{
	memset(v, 0, sizeof(*v));
	v->id = v->parent = v->attempt = -1;
	v->fitness = v->time = v->elapsed_s = v->cost_usd = v->tokens_in = v->tokens_out = NAN;
	v->gain = (avo_runrec_interval)AVO_RUNREC_INTERVAL_NONE;
}

void avo_runrec_version_dispose(avo_runrec_version *v)
{
	free(v->op), free(v->variant), free(v->objective), free(v->note);
	avo_runrec_scores_dispose(&v->s);
	avo_runrec_pairs_free(v->regions, v->nregions);
	avo_runrec_pairs_free(v->knobs, v->nknobs);
	guard_dispose(&v->guard);
	avo_runrec_version_init(v);
}

int avo_runrec_version_parse(avo_runrec_version *v, const cJSON *o)
{
	int err = 0;
	avo_runrec_version_init(v);
	v->id = jlong(o, "id", -1);
	v->parent = jlong(o, "parent", -1);
	v->op = jstr(o, "operator", &err);
	v->variant = jstr(o, "variant", &err);
	v->objective = jstr(o, "objective", &err);
	v->note = jstr(o, "note", &err);
	v->fitness = jnum(o, "fitness");
	v->time = jnum(o, "time");
	v->elapsed_s = jnum(o, "elapsed_s");
	v->cost_usd = jnum(o, "cost_usd");
	v->tokens_in = jnum(o, "tokens_in");
	v->tokens_out = jnum(o, "tokens_out");
	v->attempt = jlong(o, "attempt", -1);
	interval_parse(&v->gain, cJSON_GetObjectItemCaseSensitive(o, "gain"));
	if (err || guard_parse(&v->guard, o) < 0)
		return avo_oom();
	if (scores_parse(&v->s, cJSON_GetObjectItemCaseSensitive(o, "scores")) < 0)
		return AVO_ERROR;
	const cJSON *ed = cJSON_GetObjectItemCaseSensitive(o, "edits");
	if (cJSON_IsObject(ed)) {
		v->has_edits = 1;
		if (pairs_parse(&v->regions, &v->nregions, cJSON_GetObjectItemCaseSensitive(ed, "regions")) < 0 ||
		    pairs_parse(&v->knobs, &v->nknobs, cJSON_GetObjectItemCaseSensitive(ed, "knobs")) < 0)
			return AVO_ERROR;
	}
	return 0;
}

cJSON *avo_runrec_version_json(const avo_runrec_version *v)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	put_long(o, "id", v->id);
	if (v->parent >= 0)
		cJSON_AddNumberToObject(o, "parent", (double)v->parent);
	else
		cJSON_AddNullToObject(o, "parent");
	put_str(o, "operator", v->op);
	put_str(o, "variant", v->variant);
	put_num(o, "fitness", v->fitness);
	put_str(o, "objective", v->objective);
	cJSON_AddItemToObject(o, "scores", avo_runrec_scores_json(&v->s));
	put_interval(o, "gain", &v->gain);
	put_num(o, "time", v->time);
	put_num(o, "elapsed_s", v->elapsed_s);
	put_long(o, "attempt", v->attempt);
	put_num(o, "tokens_in", v->tokens_in);
	put_num(o, "tokens_out", v->tokens_out);
	put_num(o, "cost_usd", v->cost_usd);
	put_str_or_null(o, "note", v->note);
	put_guard(o, &v->guard);
	cJSON *e = cJSON_AddObjectToObject(o, "edits");
	if (e) {
		cJSON_AddItemToObject(e, "regions", pairs_json(v->regions, v->nregions));
		cJSON_AddItemToObject(e, "knobs", pairs_json(v->knobs, v->nknobs));
	}
	return o;
}

/* ---- attempts -------------------------------------------------------------------------- */

void avo_runrec_attempt_init(avo_runrec_attempt *a)
{
	memset(a, 0, sizeof(*a));
	a->n = -1;
	a->time = a->elapsed_s = a->fitness = a->best_before = NAN;
	a->cost_usd = a->tokens_in = a->tokens_out = NAN;
	a->eval_s = a->operator_s = NAN;
	a->from_cache = -1;
	a->gain = (avo_runrec_interval)AVO_RUNREC_INTERVAL_NONE;
}

void avo_runrec_attempt_dispose(avo_runrec_attempt *a)
{
	free(a->op), free(a->status), free(a->variant), free(a->feedback), free(a->note), free(a->edit_hash);
	free(a->device);
	avo_runrec_scores_dispose(&a->s);
	guard_dispose(&a->guard);
	avo_runrec_attempt_init(a);
}

int avo_runrec_attempt_parse(avo_runrec_attempt *a, const cJSON *o)
{
	int err = 0;
	avo_runrec_attempt_init(a);
	a->n = jlong(o, "n", -1);
	a->time = jnum(o, "time");
	a->elapsed_s = jnum(o, "elapsed_s");
	a->fitness = jnum(o, "fitness");
	a->best_before = jnum(o, "best_before");
	a->cost_usd = jnum(o, "cost_usd");
	a->tokens_in = jnum(o, "tokens_in");
	a->tokens_out = jnum(o, "tokens_out");
	a->eval_s = jnum(o, "eval_s");
	a->operator_s = jnum(o, "operator_s");
	a->op = jstr(o, "operator", &err);
	a->status = jstr(o, "status", &err);
	a->variant = jstr(o, "variant", &err);
	a->feedback = jstr(o, "feedback", &err);
	a->note = jstr(o, "note", &err);
	a->edit_hash = jstr(o, "edit_hash", &err);
	a->device = jstr(o, "device", &err);
	a->from_cache = jbool(o, "from_cache");
	interval_parse(&a->gain, cJSON_GetObjectItemCaseSensitive(o, "gain"));
	if (!a->status && !err)
		a->status = avo_strdup("unknown");
	if (err || !a->status || guard_parse(&a->guard, o) < 0)
		return avo_oom();
	return scores_parse(&a->s, cJSON_GetObjectItemCaseSensitive(o, "scores"));
}

cJSON *avo_runrec_attempt_json(const avo_runrec_attempt *a)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	put_long(o, "n", a->n);
	put_num(o, "time", a->time);
	put_num(o, "elapsed_s", a->elapsed_s);
	put_str(o, "operator", a->op);
	put_str(o, "status", a->status);
	put_str_or_null(o, "variant", a->variant);
	put_num(o, "fitness", a->fitness);
	put_num(o, "best_before", a->best_before);
	cJSON_AddItemToObject(o, "scores", avo_runrec_scores_json(&a->s));
	put_interval(o, "gain", &a->gain);
	put_str_or_null(o, "feedback", a->feedback);
	cJSON_AddStringToObject(o, "edit_hash", a->edit_hash ? a->edit_hash : "");
	put_str(o, "note", a->note);
	if (a->from_cache >= 0)
		cJSON_AddBoolToObject(o, "from_cache", a->from_cache);
	put_str(o, "device", a->device);
	put_num(o, "tokens_in", a->tokens_in);
	put_num(o, "tokens_out", a->tokens_out);
	put_num(o, "cost_usd", a->cost_usd);
	put_num(o, "eval_s", a->eval_s);
	put_num(o, "operator_s", a->operator_s);
	put_guard(o, &a->guard);
	return o;
}

/* ---- run.json -------------------------------------------------------------------------- */

void avo_runrec_run_init(avo_runrec_run *r)
{
	memset(r, 0, sizeof(*r));
	r->started = r->elapsed_s = r->best_fitness = r->baseline_fitness = NAN;
	r->tokens_in = r->tokens_out = r->cost_usd = NAN;
	r->budget_seconds = r->budget_cost_usd = r->min_gain = NAN;
	r->attempts = r->commits = r->best_id = r->budget_evaluations = -1;
	r->done = -1;
	r->speedup = (avo_runrec_interval)AVO_RUNREC_INTERVAL_NONE;
	r->devices_wall_s = NAN;
}

static void devices_dispose(avo_runrec_run *r)
{
	for (size_t i = 0; i < r->ndevices; i++)
		free(r->devices[i].name);
	free(r->devices);
	r->devices = NULL;
	r->ndevices = 0;
}

int avo_runrec_run_set_devices(avo_runrec_run *r, const avo_runrec_device *d, size_t n, double wall_s)
{
	devices_dispose(r);
	if (n && !(r->devices = calloc(n, sizeof(*d))))
		return avo_oom();
	for (size_t i = 0; i < n; i++) {
		r->devices[i] = d[i];
		r->devices[i].name = avo_strdup(d[i].name ? d[i].name : "?");
	}
	r->ndevices = n;
	r->devices_wall_s = wall_s;
	return 0;
}

static int devices_parse(avo_runrec_run *r, const cJSON *o)
{
	const cJSON *ds = cJSON_GetObjectItemCaseSensitive(o, "devices"), *d;
	int err = 0;
	if (!cJSON_IsArray(ds))
		return 0;
	r->devices_wall_s = jnum(o, "devices_wall_s");
	if (!(r->devices = calloc((size_t)cJSON_GetArraySize(ds) + 1, sizeof(*r->devices))))
		return avo_oom();
	cJSON_ArrayForEach(d, ds) {
		avo_runrec_device *x = &r->devices[r->ndevices++];
		x->name = jstr(d, "name", &err);
		x->busy_s = jnum(d, "busy_s");
		x->runs = jlong(d, "runs", -1);
		x->dropped = jlong(d, "dropped", 0);
	}
	return err ? avo_oom() : 0;
}

static void devices_json(cJSON *o, const avo_runrec_run *r)
{
	if (!r->ndevices)
		return;
	cJSON *a = cJSON_AddArrayToObject(o, "devices");
	for (size_t i = 0; a && i < r->ndevices; i++) {
		cJSON *d = cJSON_CreateObject();
		put_str(d, "name", r->devices[i].name);
		put_num(d, "busy_s", r->devices[i].busy_s);
		put_long(d, "runs", r->devices[i].runs);
		put_long(d, "dropped", r->devices[i].dropped);
		cJSON_AddItemToArray(a, d);
	}
	put_num(o, "devices_wall_s", r->devices_wall_s);
}

void avo_runrec_run_dispose(avo_runrec_run *r)
{
	free(r->spec), free(r->tuning_key), free(r->stop_reason), free(r->objective), free(r->op);
	guard_dispose(&r->guard);
	devices_dispose(r);
	avo_runrec_run_init(r);
}

int avo_runrec_run_parse(avo_runrec_run *r, const cJSON *o)
{
	int err = 0;
	avo_runrec_run_init(r);
	if (!cJSON_IsObject(o))
		return 0;
	r->present = 1;
	r->spec = jstr(o, "spec", &err);
	r->tuning_key = jstr(o, "tuning_key", &err);
	r->stop_reason = jstr(o, "stop_reason", &err);
	r->objective = jstr(o, "objective", &err);
	r->op = jstr(o, "operator", &err);
	r->started = jnum(o, "started");
	r->elapsed_s = jnum(o, "elapsed_s");
	r->best_fitness = jnum(o, "best_fitness");
	r->baseline_fitness = jnum(o, "baseline_fitness");
	r->tokens_in = jnum(o, "tokens_in");
	r->tokens_out = jnum(o, "tokens_out");
	r->cost_usd = jnum(o, "cost_usd");
	r->attempts = jlong(o, "attempts", -1);
	r->commits = jlong(o, "commits", -1);
	r->best_id = jlong(o, "best_id", -1);
	r->done = jbool(o, "done");
	r->min_gain = jnum(o, "min_gain");
	const cJSON *bu = cJSON_GetObjectItemCaseSensitive(o, "budget");
	if (cJSON_IsObject(bu)) {
		r->budget_seconds = jnum(bu, "seconds");
		r->budget_cost_usd = jnum(bu, "cost_usd");
		r->budget_evaluations = jlong(bu, "evaluations", -1);
	}
	interval_parse(&r->speedup, cJSON_GetObjectItemCaseSensitive(o, "speedup"));
	if (err || guard_parse(&r->guard, o) < 0)
		return avo_oom();
	return devices_parse(r, o);
}

cJSON *avo_runrec_run_json(const avo_runrec_run *r)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	put_num(o, "started", r->started);
	put_str(o, "spec", r->spec);
	put_str(o, "tuning_key", r->tuning_key);
	put_num(o, "elapsed_s", r->elapsed_s);
	put_long(o, "attempts", r->attempts);
	put_long(o, "commits", r->commits);
	put_long(o, "best_id", r->best_id);
	put_num(o, "best_fitness", r->best_fitness);
	put_num(o, "baseline_fitness", r->baseline_fitness);
	put_interval(o, "speedup", &r->speedup);
	put_num(o, "min_gain", r->min_gain);
	put_str(o, "objective", r->objective);
	put_str(o, "operator", r->op);
	put_num(o, "tokens_in", r->tokens_in);
	put_num(o, "tokens_out", r->tokens_out);
	put_num(o, "cost_usd", r->cost_usd);
	put_guard(o, &r->guard);
	cJSON *b = cJSON_AddObjectToObject(o, "budget");
	put_num(b, "seconds", r->budget_seconds);
	put_long(b, "evaluations", r->budget_evaluations);
	put_num(b, "cost_usd", r->budget_cost_usd);
	if (r->done >= 0)
		cJSON_AddBoolToObject(o, "done", r->done);
	put_str_or_null(o, "stop_reason", r->stop_reason);
	devices_json(o, r);
	return o;
}

/* ---- the tune entry and the manifest ---------------------------------------------------- */

void avo_runrec_tune_init(avo_runrec_tune *t)
{
	memset(t, 0, sizeof(*t));
	t->fitness = t->baseline_fitness = t->time = NAN;
	t->version = -1;
	t->speedup = (avo_runrec_interval)AVO_RUNREC_INTERVAL_NONE;
}

void avo_runrec_tune_dispose(avo_runrec_tune *t)
{
	free(t->tuning_key), free(t->variant), free(t->objective), free(t->kernel);
	free(t->arch), free(t->gpu), free(t->avo_version);
	avo_runrec_scores_dispose(&t->s);
	guard_dispose(&t->guard);
	avo_runrec_tune_init(t);
}

int avo_runrec_tune_parse(avo_runrec_tune *t, const cJSON *o)
{
	int err = 0;
	avo_runrec_tune_init(t);
	t->tuning_key = jstr(o, "tuning_key", &err);
	t->variant = jstr(o, "variant", &err);
	t->objective = jstr(o, "objective", &err);
	t->kernel = jstr(o, "kernel", &err);
	t->arch = jstr(o, "arch", &err);
	t->gpu = jstr(o, "gpu", &err);
	t->avo_version = jstr(o, "avo_version", &err);
	t->fitness = jnum(o, "fitness");
	t->baseline_fitness = jnum(o, "baseline_fitness");
	t->time = jnum(o, "time");
	t->version = jlong(o, "version", -1);
	interval_parse(&t->speedup, cJSON_GetObjectItemCaseSensitive(o, "speedup"));
	if (err || guard_parse(&t->guard, o) < 0)
		return avo_oom();
	return scores_parse(&t->s, cJSON_GetObjectItemCaseSensitive(o, "scores"));
}

cJSON *avo_runrec_tune_json(const avo_runrec_tune *t)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	put_str(o, "tuning_key", t->tuning_key);
	put_str(o, "variant", t->variant);
	put_num(o, "fitness", t->fitness);
	put_str(o, "objective", t->objective);
	cJSON_AddItemToObject(o, "scores", avo_runrec_scores_json(&t->s));
	put_num(o, "baseline_fitness", t->baseline_fitness);
	put_interval(o, "speedup", &t->speedup);
	put_long(o, "version", t->version);
	put_str(o, "kernel", t->kernel);
	put_str(o, "arch", t->arch);
	put_str(o, "gpu", t->gpu);
	put_guard(o, &t->guard);
	put_num(o, "time", t->time);
	put_str(o, "avo_version", t->avo_version);
	return o;
}

void avo_runrec_manifest_init(avo_runrec_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->fitness = m->baseline_fitness = m->tuned_time = NAN;
	m->speedup = (avo_runrec_interval)AVO_RUNREC_INTERVAL_NONE;
}

void avo_runrec_manifest_dispose(avo_runrec_manifest *m)
{
	free(m->kernel), free(m->arch), free(m->tuning_key), free(m->original_hash);
	free(m->variant_hash), free(m->objective), free(m->gpu), free(m->date), free(m->avo_version);
	avo_runrec_scores_dispose(&m->s);
	guard_dispose(&m->guard);
	avo_runrec_manifest_init(m);
}

int avo_runrec_manifest_parse(avo_runrec_manifest *m, const cJSON *o)
{
	int err = 0;
	avo_runrec_manifest_init(m);
	m->kernel = jstr(o, "kernel", &err);
	m->arch = jstr(o, "arch", &err);
	m->tuning_key = jstr(o, "tuning_key", &err);
	m->original_hash = jstr(o, "original_hash", &err);
	m->variant_hash = jstr(o, "variant_hash", &err);
	m->objective = jstr(o, "objective", &err);
	m->gpu = jstr(o, "gpu", &err);
	m->date = jstr(o, "date", &err);
	m->avo_version = jstr(o, "avo_version", &err);
	m->fitness = jnum(o, "fitness");
	m->baseline_fitness = jnum(o, "baseline_fitness");
	m->tuned_time = jnum(o, "tuned_time");
	interval_parse(&m->speedup, cJSON_GetObjectItemCaseSensitive(o, "speedup"));
	if (err || guard_parse(&m->guard, o) < 0)
		return avo_oom();
	return scores_parse(&m->s, cJSON_GetObjectItemCaseSensitive(o, "scores"));
}

cJSON *avo_runrec_manifest_json(const avo_runrec_manifest *m)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	put_str(o, "kernel", m->kernel);
	put_str(o, "arch", m->arch);
	put_str(o, "tuning_key", m->tuning_key);
	put_str(o, "original_hash", m->original_hash);
	put_str(o, "variant_hash", m->variant_hash);
	put_str(o, "objective", m->objective);
	put_num(o, "fitness", m->fitness);
	if (m->baseline_fitness > 0)
		put_num(o, "baseline_fitness", m->baseline_fitness);
	put_interval(o, "speedup", &m->speedup);
	cJSON_AddItemToObject(o, "scores", avo_runrec_scores_json(&m->s));
	put_str_or_null(o, "gpu", m->gpu);
	put_guard(o, &m->guard);
	put_num(o, "tuned_time", m->tuned_time);
	put_str(o, "date", m->date);
	put_str(o, "avo_version", m->avo_version);
	return o;
}
