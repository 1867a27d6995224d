/* The confirming gate (gate.h). */
#include "gate.h"
#include "avo_base.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int avo_gate_could_win(const avo_gate_options *o, double fitness, double best)
{
	(void)o; /* any measured gain: the confirmation decides, the first look only filters */
	return fitness > 0 && fitness > best;
}

void avo_gate_verdict_dispose(avo_gate_verdict *v)
{
	for (size_t i = 0; v->configs && i < v->nconfigs; i++)
		free(v->configs[i]);
	free(v->configs);
	free(v->noise_a);
	free(v->noise_b);
	free(v->samples_per_config);
	free(v->why);
	memset(v, 0, sizeof(*v));
}

/* The samples of one side, per config, growing with each measurement. `scale` turns a
 * config's ms into the objective (1 for "ms": fitness 1/ms; flops for "tflops"). */
typedef struct {
	double **x;
	int **g;                 /* the device of each sample (stats.h groups) */
	size_t *n, *cap;
	double *scale;
} side;

static int side_init(side *s, size_t nc)
{
	s->x = calloc(nc, sizeof(*s->x));
	s->g = calloc(nc, sizeof(*s->g));
	s->n = calloc(nc, sizeof(*s->n));
	s->cap = calloc(nc, sizeof(*s->cap));
	s->scale = calloc(nc, sizeof(*s->scale));
	return s->x && s->g && s->n && s->cap && s->scale ? 0 : avo_oom();
}

static void side_dispose(side *s, size_t nc)
{
	for (size_t i = 0; s->x && s->g && i < nc; i++)
		free(s->x[i]), free(s->g[i]);
	free(s->x), free(s->g), free(s->n), free(s->cap), free(s->scale);
}

static int side_add(side *s, const avo_eval_result *r, int tflops, int device)
{
	for (size_t c = 0; c < r->nconfigs; c++) {
		const avo_eval_config_result *cr = &r->configs[c];
		const double *x = cr->nsamples ? cr->samples : &cr->ms;
		size_t k = cr->nsamples ? cr->nsamples : 1;
		if (s->n[c] + k > s->cap[c]) {
			size_t cap = (s->n[c] + k) * 2;
			double *nx = realloc(s->x[c], cap * sizeof(double));
			if (nx)
				s->x[c] = nx;
			int *ng = nx ? realloc(s->g[c], cap * sizeof(int)) : NULL;
			if (!ng)
				return avo_oom();
			s->g[c] = ng;
			s->cap[c] = cap;
		}
		memcpy(s->x[c] + s->n[c], x, k * sizeof(double));
		for (size_t i = 0; i < k; i++)
			s->g[c][s->n[c] + i] = device;
		s->n[c] += k;
		if (!s->scale[c])
			s->scale[c] = tflops ? cr->tflops * cr->ms : 1;
	}
	return 0;
}

/* Fitness from the pooled samples: geomean over configs of scale / geomean(ms). */
static double side_fitness(const side *s, size_t nc)
{
	double l = 0;
	for (size_t c = 0; c < nc; c++)
		l += log(s->scale[c] / avo_stats_geomean(s->x[c], s->n[c]));
	return nc ? exp(l / (double)nc) : 0;
}

