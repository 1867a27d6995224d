/* Reports of a tuning run: load the run directory, summarise, render HTML / text / JSON.
 * See report.h and RUNS.md. The page is one file: inline CSS and SVG, no script, no
 * network; a Content-Security-Policy forbids both, so that even a rendering bug cannot
 * run text taken from the files. */
#include "report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OOM() avo_error_set(AVO_ERROR, "out of memory")

/* ---- small helpers ------------------------------------------------------------- */

static int is_num(double v) { return isfinite(v); }

/* NULL when absent or not a string; *err set on allocation failure. */
static char *jstr(const cJSON *o, const char *k, int *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsString(v) || !v->valuestring)
		return NULL;
	char *s = avo_strdup(v->valuestring);
	if (!s)
		*err = 1;
	return s;
}

static int push(void **arr, size_t *n, size_t *cap, size_t elem)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		void *p = realloc(*arr, nc * elem);
		if (!p)
			return OOM();
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

#define pair_find avo_runrec_pair_find
#define pair_add avo_runrec_pair_add

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
				return OOM();
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
		return OOM();
	}
	run->warnings = w;
	run->warnings[run->nwarnings++] = avo_buf_detach(&b);
	return 0;
}

#define score_find avo_runrec_score_find

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
		char *config = jstr(e, "config", &err);
		if (!config) {
			if (err) {
				rc = OOM();
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
		return OOM();
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
		rc = pp ? load_peers(run, pp, 0) : OOM();
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

/* ---- escaping, diff, marker scan ----------------------------------------------- */

int avo_report_escape(avo_buf *out, const char *s, size_t len)
{
	if (!s)
		return 0;
	if (len == (size_t)-1)
		len = strlen(s);
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		const char *rep = NULL;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '\0': rep = "\xEF\xBF\xBD"; break; /* U+FFFD: HTML forbids NUL */
		default: continue;
		}
		if (avo_buf_put(out, s + run, i - run) < 0 || avo_buf_puts(out, rep) < 0)
			return AVO_ERROR;
		run = i + 1;
	}
	return avo_buf_put(out, s + run, len - run);
}

typedef struct {
	const char *p;
	size_t n; /* without the '\n' */
} line_t;

static int split_lines(line_t **out, size_t *n, const char *s)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	if (!s)
		return 0;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		if (push((void **)out, n, &cap, sizeof(**out)) < 0)
			return AVO_ERROR;
		(*out)[*n - 1].p = s;
		(*out)[*n - 1].n = len;
		s += len + (nl ? 1 : 0);
	}
	return 0;
}

static int line_eq(const line_t *a, const line_t *b) { return a->n == b->n && !memcmp(a->p, b->p, a->n); }

#define DIFF_CONTEXT 3
#define DIFF_MAX_CELLS 4000000u /* LCS table limit; past it the middle is shown as -all +all */

typedef struct {
	char op;    /* ' ', '-', '+' */
	size_t ai, bi;
} diff_op;

static int diff_line(avo_buf *out, char op, const line_t *l, int html)
{
	const char *cls = op == '-' ? "del" : op == '+' ? "add" : NULL;
	int rc = 0;
	if (html && cls)
		rc = avo_buf_printf(out, "<span class=\"%s\">", cls);
	if (rc == 0)
		rc = avo_buf_put(out, &op, 1);
	if (rc == 0)
		rc = html ? avo_report_escape(out, l->p, l->n) : avo_buf_put(out, l->p, l->n);
	if (rc == 0 && html && cls)
		rc = avo_buf_puts(out, "</span>");
	if (rc == 0)
		rc = avo_buf_puts(out, "\n");
	return rc;
}

