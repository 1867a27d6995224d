/* The evaluation result: its status names, its JSON (what the cache stores and `avo eval
 * --json` prints) and its free. */
#include "eval_result.h"
#include "avo_base.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *avo_eval_status_name(avo_eval_status s)
{
	switch (s) {
	case AVO_EVAL_OK: return "ok";
	case AVO_EVAL_COMPILE: return "compile";
	case AVO_EVAL_INCORRECT: return "incorrect";
	case AVO_EVAL_CRASH: return "crash";
	case AVO_EVAL_TIMEOUT: return "timeout";
	case AVO_EVAL_PROTOCOL: return "protocol";
	case AVO_EVAL_SKIPPED: return "skipped";
	}
	return "?";
}

static int status_from_name(const char *n, avo_eval_status *out)
{
	for (int s = AVO_EVAL_OK; s <= AVO_EVAL_SKIPPED; s++)
		if (!strcmp(n, avo_eval_status_name((avo_eval_status)s))) {
			*out = (avo_eval_status)s;
			return 0;
		}
	return -1;
}

/* NaN and missing strings are written as null. */
static void add_num(cJSON *o, const char *name, double v)
{
	cJSON_AddItemToObject(o, name, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

static void add_str(cJSON *o, const char *name, const char *v)
{
	cJSON_AddItemToObject(o, name, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

char *avo_eval_result_json(const avo_eval_result *r)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "status", avo_eval_status_name(r->status));
	cJSON_AddBoolToObject(o, "correct", r->correct);
	add_num(o, "fitness", r->fitness);
	cJSON_AddStringToObject(o, "variant_hash", r->variant_hash);
	cJSON_AddStringToObject(o, "eval_key", r->eval_key);
	cJSON_AddBoolToObject(o, "from_cache", r->from_cache);
	if (r->unsandboxed)
		cJSON_AddTrueToObject(o, "unsandboxed");
	add_num(o, "seconds", r->seconds);
	cJSON_AddStringToObject(o, "harness_protocol", r->harness_protocol);
	add_str(o, "feedback", r->feedback);
	cJSON *arr = cJSON_AddArrayToObject(o, "configs");
	for (size_t i = 0; arr && i < r->nconfigs; i++) {
		const avo_eval_config_result *c = &r->configs[i];
		cJSON *co = cJSON_CreateObject();
		if (!co)
			break;
		cJSON_AddStringToObject(co, "name", c->name ? c->name : "");
		cJSON_AddStringToObject(co, "status", avo_eval_status_name(c->status));
		cJSON_AddBoolToObject(co, "correct", c->correct);
		add_num(co, "max_rel_err", c->max_rel_err);
		add_num(co, "rel_l2_err", c->rel_l2_err);
		add_num(co, "ms", c->ms);
		add_num(co, "tflops", c->tflops);
		add_str(co, "feedback", c->feedback);
		if (c->nsamples) {
			cJSON *sa = cJSON_AddArrayToObject(co, "samples");
			for (size_t k = 0; sa && k < c->nsamples; k++)
				cJSON_AddItemToArray(sa, cJSON_CreateNumber(c->samples[k]));
		}
		cJSON_AddItemToArray(arr, co);
	}
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static double get_num_or_nan(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

static char *get_str_or_null(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(it) ? avo_strdup(it->valuestring) : NULL;
}

int avo_eval_result_parse(avo_eval_result **out, const char *json, size_t len)
{
	*out = NULL;
	cJSON *o = cJSON_ParseWithLength(json, len);
	avo_eval_result *r = NULL;
	int rc = avo_error_set(AVO_EPARSE, "not an evaluation result");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "configs");
	if (!cJSON_IsObject(o) || !cJSON_IsString(st) || !cJSON_IsArray(arr))
		goto done;
	if (!(r = calloc(1, sizeof(*r))))
		goto done;
	if (status_from_name(st->valuestring, &r->status) < 0)
		goto done;
	r->correct = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "correct"));
	r->fitness = get_num_or_nan(o, "fitness");
	if (!isfinite(r->fitness))
		r->fitness = 0;
	r->from_cache = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "from_cache"));
	r->unsandboxed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "unsandboxed"));
	r->seconds = get_num_or_nan(o, "seconds");
	r->feedback = get_str_or_null(o, "feedback");
	char *h = get_str_or_null(o, "variant_hash"), *k = get_str_or_null(o, "eval_key");
	snprintf(r->variant_hash, sizeof(r->variant_hash), "%s", h ? h : "");
	snprintf(r->eval_key, sizeof(r->eval_key), "%s", k ? k : "");
	free(h);
	free(k);
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (!(r->configs = calloc(n ? n : 1, sizeof(*r->configs))))
		goto done;
	const cJSON *c;
	cJSON_ArrayForEach(c, arr) {
		avo_eval_config_result *cr = &r->configs[r->nconfigs++];
		const cJSON *cs = cJSON_GetObjectItemCaseSensitive(c, "status");
		if (!cJSON_IsObject(c) || !cJSON_IsString(cs) || status_from_name(cs->valuestring, &cr->status) < 0)
			goto done;
		cr->name = get_str_or_null(c, "name");
		cr->correct = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "correct"));
		cr->max_rel_err = get_num_or_nan(c, "max_rel_err");
		cr->rel_l2_err = get_num_or_nan(c, "rel_l2_err");
		cr->ms = get_num_or_nan(c, "ms");
		cr->tflops = get_num_or_nan(c, "tflops");
		cr->feedback = get_str_or_null(c, "feedback");
		const cJSON *sa = cJSON_GetObjectItemCaseSensitive(c, "samples");
		int ns = cJSON_IsArray(sa) ? cJSON_GetArraySize(sa) : 0;
		if (ns > 0 && (cr->samples = calloc((size_t)ns, sizeof(double)))) {
			const cJSON *x;
			cJSON_ArrayForEach(x, sa) if (cJSON_IsNumber(x)) cr->samples[cr->nsamples++] = x->valuedouble;
		}
		if (!cr->name)
			goto done;
	}
	rc = 0;
	*out = r;
	r = NULL;
done:
	avo_eval_result_free(r);
	cJSON_Delete(o);
	if (rc == 0)
		avo_error_clear();
	return rc;
}

void avo_eval_result_free(avo_eval_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->configs && i < r->nconfigs; i++) {
		free(r->configs[i].name);
		free(r->configs[i].feedback);
		free(r->configs[i].samples);
	}
	free(r->configs);
	free(r->feedback);
	free(r);
}
