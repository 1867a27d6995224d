/* The text pieces of reports: HTML escaping, the line diff, the textual marker scan (report.h). */
#include "report_impl.h"

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
			rc = avo_oom();
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
			int rc = text ? pair_add(out, n, &cap, name, text) : avo_oom();
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
