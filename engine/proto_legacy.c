/* Protocol "legacy-trusted": the harness is one binary with the variant linked in, and its
 * last stdout JSON line is the verdict. The variant can print that line itself, so avo
 * runs this protocol only with --trust-harness (eval.h). An optional "samples" array
 * (ms per repetition) fills the config's samples for the gate. */
#include "eval_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Rewrite bare nan/inf tokens (outside strings) as null, so "ms":nan still parses and is
 * judged as NaN rather than as a missing result. Caller frees. */
static char *nan_to_null(const char *s, size_t n)
{
	avo_buf b = AVO_BUF_INIT;
	int in_str = 0;
	for (size_t i = 0; i < n;) {
		char ch = s[i];
		if (in_str) {
			avo_buf_put(&b, &ch, 1);
			if (ch == '\\' && i + 1 < n) {
				avo_buf_put(&b, &s[i + 1], 1);
				i += 2;
				continue;
			}
			in_str = ch != '"';
			i++;
			continue;
		}
		if (ch == '"') {
			in_str = 1;
			avo_buf_put(&b, &ch, 1);
			i++;
			continue;
		}
		size_t j = i;
		if ((s[j] == '-' || s[j] == '+') && j + 1 < n && isalpha((unsigned char)s[j + 1]))
			j++;
		size_t k = j;
		while (k < n && isalpha((unsigned char)s[k]))
			k++;
		if (k > j && (k - j == 3 || k - j == 8) &&
		    (!strncasecmp(s + j, "nan", k - j) || !strncasecmp(s + j, "inf", k - j) ||
		     !strncasecmp(s + j, "infinity", k - j))) {
			avo_buf_puts(&b, "null");
			i = k;
			continue;
		}
		if (k > i) {
			avo_buf_put(&b, s + i, k - i);
			i = k;
			continue;
		}
		avo_buf_put(&b, &ch, 1);
		i++;
	}
	return avo_buf_detach(&b);
}

/* One JSON value filling exactly s[0..n) (blanks around it allowed), or NULL: garbage
 * after the object is no result line. Caller cJSON_Deletes. */
static cJSON *parse_exact(const char *s, size_t n)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
	while (j && end && end < s + n && (*end == ' ' || *end == '\t' || *end == '\r'))
		end++;
	if (j && end != s + n) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

/* The last stdout line that is a JSON object, or NULL. Caller cJSON_Deletes. */
static cJSON *last_json_line(const char *out)
{
	size_t n = strlen(out);
	while (n > 0) {
		size_t end = n;
		while (end > 0 && (out[end - 1] == '\n' || out[end - 1] == '\r' || out[end - 1] == ' '))
			end--;
		size_t start = end;
		while (start > 0 && out[start - 1] != '\n')
			start--;
		size_t b = start;
		while (b < end && (out[b] == ' ' || out[b] == '\t'))
			b++;
		if (b < end && out[b] == '{') {
			cJSON *j = parse_exact(out + b, end - b);
			if (!j) {
				char *fixed = nan_to_null(out + b, end - b);
				if (fixed)
					j = parse_exact(fixed, strlen(fixed));
				free(fixed);
			}
			if (j && cJSON_IsObject(j))
				return j;
			cJSON_Delete(j);
		}
		n = start;
	}
	return NULL;
}

/* A number field: 1 present (null reads as NaN), 0 absent, -1 wrong type. */
static int num_field(const cJSON *o, const char *name, double *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!it)
		return 0;
	if (cJSON_IsNull(it)) {
		*v = NAN;
		return 1;
	}
	if (!cJSON_IsNumber(it))
		return -1;
	*v = it->valuedouble;
	return 1;
}

/* The optional "samples": ms per repetition, each finite and > 0; at most 1e6 of them. */
static int read_samples(const cJSON *j, avo_eval_config_result *c)
{
	const cJSON *sa = cJSON_GetObjectItemCaseSensitive(j, "samples"), *x;
	if (!sa)
		return 0;
	int n = cJSON_IsArray(sa) ? cJSON_GetArraySize(sa) : -1;
	if (n < 0 || n > 1000000)
		return -1;
	free(c->samples);
	c->nsamples = 0;
	if (n && !(c->samples = calloc((size_t)n, sizeof(double))))
		return -1;
	cJSON_ArrayForEach(x, sa) {
		if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble <= 0)
			return -1;
		c->samples[c->nsamples++] = x->valuedouble;
	}
	return 0;
}

