/* Which clang diagnostics refuse a kernel. Errors in system headers (the CUDA toolkit,
 * clang's wrappers) never count: they are clang-versus-nvcc differences. Errors in the
 * marked code (a region's text, a knob's line) and errors without a location (bad
 * arguments) and fatal errors (a missing header) refuse the file. Errors elsewhere (code the user did not mark, the user's own
 * headers) become warnings on the unit: the parse is still used, and an edit must not add
 * any (apply compares them). With all_errors, a refusal lists every error, not just the first. */
#include "astedit_int.h"
#include "avo_base.h"

#include <clang-c/Index.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int in_marked(const avo_astedit_unit *u, size_t off, unsigned line)
{
	for (size_t i = 0; i < u->nregions; i++)
		if (off >= u->regions[i].begin.offset && off < u->regions[i].end.offset)
			return 1;
	for (size_t i = 0; i < u->nknobs; i++)
		if (line == u->knobs[i].marker.line || line == u->knobs[i].value_pos.line)
			return 1;
	return 0;
}

int avo_astedit__add_warning(avo_astedit_unit *u, char *w)
{
	char **nw = w ? realloc(u->warnings, (u->nwarnings + 1) * sizeof(*nw)) : NULL;
	if (!nw) {
		free(w);
		return avo_oom();
	}
	u->warnings = nw;
	u->warnings[u->nwarnings++] = w;
	return 0;
}

/* "file:line:col: error: text", with " (in a header included by K)" for headers. */
static char *describe(CXDiagnostic d, CXFile main, const char *path, int *in_main, unsigned *line, unsigned *col,
		      unsigned *off)
{
	CXFile f;
	clang_getFileLocation(clang_getDiagnosticLocation(d), &f, line, col, off);
	CXString sp = clang_getDiagnosticSpelling(d);
	char *m;
	*in_main = f && main && clang_File_isEqual(f, main);
	if (*in_main) {
		m = avo_sprintf("%s:%u:%u: error: %s", path, *line, *col, clang_getCString(sp));
	} else if (f) {
		CXString fn = clang_getFileName(f);
		m = avo_sprintf("%s:%u:%u: error: %s (in a header included by %s)", clang_getCString(fn), *line, *col,
				clang_getCString(sp), path);
		clang_disposeString(fn);
	} else {
		m = avo_sprintf("%s: clang: error: %s", path, clang_getCString(sp));
	}
	clang_disposeString(sp);
	return m;
}

int avo_astedit__diagnostics(CXTranslationUnit tu, avo_astedit_unit *u, const char *path, avo_astedit__perr *pe)
{
	CXFile main = clang_getFile(tu, path);
	unsigned nd = clang_getNumDiagnostics(tu), nbad = 0;
	avo_buf all = AVO_BUF_INIT;
	char *first = NULL;
	int rc = 0;
	for (unsigned i = 0; i < nd && rc == 0; i++) {
		CXDiagnostic d = clang_getDiagnostic(tu, i);
		CXSourceLocation loc = clang_getDiagnosticLocation(d);
		CXFile f;
		clang_getFileLocation(loc, &f, NULL, NULL, NULL);
		if (clang_getDiagnosticSeverity(d) < CXDiagnostic_Error || (f && clang_Location_isInSystemHeader(loc))) {
			clang_disposeDiagnostic(d);
			continue;
		}
		int in_main;
		unsigned l = 0, col = 0, off = 0;
		char *m = describe(d, main, path, &in_main, &l, &col, &off);
		if (!m) {
			clang_disposeDiagnostic(d);
			rc = avo_oom();
			break;
		}
		/* a fatal error (a missing header; KeepGoing makes it a plain error) leaves
		 * nothing to trust */
		int fatal = clang_getDiagnosticSeverity(d) == CXDiagnostic_Fatal || strstr(m, "' file not found");
		if (f && !fatal && !(in_main && in_marked(u, off, l))) {
			rc = avo_astedit__add_warning(u, m);
			clang_disposeDiagnostic(d);
			continue;
		}
		if (!nbad++) {
			CXString full = clang_formatDiagnostic(d, CXDiagnostic_DisplaySourceLocation | CXDiagnostic_DisplayColumn);
			pe->diagnostic = avo_strdup(clang_getCString(full));
			clang_disposeString(full);
			if (in_main) {
				pe->has_loc = 1;
				pe->off = off;
				pe->line = l;
				pe->col = col;
			}
			first = avo_strdup(m);
		}
		avo_buf_printf(&all, "%s%s", all.size ? "\n" : "", m);
		free(m);
		clang_disposeDiagnostic(d);
	}
	if (rc == 0 && nbad) {
		if (pe->all_errors) {
			const char *a = avo_buf_cstr(&all);
			rc = avo_error_set(AVO_EPARSE, "%.3900s%s", a, strlen(a) > 3900 ? "\n... (more errors cut)" : "");
		} else {
			char more[96] = "";
			if (nbad > 1)
				snprintf(more, sizeof(more), " (and %u more error%s; --all-errors shows them)", nbad - 1, nbad > 2 ? "s" : "");
			rc = avo_error_set(AVO_EPARSE, "%s%s", first ? first : "", more);
		}
	}
	free(first);
	avo_buf_dispose(&all);
	return rc;
}

