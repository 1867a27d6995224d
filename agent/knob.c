/* The built-in knob search: hill climbing around the best points, crossover between the
 * elite, random restarts, and a systematic scan when random proposals stop finding new
 * points. Deterministic for a given seed and sequence of evaluations. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct {
	uint64_t *idx;   /* one index per knob into its domain */
	double fitness;  /* -INFINITY when incorrect or unknown */
	int evaluated;   /* 0: known only through seen() */
} point;

typedef struct {
	avo_agent_op op;
	uint64_t seed, rng;
	double p_neighbors, p_crossover;
	size_t elite_max;
	/* memory, valid while the knob set and the base's regions stay the same */
	char base_hash[33];
	size_t nknobs;
	uint64_t *dom;        /* domain size per knob */
	point *pts;
	size_t npts, apts;
	int32_t *table;       /* open addressing: index into pts, -1 empty */
	size_t tsize;
	size_t *elite;        /* indexes into pts, best first */
	size_t nelite;
	double space;         /* product of domain sizes (a double: it may be huge) */
	uint64_t scan_pos;    /* systematic scan cursor */
} knob_op;

static uint64_t rnd(knob_op *k)
{
	/* splitmix64 */
	uint64_t z = (k->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rnd01(knob_op *k)
{
	return (double)(rnd(k) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t rndn(knob_op *k, uint64_t n)
{
	return n ? rnd(k) % n : 0;
}

static void memory_reset(knob_op *k)
{
	for (size_t i = 0; i < k->npts; i++)
		free(k->pts[i].idx);
	free(k->pts);
	free(k->table);
	free(k->elite);
	free(k->dom);
	k->pts = NULL;
	k->table = NULL;
	k->elite = NULL;
	k->dom = NULL;
	k->npts = k->apts = k->tsize = k->nelite = k->nknobs = 0;
	k->base_hash[0] = '\0';
	k->rng = k->seed;
	k->scan_pos = 0;
}

static uint64_t point_hash(const knob_op *k, const uint64_t *idx)
{
	return XXH3_64bits(idx, k->nknobs * sizeof(*idx));
}

static long find_point(const knob_op *k, const uint64_t *idx)
{
	if (!k->tsize)
		return -1;
	for (size_t h = point_hash(k, idx) & (k->tsize - 1);; h = (h + 1) & (k->tsize - 1)) {
		int32_t i = k->table[h];
		if (i < 0)
			return -1;
		if (!memcmp(k->pts[i].idx, idx, k->nknobs * sizeof(*idx)))
			return i;
	}
}

static int table_rebuild(knob_op *k, size_t size)
{
	int32_t *t = malloc(size * sizeof(*t));
	if (!t)
		return avo_oom();
	for (size_t i = 0; i < size; i++)
		t[i] = -1;
	free(k->table);
	k->table = t;
	k->tsize = size;
	for (size_t i = 0; i < k->npts; i++) {
		size_t h = point_hash(k, k->pts[i].idx) & (size - 1);
		while (t[h] >= 0)
			h = (h + 1) & (size - 1);
		t[h] = (int32_t)i;
	}
	return 0;
}

static void elite_update(knob_op *k, size_t i)
{
	if (!isfinite(k->pts[i].fitness))
		return;
	size_t pos = k->nelite;
	while (pos > 0 && k->pts[k->elite[pos - 1]].fitness < k->pts[i].fitness)
		pos--;
	if (pos >= k->elite_max)
		return;
	size_t n = k->nelite < k->elite_max ? k->nelite + 1 : k->elite_max;
	memmove(k->elite + pos + 1, k->elite + pos, (n - 1 - pos) * sizeof(*k->elite));
	k->elite[pos] = i;
	k->nelite = n;
}

/* Remember a point (copying idx). A known point only gains an evaluation. */
static int remember(knob_op *k, const uint64_t *idx, double fitness, int evaluated)
{
	long found = find_point(k, idx);
	if (found >= 0) {
		point *p = &k->pts[found];
		if (evaluated && !p->evaluated) {
			p->evaluated = 1;
			p->fitness = fitness;
			elite_update(k, (size_t)found);
		}
		return 0;
	}
	if (k->npts == k->apts) {
		size_t n = k->apts ? 2 * k->apts : 64;
		point *p = realloc(k->pts, n * sizeof(*p));
		if (!p)
			return avo_oom();
		k->pts = p;
		k->apts = n;
	}
	uint64_t *c = malloc((k->nknobs ? k->nknobs : 1) * sizeof(*c));
	if (!c)
		return avo_oom();
	memcpy(c, idx, k->nknobs * sizeof(*c));
	k->pts[k->npts] = (point){c, evaluated ? fitness : -INFINITY, evaluated};
	k->npts++;
	if (2 * k->npts > k->tsize) {
		if (table_rebuild(k, k->tsize ? 2 * k->tsize : 128) < 0)
			return AVO_ERROR;
	} else {
		size_t h = point_hash(k, c) & (k->tsize - 1);
		while (k->table[h] >= 0)
			h = (h + 1) & (k->tsize - 1);
		k->table[h] = (int32_t)(k->npts - 1);
	}
	if (evaluated)
		elite_update(k, k->npts - 1);
	return 0;
}

/* Index of `value` in knob j's domain, or -1. */
static long long value_index(const avo_agent_knob *kn, const char *value)
{
	if (!value)
		return -1;
	if (kn->is_range) {
		char *end;
		long long v = strtoll(value, &end, 10);
		return (*end || v < kn->lo || v > kn->hi) ? -1 : v - kn->lo;
	}
	for (size_t i = 0; i < kn->nvalues; i++)
		if (!strcmp(kn->values[i], value))
			return (long long)i;
	return -1;
}

static void value_text(char *buf, size_t n, const avo_agent_knob *kn, uint64_t i)
{
	if (kn->is_range)
		snprintf(buf, n, "%lld", kn->lo + (long long)i);
	else
		snprintf(buf, n, "%s", kn->values[i]);
}

/* The edits of a point: the base's regions plus every knob value. */
static int point_edits(agent_edits *e, const avo_agent_context *ctx, const uint64_t *idx)
{
	int rc = avo_agent__edits_from_base(e, ctx);
	for (size_t j = 0; rc == 0 && j < ctx->nknobs; j++) {
		char v[64];
		value_text(v, sizeof(v), &ctx->knobs[j], idx[j]);
		rc = avo_agent__edits_set_knob(e, ctx, ctx->knobs[j].name, v);
	}
	if (rc < 0)
		avo_agent__edits_free(e);
	return rc;
}

/* A point from knob edits (missing knobs take the original value); 0 when every value
 * lies in its domain. */
static int point_from(uint64_t *idx, const avo_agent_context *ctx, const avo_astedit_knob_edit *ke, size_t nke)
{
	for (size_t j = 0; j < ctx->nknobs; j++) {
		const char *v = ctx->knobs[j].value;
		for (size_t i = 0; i < nke; i++)
			if (!strcmp(ke[i].knob, ctx->knobs[j].name))
				v = ke[i].value;
		long long x = value_index(&ctx->knobs[j], v);
		if (x < 0)
			return -1;
		idx[j] = (uint64_t)x;
	}
	return 0;
}

static int same_regions(const avo_agent_version *a, const avo_agent_version *b)
{
	size_t na = a ? a->nregions : 0, nb = b ? b->nregions : 0;
	char ha[33], hb[33];
	if (na != nb)
		return 0;
	avo_agent_edit_hash(ha, a ? a->regions : NULL, na, NULL, 0);
	avo_agent_edit_hash(hb, b ? b->regions : NULL, nb, NULL, 0);
	return !strcmp(ha, hb);
}

/* (Re)build the memory when the knob set or the base's regions changed. */
static int memory_sync(knob_op *k, const avo_agent_context *ctx)
{
	char h[33];
	avo_agent_edit_hash(h, ctx->base ? ctx->base->regions : NULL, ctx->base ? ctx->base->nregions : 0, NULL, 0);
	if (k->dom && k->nknobs == ctx->nknobs && !strcmp(h, k->base_hash))
		return 0;
	memory_reset(k);
	k->nknobs = ctx->nknobs;
	k->dom = calloc(ctx->nknobs ? ctx->nknobs : 1, sizeof(*k->dom));
	k->elite = calloc(k->elite_max, sizeof(*k->elite));
	if (!k->dom || !k->elite)
		return avo_oom();
	k->space = 1;
	for (size_t j = 0; j < ctx->nknobs; j++) {
		const avo_agent_knob *kn = &ctx->knobs[j];
		if (kn->is_range && kn->hi < kn->lo)
			return avo_error_set(AVO_EINVALID, "knob %s: empty range %lld..%lld", kn->name, kn->lo, kn->hi);
		if (!kn->is_range && kn->nvalues == 0)
			return avo_error_set(AVO_EINVALID, "knob %s: no allowed values", kn->name);
		k->dom[j] = kn->is_range ? (uint64_t)(kn->hi - kn->lo) + 1 : kn->nvalues;
		k->space *= (double)k->dom[j];
	}
	snprintf(k->base_hash, sizeof(k->base_hash), "%s", h);
	/* What the lineage already measured on these regions is known ground. */
	uint64_t *idx = calloc(ctx->nknobs ? ctx->nknobs : 1, sizeof(*idx));
	if (!idx)
		return avo_oom();
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < ctx->nlineage; i++) {
		const avo_agent_version *v = &ctx->lineage[i];
		if (same_regions(v, ctx->base) && point_from(idx, ctx, v->knobs, v->nknobs) == 0)
			rc = remember(k, idx, v->fitness, 1);
	}
	free(idx);
	return rc;
}

/* Is this point new: not in memory and not seen by the caller? Seen points are remembered. */
static int is_new(knob_op *k, const avo_agent_context *ctx, const uint64_t *idx, int *err)
{
	if (find_point(k, idx) >= 0)
		return 0;
	if (ctx->cb.seen) {
		agent_edits e;
		if ((*err = point_edits(&e, ctx, idx)) < 0)
			return 0;
		int s = ctx->cb.seen(e.r, e.nr, e.k, e.nk, ctx->cb.payload);
		avo_agent__edits_free(&e);
		if (s) {
			*err = remember(k, idx, -INFINITY, 0);
			return 0;
		}
	}
	return 1;
}

static size_t pick_elite(knob_op *k)
{
	/* Biased to the best: u^2 puts most of the mass on the first entries. */
	double u = rnd01(k);
	size_t i = (size_t)(u * u * (double)k->nelite);
	return k->elite[i < k->nelite ? i : k->nelite - 1];
}

/* Propose a new point into idx. 1: found, 0: none found, <0 error. */
static int propose(knob_op *k, const avo_agent_context *ctx, uint64_t *idx)
{
	size_t n = k->nknobs;
	int err = 0;
	/* 1. the base point itself, the first time */
	if (point_from(idx, ctx, ctx->base ? ctx->base->knobs : NULL, ctx->base ? ctx->base->nknobs : 0) == 0 &&
	    is_new(k, ctx, idx, &err))
		return 1;
	if (err < 0)
		return err;
	for (int attempt = 0; attempt < 64; attempt++) {
		double u = rnd01(k);
		if (u < k->p_neighbors && k->nelite > 0) {
			/* one-knob moves around an elite point, nearest first, in random knob order */
			const uint64_t *par = k->pts[pick_elite(k)].idx;
			size_t start = (size_t)rndn(k, n);
			/* moves: +-1 and x2, /2 of the value on wide ranges (in random order); then +-2 */
			int wide_first = (int)(rnd(k) & 1); /* so a wide range is crossed in few steps */
			for (int pass = 0; pass < 3; pass++)
				for (size_t t = 0; t < n; t++) {
					int kind = pass == 2 ? 2 : (pass ^ wide_first);
					size_t j = (start + t) % n;
					const avo_agent_knob *kn = &ctx->knobs[j];
					int wide = kn->is_range && k->dom[j] > 8;
					if (kind == 1 && !wide)
						continue;
					int dir = (rnd(k) & 1) ? 1 : -1;
					for (int s = 0; s < 2; s++, dir = -dir) {
						long double v;
						if (kind == 1) {
							long double val = (long double)kn->lo + (long double)par[j];
							v = (dir > 0 ? val * 2 : val / 2) - (long double)kn->lo;
							v = v < 0 ? v : (long double)(uint64_t)v; /* whole values */
						} else
							v = (long double)par[j] + (long double)dir * (kind == 0 ? 1 : 2);
						if (v < 0 || v >= (long double)k->dom[j] || (uint64_t)v == par[j])
							continue;
						memcpy(idx, par, n * sizeof(*idx));
						idx[j] = (uint64_t)v;
						if (is_new(k, ctx, idx, &err))
							return 1;
						if (err < 0)
							return err;
					}
				}
			/* the neighbourhood is known: jump one knob anywhere */
			memcpy(idx, par, n * sizeof(*idx));
			if (n) {
				size_t j = (size_t)rndn(k, n);
				idx[j] = rndn(k, k->dom[j]);
			}
		} else if (u < k->p_neighbors + k->p_crossover && k->nelite >= 2) {
			const uint64_t *a = k->pts[pick_elite(k)].idx, *b = k->pts[pick_elite(k)].idx;
			for (size_t j = 0; j < n; j++)
				idx[j] = (rnd(k) & 1) ? a[j] : b[j];
		} else {
			for (size_t j = 0; j < n; j++)
				idx[j] = rndn(k, k->dom[j]);
		}
		if (is_new(k, ctx, idx, &err))
			return 1;
		if (err < 0)
			return err;
	}
	/* Random proposals keep landing on known points: scan the space in order. */
	if (k->space > 1e12)
		return 0; /* too large to scan; the caller reports it */
	uint64_t total = (uint64_t)k->space;
	for (uint64_t c = 0; c < total && (double)k->npts < k->space; c++) {
		uint64_t x = (k->scan_pos + c) % total;
		for (size_t j = 0; j < n; j++) {
			idx[j] = x % k->dom[j];
			x /= k->dom[j];
		}
		if (is_new(k, ctx, idx, &err)) {
			k->scan_pos = (k->scan_pos + c + 1) % total;
			return 1;
		}
		if (err < 0)
			return err;
	}
	return 0;
}

static int knob_step(avo_agent_op *op, const avo_agent_context *ctx, avo_agent_step_result *out)
{
	knob_op *k = (knob_op *)op;
	int rc;
	if (ctx->nknobs == 0) {
		out->outcome = AVO_AGENT_EXHAUSTED;
		out->note = avo_strdup("knob search: the kernel declares no knobs");
		return 0;
	}
	if ((rc = memory_sync(k, ctx)) < 0) {
		memory_reset(k);
		return rc;
	}
	uint64_t *idx = calloc(k->nknobs, sizeof(*idx));
	if (!idx)
		return avo_oom();
	int found = propose(k, ctx, idx);
	if (found < 0) {
		free(idx);
		return found;
	}
	if (!found) {
		out->outcome = AVO_AGENT_EXHAUSTED;
		size_t nev = 0;
		for (size_t i = 0; i < k->npts; i++)
			nev += k->pts[i].evaluated;
		if ((double)k->npts >= k->space)
			out->note = avo_sprintf("knob search: space exhausted: all %.0f points are known "
						"(%zu evaluated here or in the lineage, %zu known from the cache)",
						k->space, nev, k->npts - nev);
		else
			out->note = avo_sprintf("knob search: no new point found (%zu of %.3g points known)",
						k->npts, k->space);
		free(idx);
		return 0;
	}
	agent_edits e;
	if ((rc = point_edits(&e, ctx, idx)) < 0) {
		free(idx);
		return rc;
	}
	rc = avo_agent__step_evaluate(out, ctx, &e);
	/* pending: known (never proposed again), measured later (knob_observe) */
	if (rc == 0)
		rc = remember(k, idx, out->eval.correct ? out->eval.fitness : -INFINITY, !out->eval.pending);
	free(idx);
	if (rc < 0) {
		avo_agent__edits_free(&e);
		return rc;
	}
	out->evaluated = 1;
	out->outcome = out->committed ? AVO_AGENT_COMMITTED : AVO_AGENT_SUBMITTED;
	avo_buf note = AVO_BUF_INIT;
	avo_buf_puts(&note, "knob search:");
	for (size_t j = 0; j < ctx->nknobs; j++)
		avo_buf_printf(&note, " %s=%s", ctx->knobs[j].name, avo_agent__edits_knob(&e, ctx, ctx->knobs[j].name));
	out->note = avo_buf_detach(&note);
	avo_agent__edits_to_result(out, &e);
	return 0;
}

/* A pending point's verdict, in proposal order: it joins the elite as if measured then. */
static void knob_observe(avo_agent_op *op, const avo_agent_context *ctx, const avo_astedit_knob_edit *ke,
			 size_t nke, int correct, double fitness)
{
	knob_op *k = (knob_op *)op;
	if (!k->dom || k->nknobs != ctx->nknobs || !k->nknobs)
		return;
	uint64_t *idx = calloc(k->nknobs, sizeof(*idx));
	if (idx && point_from(idx, ctx, ke, nke) == 0 && remember(k, idx, correct ? fitness : -INFINITY, 1) < 0)
		avo_error_clear();
	free(idx);
}

static void knob_free(avo_agent_op *op)
{
	knob_op *k = (knob_op *)op;
	memory_reset(k);
	free(k);
}

static double opt_num(const cJSON *o, const char *name, double def)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int avo_agent_knob_new(avo_agent_op **out, const struct cJSON *options)
{
	*out = NULL;
	if (options && !cJSON_IsObject(options))
		return avo_error_set(AVO_EINVALID, "knob options: must be a JSON object");
	knob_op *k = calloc(1, sizeof(*k));
	if (!k)
		return avo_oom();
	k->op.name = "knob";
	k->op.step = knob_step;
	k->op.free = knob_free;
	k->op.observe = knob_observe;
	k->seed = k->rng = (uint64_t)opt_num(options, "seed", 1);
	k->p_neighbors = opt_num(options, "neighbors", 0.6);
	k->p_crossover = opt_num(options, "crossover", 0.2);
	double elite = opt_num(options, "elite", 4);
	if (k->p_neighbors < 0 || k->p_crossover < 0 || k->p_neighbors + k->p_crossover > 1 || elite < 1 || elite > 1000) {
		free(k);
		return avo_error_set(AVO_EINVALID, "knob options: need 0 <= neighbors, crossover; neighbors + crossover <= 1; 1 <= elite <= 1000");
	}
	k->elite_max = (size_t)elite;
	*out = &k->op;
	return 0;
}
