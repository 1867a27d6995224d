/* The text pieces of reports: HTML escaping, the line diff's hunks, the regions and knobs of
 * a stored source (report.h). */
#include "report_impl.h"
#include "avo_astedit.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#define DIFF_CONTEXT 3

static int diff_line(avo_buf *out, char op, const avo_diff_line *l, int html)
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

/* Unified hunks of base/diff.c's edit script, DIFF_CONTEXT lines of context. */
int avo_report_diff(avo_buf *out, const char *a, const char *b, int html, int *changed)
{
	avo_diff d;
	if (changed)
		*changed = 0;
	int rc = avo_diff_lines(&d, a, b);
	if (rc < 0)
		return rc;
	const avo_diff_op *ops = d.ops;
	size_t nops = d.nops;
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
			if ((rc = diff_line(out, ops[h].op, ops[h].op == '+' ? &d.b[ops[h].bi] : &d.a[ops[h].ai], html)) < 0)
				goto done;
		i = end;
	}
done:
	avo_diff_dispose(&d);
	return rc;
}

/* Regions and knobs of a stored source by astedit's marker scanner (no libclang): the one
 * reader of markers. A source it refuses (no run records one) shows none. */
static int scan_pairs(avo_report_pair **out, size_t *n, const char *src, int knobs)
{
	avo_astedit_unit *u = NULL;
	size_t cap = 0;
	int rc = 0;
	*out = NULL;
	*n = 0;
	if (avo_astedit_scan(&u, "variant", src ? src : "", src ? strlen(src) : 0) < 0) {
		avo_error_clear();
		return 0;
	}
	for (size_t i = 0; rc == 0 && i < (knobs ? u->nknobs : u->nregions); i++) {
		if (knobs) {
			rc = pair_add(out, n, &cap, u->knobs[i].name, u->knobs[i].value);
			continue;
		}
		char *text = avo_astedit_region_text(u, &u->regions[i]);
		rc = text ? pair_add(out, n, &cap, u->regions[i].name, text) : avo_oom();
		free(text);
	}
	avo_astedit_unit_free(u);
	if (rc < 0) {
		avo_report_pairs_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int avo_report_scan_regions(avo_report_pair **out, size_t *n, const char *src)
{
	return scan_pairs(out, n, src, 0);
}

int avo_report_scan_knobs(avo_report_pair **out, size_t *n, const char *src)
{
	return scan_pairs(out, n, src, 1);
}