/* An edit may bring no clang error that the original did not have (by text: the lines move). */
int avo_astedit__diagnostics_same(const avo_astedit_unit *orig, const avo_astedit_unit *nu, size_t *which)
{
	char *used = calloc(orig->nwarnings + 1, 1);
	if (!used)
		return -1;
	for (size_t i = 0; i < nu->nwarnings; i++) {
		const char *a = strstr(nu->warnings[i], ": error: ");
		int found = 0;
		if (!a)
			continue; /* avo's own notes (knobs), not clang's errors */
		for (size_t j = 0; j < orig->nwarnings && !found && a; j++) {
			const char *b = strstr(orig->warnings[j], ": error: ");
			if (!used[j] && b && !strcmp(a, b))
				found = used[j] = 1;
		}
		if (!found) {
			*which = i;
			free(used);
			return 1;
		}
	}
	free(used);
	return 0;
}

/* Knobs that change nothing: in code the preprocessor skips (#if 0, the other side of an
 * #ifdef), or a #define the command line also defines (-DNAME wins over the file's). */
int avo_astedit__knob_notes(CXTranslationUnit tu, avo_astedit_unit *u, const char *path, char **args, size_t nargs)
{
	CXFile main = clang_getFile(tu, path);
	CXSourceRangeList *sk = main ? clang_getSkippedRanges(tu, main) : NULL;
	int rc = 0;
	for (size_t i = 0; i < u->nknobs && rc == 0; i++) {
		const avo_astedit_knob *k = &u->knobs[i];
		int skipped = 0;
		for (unsigned j = 0; sk && j < sk->count && !skipped; j++) {
			unsigned b, e;
			clang_getFileLocation(clang_getRangeStart(sk->ranges[j]), NULL, NULL, NULL, &b);
			clang_getFileLocation(clang_getRangeEnd(sk->ranges[j]), NULL, NULL, NULL, &e);
			skipped = k->marker.offset >= b && k->marker.offset < e;
		}
		if (skipped)
			rc = avo_astedit__add_warning(u, avo_sprintf("%s:%u:%u: knob '%s' is in code the preprocessor skips in this parse; its value may change nothing",
								 path, k->marker.line, k->marker.col, k->name));
		size_t nl = strlen(k->name);
		for (size_t j = 0; rc == 0 && k->kind == AVO_ASTEDIT_KNOB_DEFINE && j < nargs; j++) {
			const char *a = args[j];
			if (!strcmp(a, "-D") && j + 1 < nargs)
				a = args[++j];
			else if (!strncmp(a, "-D", 2))
				a += 2;
			else
				continue;
			if (!strncmp(a, k->name, nl) && (a[nl] == '\0' || a[nl] == '=')) {
				rc = avo_astedit__add_warning(u, avo_sprintf("%s:%u:%u: knob '%s' is also defined on the command line (-D%s), which the file's #define then redefines",
									 path, k->marker.line, k->marker.col, k->name, a));
				break;
			}
		}
	}
	if (sk)
		clang_disposeSourceRangeList(sk);
	return rc;
}

typedef struct {
	avo_astedit_unit *u;
	CXTranslationUnit tu;
	CXFile main;
	int rc;
} incl_ctx;

static void inclusion(CXFile f, CXSourceLocation *stack, unsigned depth, CXClientData data)
{
	(void)stack;
	incl_ctx *c = data;
	if (c->rc < 0 || depth == 0 || !f || (c->main && clang_File_isEqual(f, c->main)) ||
	    clang_Location_isInSystemHeader(clang_getLocationForOffset(c->tu, f, 0)))
		return;
	size_t n = 0;
	const char *text = clang_getFileContents(c->tu, f, &n);
	avo_astedit__lex lx;
	if (!text || avo_astedit__lex_run(&lx, text, n, 0) < 0)
		return;
	for (size_t i = 0; i < lx.ncomments; i++) {
		const char *b = text + lx.comments[i].start + 2;
		size_t len = lx.comments[i].end - lx.comments[i].start - 2;
		while (len && (*b == ' ' || *b == '\t'))
			b++, len--;
		if (len < 5 || strncmp(b, "avo:", 4))
			continue;
		unsigned line = 1;
		for (const char *q = text; q < b; q++)
			line += *q == '\n';
		CXString fn = clang_getFileName(f);
		c->rc = avo_astedit__add_warning(c->u, avo_sprintf("%s:%u: an avo marker in a header the kernel includes: avo edits only the kernel file, so it is ignored (mark the kernel, or tune the header as the kernel)",
								 clang_getCString(fn), line));
		clang_disposeString(fn);
		break;
	}
	avo_astedit__lex_dispose(&lx);
}

/* Markers in the user's headers are not the kernel's: say so instead of ignoring them. */
int avo_astedit__header_notes(CXTranslationUnit tu, avo_astedit_unit *u, const char *path)
{
	incl_ctx c = {u, tu, clang_getFile(tu, path), 0};
	clang_getInclusions(tu, inclusion, &c);
	return c.rc;
}
