/* What the report views share: the writer, number formats, the per-config rows (report_impl.h). */
#include "report_impl.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- shared pieces of the views ------------------------------------------------ */

void wp(W *w, const char *fmt, ...)
{
	if (w->err)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (avo_buf_vprintf(w->b, fmt, ap) < 0)
		w->err = AVO_ERROR;
	va_end(ap);
}

void we(W *w, const char *s)
{
	if (!w->err && avo_report_escape(w->b, s, (size_t)-1) < 0)
		w->err = AVO_ERROR;
}

/* %.Ng or a dash; `b` must hold 48 bytes. */
const char *fg(char *b, double v, int sig, const char *none)
{
	if (!is_num(v))
		return none;
	snprintf(b, 48, "%.*g", sig, v);
	return b;
}

/* Exact (round-trip) form for data-* attributes; "" when unknown. */
const char *fx(char *b, double v)
{
	if (!is_num(v))
		return "";
	snprintf(b, 48, "%.17g", v);
	return b;
}

const char *fdur(char *b, double s, const char *none)
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

const char *fit_label(const char *objective)
{
	if (!strcmp(objective, "tflops"))
		return "fitness (geomean TFLOP/s, higher is better)";
	if (!strcmp(objective, "ms"))
		return "fitness (1 / geomean ms, higher is better)";
	return "fitness (higher is better)";
}

/* Rows: the baseline's configs, then any the best has beyond them. */
int cfg_rows(cfg_row **out, size_t *n, const avo_report_run *run, const avo_report_summary *s)
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
int peer_cols(const char ***out, size_t *n, const avo_report_run *run)
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

double peer_value(const avo_report_peer *p, const char *col)
{
	for (size_t i = 0; p && i < p->ncols; i++)
		if (!strcmp(p->cols[i].name, col))
			return p->values[i];
	return NAN;
}
