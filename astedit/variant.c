/* Is a whole file an edit of a parsed original? The file's markers are scanned, its region
 * texts and knob values become edits of the original, and the original with those edits
 * applied (and validated) must be the file, byte for byte. Used by `avo eval --variant`,
 * and wherever a stored variant is checked against its original. */
#include "astedit_int.h"
#include "avo_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *bare(const char *qualified)
{
	const char *p = qualified, *q;
	while ((q = strstr(p, "::")))
		p = q + 2;
	return p;
}

static int fail(avo_astedit_error *err, avo_astedit_error_kind kind, const char *region, unsigned line, unsigned col)
{
	int code = kind == AVO_ASTEDIT_ERR_PARSE ? AVO_EPARSE : AVO_EINVALID;
	if (err) {
		avo_astedit_error_dispose(err);
		err->kind = kind;
		err->message = avo_strdup(avo_error_last());
		err->region = avo_strdup(region);
		err->line = line;
		err->col = col;
	}
	return code;
}

int avo_astedit_variant_check(const avo_astedit_unit *orig, const char *vpath, const char *vsrc, size_t vlen,
			      avo_astedit_error *err)
{
	avo_astedit_unit *v = NULL;
	avo_astedit_region_edit *re = NULL;
	avo_astedit_knob_edit *ke = NULL;
	char *out = NULL;
	size_t out_len = 0;
	int rc;
	if (err)
		memset(err, 0, sizeof(*err));
	if ((rc = avo_astedit__scan(&v, vpath, vsrc, vlen)) < 0)
		return fail(err, AVO_ASTEDIT_ERR_MARKERS, NULL, 0, 0);
	re = calloc(orig->nregions + 1, sizeof(*re));
	ke = calloc(orig->nknobs + 1, sizeof(*ke));
	if (!re || !ke) {
		rc = avo_oom();
		goto done;
	}
	for (size_t i = 0; i < orig->nregions; i++) {
		const avo_astedit_region *o = &orig->regions[i], *r = avo_astedit_region_find(v, o->name);
		if (!r) {
			avo_error_set(AVO_EINVALID, "%s: region '%s' (line %u of %s) is missing: its markers were changed or deleted",
				      vpath, o->name, o->marker.line, orig->path);
			rc = fail(err, AVO_ASTEDIT_ERR_MARKERS, o->name, 0, 0);
			goto done;
		}
		re[i].region = o->name;
		re[i].text = NULL; /* set below, after every lookup can fail */
	}
	if (v->nregions != orig->nregions || v->nknobs != orig->nknobs) {
		const avo_astedit_region *extra = v->nregions > orig->nregions ? &v->regions[v->nregions - 1] : NULL;
		avo_error_setloc(AVO_EINVALID, vpath, extra ? extra->marker.line : 1, extra ? extra->marker.col : 1,
				 "the variant has %zu regions and %zu knobs; the original %s has %zu and %zu", v->nregions,
				 v->nknobs, orig->path, orig->nregions, orig->nknobs);
		rc = fail(err, AVO_ASTEDIT_ERR_MARKERS, NULL, extra ? extra->marker.line : 1, 1);
		goto done;
	}
	char **texts = calloc(orig->nregions + 1, sizeof(*texts));
	if (!texts) {
		rc = avo_oom();
		goto done;
	}
	for (size_t i = 0; i < orig->nregions; i++) {
		texts[i] = avo_astedit_region_text(v, avo_astedit_region_find(v, orig->regions[i].name));
		re[i].text = texts[i] ? texts[i] : "";
	}
	/* knobs in file order: the original's names may be qualified (scale_a::UNROLL) */
	for (size_t i = 0; i < orig->nknobs && rc == 0; i++) {
		const avo_astedit_knob *o = &orig->knobs[i], *k = &v->knobs[i];
		if (strcmp(bare(o->name), k->name)) {
			avo_error_setloc(AVO_EINVALID, vpath, k->marker.line, k->marker.col,
					 "knob '%s' stands where the original has knob '%s'", k->name, o->name);
			rc = fail(err, AVO_ASTEDIT_ERR_MARKERS, NULL, k->marker.line, k->marker.col);
			break;
		}
		int ok = 0;
		long long val;
		if (o->is_range)
			ok = avo_astedit__knob_literal(k->value, &val) && val >= o->lo && val <= o->hi;
		for (size_t j = 0; !o->is_range && j < o->nvalues && !ok; j++)
			ok = !strcmp(o->values[j], k->value);
		if (!ok) {
			avo_error_setloc(AVO_EINVALID, vpath, k->value_pos.line, k->value_pos.col,
					 "value '%s' is not allowed for knob '%s' (the original's marker allows it not)", k->value, o->name);
			rc = fail(err, AVO_ASTEDIT_ERR_VALUE, NULL, k->value_pos.line, k->value_pos.col);
			break;
		}
		ke[i].knob = o->name;
		ke[i].value = k->value;
	}
	if (rc == 0) {
		avo_astedit_error ae;
		rc = avo_astedit_apply(&out, &out_len, orig, re, orig->nregions, ke, orig->nknobs, &ae);
		if (rc < 0) {
			/* name the variant's line: the region's line in the variant, else apply's */
			const avo_astedit_region *r = ae.region ? avo_astedit_region_find(v, ae.region) : NULL;
			unsigned line = r && ae.region_line ? r->begin.line + ae.region_line - 1 : r ? r->marker.line : ae.line;
			const char *m = ae.message ? ae.message : avo_error_last(), *tail = strstr(m, ": ");
			avo_error_setloc(rc, vpath, line ? line : 1, r && ae.region_line ? ae.col : 1, "%s", tail ? tail + 2 : m);
			rc = fail(err, ae.kind, ae.region, line, ae.col);
			avo_astedit_error_dispose(&ae);
		} else if (out_len != vlen || memcmp(out, vsrc, vlen)) {
			size_t d = 0;
			while (d < out_len && d < vlen && out[d] == vsrc[d])
				d++;
			unsigned line = 1, col = 1;
			for (size_t q = 0; q < d; q++) {
				line += vsrc[q] == '\n';
				col = vsrc[q] == '\n' ? 1 : col + 1;
			}
			avo_error_setloc(AVO_EINVALID, vpath, line, col,
					 "the variant differs from %s outside every region and knob value", orig->path);
			rc = fail(err, AVO_ASTEDIT_ERR_OUTSIDE, NULL, line, col);
		}
	}
	for (size_t i = 0; i < orig->nregions; i++)
		free(texts[i]);
	free(texts);
done:
	free(out);
	free(re);
	free(ke);
	avo_astedit_unit_free(v);
	return rc;
}
