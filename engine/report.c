/* Reports of a tuning run: load the run directory (through runrec.h) and summarise it.
 * The views are in report_html.c (with report_chart.c), report_status.c; the text pieces
 * (escaping, diff, marker scan) in report_diff.c. See report.h and RUNS.md. */
#include "report_impl.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* ---- small helpers ------------------------------------------------------------- */

int avo_report__push(void **arr, size_t *n, size_t *cap, size_t elem)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		void *p = realloc(*arr, nc * elem);
		if (!p)
			return avo_oom();
		*arr = p;
		*cap = nc;
	}
	memset((char *)*arr + *n * elem, 0, elem);
	(*n)++;
	return 0;
}

void avo_report_pairs_free(avo_report_pair *p, size_t n)
{
	avo_runrec_pairs_free(p, n);
}

/* Count per key, keeping first-seen order. */
static int count_add(avo_report_pair **p, size_t *n, size_t *cap, const char *key)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*p)[i].name, key)) {
			long c = strtol((*p)[i].text, NULL, 10) + 1;
			char tmp[32];
			snprintf(tmp, sizeof(tmp), "%ld", c);
			char *t = avo_strdup(tmp);
			if (!t)
				return avo_oom();
			free((*p)[i].text);
			(*p)[i].text = t;
			return 0;
		}
	return pair_add(p, n, cap, key, "1");
}

/* ---- loading ------------------------------------------------------------------- */

static int warn(avo_report_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int warn(avo_report_run *run, const char *fmt, ...)
{
	avo_buf b = AVO_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	int rc = avo_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return rc;
	char **w = realloc(run->warnings, (run->nwarnings + 1) * sizeof(*w));
	if (!w) {
		avo_buf_dispose(&b);
		return avo_oom();
	}
	run->warnings = w;
	run->warnings[run->nwarnings++] = avo_buf_detach(&b);
	return 0;
}

/* Numbers in a bench row that are not a peer's TFLOP/s: the problem shape, errors, ratios. */
static int peer_skip(const char *key)
{
	static const char *const shape[] = {"b", "h", "hq", "hkv", "s", "sq", "sk", "d", "seq", "batch", "heads", "dim"};
	for (size_t i = 0; i < sizeof(shape) / sizeof(shape[0]); i++)
		if (!strcmp(key, shape[i]))
			return 1;
	return strstr(key, "err") || strstr(key, "_over_") || strstr(key, "ratio") || strstr(key, "ms");
}

/* peers.json: an array of rows, or an object holding one (bench/results style). */
static int load_peers(avo_report_run *run, const char *path, int required)
{
	avo_buf b = AVO_BUF_INIT;
	cJSON *o = NULL;
	int rc;
	size_t cap = 0;
	if ((rc = avo_file_read(&b, path)) < 0) {
		if (rc == AVO_ENOTFOUND && !required)
			rc = 0;
		goto done;
	}
	o = cJSON_ParseWithLengthOpts(b.ptr ? b.ptr : "", b.size, NULL, 0);
	const cJSON *rows = o, *e;
	if (cJSON_IsObject(o)) { /* "rows", else the first array of objects */
		rows = cJSON_GetObjectItemCaseSensitive(o, "rows");
		cJSON_ArrayForEach(e, o) if (!cJSON_IsArray(rows) && cJSON_IsArray(e) && cJSON_IsObject(e->child)) rows = e;
	}
	if (!cJSON_IsArray(rows)) {
		if (required)
			rc = avo_error_set(AVO_EPARSE, "%s: expected a JSON array of {\"config\":..,\"<peer>\":TFLOP/s} rows", path);
		else
			rc = warn(run, "%s: not a JSON array of rows; ignored", path);
		goto done;
	}
	cJSON_ArrayForEach(e, rows)
	{
		int err = 0;
		char *config = avo_runrec_field_str(e, "config", &err);
		if (!config) {
			if (err) {
				rc = avo_oom();
				goto done;
			}
			continue;
		}
		if ((rc = push((void **)&run->peers, &run->npeers, &cap, sizeof(*run->peers))) < 0) {
			free(config);
			goto done;
		}
		avo_report_peer *p = &run->peers[run->npeers - 1];
		p->config = config;
		/* A column is "name": TFLOP/s, or (bench/results) "name": {"tflops": .., "ms": ..}; in a
		 * row holding the latter, plain numbers are shape parameters (b, hq, s, ...). */
		const cJSON *c;
		size_t ccap = 0, vcap = 0, nv = 0;
		int nested = 0;
		cJSON_ArrayForEach(c, e) nested |= cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, "tflops"));
		cJSON_ArrayForEach(c, e)
		{
			const cJSON *v = nested ? cJSON_GetObjectItemCaseSensitive(c, "tflops") : c;
			if (!c->string || !cJSON_IsNumber(v) || (nested && !cJSON_IsObject(c)) || (!nested && peer_skip(c->string)))
				continue;
			char tmp[40];
			snprintf(tmp, sizeof(tmp), "%g", v->valuedouble);
			if ((rc = pair_add(&p->cols, &p->ncols, &ccap, c->string, tmp)) < 0 ||
			    (rc = push((void **)&p->values, &nv, &vcap, sizeof(double))) < 0)
				goto done;
			p->values[nv - 1] = v->valuedouble;
		}
	}
	rc = 0;