int avo_report_diff(avo_buf *out, const char *a, const char *b, int html, int *changed)
{
	line_t *la = NULL, *lb = NULL;
	size_t na = 0, nb = 0, nops = 0, cap = 0;
	diff_op *ops = NULL;
	uint16_t *t = NULL;
	int rc = 0;
	if (changed)
		*changed = 0;
	if (split_lines(&la, &na, a) < 0 || split_lines(&lb, &nb, b) < 0) {
		rc = AVO_ERROR;
		goto done;
	}
	size_t pre = 0, suf = 0;
	while (pre < na && pre < nb && line_eq(&la[pre], &lb[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre && line_eq(&la[na - 1 - suf], &lb[nb - 1 - suf]))
		suf++;
	size_t n = na - pre - suf, m = nb - pre - suf;
	/* The edit script: prefix, LCS of the middle, suffix. */
#define OP(o, x, y)                                                                        \
	do {                                                                               \
		if ((rc = push((void **)&ops, &nops, &cap, sizeof(*ops))) < 0)             \
			goto done;                                                         \
		ops[nops - 1] = (diff_op){(o), (x), (y)};                                  \
	} while (0)
	for (size_t i = 0; i < pre; i++)
		OP(' ', i, i);
	if (n && m && (double)(n + 1) * (double)(m + 1) <= DIFF_MAX_CELLS) {
		size_t w = m + 1;
		t = calloc((n + 1) * w, sizeof(*t));
		if (!t) {
			rc = OOM();
			goto done;
		}
		/* t[i][j] = LCS length of a[pre+i..] and b[pre+j..]; min(n,m) <= 2000 fits 16 bits. */
		for (size_t i = n; i-- > 0;)
			for (size_t j = m; j-- > 0;)
				t[i * w + j] = line_eq(&la[pre + i], &lb[pre + j])
						       ? (uint16_t)(t[(i + 1) * w + j + 1] + 1)
						       : (t[(i + 1) * w + j] >= t[i * w + j + 1] ? t[(i + 1) * w + j]
												 : t[i * w + j + 1]);
		size_t i = 0, j = 0;
		while (i < n || j < m) {
			if (i < n && j < m && line_eq(&la[pre + i], &lb[pre + j])) {
				OP(' ', pre + i, pre + j);
				i++, j++;
			} else if (j == m || (i < n && t[(i + 1) * w + j] >= t[i * w + j + 1])) {
				OP('-', pre + i, pre + j);
				i++;
			} else {
				OP('+', pre + i, pre + j);
				j++;
			}
		}
	} else {
		for (size_t i = 0; i < n; i++)
			OP('-', pre + i, pre);
		for (size_t j = 0; j < m; j++)
			OP('+', pre + n, pre + j);
	}
	for (size_t i = 0; i < suf; i++)
		OP(' ', na - suf + i, nb - suf + i);
#undef OP

	for (size_t i = 0; i < nops;) {
		if (ops[i].op == ' ') {
			i++;
			continue;
		}
		if (changed)
			*changed = 1;
		size_t start = i > DIFF_CONTEXT ? i - DIFF_CONTEXT : 0, last = i, k = i;
		for (; k < nops; k++) {
			if (ops[k].op != ' ')
				last = k;
			else if (k - last > 2 * DIFF_CONTEXT)
				break;
		}
		size_t end = last + DIFF_CONTEXT + 1 < nops ? last + DIFF_CONTEXT + 1 : nops;
		size_t ca = 0, cb = 0;
		for (size_t h = start; h < end; h++) {
			ca += ops[h].op != '+';
			cb += ops[h].op != '-';
		}
		size_t sa = ops[start].ai, sb = ops[start].bi;
		if ((rc = avo_buf_printf(out, "%s@@ -%zu,%zu +%zu,%zu @@%s\n", html ? "<span class=\"hunk\">" : "",
					 ca ? sa + 1 : sa, ca, cb ? sb + 1 : sb, cb, html ? "</span>" : "")) < 0)
			goto done;
		for (size_t h = start; h < end; h++)
			if ((rc = diff_line(out, ops[h].op, ops[h].op == '+' ? &lb[ops[h].bi] : &la[ops[h].ai], html)) < 0)
				goto done;
		i = end;
	}
done:
	free(la), free(lb), free(ops), free(t);
	return rc;
}

/* The text after "avo:<word>" in a line comment, or NULL. */
static const char *marker(const char *line, size_t len, const char *word)
{
	const char *end = line + len;
	for (const char *p = line; p + 1 < end; p++) {
		if (p[0] != '/' || p[1] != '/')
			continue;
		const char *q = p + 2;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		size_t wl = strlen(word);
		if ((size_t)(end - q) >= 4 + wl && !memcmp(q, "avo:", 4) && !memcmp(q + 4, word, wl) &&
		    (q + 4 + wl == end || q[4 + wl] == ' ' || q[4 + wl] == '\t' || q[4 + wl] == '\r'))
			return q + 4 + wl;
		return NULL; /* only the first line comment counts */
	}
	return NULL;
}

static int is_ident(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

static char *ident_at(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	const char *s = p;
	while (p < end && is_ident(*p))
		p++;
	return p > s ? avo_strndup(s, (size_t)(p - s)) : NULL;
}

int avo_report_scan_regions(avo_report_pair **out, size_t *n, const char *src)
{
	size_t cap = 0;
	char *name = NULL;
	const char *body = NULL;
	*out = NULL;
	*n = 0;
	for (const char *p = src ? src : ""; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *m;
		if ((m = marker(p, len, "region"))) {
			free(name);
			name = ident_at(m, p + len);
			body = nl ? nl + 1 : p + len;
		} else if (name && marker(p, len, "end")) {
			char *text = avo_strndup(body, (size_t)(p - body));
			int rc = text ? pair_add(out, n, &cap, name, text) : OOM();
			free(text);
			free(name);
			name = NULL;
			if (rc < 0)
				goto fail;
		}
		p += len + (nl ? 1 : 0);
	}
	free(name);
	return 0;
fail:
	avo_report_pairs_free(*out, *n);
	*out = NULL;
	*n = 0;
	return AVO_ERROR;
}

int avo_report_scan_knobs(avo_report_pair **out, size_t *n, const char *src)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	for (const char *p = src ? src : ""; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *m = NULL;
		for (const char *q = p; q + 1 < p + len && !m; q++)
			if (q[0] == '/' && q[1] == '/')
				m = marker(q, (size_t)(p + len - q), "knob") ? q : NULL;
		if (m) {
			char *name = NULL, *value = NULL;
			const char *q = p;
			while (q < m && (*q == ' ' || *q == '\t'))
				q++;
			if (m - q > 7 && !memcmp(q, "#define", 7)) {
				/* #define NAME VALUE */
				const char *r = q + 7;
				while (r < m && (*r == ' ' || *r == '\t'))
					r++;
				name = ident_at(r, m);
				while (r < m && is_ident(*r))
					r++;
				while (r < m && (*r == ' ' || *r == '\t'))
					r++;
				const char *e = m;
				while (e > r && (e[-1] == ' ' || e[-1] == '\t'))
					e--;
				value = avo_strndup(r, (size_t)(e - r));
			} else {
				/* ... NAME = VALUE; */
				const char *eq = memchr(q, '=', (size_t)(m - q));
				if (eq) {
					const char *e = eq;
					while (e > q && (e[-1] == ' ' || e[-1] == '\t'))
						e--;
					const char *s = e;
					while (s > q && is_ident(s[-1]))
						s--;
					name = s < e ? avo_strndup(s, (size_t)(e - s)) : NULL;
					const char *v = eq + 1, *ve = memchr(v, ';', (size_t)(m - v));
					ve = ve ? ve : m;
					while (v < ve && (*v == ' ' || *v == '\t'))
						v++;
					while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
						ve--;
					value = avo_strndup(v, (size_t)(ve - v));
				}
			}
			int rc = name && value ? pair_add(out, n, &cap, name, value) : 0;
			free(name);
			free(value);
			if (rc < 0) {
				avo_report_pairs_free(*out, *n);
				*out = NULL;
				*n = 0;
				return rc;
			}
		}
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

/* ---- shared pieces of the views ------------------------------------------------ */

/* Writer that remembers the first failure, so the page code reads straight through. */
typedef struct {
	avo_buf *b;
	int err;
} W;

static void wp(W *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wp(W *w, const char *fmt, ...)
{
	if (w->err)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (avo_buf_vprintf(w->b, fmt, ap) < 0)
		w->err = AVO_ERROR;
	va_end(ap);
}

static void we(W *w, const char *s)
{
	if (!w->err && avo_report_escape(w->b, s, (size_t)-1) < 0)
		w->err = AVO_ERROR;
}

#define DASH "\xE2\x80\x94" /* an em dash for unknown values */

/* %.Ng or a dash; `b` must hold 48 bytes. */
static const char *fg(char *b, double v, int sig, const char *none)
{
	if (!is_num(v))
		return none;
	snprintf(b, 48, "%.*g", sig, v);
	return b;
}

/* Exact (round-trip) form for data-* attributes; "" when unknown. */
static const char *fx(char *b, double v)
{
	if (!is_num(v))
		return "";
	snprintf(b, 48, "%.17g", v);
	return b;
}

static const char *fdur(char *b, double s, const char *none)
{
	if (!is_num(s) || s < 0)
		return none;
	if (s >= 1e8) /* beyond any real run; keeps the int conversions below defined */
		snprintf(b, 48, "%.3gs", s);
	else if (s < 60)
		snprintf(b, 48, "%.1fs", s);
	else if (s < 3600)
		snprintf(b, 48, "%dm %02ds", (int)(s / 60), (int)fmod(s, 60));
	else
		snprintf(b, 48, "%dh %02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
	return b;
}

static const char *fit_label(const char *objective)
{
	if (!strcmp(objective, "tflops"))
		return "fitness (geomean TFLOP/s, higher is better)";
	if (!strcmp(objective, "ms"))
		return "fitness (1 / geomean ms, higher is better)";
	return "fitness (higher is better)";
}

typedef struct {
	const char *config;
	const avo_report_score *base, *best;
	double speedup;
	const avo_report_peer *peer;
} cfg_row;

/* Rows: the baseline's configs, then any the best has beyond them. */
static int cfg_rows(cfg_row **out, size_t *n, const avo_report_run *run, const avo_report_summary *s)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	const avo_report_scores *lists[2] = {s->baseline ? &s->baseline->s : NULL, s->best ? &s->best->s : NULL};
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; lists[l] && i < lists[l]->nscores; i++) {
			const char *c = lists[l]->scores[i].config;
			size_t k = 0;
			while (k < *n && strcmp((*out)[k].config, c))
				k++;
			if (k < *n)
				continue;
			if (push((void **)out, n, &cap, sizeof(**out)) < 0)
				return AVO_ERROR;
			cfg_row *r = &(*out)[*n - 1];
			r->config = c;
			r->base = score_find(lists[0], c);
			r->best = score_find(lists[1], c);
			r->speedup = NAN;
			if (r->base && r->best) {
				if (is_num(r->base->ms) && is_num(r->best->ms) && r->best->ms > 0)
					r->speedup = r->base->ms / r->best->ms;
				else if (is_num(r->base->tflops) && is_num(r->best->tflops) && r->base->tflops > 0)
					r->speedup = r->best->tflops / r->base->tflops;
			}
			for (size_t p = 0; p < run->npeers && !r->peer; p++)
				if (!strcmp(run->peers[p].config, c))
					r->peer = &run->peers[p];
		}
	return 0;
}

/* Peer column names, first-seen order (borrowed). */
static int peer_cols(const char ***out, size_t *n, const avo_report_run *run)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < run->npeers; i++)
		for (size_t c = 0; c < run->peers[i].ncols; c++) {
			const char *name = run->peers[i].cols[c].name;
			size_t k = 0;
			while (k < *n && strcmp((*out)[k], name))
				k++;
			if (k < *n)
				continue;
			if (push((void **)out, n, &cap, sizeof(**out)) < 0)
				return AVO_ERROR;
			(*out)[*n - 1] = name;
		}
	return 0;
}

static double peer_value(const avo_report_peer *p, const char *col)
{
	for (size_t i = 0; p && i < p->ncols; i++)
		if (!strcmp(p->cols[i].name, col))
			return p->values[i];
	return NAN;
}

/* ---- the chart ----------------------------------------------------------------- */

typedef enum { G_CIRCLE, G_RING, G_CROSS, G_PLUS, G_TRI, G_TRIDOWN, G_SQUARE, G_BOX, G_DIAMOND, G_RHOMB } glyph_shape;

static const struct {
	const char *status, *label;
	glyph_shape shape;
	const char *color;
} styles[] = {
	{"committed", "committed", G_CIRCLE, "#1a7f37"},
	{"slower", "correct, not faster", G_RING, "#6e7781"},
	{"compile", "compile error", G_CROSS, "#cf222e"},
	{"incorrect", "incorrect result", G_TRI, "#bc4c00"},
	{"crash", "crash", G_SQUARE, "#8250df"},
	{"timeout", "timeout", G_DIAMOND, "#0969da"},
	{"protocol", "harness protocol", G_TRIDOWN, "#9a6700"},
	{"invalid_edit", "invalid edit", G_PLUS, "#bf3989"},
	{"duplicate", "duplicate", G_BOX, "#57606a"},
	{"error", "other error", G_RHOMB, "#24292f"}, /* also every status this table lacks */
};
#define NSTYLES (sizeof(styles) / sizeof(styles[0]))

static size_t style_of(const char *status)
{
	for (size_t i = 0; i < NSTYLES; i++)
		if (!strcmp(styles[i].status, status))
			return i;
	return NSTYLES - 1; /* unknown causes draw as "error" */
}

/* One marker; `title` (escaped here) becomes its tooltip. */
static void glyph(W *w, size_t st, double x, double y, double r, const char *title)
{
	const char *c = styles[st].color;
	switch (styles[st].shape) {
	case G_CIRCLE: wp(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"", x, y, r, c); break;
	case G_RING: wp(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"#fff\" stroke=\"%s\" stroke-width=\"1.5\"", x, y, r, c); break;
	case G_SQUARE:
	case G_BOX:
		wp(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" ", x - r, y - r, 2 * r, 2 * r);
		wp(w, styles[st].shape == G_SQUARE ? "fill=\"%s\"" : "fill=\"#fff\" stroke=\"%s\" stroke-width=\"1.5\"", c);
		break;
	case G_CROSS:
	case G_PLUS: {
		double k = styles[st].shape == G_CROSS ? r * 0.9 : 0;
		double l = styles[st].shape == G_CROSS ? 0 : r * 1.2;
		if (styles[st].shape == G_CROSS)
			wp(w, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\"", x - k, y - k, x + k, y + k, x + k, y - k, x - k, y + k);
		else
			wp(w, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\"", x - l, y, x + l, y, x, y - l, x, y + l);
		wp(w, " fill=\"none\" stroke=\"%s\" stroke-width=\"2\"", c);
		break;
	}
	case G_TRI:
		wp(w, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"%s\"", x, y - r * 1.1, x + r, y + r * 0.8, x - r, y + r * 0.8, c);
		break;
	case G_TRIDOWN:
		wp(w, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"%s\"", x, y + r * 1.1, x + r, y - r * 0.8, x - r, y - r * 0.8, c);
		break;
	case G_DIAMOND:
	case G_RHOMB:
		wp(w, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" ", x, y - r * 1.2, x + r * 1.2, y, x, y + r * 1.2, x - r * 1.2, y);
		wp(w, styles[st].shape == G_DIAMOND ? "fill=\"%s\"" : "fill=\"#fff\" stroke=\"%s\" stroke-width=\"1.5\"", c);
		break;
	}
	if (title) {
		wp(w, "><title>");
		we(w, title);
		wp(w, "</title></%s>\n", styles[st].shape == G_CIRCLE || styles[st].shape == G_RING ? "circle"
					 : styles[st].shape == G_SQUARE || styles[st].shape == G_BOX ? "rect" : "path");
	} else
		wp(w, "/>");
}

/* Does an attempt sit at its fitness? Only timed, correct ones: the driver records 0 for
 * failures, and an incorrect variant's speed means nothing. */
static int plotted(const avo_report_attempt *a)
{
	return is_num(a->fitness) && a->fitness > 0 &&
	       (!strcmp(a->status, "committed") || !strcmp(a->status, "slower") || !strcmp(a->status, "duplicate"));
}

static double nice_step(double range, double target)
{
	if (!(range > 0))
		return 1;
	double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
	double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
	return isfinite(step) && step > 0 ? step : 1; /* ranges near the limits of double */
}

static int step_decimals(double step)
{
	if (!(step < 1) || !(step > 0))
		return 0;
	int d = (int)ceil(-log10(step) - 1e-9);
	return d > 8 ? 8 : d;
}

#define CW 960.0
#define CL 78.0
#define CR (CW - 24)
#define CT 18.0
#define CB 330.0
#define CSTRIP (CB + 46)
#define CH (CB + 100)

static void chart(W *w, const avo_report_run *run, const avo_report_summary *s)
{
	if (!run->nversions && !run->nattempts) {
		wp(w, "<p class=\"empty\">No versions and no attempts recorded yet.</p>\n");
		return;
	}
	/* x: elapsed time when every record has it, else the attempt number. */
	int use_time = 1;
	double xmax = 0, ylo = INFINITY, yhi = -INFINITY;
	for (size_t i = 0; i < run->nversions; i++) {
		const avo_report_version *v = &run->versions[i];
		use_time &= is_num(v->elapsed_s);
		if (is_num(v->fitness))
			ylo = fmin(ylo, v->fitness), yhi = fmax(yhi, v->fitness);
	}
	for (size_t i = 0; i < run->nattempts; i++) {
		const avo_report_attempt *a = &run->attempts[i];
		use_time &= is_num(a->elapsed_s);
		if (plotted(a))
			ylo = fmin(ylo, a->fitness), yhi = fmax(yhi, a->fitness);
	}
#define VX(v, i) (use_time ? (v)->elapsed_s : (v)->attempt >= 0 ? (double)(v)->attempt : (double)(i))
#define AX(a, i) (use_time ? (a)->elapsed_s : (a)->n >= 0 ? (double)(a)->n : (double)(i) + 1)
	for (size_t i = 0; i < run->nversions; i++)
		xmax = fmax(xmax, VX(&run->versions[i], i));
	for (size_t i = 0; i < run->nattempts; i++)
		xmax = fmax(xmax, AX(&run->attempts[i], i));
	if (use_time && !(xmax > 0))
		use_time = 0, xmax = 0;
	if (!use_time) {
		for (size_t i = 0; i < run->nversions; i++)
			xmax = fmax(xmax, VX(&run->versions[i], i));
		for (size_t i = 0; i < run->nattempts; i++)
			xmax = fmax(xmax, AX(&run->attempts[i], i));
	}
	double xunit = 1;
	const char *xlabel = "attempt";
	if (use_time) {
		xunit = xmax <= 120 ? 1 : xmax <= 7200 ? 60 : 3600;
		xlabel = xunit == 1 ? "elapsed time (s)" : xunit == 60 ? "elapsed time (min)" : "elapsed time (h)";
	}
	double xs = fmax(xmax / xunit, use_time ? 1e-9 : 1);
	double xstep = nice_step(xs, 8), xhi = ceil(xs / xstep - 1e-9) * xstep;
	if (!(xhi > 0))
		xhi = xstep;
	if (!is_num(ylo))
		ylo = 0, yhi = 1;
	double pad = yhi - ylo > 1e-12 * fmax(1, fabs(yhi)) ? (yhi - ylo) * 0.08 : fmax(fabs(yhi) * 0.1, 1e-9);
	double lo = ylo - pad, hi = yhi + pad;
	if (ylo >= 0 && lo < 0)
		lo = 0;
	double ystep = nice_step(hi - lo, 6);
	lo = floor(lo / ystep) * ystep;
	hi = ceil(hi / ystep) * ystep;
#define PX(x) (CL + ((x) / xunit) / xhi * (CR - CL))
#define PY(y) (CB - ((y) - lo) / (hi - lo) * (CB - CT))

	wp(w, "<svg class=\"chart\" id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
	      "width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"fitness over %s\">\n",
	   CW, CH, CW, CH, use_time ? "time" : "attempts");
	/* grid and y ticks */
	int yd = step_decimals(ystep), xd = step_decimals(xstep);
	for (int k = 0; k <= 200; k++) {
		double y = lo + k * ystep;
		if (y > hi + ystep * 1e-6)
			break;
		wp(w, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
		      "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
		   CL, CR, PY(y), PY(y), CL - 6, PY(y) + 4, yd, y);
	}
	for (int k = 0; k <= 200; k++) {
		double x = k * xstep;
		if (x > xhi + xstep * 1e-6)
			break;
		double px = CL + x / xhi * (CR - CL);
		wp(w, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
		      "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n",
		   px, px, CB, CB + 5, px, CB + 18, xd, x);
	}
	wp(w, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", CL, CR, CB, CB);
	wp(w, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", CL, CL, CT, CB);
	wp(w, "<rect class=\"strip\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"26\"/>"
	      "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">failed</text>\n",
	   CL, CSTRIP - 13, CR - CL, CL - 6, CSTRIP + 4);
	wp(w, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", (CL + CR) / 2, CH - 8, xlabel);
	wp(w, "<text class=\"label\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
	   (CT + CB) / 2, fit_label(s->objective));

	/* attempts: fitness when they have one, else the "failed" strip */
	avo_buf t = AVO_BUF_INIT;
	char b1[48], b2[48];
	for (size_t i = 0; i < run->nattempts; i++) {
		const avo_report_attempt *a = &run->attempts[i];
		size_t st = style_of(a->status);
		double y = plotted(a) ? PY(a->fitness) : CSTRIP + (double)((long)(i % 3) - 1) * 6;
		avo_buf_clear(&t);
		if (avo_buf_printf(&t, "attempt %ld: %s (%s)", a->n, a->status, a->op ? a->op : "?") < 0 ||
		    (plotted(a) && avo_buf_printf(&t, ", fitness %s", fg(b1, a->fitness, 5, "")) < 0) ||
		    (use_time && avo_buf_printf(&t, ", at %s", fdur(b2, a->elapsed_s, "?")) < 0) ||
		    (a->note && avo_buf_printf(&t, "\n%s", a->note) < 0)) {
			w->err = AVO_ERROR;
			break;
		}
		glyph(w, st, PX(AX(a, i)), y, 3.6, avo_buf_cstr(&t));
	}
	/* the committed versions: a step line of the best so far */
	double lastx = NAN;
	wp(w, "<path class=\"step\" d=\"");
	for (size_t i = 0; i < run->nversions; i++) {
		const avo_report_version *v = &run->versions[i];
		if (!is_num(v->fitness))
			continue;
		if (!is_num(lastx))
			wp(w, "M%.1f %.1f", PX(VX(v, i)), PY(v->fitness));
		else
			wp(w, "H%.1fV%.1f", PX(VX(v, i)), PY(v->fitness));
		lastx = VX(v, i);
	}
	if (is_num(lastx))
		wp(w, "H%.1f", PX(xmax));
	wp(w, "\"/>\n");
	double last_label = -INFINITY;
	for (size_t i = 0; i < run->nversions; i++) {
		const avo_report_version *v = &run->versions[i];
		if (!is_num(v->fitness))
			continue;
		avo_buf_clear(&t);
		if (avo_buf_printf(&t, "v%ld (%s): fitness %s", v->id, v->op ? v->op : "?", fg(b1, v->fitness, 5, "")) < 0 ||
		    (v->note && avo_buf_printf(&t, "\n%s", v->note) < 0)) {
			w->err = AVO_ERROR;
			break;
		}
		double x = PX(VX(v, i)), y = PY(v->fitness);
		wp(w, "<g class=\"version%s\" data-id=\"%ld\">", v == s->best ? " best" : "", v->id);
		wp(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5.5\"><title>", x, y);
		we(w, avo_buf_cstr(&t));
		wp(w, "</title></circle>");
		/* label a version when there is room beside the previous label (and always the best) */
		if (v == s->best || !(x - last_label < 24)) {
			wp(w, "<text class=\"vlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">v%ld</text>", x, y - 9, v->id);
			last_label = x;
		}
		wp(w, "</g>\n");
	}
	avo_buf_dispose(&t);
	wp(w, "</svg>\n");
#undef VX
#undef AX
#undef PX
#undef PY

	/* legend: HTML, so it wraps; each glyph a tiny inline SVG */
	size_t counts[NSTYLES] = {0};
	for (size_t i = 0; i < run->nattempts; i++)
		counts[style_of(run->attempts[i].status)]++;
	wp(w, "<ul class=\"legend\">\n<li><svg width=\"28\" height=\"14\" viewBox=\"0 0 28 14\">"
	      "<path class=\"step\" d=\"M1 11H14V4H27\"/></svg>committed versions (best so far)</li>\n");
	for (size_t i = 0; i < NSTYLES; i++) {
		if (!counts[i])
			continue;
		wp(w, "<li data-status=\"%s\"><svg width=\"14\" height=\"14\" viewBox=\"0 0 14 14\">", styles[i].status);
		glyph(w, i, 7, 7, 4.2, NULL);
		wp(w, "</svg>%s <span class=\"n\">(%zu)</span></li>\n", styles[i].label, counts[i]);
	}
	wp(w, "</ul>\n<p class=\"note\">Attempts without a fitness (failed before timing) sit in the \"failed\" strip below the axis. "
	      "Hover a point for its details.</p>\n");
}

/* ---- the page ------------------------------------------------------------------ */

static const char css[] =
	":root{--fg:#1f2328;--mut:#59636e;--line:#d1d9e0;--bg2:#f6f8fa;--add:#dafbe1;--del:#ffebe9;--ok:#1a7f37}\n"
	"body{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Helvetica,Arial,sans-serif;color:var(--fg);"
	"margin:0 auto;max-width:1200px;padding:16px 24px 48px}\n"
	"h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}\n"
	"h3{font-size:14px;margin:16px 0 6px}.sub,.note,footer{color:var(--mut);font-size:12.5px}\n"
	"code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,\"Liberation Mono\",monospace;font-size:12.5px}\n"
	".kv{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:0}\n"
	".kv div{background:var(--bg2);border:1px solid var(--line);border-radius:6px;padding:8px 10px}\n"
	".kv dt{color:var(--mut);font-size:12px}.kv dd{margin:2px 0 0;font-size:18px;font-weight:600;overflow-wrap:anywhere}\n"
	".kv dd.small{font-size:13px;font-weight:400}\n"
	"table{border-collapse:collapse;margin:4px 0;font-size:13px}th,td{border:1px solid var(--line);padding:4px 8px;vertical-align:top}\n"
	"th{background:var(--bg2);text-align:left;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
	"tr.best td{background:#eefbf1}.up{color:var(--ok)}.down{color:#cf222e}\n"
	"#config-table td.mono{white-space:nowrap}td.change{max-width:520px;overflow-wrap:anywhere}.tree{color:var(--mut);font-family:ui-monospace,monospace}\n"
	"pre{background:var(--bg2);border:1px solid var(--line);border-radius:6px;padding:8px 10px;overflow-x:auto;white-space:pre;margin:4px 0}\n"
	"pre .add{background:var(--add);display:inline-block;min-width:100%}pre .del{background:var(--del);display:inline-block;min-width:100%}\n"
	"pre .hunk{color:#8250df}\n"
	".chart{max-width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:6px}\n"
	".chart .grid{stroke:#eaeef2}.chart .axis{stroke:#8c959f}.chart .tick{font-size:11px;fill:var(--mut)}\n"
	".chart .label{font-size:12px;fill:var(--fg)}.chart .strip{fill:#fff5f5;stroke:#ffd8d3}\n"
	".step{fill:none;stroke:var(--ok);stroke-width:2}.version circle{fill:var(--ok);stroke:#fff;stroke-width:1.5}\n"
	".version.best circle{fill:#fff;stroke:var(--ok);stroke-width:3}.vlabel{font-size:10px;fill:var(--ok)}\n"
	".legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 18px}\n"
	".legend li{display:flex;align-items:center;gap:6px}.legend .n{color:var(--mut)}\n"
	"ul.counts{margin:4px 0;padding-left:20px}details summary{cursor:pointer;color:var(--mut)}\n"
	".warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px}\n"
	".empty{color:var(--mut);font-style:italic}\n";

/* A heading and a list of "name: count" items, each with data-<attr> and data-count for tests. */
static void counts_list(W *w, const char *heading, const char *empty, const char *id, const char *attr,
			const avo_report_pair *items, size_t n)
{
	wp(w, "<h3>%s</h3>\n", heading);
	if (!n) {
		wp(w, "<p class=\"empty\">%s</p>\n", empty);
		return;
	}
	wp(w, "<ul class=\"counts\" id=\"%s\">\n", id);
	for (size_t i = 0; i < n; i++) {
		wp(w, "<li data-%s=\"", attr);
		we(w, items[i].name);
		wp(w, "\" data-count=\"%s\">", items[i].text);
		we(w, items[i].name);
		wp(w, ": %s</li>\n", items[i].text);
	}
	wp(w, "</ul>\n");
}

static void kv(W *w, const char *id, const char *label, const char *data, const char *shown)
{
	wp(w, "<div><dt>%s</dt><dd id=\"%s\" data-value=\"", label, id);
	we(w, data);
	wp(w, "\">");
	we(w, shown);
	wp(w, "</dd></div>\n");
}

static void summary_section(W *w, const avo_report_run *run, const avo_report_summary *s)
{
	char b[48], x[48], t[96];
	wp(w, "<section id=\"summary\"><h2>Summary</h2>\n<dl class=\"kv\">\n");
	kv(w, "best-fitness", "best fitness", fx(x, s->best_fitness), fg(b, s->best_fitness, 6, DASH));
	kv(w, "baseline-fitness", "baseline fitness", fx(x, s->baseline_fitness), fg(b, s->baseline_fitness, 6, DASH));
	if (is_num(s->speedup))
		snprintf(t, sizeof(t), "%.3fx", s->speedup);
	kv(w, "speedup", "speedup over baseline", fx(x, s->speedup), is_num(s->speedup) ? t : DASH);
	snprintf(t, sizeof(t), "%ld", s->best ? s->best->id : -1L);
	kv(w, "best-version", "best version", s->best ? t : "", s->best ? (snprintf(x, sizeof(x), "v%ld", s->best->id), x) : DASH);
	snprintf(t, sizeof(t), "%ld", s->attempts);
	kv(w, "attempts", "attempts", t, t);
	snprintf(t, sizeof(t), "%ld", s->commits);
	kv(w, "commits", "commits (after the baseline)", t, t);
	kv(w, "elapsed", "elapsed", fx(x, s->elapsed_s), fdur(b, s->elapsed_s, DASH));
	kv(w, "tokens-in", "tokens in", fx(x, s->tokens_in), fg(b, s->tokens_in, 12, DASH));
	kv(w, "tokens-out", "tokens out", fx(x, s->tokens_out), fg(b, s->tokens_out, 12, DASH));
	if (is_num(s->cost_usd))
		snprintf(t, sizeof(t), "$%.4f", s->cost_usd);
	kv(w, "cost", "cost (USD)", fx(x, s->cost_usd), is_num(s->cost_usd) ? t : DASH);
	const char *state = s->stop_reason ? s->stop_reason : s->done == 1 ? "done" : run->info.present ? "running (or killed)" : "unknown";
	kv(w, "stop-reason", "stop reason", s->stop_reason ? s->stop_reason : "", state);
	kv(w, "objective", "objective", s->objective, *s->objective ? s->objective : DASH);
	if (!strcmp(s->objective, "ms") && is_num(s->best_fitness) && s->best_fitness > 0) {
		/* fitness is 1 / geomean(ms): show the time itself too */
		snprintf(t, sizeof(t), "%.5g ms", 1 / s->best_fitness);
		kv(w, "best-geomean-ms", "best geomean time", fx(x, 1 / s->best_fitness), t);
	}
	wp(w, "</dl>\n");

	counts_list(w, "Commits by operator", "No commits after the baseline.", "commits-by-op", "op",
		    s->commits_by_op, s->ncommits_by_op);
	counts_list(w, "Attempts that did not commit, by cause", "None.", "failures", "status",
		    s->failures, s->nfailures);
	if (s->best && s->best->variant) {
		wp(w, "<p class=\"note\" id=\"best-variant\">Best variant v%ld: cache object <code>", s->best->id);
		we(w, s->best->variant);
		wp(w, "</code>; <code>avo apply SPEC -o FILE</code> writes it out.</p>\n");
	}
	/* A budget of 0 means "no limit" (tune.h). */
	if (run->info.budget_evaluations > 0 || run->info.budget_seconds > 0 || run->info.budget_cost_usd > 0) {
		wp(w, "<p class=\"note\" id=\"budget\">Budget:");
		if (run->info.budget_evaluations > 0)
			wp(w, " %ld evaluations", run->info.budget_evaluations);
		if (run->info.budget_seconds > 0)
			wp(w, "%s %s", run->info.budget_evaluations > 0 ? "," : "", fdur(b, run->info.budget_seconds, DASH));
		if (run->info.budget_cost_usd > 0)
			wp(w, "%s $%.2f", run->info.budget_evaluations > 0 || run->info.budget_seconds > 0 ? "," : "", run->info.budget_cost_usd);
		wp(w, ".</p>\n");
	}
	wp(w, "</section>\n");
}

static const avo_report_version *version_by_id(const avo_report_run *run, long id)
{
	for (size_t i = 0; i < run->nversions; i++)
		if (run->versions[i].id == id)
			return &run->versions[i];
	return NULL;
}

/* What a version changed against its parent (edits are relative to the original). */
static void change_text(W *w, const avo_report_version *v, const avo_report_version *p,
			const avo_report_pair *orig, size_t norig, const avo_report_pair *oknobs, size_t noknobs)
{
	int first = 1;
	if (v->note && *v->note) {
		we(w, v->note);
		first = 0;
	}
	if (!v->has_edits)
		return;
	avo_buf names = AVO_BUF_INIT;
	for (size_t i = 0; i < v->nregions; i++) {
		const char *pt = p ? pair_find(p->regions, p->nregions, v->regions[i].name) : NULL;
		if (!pt)
			pt = pair_find(orig, norig, v->regions[i].name);
		if (pt && !strcmp(pt, v->regions[i].text))
			continue;
		if ((names.size && avo_buf_puts(&names, ", ") < 0) || avo_buf_puts(&names, v->regions[i].name) < 0)
			w->err = AVO_ERROR;
	}
	for (size_t i = 0; p && i < p->nregions; i++)
		if (!pair_find(v->regions, v->nregions, p->regions[i].name) &&
		    ((names.size && avo_buf_puts(&names, ", ") < 0) ||
		     avo_buf_printf(&names, "%s (back to the original)", p->regions[i].name) < 0))
			w->err = AVO_ERROR;
	if (names.size) {
		wp(w, "%s<span class=\"mono\">regions: ", first ? "" : "<br>");
		we(w, names.ptr);
		wp(w, "</span>");
		first = 0;
	}
	avo_buf_clear(&names);
	for (size_t i = 0; i < v->nknobs; i++) {
		const char *pv = p ? pair_find(p->knobs, p->nknobs, v->knobs[i].name) : NULL;
		if (!pv)
			pv = pair_find(oknobs, noknobs, v->knobs[i].name);
		if (pv && !strcmp(pv, v->knobs[i].text))
			continue;
		if ((names.size && avo_buf_puts(&names, ", ") < 0) ||
		    avo_buf_printf(&names, "%s=%s", v->knobs[i].name, v->knobs[i].text) < 0 ||
		    (pv && avo_buf_printf(&names, " (was %s)", pv) < 0))
			w->err = AVO_ERROR;
	}
	if (names.size) {
		wp(w, "%s<span class=\"mono\">knobs: ", first ? "" : "<br>");
		we(w, names.ptr);
		wp(w, "</span>");
	}
	avo_buf_dispose(&names);
}

/* Indentation in the lineage tree: a chain stays flat; a version that is not its parent's
 * first child starts a branch one level deeper. */
static int branch_depth(const avo_report_run *run, const avo_report_version *v)
{
	int depth = 0;
	for (size_t hops = 0; v && v->parent >= 0 && hops < run->nversions; hops++) {
		const avo_report_version *p = version_by_id(run, v->parent), *first = NULL;
		for (size_t i = 0; p && i < run->nversions && !first; i++)
			if (run->versions[i].parent == p->id && &run->versions[i] != p)
				first = &run->versions[i];
		depth += first && first != v;
		v = p;
	}
	return depth > 24 ? 24 : depth;
}

static void lineage_section(W *w, const avo_report_run *run, const avo_report_summary *s,
			    const avo_report_pair *orig, size_t norig, const avo_report_pair *oknobs, size_t noknobs)
{
	char b[48], c[48];
	wp(w, "<section id=\"lineage\"><h2>Lineage</h2>\n");
	if (!run->nversions) {
		wp(w, "<p class=\"empty\">No committed versions yet (not even the baseline).</p></section>\n");
		return;
	}
	wp(w, "<table id=\"lineage-table\"><thead><tr><th>version</th><th>parent</th><th>operator</th><th>attempt</th>"
	      "<th>elapsed</th><th>fitness</th><th>gain over parent</th><th>change</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < run->nversions; i++) {
		const avo_report_version *v = &run->versions[i];
		const avo_report_version *p = v->parent >= 0 ? version_by_id(run, v->parent) : NULL;
		int depth = branch_depth(run, v);
		wp(w, "<tr data-id=\"%ld\"%s><td class=\"mono\"><span class=\"tree\" style=\"padding-left:%dpx\">%s</span>v%ld</td>",
		   v->id, v == s->best ? " class=\"best\"" : "", depth * 12, depth ? "\xE2\x94\x94 " : "", v->id);
		if (v->parent >= 0)
			wp(w, "<td class=\"mono\">v%ld</td>", v->parent);
		else
			wp(w, "<td>" DASH "</td>");
		wp(w, "<td>");
		we(w, v->op ? v->op : "?");
		wp(w, "</td><td class=\"num\">");
		if (v->attempt >= 0)
			wp(w, "%ld", v->attempt);
		else
			wp(w, DASH);
		wp(w, "</td><td class=\"num\">%s</td>", fdur(b, v->elapsed_s, DASH));
		wp(w, "<td class=\"num\" data-fitness=\"%s\">%s</td>", fx(c, v->fitness), fg(b, v->fitness, 6, DASH));
		if (p && is_num(p->fitness) && is_num(v->fitness) && p->fitness > 0) {
			double g = (v->fitness / p->fitness - 1) * 100;
			wp(w, "<td class=\"num %s\">%+.2f%%</td>", g > 0 ? "up" : g < 0 ? "down" : "", g);
		} else
			wp(w, "<td class=\"num\">" DASH "</td>");
		wp(w, "<td class=\"change\">");
		if (v == s->baseline && !v->nregions && !v->nknobs && !(v->note && *v->note))
			wp(w, "the original kernel");
		else
			change_text(w, v, p, orig, norig, oknobs, noknobs);
		wp(w, "</td></tr>\n");
	}
	wp(w, "</tbody></table>\n<p class=\"note\">Gain over parent compares fitness; the best version is highlighted.</p></section>\n");
}

static void configs_section(W *w, const avo_report_run *run, const avo_report_summary *s)
{
	cfg_row *rows = NULL;
	const char **cols = NULL;
	size_t nrows = 0, ncols = 0;
	char b[48], x[48];
	wp(w, "<section id=\"configs\"><h2>Per-config results: baseline against best</h2>\n");
	if (cfg_rows(&rows, &nrows, run, s) < 0 || peer_cols(&cols, &ncols, run) < 0) {
		w->err = AVO_ERROR;
		goto done;
	}
	if (!nrows) {
		wp(w, "<p class=\"empty\">No per-config scores recorded.</p>\n");
		goto done;
	}
	wp(w, "<table id=\"config-table\"><thead><tr><th>config</th><th>baseline ms</th><th>best ms</th>"
	      "<th>baseline TFLOP/s</th><th>best TFLOP/s</th><th>speedup</th><th>best max rel err</th>");
	for (size_t c = 0; c < ncols; c++) {
		wp(w, "<th>");
		we(w, cols[c]);
		wp(w, " TFLOP/s</th><th>best / ");
		we(w, cols[c]);
		wp(w, "</th>");
	}
	wp(w, "</tr></thead><tbody>\n");
	for (size_t i = 0; i < nrows; i++) {
		const cfg_row *r = &rows[i];
		double bm = r->base ? r->base->ms : NAN, tm = r->best ? r->best->ms : NAN;
		double bt = r->base ? r->base->tflops : NAN, tt = r->best ? r->best->tflops : NAN;
		wp(w, "<tr data-config=\"");
		we(w, r->config);
		wp(w, "\" data-baseline-ms=\"%s\"", fx(x, bm));
		wp(w, " data-best-ms=\"%s\"", fx(x, tm));
		wp(w, " data-speedup=\"%s\"><td class=\"mono\">", fx(x, r->speedup));
		we(w, r->config);
		wp(w, "</td><td class=\"num\">%s</td>", fg(b, bm, 5, DASH));
		wp(w, "<td class=\"num\">%s</td>", fg(b, tm, 5, DASH));
		wp(w, "<td class=\"num\">%s</td>", fg(b, bt, 5, DASH));
		wp(w, "<td class=\"num\">%s</td>", fg(b, tt, 5, DASH));
		if (is_num(r->speedup))
			wp(w, "<td class=\"num %s\">%.3fx</td>", r->speedup > 1 ? "up" : r->speedup < 1 ? "down" : "", r->speedup);
		else
			wp(w, "<td class=\"num\">" DASH "</td>");
		wp(w, "<td class=\"num\">%s</td>", fg(b, r->best ? r->best->max_rel_err : NAN, 3, DASH));
		for (size_t c = 0; c < ncols; c++) {
			double pv = peer_value(r->peer, cols[c]);
			wp(w, "<td class=\"num\">%s</td>", fg(b, pv, 5, DASH));
			if (is_num(pv) && pv > 0 && is_num(tt))
				wp(w, "<td class=\"num %s\">%.3fx</td>", tt >= pv ? "up" : "down", tt / pv);
			else
				wp(w, "<td class=\"num\">" DASH "</td>");
		}
		wp(w, "</tr>\n");
	}
	wp(w, "</tbody></table>\n<p class=\"note\">Speedup is baseline ms / best ms (TFLOP/s ratio when ms is missing)."
	      "%s</p>\n", ncols ? " Peer columns come from the peers file (TFLOP/s, measured separately)." : "");
done:
	free(rows);
	free(cols);
	wp(w, "</section>\n");
}

/* The diff as a block when the texts differ; returns whether they do. */
static int pre_diff(W *w, const char *name, long id, const char *a, const char *b)
{
	int changed = 0;
	avo_buf d = AVO_BUF_INIT;
	if (avo_report_diff(&d, a, b, 1, &changed) < 0) {
		w->err = AVO_ERROR;
		return 0;
	}
	if (changed) {
		wp(w, "<h3 class=\"mono\">");
		we(w, name);
		wp(w, "</h3>\n<pre class=\"diff\" data-region=\"");
		we(w, name);
		wp(w, "\"><span class=\"hunk\">--- original\n+++ v%ld</span>\n", id);
		wp(w, "%s</pre>\n", avo_buf_cstr(&d));
	}
	avo_buf_dispose(&d);
	return changed;
}

static void diff_section(W *w, const avo_report_summary *s, const avo_report_options *o, const char *ksrc,
			 const avo_report_pair *orig, size_t norig, const avo_report_pair *oknobs, size_t noknobs,
			 const char *kernel_err)
{
	const avo_report_version *best = s->best;
	avo_report_pair *br = NULL, *bk = NULL;
	size_t nbr = 0, nbk = 0;
	wp(w, "<section id=\"diff\"><h2>The best version against the original</h2>\n");
	if (kernel_err) {
		wp(w, "<p class=\"warn\">");
		we(w, kernel_err);
		wp(w, "</p>\n");
	}
	if (!best) {
		wp(w, "<p class=\"empty\">No versions yet.</p></section>\n");
		return;
	}
	if (best == s->baseline) {
		wp(w, "<p class=\"empty\">The best version is the baseline: nothing changed yet.</p></section>\n");
		return;
	}
	/* The regions and knobs of the best: from its lineage edits, else scanned from its source. */
	const avo_report_pair *regions = best->regions, *knobs = best->knobs;
	size_t nregions = best->nregions, nknobs = best->nknobs;
	if (!best->has_edits && o->best_src) {
		if (avo_report_scan_regions(&br, &nbr, o->best_src) < 0 || avo_report_scan_knobs(&bk, &nbk, o->best_src) < 0) {
			w->err = AVO_ERROR;
			goto done;
		}
		regions = br, nregions = nbr;
		knobs = bk, nknobs = nbk;
	}
	if (!best->has_edits && !nbr) {
		if (ksrc && o->best_src && !pre_diff(w, "whole file", best->id, ksrc, o->best_src))
			wp(w, "<p class=\"empty\">v%ld is byte for byte the original.</p>\n", best->id);
		else
			wp(w, "<p class=\"empty\">v%ld records no edits and its source is not available.</p>\n", best->id);
		goto done;
	}
	wp(w, "<p class=\"note\">Unified line diff per region: the original kernel%s against v%ld.</p>\n",
	   o->kernel_path ? "" : " (not available: regions shown whole)", best->id);
	if (ksrc) {
		avo_buf same = AVO_BUF_INIT;
		for (size_t i = 0; i < norig; i++) {
			const char *nt = pair_find(regions, nregions, orig[i].name);
			if (!nt || !strcmp(nt, orig[i].text)) {
				if ((same.size && avo_buf_puts(&same, ", ") < 0) || avo_buf_puts(&same, orig[i].name) < 0)
					w->err = AVO_ERROR;
			} else
				pre_diff(w, orig[i].name, best->id, orig[i].text, nt);
		}
		if (same.size) {
			wp(w, "<p class=\"note\" id=\"unchanged-regions\">Unchanged regions: <span class=\"mono\">");
			we(w, same.ptr);
			wp(w, "</span></p>\n");
		}
		avo_buf_dispose(&same);
	}
	for (size_t i = 0; i < nregions; i++) {
		if (ksrc && pair_find(orig, norig, regions[i].name))
			continue;
		wp(w, "<h3 class=\"mono\">");
		we(w, regions[i].name);
		wp(w, "%s</h3>\n<pre class=\"region\">", ksrc ? " (not a region of the original kernel)" : "");
		we(w, regions[i].text);
		wp(w, "</pre>\n");
	}
	if (nknobs || noknobs) {
		wp(w, "<h3>Knobs</h3>\n<table id=\"knob-table\"><thead><tr><th>knob</th><th>original</th><th>v%ld</th></tr></thead><tbody>\n",
		   best->id);
		for (size_t i = 0; i < noknobs; i++) {
			const char *nv = pair_find(knobs, nknobs, oknobs[i].name);
			wp(w, "<tr><td class=\"mono\">");
			we(w, oknobs[i].name);
			wp(w, "</td><td class=\"mono\">");
			we(w, oknobs[i].text);
			wp(w, "</td><td class=\"mono%s\">", nv && strcmp(nv, oknobs[i].text) ? " up" : "");
			we(w, nv ? nv : oknobs[i].text);
			wp(w, "</td></tr>\n");
		}
		for (size_t i = 0; i < nknobs; i++) {
			if (pair_find(oknobs, noknobs, knobs[i].name))
				continue;
			wp(w, "<tr><td class=\"mono\">");
			we(w, knobs[i].name);
			wp(w, "</td><td>%s</td><td class=\"mono\">", ksrc ? "(not a knob of the original)" : DASH);
			we(w, knobs[i].text);
			wp(w, "</td></tr>\n");
		}
		wp(w, "</tbody></table>\n");
	}
done:
	avo_report_pairs_free(br, nbr);
	avo_report_pairs_free(bk, nbk);
	wp(w, "</section>\n");
}

#define MAX_ATTEMPT_ROWS 2000

static void attempts_section(W *w, const avo_report_run *run)
{
	char b[48], c[48];
	wp(w, "<section id=\"attempt-list\"><h2>Attempts</h2>\n");
	if (!run->nattempts) {
		wp(w, "<p class=\"empty\">No attempts yet.</p></section>\n");
		return;
	}
	wp(w, "<table id=\"attempt-table\"><thead><tr><th>#</th><th>elapsed</th><th>operator</th><th>status</th>"
	      "<th>fitness</th><th>best before</th><th>tokens in/out</th><th>cost</th><th>note and feedback</th></tr></thead><tbody>\n");
	size_t from = run->nattempts > MAX_ATTEMPT_ROWS ? run->nattempts - MAX_ATTEMPT_ROWS : 0;
	for (size_t i = from; i < run->nattempts; i++) {
		const avo_report_attempt *a = &run->attempts[i];
		size_t st = style_of(a->status);
		wp(w, "<tr data-status=\"");
		we(w, a->status);
		wp(w, "\"><td class=\"num\">%ld</td><td class=\"num\">%s</td><td>", a->n, fdur(b, a->elapsed_s, DASH));
		we(w, a->op ? a->op : "?");
		wp(w, "</td><td><svg width=\"12\" height=\"12\" viewBox=\"0 0 14 14\">");
		glyph(w, st, 7, 7, 4.2, NULL);
		wp(w, "</svg> ");
		we(w, a->status);
		wp(w, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>", fg(b, a->fitness > 0 ? a->fitness : NAN, 6, DASH),
		   fg(c, a->best_before > 0 ? a->best_before : NAN, 6, DASH));
		wp(w, "<td class=\"num\">%s", fg(b, a->tokens_in, 12, DASH));
		wp(w, " / %s</td>", fg(b, a->tokens_out, 12, DASH));
		if (is_num(a->cost_usd))
			wp(w, "<td class=\"num\">$%.4f</td>", a->cost_usd);
		else
			wp(w, "<td class=\"num\">" DASH "</td>");
		wp(w, "<td class=\"change\">");
		we(w, a->note);
		if (a->feedback && *a->feedback) {
			wp(w, "<details><summary>feedback</summary><pre>");
			we(w, a->feedback);
			wp(w, "</pre></details>");
		}
		wp(w, "</td></tr>\n");
	}
	wp(w, "</tbody></table>\n");
	if (from)
		wp(w, "<p class=\"note\">The first %zu attempts are left out; the table shows the last %d.</p>\n", from,
		   MAX_ATTEMPT_ROWS);
	wp(w, "</section>\n");
}

int avo_report_html(avo_buf *out, const avo_report_run *run, const avo_report_options *opts)
{
	avo_report_options dflt = AVO_REPORT_OPTIONS_INIT;
	const avo_report_options *o = opts ? opts : &dflt;
	avo_report_summary s;
	avo_report_pair *orig = NULL, *oknobs = NULL;
	size_t norig = 0, noknobs = 0;
	avo_buf kbuf = AVO_BUF_INIT;
	char *kernel_err = NULL;
	W w = {out, 0};
	if (avo_report_summarize(&s, run) < 0)
		return AVO_ERROR;

	const char *ksrc = o->kernel_src;
	if (!ksrc && o->kernel_path) {
		if (avo_file_read(&kbuf, o->kernel_path) < 0)
			kernel_err = avo_sprintf("The original kernel could not be read (%s); no diff against it.", avo_error_last());
		else
			ksrc = avo_buf_cstr(&kbuf);
	}
	if (ksrc && (avo_report_scan_regions(&orig, &norig, ksrc) < 0 || avo_report_scan_knobs(&oknobs, &noknobs, ksrc) < 0))
		w.err = AVO_ERROR;

	const char *title = o->title ? o->title : avo_path_basename(run->run_dir);
	wp(&w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"avo %s\">\n"
	       "<title>avo report: ", AVO_VERSION_STRING);
	we(&w, title);
	wp(&w, "</title>\n<style>\n%s</style>\n</head><body>\n<header><h1>avo report: <span id=\"title\">", css);
	we(&w, title);
	wp(&w, "</span></h1>\n<p class=\"sub\">run directory <code>");
	we(&w, run->run_dir);
	wp(&w, "</code>");
	if (run->info.spec) {
		wp(&w, " &middot; spec <code>");
		we(&w, run->info.spec);
		wp(&w, "</code>");
	}
	if (run->info.tuning_key) {
		wp(&w, " &middot; tuning key <code>");
		we(&w, run->info.tuning_key);
		wp(&w, "</code>");
	}
	wp(&w, "</p></header>\n");
	if (run->nwarnings) {
		wp(&w, "<div class=\"warn\" id=\"warnings\"><strong>Warnings while reading the run:</strong><ul>\n");
		for (size_t i = 0; i < run->nwarnings; i++) {
			wp(&w, "<li>");
			we(&w, run->warnings[i]);
			wp(&w, "</li>\n");
		}
		wp(&w, "</ul></div>\n");
	}
	summary_section(&w, run, &s);
	wp(&w, "<section id=\"progress\"><h2>Fitness over time</h2>\n");
	chart(&w, run, &s);
	wp(&w, "</section>\n");
	lineage_section(&w, run, &s, orig, norig, oknobs, noknobs);
	configs_section(&w, run, &s);
	diff_section(&w, &s, o, ksrc, orig, norig, oknobs, noknobs, kernel_err);
	attempts_section(&w, run);

	time_t now = (time_t)(o->generated_at > 0 ? o->generated_at : avo_wall());
	struct tm tm;
	char when[64] = "?";
	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	wp(&w, "<footer><p>Written by avo %s on %s.</p></footer>\n</body></html>\n", AVO_VERSION_STRING, when);

	free(kernel_err);
	avo_buf_dispose(&kbuf);
	avo_report_pairs_free(orig, norig);
	avo_report_pairs_free(oknobs, noknobs);
	avo_report_summary_dispose(&s);
	return w.err ? avo_error_set(w.err, "out of memory") : 0;
}

int avo_report_write_html(const char *path, const avo_report_run *run, const avo_report_options *opts)
{
	avo_buf b = AVO_BUF_INIT;
	int rc = avo_report_html(&b, run, opts);
	if (rc == 0)
		rc = avo_file_write_atomic(path, b.ptr ? b.ptr : "", b.size, 0644);
	avo_buf_dispose(&b);
	return rc;
}

/* ---- terminal and JSON summaries ----------------------------------------------- */

int avo_report_status_text(avo_buf *out, const avo_report_run *run, const char *title)
{
	avo_report_summary s;
	cfg_row *rows = NULL;
	size_t nrows = 0;
	char b[48], c[48];
	W w = {out, 0};
	if (avo_report_summarize(&s, run) < 0)
		return AVO_ERROR;
	if (cfg_rows(&rows, &nrows, run, &s) < 0) {
		avo_report_summary_dispose(&s);
		return AVO_ERROR;
	}
	size_t from = out->size;
	wp(&w, "avo status: %s\n", title ? title : avo_path_basename(run->run_dir));
	wp(&w, "  run dir     %s\n", run->run_dir);
	wp(&w, "  objective   %s\n", *s.objective ? s.objective : "-");
	if (s.best)
		wp(&w, "  best        v%ld, fitness %s\n", s.best->id, fg(b, s.best_fitness, 6, "-"));
	else
		wp(&w, "  best        -\n");
	wp(&w, "  baseline    %s\n", fg(b, s.baseline_fitness, 6, "-"));
	if (is_num(s.speedup))
		wp(&w, "  speedup     %.3fx\n", s.speedup);
	else
		wp(&w, "  speedup     -\n");
	wp(&w, "  attempts    %ld\n", s.attempts);
	wp(&w, "  commits     %ld", s.commits);
	for (size_t i = 0; i < s.ncommits_by_op; i++)
		wp(&w, "%s%s %s", i ? ", " : " (", s.commits_by_op[i].name, s.commits_by_op[i].text);
	wp(&w, "%s\n", s.ncommits_by_op ? ")" : "");
	wp(&w, "  failures    ");
	for (size_t i = 0; i < s.nfailures; i++)
		wp(&w, "%s%s %s", i ? ", " : "", s.failures[i].name, s.failures[i].text);
	wp(&w, "%s\n", s.nfailures ? "" : "none");
	wp(&w, "  elapsed     %s\n", fdur(b, s.elapsed_s, "-"));
	wp(&w, "  tokens      %s in, %s out\n", fg(b, s.tokens_in, 12, "-"), fg(c, s.tokens_out, 12, "-"));
	if (is_num(s.cost_usd))
		wp(&w, "  cost        $%.4f\n", s.cost_usd);
	else
		wp(&w, "  cost        -\n");
	wp(&w, "  state       %s\n", s.stop_reason ? s.stop_reason : s.done == 1 ? "done" : run->info.present ? "running (or killed)" : "unknown");
	if (nrows) {
		size_t cw = 6;
		for (size_t i = 0; i < nrows; i++)
			cw = strlen(rows[i].config) > cw ? strlen(rows[i].config) : cw;
		wp(&w, "\n  %-*s %12s %12s %14s %14s %9s\n", (int)cw, "config", "baseline ms", "best ms", "baseline TF/s", "best TF/s", "speedup");
		for (size_t i = 0; i < nrows; i++) {
			const cfg_row *r = &rows[i];
			wp(&w, "  %-*s %12s", (int)cw, r->config, fg(b, r->base ? r->base->ms : NAN, 5, "-"));
			wp(&w, " %12s", fg(b, r->best ? r->best->ms : NAN, 5, "-"));
			wp(&w, " %14s", fg(b, r->base ? r->base->tflops : NAN, 5, "-"));
			wp(&w, " %14s", fg(b, r->best ? r->best->tflops : NAN, 5, "-"));
			if (is_num(r->speedup))
				wp(&w, " %8.3fx\n", r->speedup);
			else
				wp(&w, " %9s\n", "-");
		}
	}
	/* Names come from the files: no escape sequence reaches the terminal. */
	for (size_t i = from; !w.err && i < out->size; i++)
		if (((unsigned char)out->ptr[i] < 0x20 && out->ptr[i] != '\n') || out->ptr[i] == 0x7f)
			out->ptr[i] = '?';
	free(rows);
	avo_report_summary_dispose(&s);
	return w.err ? avo_error_set(w.err, "out of memory") : 0;
}

/* cJSON prints doubles to 15 digits when they compare equal within an epsilon, which loses
 * the last bits; write the shortest text that reads back exactly, as a raw JSON number. */
static cJSON *jnum_or_null(double v)
{
	char b[40];
	if (!is_num(v))
		return cJSON_CreateNull();
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(b, sizeof(b), "%.*g", prec, v);
		if (strtod(b, NULL) == v)
			break;
	}
	return cJSON_CreateRaw(b);
}

int avo_report_status_json(avo_buf *out, const avo_report_run *run, const char *title)
{
	avo_report_summary s;
	cfg_row *rows = NULL;
	size_t nrows = 0;
	int rc = AVO_ERROR;
	cJSON *o = NULL;
	char *txt = NULL;
	if (avo_report_summarize(&s, run) < 0)
		return AVO_ERROR;
	if (cfg_rows(&rows, &nrows, run, &s) < 0 || !(o = cJSON_CreateObject()))
		goto done;
	cJSON_AddItemToObject(o, "name", cJSON_CreateString(title ? title : avo_path_basename(run->run_dir)));
	cJSON_AddItemToObject(o, "run_dir", cJSON_CreateString(run->run_dir));
	cJSON_AddItemToObject(o, "objective", cJSON_CreateString(s.objective));
	cJSON_AddItemToObject(o, "best_id", s.best ? cJSON_CreateNumber((double)s.best->id) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "best_fitness", jnum_or_null(s.best_fitness));
	cJSON_AddItemToObject(o, "baseline_fitness", jnum_or_null(s.baseline_fitness));
	cJSON_AddItemToObject(o, "speedup", jnum_or_null(s.speedup));
	cJSON_AddItemToObject(o, "attempts", cJSON_CreateNumber((double)s.attempts));
	cJSON_AddItemToObject(o, "commits", cJSON_CreateNumber((double)s.commits));
	cJSON *by = cJSON_AddObjectToObject(o, "commits_by_operator");
	cJSON *fl = cJSON_AddObjectToObject(o, "failures");
	if (!by || !fl)
		goto done;
	for (size_t i = 0; i < s.ncommits_by_op; i++)
		cJSON_AddItemToObject(by, s.commits_by_op[i].name, cJSON_CreateNumber(strtod(s.commits_by_op[i].text, NULL)));
	for (size_t i = 0; i < s.nfailures; i++)
		cJSON_AddItemToObject(fl, s.failures[i].name, cJSON_CreateNumber(strtod(s.failures[i].text, NULL)));
	cJSON_AddItemToObject(o, "elapsed_s", jnum_or_null(s.elapsed_s));
	cJSON_AddItemToObject(o, "tokens_in", jnum_or_null(s.tokens_in));
	cJSON_AddItemToObject(o, "tokens_out", jnum_or_null(s.tokens_out));
	cJSON_AddItemToObject(o, "cost_usd", jnum_or_null(s.cost_usd));
	cJSON_AddItemToObject(o, "stop_reason", s.stop_reason ? cJSON_CreateString(s.stop_reason) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "done", s.done < 0 ? cJSON_CreateNull() : cJSON_CreateBool(s.done));
	cJSON *cf = cJSON_AddArrayToObject(o, "configs");
	cJSON *wa = cJSON_AddArrayToObject(o, "warnings");
	if (!cf || !wa)
		goto done;
	for (size_t i = 0; i < nrows; i++) {
		const cfg_row *r = &rows[i];
		cJSON *e = cJSON_CreateObject();
		if (!e)
			goto done;
		cJSON_AddItemToArray(cf, e);
		cJSON_AddItemToObject(e, "config", cJSON_CreateString(r->config));
		cJSON_AddItemToObject(e, "baseline_ms", jnum_or_null(r->base ? r->base->ms : NAN));
		cJSON_AddItemToObject(e, "best_ms", jnum_or_null(r->best ? r->best->ms : NAN));
		cJSON_AddItemToObject(e, "baseline_tflops", jnum_or_null(r->base ? r->base->tflops : NAN));
		cJSON_AddItemToObject(e, "best_tflops", jnum_or_null(r->best ? r->best->tflops : NAN));
		cJSON_AddItemToObject(e, "speedup", jnum_or_null(r->speedup));
	}
	for (size_t i = 0; i < run->nwarnings; i++)
		cJSON_AddItemToArray(wa, cJSON_CreateString(run->warnings[i]));
	if (!(txt = cJSON_PrintUnformatted(o)))
		goto done;
	rc = avo_buf_puts(out, txt) < 0 || avo_buf_puts(out, "\n") < 0 ? AVO_ERROR : 0;
done:
	free(txt);
	cJSON_Delete(o);
	free(rows);
	avo_report_summary_dispose(&s);
	return rc < 0 ? avo_error_set(rc, "out of memory") : 0;
}
