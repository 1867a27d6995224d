/* avo_astedit: apply edits to a parsed kernel and validate the result. */
#include "astedit_int.h"
#include "avo_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- edits ----------------------------------------------------------------------------------- */

void avo_astedit_error_dispose(avo_astedit_error *e)
{
	if (!e)
		return;
	free(e->message);
	free(e->diagnostic);
	free(e->region);
	memset(e, 0, sizeof(*e));
}

static int edit_fail(avo_astedit_error *err, avo_astedit_error_kind kind, const char *region, unsigned line,
		     unsigned col, unsigned rline, const char *diag)
{
	int code = kind == AVO_ASTEDIT_ERR_PARSE ? AVO_EPARSE : kind == AVO_ASTEDIT_ERR_UNKNOWN_NAME ? AVO_ENOTFOUND : AVO_EINVALID;
	if (err) {
		avo_astedit_error_dispose(err);
		err->kind = kind;
		err->message = avo_strdup(avo_error_last());
		err->diagnostic = avo_strdup(diag);
		err->region = avo_strdup(region);
		err->line = line;
		err->col = col;
		err->region_line = rline;
	}
	return code;
}

typedef struct {
	size_t b, e;     /* span in the original */
	const char *text; /* replacement */
	size_t tlen;
	const char *region; /* region name, or NULL for a knob */
	const char *knob;
	size_t nb;       /* where it starts in the new source */
	size_t marker_back; /* regions: bytes from the marker to the region's text */
	size_t nasm;     /* asm keywords in the text */
} span_edit;

static int cmp_span(const void *a, const void *b)
{
	const span_edit *x = a, *y = b;
	return x->b < y->b ? -1 : x->b > y->b;
}