int avo_gate_confirm(avo_gate_verdict *out, const avo_gate_options *o, const avo_spec *spec, avo_cache *cache,
		     const avo_eval_options *eopts, const char *a_src, size_t a_len, const char *b_src,
		     size_t b_len, avo_gate_observe observe, void *payload)
{
	size_t nc = spec->nconfigs;
	side sa = {0}, sb = {0};
	long *tickets = NULL;
	avo_eval_options eo = *eopts;
	int tflops = !strcmp(spec->objective, "tflops"), rc;
	unsigned rounds = o->rounds < 2 ? 2 : o->rounds;
	memset(out, 0, sizeof(*out));
	eo.remeasure = 1;
	out->nconfigs = nc;
	if ((rc = side_init(&sa, nc)) < 0 || (rc = side_init(&sb, nc)) < 0)
		goto done;
	if (!(out->configs = calloc(nc, sizeof(char *))) || !(out->noise_a = calloc(nc, sizeof(double))) ||
	    !(out->noise_b = calloc(nc, sizeof(double))) || !(out->samples_per_config = calloc(nc, sizeof(size_t)))) {
		rc = avo_oom();
		goto done;
	}
	for (size_t c = 0; c < nc; c++)
		out->configs[c] = avo_strdup(spec->configs[c].name);
	if (o->submit) { /* every measurement queued now, in order: the builds overlap */
		if (!(tickets = calloc(2 * rounds, sizeof(*tickets)))) {
			rc = avo_oom();
			goto done;
		}
		for (unsigned k = 0; k < 2 * rounds; k++)
			if ((tickets[k] = o->submit(k % 2 ? b_src : a_src, k % 2 ? b_len : a_len, k % 2 ? tickets[k - 1] : 0,
						    o->payload)) < 0) {
				rc = (int)tickets[k];
				goto done;
			}
	}
	out->complete = 1;
	for (unsigned r = 0; r < rounds && out->complete; r++) {
		for (int is_b = 0; is_b < 2 && out->complete; is_b++) {
			avo_eval_result *er = NULL;
			size_t k = 2 * r + (unsigned)is_b;
			int device = 0;
			if (tickets) {
				rc = o->wait(tickets[k], &er, &device, o->payload);
				tickets[k] = 0;
			} else
				rc = avo_eval_run(&er, spec, is_b ? b_src : a_src, is_b ? b_len : a_len, cache, &eo);
			if (rc < 0)
				goto done;
			out->evaluations++;
			if (!er->correct || er->nconfigs != nc) {
				out->complete = 0;
				out->why = avo_sprintf("%s failed its confirmation run: %s", is_b ? "the candidate" : "the best",
						       er->feedback ? er->feedback : avo_eval_status_name(er->status));
			} else if ((rc = side_add(is_b ? &sb : &sa, er, tflops, device)) < 0) {
				avo_eval_result_free(er);
				goto done;
			}
			int stop = observe ? observe(er, is_b, r, payload) : 0;
			avo_eval_result_free(er);
			if (stop && out->complete && !(r == rounds - 1 && is_b)) {
				out->complete = 0;
				out->why = avo_strdup("the confirmation was stopped (budget or interrupt)");
			}
		}
	}
	if (!out->complete) {
		rc = 0;
		goto done;
	}
	avo_stats_config *cfg = calloc(nc, sizeof(*cfg));
	if (!cfg) {
		rc = avo_oom();
		goto done;
	}
	for (size_t c = 0; c < nc; c++) {
		cfg[c] = (avo_stats_config){sa.x[c], sa.n[c], sb.x[c], sb.n[c], sa.g[c], sb.g[c]};
		out->noise_a[c] = avo_stats_rel_sd(sa.x[c], sa.n[c]);
		out->noise_b[c] = avo_stats_rel_sd(sb.x[c], sb.n[c]);
		out->samples_per_config[c] = sb.n[c];
	}
	rc = avo_stats_gain_interval(&out->gain, cfg, nc, o->confidence, o->replicates, o->seed);
	free(cfg);
	if (rc < 0)
		goto done;
	out->fitness_a = side_fitness(&sa, nc);
	out->fitness_b = side_fitness(&sb, nc);
	out->commit = out->gain.lo > o->min_gain;
	out->why = avo_sprintf("gain %+.2f%% [%+.2f%%, %+.2f%%] at %.0f%% over %zu samples: %s", 100 * out->gain.gain,
			       100 * out->gain.lo, 100 * out->gain.hi, 100 * out->gain.confidence, out->gain.samples,
			       out->commit ? "confirmed"
			       : out->gain.lo > 0 ? "real but below the minimum gain"
						  : "within the noise");
done:
	for (unsigned k = 0; tickets && k < 2 * rounds; k++)
		if (tickets[k] > 0)
			o->cancel(tickets[k], o->payload);
	free(tickets);
	side_dispose(&sa, nc);
	side_dispose(&sb, nc);
	if (rc < 0)
		avo_gate_verdict_dispose(out);
	return rc;
}

static cJSON *noise_json(const avo_gate_verdict *v, const double *noise)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t c = 0; c < v->nconfigs; c++)
		cJSON_AddNumberToObject(o, v->configs[c], noise[c]);
	return o;
}

cJSON *avo_gate_verdict_json(const avo_gate_verdict *v, const avo_gate_options *o)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	cJSON_AddBoolToObject(j, "confirmed", v->commit);
	cJSON_AddBoolToObject(j, "complete", v->complete);
	if (v->complete) {
		cJSON_AddNumberToObject(j, "gain", v->gain.gain);
		cJSON_AddNumberToObject(j, "lo", v->gain.lo);
		cJSON_AddNumberToObject(j, "hi", v->gain.hi);
		cJSON_AddNumberToObject(j, "confidence", v->gain.confidence);
		cJSON_AddNumberToObject(j, "samples", (double)v->gain.samples);
		cJSON_AddItemToObject(j, "noise", noise_json(v, v->noise_b));
		cJSON_AddItemToObject(j, "noise_base", noise_json(v, v->noise_a));
	}
	cJSON_AddNumberToObject(j, "evaluations", v->evaluations);
	cJSON_AddNumberToObject(j, "min_gain", o->min_gain);
	if (v->why)
		cJSON_AddStringToObject(j, "why", v->why);
	return j;
}
