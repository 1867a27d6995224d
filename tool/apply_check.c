/* Is a stored variant an edit of the original? With the marker scanner alone (no libclang,
 * so avo-apply can run it in every build): the same regions and knobs in the same order,
 * knob values their markers allow, and every byte outside region texts and knob values
 * identical to the original's. */
#include "apply_check.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	size_t begin, end; /* [begin, end) in its source */
	const char *name;
	const avo_astedit_knob *knob; /* NULL for a region */
} span;

static int by_begin(const void *a, const void *b)
{
	const span *x = a, *y = b;
	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Regions and knob values of `u` in source order; caller frees. */
static span *spans_of(const avo_astedit_unit *u, size_t *n)
{
	*n = u->nregions + u->nknobs;
	span *s = calloc(*n ? *n : 1, sizeof(*s));
	if (!s)
		return NULL;
	for (size_t i = 0; i < u->nregions; i++)
		s[i] = (span){u->regions[i].begin.offset, u->regions[i].end.offset, u->regions[i].name, NULL};
	for (size_t i = 0; i < u->nknobs; i++) {
		const avo_astedit_knob *k = &u->knobs[i];
		s[u->nregions + i] = (span){k->value_pos.offset, k->value_pos.offset + k->value_len, k->name, k};
	}
	qsort(s, *n, sizeof(*s), by_begin);
	return s;
}

static int knob_allows(const avo_astedit_knob *k, const char *v, size_t n)
{
	if (!k->is_range) {
		for (size_t i = 0; i < k->nvalues; i++)
			if (strlen(k->values[i]) == n && !memcmp(k->values[i], v, n))
				return 1;
		return 0;
	}
	char buf[32], *end;
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, v, n);
	buf[n] = '\0';
	long long x = strtoll(buf, &end, 0);
	return *end == '\0' && x >= k->lo && x <= k->hi;
}

int avo_apply_check_edit(const char *path, const char *orig, size_t olen, const char *var, size_t vlen)
{
	avo_astedit_unit *uo = NULL, *uv = NULL;
	span *so = NULL, *sv = NULL;
	size_t no = 0, nv = 0;
	unsigned line = 0, col = 0;
	int rc = avo_astedit_scan(&uo, path, orig, olen);
	if (rc < 0)
		goto done;
	if ((rc = avo_astedit_scan(&uv, path, var, vlen)) < 0) {
		rc = avo_error_wrap(AVO_EINVALID, "its markers do not scan");
		goto done;
	}
	if (!(so = spans_of(uo, &no)) || !(sv = spans_of(uv, &nv))) {
		rc = avo_oom();
		goto done;
	}
	if (no != nv) {
		rc = avo_error_set(AVO_EINVALID, "%s: it has %zu regions and knobs, the original %zu", path, nv, no);
		goto done;
	}
	size_t po = 0, pv = 0; /* ends of the previous spans */
	for (size_t i = 0; i <= no; i++) {
		size_t go = i < no ? so[i].begin : olen, gv = i < nv ? sv[i].begin : vlen;
		size_t common = go - po < gv - pv ? go - po : gv - pv, j = 0;
		while (j < common && orig[po + j] == var[pv + j])
			j++;
		if (j < common || go - po != gv - pv) {
			avo_astedit_line_col(var, pv + j, &line, &col);
			rc = avo_error_set(AVO_EINVALID, "%s:%u:%u: differs from the original outside its regions and knob values",
					   path, line, col);
			goto done;
		}
		if (i == no)
			break;
		if (strcmp(so[i].name, sv[i].name) || !so[i].knob != !sv[i].knob) {
			avo_astedit_line_col(var, sv[i].begin, &line, &col);
			rc = avo_error_set(AVO_EINVALID, "%s:%u:%u: %s \"%s\" where the original has \"%s\"", path, line,
					   col, sv[i].knob ? "knob" : "region", sv[i].name, so[i].name);
			goto done;
		}
		if (so[i].knob && !knob_allows(so[i].knob, var + sv[i].begin, sv[i].end - sv[i].begin)) {
			avo_astedit_line_col(var, sv[i].begin, &line, &col);
			rc = avo_error_set(AVO_EINVALID, "%s:%u:%u: knob %s = %.*s is not a value its marker allows", path,
					   line, col, sv[i].name, (int)(sv[i].end - sv[i].begin), var + sv[i].begin);
			goto done;
		}
		po = so[i].end;
		pv = sv[i].end;
	}
done:
	free(so);
	free(sv);
	avo_astedit_unit_free(uo);
	avo_astedit_unit_free(uv);
	return rc;
}