int avo_astedit_apply(char **out, size_t *out_len, const avo_astedit_unit *orig,
		      const avo_astedit_region_edit *redits, size_t nredits,
		      const avo_astedit_knob_edit *kedits, size_t nkedits, avo_astedit_error *err)
{
	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (err)
		memset(err, 0, sizeof(*err));
	size_t n = nredits + nkedits;
	span_edit *sp = calloc(n ? n : 1, sizeof(*sp));
	char **owned = calloc(n ? n : 1, sizeof(*owned));
	avo_buf nsrc = AVO_BUF_INIT;
	avo_astedit_unit *nu = NULL;
	avo_astedit__perr pe = {0};
	int rc = 0;
	if (!sp || !owned) {
		rc = avo_oom();
		goto done;
	}
	const char *path = orig->path;
	for (size_t i = 0; i < nredits; i++) {
		const avo_astedit_region *r = avo_astedit_region_find(orig, redits[i].region);
		if (!r) {
			avo_error_set(AVO_ENOTFOUND, "%s: no region named '%s'", path, redits[i].region ? redits[i].region : "(null)");
			rc = edit_fail(err, AVO_ASTEDIT_ERR_UNKNOWN_NAME, redits[i].region, 0, 0, 0, NULL);
			goto done;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(redits[j].region, r->name)) {
				avo_error_setloc(AVO_EINVALID, path, r->marker.line, r->marker.col, "region '%s' is edited twice", r->name);
				rc = edit_fail(err, AVO_ASTEDIT_ERR_DUPLICATE, r->name, r->marker.line, r->marker.col, 0, NULL);
				goto done;
			}
		const char *t = redits[i].text ? redits[i].text : "";
		size_t tl = strlen(t);
		if (tl && t[tl - 1] != '\n') { /* whole lines: the end marker keeps its own line */
			owned[i] = avo_sprintf("%s\n", t);
			if (!owned[i]) {
				rc = avo_oom();
				goto done;
			}
			t = owned[i];
			tl++;
		}
		/* refuse text that could reach outside its region, before clang sees it */
		static const char *markers[] = {"avo:region", "avo:end", "avo:knob"};
		for (size_t m = 0; m < 3; m++) {
			const char *hit = strstr(t, markers[m]);
			if (hit) {
				unsigned rl = 1;
				for (const char *q = t; q < hit; q++)
					rl += *q == '\n';
				avo_error_setloc(AVO_EINVALID, path, r->begin.line + rl - 1, 0,
						 "edit of region '%s' contains the marker '%s' (line %u of the new text)", r->name, markers[m], rl);
				rc = edit_fail(err, AVO_ASTEDIT_ERR_ESCAPE, r->name, r->begin.line + rl - 1, 0, rl, NULL);
				goto done;
			}
		}
		avo_astedit__lex lx;
		if ((rc = avo_astedit__lex_run(&lx, t, tl, 1)) < 0)
			goto done;
		size_t nasm = 0, bad = 0;
		char why[320];
		if (!lx.problem && avo_astedit__guard_text(orig, r, t, &lx, &nasm, &bad, why, sizeof(why))) {
			unsigned rl, col;
			avo_astedit_line_col(t, bad, &rl, &col);
			avo_error_setloc(AVO_EINVALID, path, r->begin.line + rl - 1, col,
					 "edit of region '%s' %s (line %u of the new text)", r->name, why, rl);
			avo_astedit__lex_dispose(&lx);
			rc = edit_fail(err, AVO_ASTEDIT_ERR_ESCAPE, r->name, r->begin.line + rl - 1, col, rl, NULL);
			goto done;
		}
		if (lx.problem) {
			unsigned rl, col;
			avo_astedit_line_col(t, lx.problem_off, &rl, &col);
			avo_error_setloc(AVO_EINVALID, path, r->begin.line + rl - 1, col,
					 "edit of region '%s' would escape it: %s (line %u of the new text)", r->name, lx.problem_msg, rl);
			avo_astedit__lex_dispose(&lx);
			rc = edit_fail(err, AVO_ASTEDIT_ERR_ESCAPE, r->name, r->begin.line + rl - 1, col, rl, NULL);
			goto done;
		}
		avo_astedit__lex_dispose(&lx);
		sp[i] = (span_edit){r->begin.offset, r->end.offset, t, tl, r->name, NULL, 0, r->begin.offset - r->marker.offset, nasm};
	}
	for (size_t i = 0; i < nkedits; i++) {
		const avo_astedit_knob *k = avo_astedit_knob_find(orig, kedits[i].knob);
		if (!k) {
			avo_error_set(AVO_ENOTFOUND, "%s: no knob named '%s'", path, kedits[i].knob ? kedits[i].knob : "(null)");
			rc = edit_fail(err, AVO_ASTEDIT_ERR_UNKNOWN_NAME, NULL, 0, 0, 0, NULL);
			goto done;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(kedits[j].knob, k->name)) {
				avo_error_setloc(AVO_EINVALID, path, k->marker.line, k->marker.col, "knob '%s' is edited twice", k->name);
				rc = edit_fail(err, AVO_ASTEDIT_ERR_DUPLICATE, NULL, k->marker.line, k->marker.col, 0, NULL);
				goto done;
			}
		const char *v = kedits[i].value ? kedits[i].value : "";
		long long val;
		int ok = avo_astedit__knob_literal(v, &val);
		if (ok && k->is_range)
			ok = val >= k->lo && val <= k->hi;
		else if (ok) {
			ok = 0;
			for (size_t j = 0; j < k->nvalues && !ok; j++)
				ok = !strcmp(k->values[j], v);
		}
		if (!ok) {
			avo_error_setloc(AVO_EINVALID, path, k->value_pos.line, k->value_pos.col,
					 "value '%s' is not allowed for knob '%s'", v, k->name);
			rc = edit_fail(err, AVO_ASTEDIT_ERR_VALUE, NULL, k->value_pos.line, k->value_pos.col, 0, NULL);
			goto done;
		}
		sp[nredits + i] = (span_edit){k->value_pos.offset, k->value_pos.offset + k->value_len, v, strlen(v), NULL, k->name, 0, 0, 0};
	}
	qsort(sp, n, sizeof(*sp), cmp_span);

	/* splice */
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		if ((rc = avo_buf_put(&nsrc, orig->source + at, sp[i].b - at)) < 0)
			goto done;
		sp[i].nb = nsrc.size;
		if ((rc = avo_buf_put(&nsrc, sp[i].text, sp[i].tlen)) < 0)
			goto done;
		at = sp[i].e;
	}
	if ((rc = avo_buf_put(&nsrc, orig->source + at, orig->source_len - at)) < 0)
		goto done;

	/* re-parse in memory with the same arguments */
	pe.want_asms = 1;
	rc = avo_astedit__parse_args(&nu, path, nsrc.ptr ? nsrc.ptr : "", nsrc.size, orig->clang_args, orig->nclang_args, &pe);
	if (rc < 0) {
		const char *region = NULL;
		unsigned rline = 0;
		for (size_t i = 0; i < n && pe.has_loc; i++) {
			if (sp[i].region && pe.off >= sp[i].nb && pe.off < sp[i].nb + sp[i].tlen) {
				region = sp[i].region;
				rline = 1;
				for (size_t q = sp[i].nb; q < pe.off; q++)
					rline += nsrc.ptr[q] == '\n';
			} else if (sp[i].region && pe.off == sp[i].nb - sp[i].marker_back) {
				region = sp[i].region; /* a check of the region as a whole failed */
			}
		}
		if (region && rline && rc == AVO_EPARSE) {
			char *m = avo_strdup(avo_error_last());
			avo_error_set(rc, "%s (line %u of region '%s')", m ? m : "", rline, region);
			free(m);
		}
		rc = edit_fail(err, rc == AVO_EPARSE ? AVO_ASTEDIT_ERR_PARSE : AVO_ASTEDIT_ERR_MARKERS, region,
			       pe.line, pe.col, rline, pe.diagnostic);
		goto done;
	}

	/* no clang error the original did not have (errors outside the marks are warnings) */
	size_t which = 0;
	int nd = avo_astedit__diagnostics_same(orig, nu, &which);
	if (nd != 0) {
		rc = nd < 0 ? avo_oom()
			    : avo_error_set(AVO_EPARSE, "%s (brought in by the edit)", nu->warnings[which]);
		if (nd > 0)
			rc = edit_fail(err, AVO_ASTEDIT_ERR_PARSE, NULL, 0, 0, 0, nu->warnings[which]);
		goto done;
	}

	/* inline asm the edits brought in sits in device-only functions */
	for (size_t i = 0; i < n; i++) {
		size_t bad = 0;
		char why[320];
		if (!sp[i].region || !sp[i].nasm ||
		    !avo_astedit__guard_asm(pe.asms, pe.nasms, sp[i].nb, sp[i].nb + sp[i].tlen, sp[i].nasm, &bad, why, sizeof(why)))
			continue;
		unsigned rl, col;
		avo_astedit_line_col(sp[i].text, bad - sp[i].nb, &rl, &col);
		const avo_astedit_region *r = avo_astedit_region_find(orig, sp[i].region);
		avo_error_setloc(AVO_EINVALID, path, r->begin.line + rl - 1, col, "edit of region '%s' %s (line %u of the new text)",
				 r->name, why, rl);
		rc = edit_fail(err, AVO_ASTEDIT_ERR_ESCAPE, r->name, r->begin.line + rl - 1, col, rl, NULL);
		goto done;
	}

	/* the same regions and knobs, where the splice put them */
	int same = nu->nregions == orig->nregions && nu->nknobs == orig->nknobs;
	for (size_t i = 0; same && i < orig->nregions; i++) {
		const avo_astedit_region *o = &orig->regions[i], *r = avo_astedit_region_find(nu, o->name);
		same = r && r->kind == o->kind &&
		       (o->kind != AVO_ASTEDIT_REGION_STATEMENTS || !strcmp(r->function, o->function));
		if (!same) {
			avo_error_setloc(AVO_EINVALID, path, o->marker.line, o->marker.col,
					 "after the edit, region '%s' is not the same kind of region in the same function", o->name);
			rc = edit_fail(err, AVO_ASTEDIT_ERR_MARKERS, o->name, o->marker.line, o->marker.col, 0, NULL);
			goto done;
		}
	}
	for (size_t i = 0; same && i < orig->nknobs; i++) {
		const avo_astedit_knob *o = &orig->knobs[i], *k = avo_astedit_knob_find(nu, o->name);
		same = k != NULL;
	}
	if (!same) {
		avo_error_set(AVO_EINVALID, "%s: after the edit the regions and knobs are not the same", path);
		rc = edit_fail(err, AVO_ASTEDIT_ERR_MARKERS, NULL, 0, 0, 0, NULL);
		goto done;
	}
	/* every byte outside the edited spans is the original's */
	at = 0;
	size_t nat = 0;
	for (size_t i = 0; i <= n; i++) {
		size_t ob = i < n ? sp[i].b : orig->source_len, gap = ob - at;
		if (nat + gap > nsrc.size || memcmp(orig->source + at, nsrc.ptr + nat, gap)) {
			avo_error_set(AVO_EINVALID, "%s: bytes outside the edited spans changed", path);
			rc = edit_fail(err, AVO_ASTEDIT_ERR_OUTSIDE, NULL, 0, 0, 0, NULL);
			goto done;
		}
		nat += gap;
		if (i < n) {
			nat += sp[i].tlen;
			at = sp[i].e;
			const avo_astedit_region *r = sp[i].region ? avo_astedit_region_find(nu, sp[i].region) : NULL;
			const avo_astedit_knob *k = sp[i].knob ? avo_astedit_knob_find(nu, sp[i].knob) : NULL;
			if ((r && (r->begin.offset != sp[i].nb || r->end.offset != sp[i].nb + sp[i].tlen)) ||
			    (k && (k->value_pos.offset != sp[i].nb || k->value_len != sp[i].tlen))) {
				avo_error_set(AVO_EINVALID, "%s: after the edit '%s' is not where the edit put it", path,
					      sp[i].region ? sp[i].region : sp[i].knob);
				rc = edit_fail(err, AVO_ASTEDIT_ERR_MARKERS, sp[i].region, 0, 0, 0, NULL);
				goto done;
			}
		}
	}
	if (nat != nsrc.size) {
		avo_error_set(AVO_EINVALID, "%s: bytes outside the edited spans changed", path);
		rc = edit_fail(err, AVO_ASTEDIT_ERR_OUTSIDE, NULL, 0, 0, 0, NULL);
		goto done;
	}
	if (out_len)
		*out_len = nsrc.size;
	*out = avo_buf_detach(&nsrc);
	rc = *out ? 0 : avo_oom();
done:
	avo_astedit_unit_free(nu);
	free(pe.diagnostic);
	free(pe.asms);
	avo_buf_dispose(&nsrc);
	for (size_t i = 0; owned && i < n; i++)
		free(owned[i]);
	free(owned);
	free(sp);
	return rc;
}