done:
	cJSON_Delete(o);
	avo_buf_dispose(&b);
	return rc;
}

void avo_report_run_free(avo_report_run *run)
{
	if (!run)
		return;
	for (size_t i = 0; i < run->nversions; i++)
		avo_runrec_version_dispose(&run->versions[i]);
	for (size_t i = 0; i < run->nattempts; i++)
		avo_runrec_attempt_dispose(&run->attempts[i]);
	for (size_t i = 0; i < run->npeers; i++) {
		free(run->peers[i].config);
		avo_report_pairs_free(run->peers[i].cols, run->peers[i].ncols);
		free(run->peers[i].values);
	}
	for (size_t i = 0; i < run->nwarnings; i++)
		free(run->warnings[i]);
	free(run->versions), free(run->attempts), free(run->peers), free(run->warnings);
	free(run->run_dir);
	avo_runrec_run_dispose(&run->info);
	free(run);
}

int avo_report_load(avo_report_run **out, const char *run_dir, const char *peers_path)
{
	avo_report_run *run = calloc(1, sizeof(*run));
	avo_runrec_log log;
	int rc = 0;
	*out = NULL;
	if (!run || !(run->run_dir = avo_strdup(run_dir))) {
		free(run);
		return avo_oom();
	}
	avo_runrec_run_init(&run->info);
	if (!avo_path_exists(run_dir)) {
		rc = avo_error_set(AVO_ENOTFOUND, "%s: no such run directory (has 'avo tune' run?)", run_dir);
		goto fail;
	}
	rc = avo_runrec_log_load(&log, run_dir);
	/* The report takes the records over from the log. */
	run->versions = log.versions, run->nversions = log.nversions;
	run->attempts = log.attempts, run->nattempts = log.nattempts;
	run->warnings = log.warnings, run->nwarnings = log.nwarnings;
	avo_runrec_run_dispose(&run->info);
	run->info = log.run;
	int any = log.has_lineage || log.has_attempts || log.run.present;
	log.versions = NULL, log.attempts = NULL, log.warnings = NULL;
	log.nversions = log.nattempts = log.nwarnings = 0;
	avo_runrec_run_init(&log.run);
	avo_runrec_log_dispose(&log);
	if (rc < 0)
		goto fail;
	if (!any) {
		rc = avo_error_set(AVO_ENOTFOUND,
				   "%s: no run state here (none of lineage.jsonl, attempts.jsonl, run.json)", run_dir);
		goto fail;
	}
	if (peers_path)
		rc = load_peers(run, peers_path, 1);
	else {
		char *pp = avo_path_join(run_dir, "peers.json");
		rc = pp ? load_peers(run, pp, 0) : avo_oom();
		free(pp);
	}
	if (rc < 0)
		goto fail;
	*out = run;
	return 0;
fail:
	avo_report_run_free(run);
	return rc;
}

/* ---- summary ------------------------------------------------------------------- */

void avo_report_summary_dispose(avo_report_summary *s)
{
	avo_report_pairs_free(s->commits_by_op, s->ncommits_by_op);
	avo_report_pairs_free(s->failures, s->nfailures);
	memset(s, 0, sizeof(*s));
}

/* Most frequent first; ties keep first-seen order (insertion sort: a handful of keys). */
static void sort_counts(avo_report_pair *p, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		avo_report_pair x = p[i];
		long c = strtol(x.text, NULL, 10);
		size_t j = i;
		for (; j > 0 && strtol(p[j - 1].text, NULL, 10) < c; j--)
			p[j] = p[j - 1];
		p[j] = x;
	}
}

double avo_report_config_noise(const avo_report_score *base, const avo_report_score *best)
{
	double a = base ? base->noise : NAN, b = best ? best->noise : NAN;
	return !is_num(a) ? b : !is_num(b) ? a : fmax(a, b);
}