/* Judge one harness run. */
static void judge(const avo_spec *s, const avo_proc_result *r, avo_eval_config_result *c)
{
	char *how = avo_proc_describe(r, s->timeout_s);
	const char *err_tail = avo_eval__tail_of(avo_buf_cstr(&r->err), AVO_EVAL_STDERR_TAIL);
	const char *sep = *err_tail ? "; stderr:\n" : "";
	cJSON *j = NULL;
	c->correct = 0;
	if (r->timed_out) {
		avo_eval__fail_config(c, AVO_EVAL_TIMEOUT, avo_sprintf("%s: %s%s%s", c->name, how, sep, err_tail));
		goto done;
	}
	if (!r->exited) {
		avo_eval__fail_config(c, AVO_EVAL_CRASH, avo_sprintf("%s: %s%s%s", c->name, how, sep, err_tail));
		goto done;
	}
	j = last_json_line(avo_buf_cstr(&r->out));
	const cJSON *cor = j ? cJSON_GetObjectItemCaseSensitive(j, "correct") : NULL;
	if (r->exit_code != 0 && !(cor && cJSON_IsFalse(cor))) {
		avo_eval__fail_config(c, AVO_EVAL_CRASH, avo_sprintf("%s: %s%s%s", c->name, how, sep, err_tail));
		goto done;
	}
	if (!j) {
		avo_eval__fail_config(c, AVO_EVAL_PROTOCOL,
			    avo_sprintf("%s: no JSON result line on stdout (%s)%s%s", c->name, how, sep, err_tail));
		goto done;
	}
	int need_tflops = !strcmp(s->objective, "tflops");
	int has_tf = num_field(j, "tflops", &c->tflops);
	int has_l2 = num_field(j, "rel_l2_err", &c->rel_l2_err);
	const char *missing = !cor || !cJSON_IsBool(cor) ? "a boolean \"correct\""
			      : num_field(j, "max_rel_err", &c->max_rel_err) != 1 ? "a number \"max_rel_err\""
			      : num_field(j, "ms", &c->ms) != 1 ? "a number \"ms\""
			      : has_tf < 0 || (need_tflops && has_tf == 0) ? "a number \"tflops\""
			      : has_l2 < 0 ? "a number \"rel_l2_err\"" : NULL;
	if (missing) {
		avo_eval__fail_config(c, AVO_EVAL_PROTOCOL, avo_sprintf("%s: the result line lacks %s", c->name, missing));
		goto done;
	}
	if (cJSON_IsFalse(cor)) {
		avo_eval__fail_config(c, AVO_EVAL_INCORRECT,
			    avo_sprintf("%s: the harness reports incorrect output (max_rel_err %g, %s)%s%s",
					c->name, c->max_rel_err, how, sep, err_tail));
		goto done;
	}
	const char *bad = !isfinite(c->max_rel_err) ? "max_rel_err is NaN or Inf"
			  : has_l2 && !isfinite(c->rel_l2_err) ? "rel_l2_err is NaN or Inf"
			  : !isfinite(c->ms) ? "ms is NaN or Inf"
			  : has_tf && !isfinite(c->tflops) ? "tflops is NaN or Inf" : NULL;
	if (bad) {
		avo_eval__fail_config(c, AVO_EVAL_INCORRECT, avo_sprintf("%s: %s", c->name, bad));
		goto done;
	}
	if (c->max_rel_err < 0 || (has_l2 && c->rel_l2_err < 0)) {
		avo_eval__fail_config(c, AVO_EVAL_PROTOCOL, avo_sprintf("%s: an error cannot be negative "
							      "(max_rel_err %g)", c->name, c->max_rel_err));
		goto done;
	}
	if (c->max_rel_err > s->tolerance) {
		avo_eval__fail_config(c, AVO_EVAL_INCORRECT, avo_sprintf("%s: max_rel_err %g exceeds the tolerance %g",
							       c->name, c->max_rel_err, s->tolerance));
		goto done;
	}
	if (c->ms <= 0 || (need_tflops && c->tflops <= 0)) {
		avo_eval__fail_config(c, AVO_EVAL_PROTOCOL, avo_sprintf("%s: %s must be > 0", c->name,
							      c->ms <= 0 ? "ms" : "tflops"));
		goto done;
	}
	if (read_samples(j, c) < 0) {
		avo_eval__fail_config(c, AVO_EVAL_PROTOCOL, avo_sprintf("%s: \"samples\" must be an array of "
								  "positive finite numbers (ms)", c->name));
		goto done;
	}
	c->status = AVO_EVAL_OK;
	c->correct = 1;
done:
	cJSON_Delete(j);
	free(how);
}


static int run_config(avo_eval__ctx *e, avo_eval__item *it, size_t i, const char *cwd,
		      avo_eval_config_result *c)
{
	const avo_spec_config *cfg = &e->spec->configs[i];
	avo_buildid_argv a = AVO_BUILDID_ARGV_INIT;
	avo_buildid_argv_push(&a, it->exe);
	for (size_t j = 0; j < cfg->nargs; j++)
		avo_buildid_argv_push(&a, cfg->args[j]);
	avo_proc_result r;
	int rc = avo_eval__spawn(e, it->gpu, a.v, cwd, NULL, NULL, &r);
	avo_buildid_argv_dispose(&a);
	if (rc < 0)
		return rc;
	judge(e->spec, &r, c);
	avo_proc_result_dispose(&r);
	return 0;
}

const avo_eval_proto avo_eval__proto_legacy = {"legacy-trusted", 0, run_config};
