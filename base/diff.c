/* The one line diff (LCS after the common prefix and suffix); its readers render it: the
 * report's unified hunks (engine/report_diff.c) and the agent's prompt (agent/tools.c). */
#include "avo_base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DIFF_MAX_CELLS 4000000u /* LCS table limit; past it the middle is shown as -all +all */

static int split_lines(avo_diff_line **out, size_t *n, const char *s)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	while (s && *s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		if (avo_array_grow((void **)out, &cap, *n + 1, sizeof(**out)) < 0)
			return AVO_ERROR;
		(*out)[(*n)++] = (avo_diff_line){s, len};
		s += len + (nl ? 1 : 0);
	}
	return 0;
}

static int line_eq(const avo_diff_line *a, const avo_diff_line *b)
{
	return a->n == b->n && !memcmp(a->p, b->p, a->n);
}

static int push_op(avo_diff *d, size_t *cap, char op, size_t ai, size_t bi)
{
	if (avo_array_grow((void **)&d->ops, cap, d->nops + 1, sizeof(*d->ops)) < 0)
		return AVO_ERROR;
	d->ops[d->nops++] = (avo_diff_op){op, ai, bi};
	return 0;
}

/* The middle a[pre..pre+n) -> b[pre..pre+m) by LCS; t[i][j] = LCS length of a[pre+i..] and
 * b[pre+j..]; min(n,m) <= 2000 under the cell limit, so 16 bits hold it. */
static int lcs_middle(avo_diff *d, size_t *cap, size_t pre, size_t n, size_t m)
{
	size_t w = m + 1;
	uint16_t *t = calloc((n + 1) * w, sizeof(*t));
	if (!t)
		return avo_oom();
	const avo_diff_line *a = d->a + pre, *b = d->b + pre;
	for (size_t i = n; i-- > 0;)
		for (size_t j = m; j-- > 0;)
			t[i * w + j] = line_eq(&a[i], &b[j]) ? (uint16_t)(t[(i + 1) * w + j + 1] + 1)
			    : (t[(i + 1) * w + j] >= t[i * w + j + 1] ? t[(i + 1) * w + j] : t[i * w + j + 1]);
	size_t i = 0, j = 0;
	int rc = 0;
	while (rc == 0 && (i < n || j < m)) {
		if (i < n && j < m && line_eq(&a[i], &b[j]))
			rc = push_op(d, cap, ' ', pre + i++, pre + j++);
		else if (j == m || (i < n && t[(i + 1) * w + j] >= t[i * w + j + 1]))
			rc = push_op(d, cap, '-', pre + i++, pre + j);
		else
			rc = push_op(d, cap, '+', pre + i, pre + j++);
	}
	free(t);
	return rc;
}

int avo_diff_lines(avo_diff *out, const char *a, const char *b)
{
	avo_diff d = {0};
	size_t cap = 0;
	int rc = split_lines(&d.a, &d.na, a);
	if (rc == 0)
		rc = split_lines(&d.b, &d.nb, b);
	size_t pre = 0, suf = 0;
	while (rc == 0 && pre < d.na && pre < d.nb && line_eq(&d.a[pre], &d.b[pre]))
		pre++;
	while (rc == 0 && suf < d.na - pre && suf < d.nb - pre &&
	       line_eq(&d.a[d.na - 1 - suf], &d.b[d.nb - 1 - suf]))
		suf++;
	size_t n = d.na - pre - suf, m = d.nb - pre - suf;
	for (size_t i = 0; rc == 0 && i < pre; i++)
		rc = push_op(&d, &cap, ' ', i, i);
	if (rc == 0 && n && m && (double)(n + 1) * (double)(m + 1) <= DIFF_MAX_CELLS) {
		rc = lcs_middle(&d, &cap, pre, n, m);
	} else if (rc == 0) {
		d.whole = n && m;
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = push_op(&d, &cap, '-', pre + i, pre);
		for (size_t j = 0; rc == 0 && j < m; j++)
			rc = push_op(&d, &cap, '+', pre + n, pre + j);
	}
	for (size_t i = 0; rc == 0 && i < suf; i++)
		rc = push_op(&d, &cap, ' ', d.na - suf + i, d.nb - suf + i);
	if (rc < 0) {
		avo_diff_dispose(&d);
		return rc;
	}
	*out = d;
	return 0;
}

void avo_diff_dispose(avo_diff *d)
{
	free(d->a);
	free(d->b);
	free(d->ops);
	memset(d, 0, sizeof(*d));
}