int avo_report_summarize(avo_report_summary *s, const avo_report_run *run)
{
	size_t ccap = 0, fcap = 0;
	memset(s, 0, sizeof(*s));
	s->best_fitness = s->baseline_fitness = s->speedup = NAN;
	s->objective = "";
	for (size_t i = 0; i < run->nversions; i++) {
		const avo_report_version *v = &run->versions[i];
		if (!s->baseline && (v->id == 0 || (v->op && !strcmp(v->op, "baseline"))))
			s->baseline = v;
		if (is_num(v->fitness) && (!s->best || !is_num(s->best->fitness) || v->fitness >= s->best->fitness))
			s->best = v;
	}
	if (!s->baseline && run->nversions)
		s->baseline = &run->versions[0];
	if (!s->best)
		s->best = s->baseline;
	s->best_fitness = s->best ? s->best->fitness : run->info.best_fitness;
	s->baseline_fitness = s->baseline ? s->baseline->fitness : run->info.baseline_fitness;
	if (is_num(s->best_fitness) && is_num(s->baseline_fitness) && s->baseline_fitness > 0)
		s->speedup = s->best_fitness / s->baseline_fitness;
	if (s->best && s->best->objective)
		s->objective = s->best->objective;
	else if (s->baseline && s->baseline->objective)
		s->objective = s->baseline->objective;

	s->commits = run->nversions ? (long)run->nversions - (s->baseline ? 1 : 0) : (run->info.commits > 0 ? run->info.commits : 0);
	s->attempts = run->nattempts ? (long)run->nattempts : (run->info.attempts > 0 ? run->info.attempts : 0);

	double el = NAN, ti = 0, to = 0, cost = 0;
	for (size_t i = 0; i < run->nversions; i++)
		if (is_num(run->versions[i].elapsed_s) && !(run->versions[i].elapsed_s <= el))
			el = run->versions[i].elapsed_s;
	for (size_t i = 0; i < run->nattempts; i++) {
		const avo_report_attempt *a = &run->attempts[i];
		if (is_num(a->elapsed_s) && !(a->elapsed_s <= el))
			el = a->elapsed_s;
		ti += is_num(a->tokens_in) ? a->tokens_in : 0;
		to += is_num(a->tokens_out) ? a->tokens_out : 0;
		cost += is_num(a->cost_usd) ? a->cost_usd : 0;
	}
	/* A version records the run's totals when it was committed (RUNS.md). */
	if (!run->nattempts)
		for (size_t i = 0; i < run->nversions; i++) {
			const avo_report_version *v = &run->versions[i];
			ti = is_num(v->tokens_in) ? fmax(ti, v->tokens_in) : ti;
			to = is_num(v->tokens_out) ? fmax(to, v->tokens_out) : to;
			cost = is_num(v->cost_usd) ? fmax(cost, v->cost_usd) : cost;
		}
	/* run.json holds totals summed over resumed sessions: it wins where present. */
	s->elapsed_s = is_num(run->info.elapsed_s) ? run->info.elapsed_s : el;
	s->tokens_in = is_num(run->info.tokens_in) ? run->info.tokens_in : ti;
	s->tokens_out = is_num(run->info.tokens_out) ? run->info.tokens_out : to;
	s->cost_usd = is_num(run->info.cost_usd) ? run->info.cost_usd : cost;
	s->stop_reason = run->info.stop_reason;
	s->done = run->info.done;
	s->final = run->info.speedup;
	/* The gains sought: the gate's minimum gain, else 1%. */
	s->noise_limit = is_num(run->info.min_gain) && run->info.min_gain > 0 ? run->info.min_gain : 0.01;
	for (size_t i = 0; s->baseline && i < s->baseline->s.nscores; i++) {
		const avo_report_score *b = &s->baseline->s.scores[i];
		double nz = avo_report_config_noise(b, s->best ? score_find(&s->best->s, b->config) : NULL);
		s->noisy_configs += is_num(nz) && nz > s->noise_limit;
	}

	for (size_t i = 0; i < run->nversions; i++) {
		const avo_report_version *v = &run->versions[i];
		if (v == s->baseline)
			continue;
		if (count_add(&s->commits_by_op, &s->ncommits_by_op, &ccap, v->op ? v->op : "?") < 0)
			goto oom;
	}
	for (size_t i = 0; i < run->nattempts; i++) {
		const char *st = run->attempts[i].status;
		if (!strcmp(st, "committed"))
			continue;
		if (!strcmp(st, "confirm")) {
			s->confirmations++;
			continue;
		}
		if (count_add(&s->failures, &s->nfailures, &fcap, st) < 0)
			goto oom;
	}
	sort_counts(s->commits_by_op, s->ncommits_by_op);
	sort_counts(s->failures, s->nfailures);
	return 0;
oom:
	avo_report_summary_dispose(s);
	return AVO_ERROR;
}
