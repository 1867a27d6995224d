/* avo_astedit: parse with libclang, check regions and knobs against the AST, apply edits.
 *
 * Policy on clang diagnostics: errors (and fatal errors) located in the parsed file itself,
 * in a header of the user's (not a system header), or with no location (driver errors)
 * refuse the file. Errors inside system headers (the CUDA toolkit, clang's wrappers) are
 * ignored: they are clang-versus-nvcc differences, and when they do break the file the
 * breakage shows up as an error in the file itself. `-ferror-limit=0` keeps clang from
 * stopping before it reaches the file's own errors. Warnings never count. */
#include "astedit_int.h"
#include "avo_base.h"

#include <clang-c/Index.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define strv_add avo_astedit__strv_add
#define strv_dispose avo_astedit__strv_dispose

/* ---- the AST walk --------------------------------------------------------------------------- */

typedef struct {
	size_t b, e;
} rng;

typedef struct {
	rng r;
	char *func; /* enclosing named function, borrowed from the walk's names */
	size_t first_child, nchildren;
} compound;

typedef struct {
	rng r;
	int compound;
} child;

typedef struct {
	rng r;
	int container;
	int ok; /* a function declaration/definition (or extern "C" of only those) */
	int definition;
	char *name;
} tdecl;

typedef struct {
	rng r;
	char *name;
	char *scope; /* "ns::Cls<64>::fn": where it is declared ("" at file scope) */
	int integer;
} vdecl;

typedef struct {
	const char *s;
	size_t len;
	CXFile main;
	compound *comp;
	size_t ncomp, acomp;
	child *kids;
	size_t nkids, akids;
	tdecl *decls;
	size_t ndecls, adecls;
	rng *conts;
	size_t nconts, aconts;
	vdecl *vars;
	size_t nvars, avars;
	strv names; /* owns the strings the arrays point to */
	int has_main;       /* main() defined at file scope, at main_off */
	size_t main_off;
	avo_astedit__asm *asms; /* asm statements, for apply's device-code rule */
	size_t nasms, aasms;
	int oom;
} walk;

typedef struct {
	walk *w;
	int in_decls;  /* children are declarations of `container` (-1: the file) */
	int container;
	int comp;      /* children are statements of this compound, or -1 */
	const char *func;
	int device; /* inside a function that runs only on the device (__global__, or __device__ alone) */
} frame;

static int grow_arr(void **p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t na = *cap ? 2 * *cap : 64;
	void *q = realloc(*p, na * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = na;
	return 0;
}

static enum CXChildVisitResult last_end_visit(CXCursor c, CXCursor parent, CXClientData data)
{
	(void)parent;
	void **d = data;
	walk *w = d[0];
	unsigned *end = d[1], o;
	CXFile f;
	clang_getFileLocation(clang_getRangeEnd(clang_getCursorExtent(c)), &f, NULL, NULL, &o);
	if (f && clang_File_isEqual(f, w->main) && o > *end)
		*end = o;
	return CXChildVisit_Continue;
}

static int extent(walk *w, CXCursor c, rng *out)
{
	CXSourceRange r = clang_getCursorExtent(c);
	CXFile f1, f2;
	unsigned o1, o2;
	clang_getFileLocation(clang_getRangeStart(r), &f1, NULL, NULL, &o1);
	clang_getFileLocation(clang_getRangeEnd(r), &f2, NULL, NULL, &o2);
	if ((!f1 || !f2) && clang_getCursorKind(c) == CXCursor_FunctionTemplate) {
		/* an abbreviated template (`void f(Real auto x)`) has no extent (its template
		 * parameter list is invented): from the line of its name to its last child's end */
		clang_getFileLocation(clang_getCursorLocation(c), &f1, NULL, NULL, &o1);
		while (f1 && o1 > 0 && o1 <= w->len && w->s[o1 - 1] != '\n')
			o1--;
		void *d[2] = {w, &o2};
		o2 = 0;
		clang_visitChildren(c, last_end_visit, d);
		f2 = o2 ? f1 : NULL;
	}
	if (!f1 || !f2 || !clang_File_isEqual(f1, w->main) || !clang_File_isEqual(f2, w->main) || o2 < o1 || o2 > w->len)
		return 0;
	out->b = o1;
	out->e = o2;
	return 1;
}

/* Skip blanks and comments from `i`; returns the next code byte's offset (or len). */
static size_t skip_blank(const char *s, size_t len, size_t i)
{
	for (;;) {
		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i + 1 < len && s[i] == '/' && s[i + 1] == '/') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
			const char *e = strstr(s + i + 2, "*/");
			i = e ? (size_t)(e - s) + 2 : len;
		} else {
			return i;
		}
	}
}

static char *intern(walk *w, const char *x)
{
	if (strv_add(&w->names, x ? x : "") < 0) {
		w->oom = 1;
		return NULL;
	}
	return w->names.v[w->names.n - 1];
}

static int is_function_kind(enum CXCursorKind k)
{
	return k == CXCursor_FunctionDecl || k == CXCursor_CXXMethod || k == CXCursor_Constructor ||
	       k == CXCursor_Destructor || k == CXCursor_ConversionFunction || k == CXCursor_FunctionTemplate;
}

static int is_container_kind(enum CXCursorKind k)
{
	return k == CXCursor_Namespace || k == CXCursor_LinkageSpec || k == CXCursor_StructDecl ||
	       k == CXCursor_ClassDecl || k == CXCursor_UnionDecl || k == CXCursor_ClassTemplate;
}

static enum CXChildVisitResult attr_visit(CXCursor c, CXCursor parent, CXClientData data)
{
	(void)parent;
	void **d = data;
	walk *w = d[0];
	rng *r = d[1];
	rng a;
	if (clang_isAttribute(clang_getCursorKind(c)) && extent(w, c, &a) && a.b < r->b)
		r->b = a.b;
	return CXChildVisit_Continue;
}

static enum CXChildVisitResult linkage_visit(CXCursor c, CXCursor parent, CXClientData data)
{
	(void)parent;
	int *ok = data;
	if (!is_function_kind(clang_getCursorKind(c)))
		*ok = 0;
	return CXChildVisit_Continue;
}

/* The scopes that declare `c`, outermost first, joined by "::"; class template
 * specializations keep their arguments (`Cfg<64>`), so two of them differ. */
static char *scope_name(CXCursor c)
{
	avo_buf b = AVO_BUF_INIT;
	for (CXCursor p = clang_getCursorSemanticParent(c); !clang_Cursor_isNull(p); p = clang_getCursorSemanticParent(p)) {
		enum CXCursorKind k = clang_getCursorKind(p);
		if (k == CXCursor_TranslationUnit || clang_isInvalid(k))
			break;
		CXString sp = is_container_kind(k) || k == CXCursor_ClassTemplatePartialSpecialization
				      ? clang_getCursorDisplayName(p) : clang_getCursorSpelling(p);
		const char *n = clang_getCString(sp);
		if (k != CXCursor_LinkageSpec) {
			char *cur = avo_buf_detach(&b);
			avo_buf_printf(&b, "%s%s%s", n && *n ? n : "(anonymous)", cur && *cur ? "::" : "", cur ? cur : "");
			free(cur);
		}
		clang_disposeString(sp);
	}
	return avo_buf_detach(&b);
}

/* Bit 1: __global__ or __device__; bit 2: __host__. */
static enum CXChildVisitResult cuda_attr_visit(CXCursor c, CXCursor parent, CXClientData data)
{
	(void)parent;
	unsigned *a = data;
	enum CXCursorKind k = clang_getCursorKind(c);
	if (k == CXCursor_CUDAGlobalAttr || k == CXCursor_CUDADeviceAttr)
		*a |= 1;
	else if (k == CXCursor_CUDAHostAttr)
		*a |= 2;
	return CXChildVisit_Continue;
}

static enum CXChildVisitResult visit(CXCursor c, CXCursor parent, CXClientData data)
{
	(void)parent;
	frame *fr = data;
	walk *w = fr->w;
	rng r;
	enum CXCursorKind k = clang_getCursorKind(c);
	if (clang_isPreprocessing(k)) /* the preprocessing record (for skipped ranges) is no AST */
		return CXChildVisit_Continue;
	if (w->oom || !extent(w, c, &r))
		return CXChildVisit_Continue; /* outside the file: skip the whole subtree */
	frame sub = {w, 0, -1, -1, fr->func, fr->device};

	/* statements end before their ';' in clang's extents; take it in, unless it is the
	 * next statement (a null statement) */
	rng full = r;
	if (fr->comp >= 0 || fr->in_decls) {
		if (fr->in_decls) {
			void *d[2] = {w, &full};
			clang_visitChildren(c, attr_visit, d);
		}
		if (full.e > 0 && w->s[full.e - 1] != ';' && w->s[full.e - 1] != '}') {
			size_t n = skip_blank(w->s, w->len, full.e);
			if (n < w->len && w->s[n] == ';')
				full.e = n + 1;
		} else if (full.e > 0 && w->s[full.e - 1] == '}' && fr->in_decls) {
			size_t n = skip_blank(w->s, w->len, full.e);
			if (n < w->len && w->s[n] == ';')
				full.e = n + 1;
		}
	}
	if (fr->comp >= 0) {
		if (grow_arr((void **)&w->kids, &w->akids, w->nkids, sizeof(*w->kids)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		/* a ';' taken in must not be the next sibling's null statement */
		if (w->nkids > 0 && w->kids[w->nkids - 1].compound == fr->comp && w->kids[w->nkids - 1].r.e > r.b)
			w->kids[w->nkids - 1].r.e = r.b;
		w->kids[w->nkids].r = full;
		w->kids[w->nkids].compound = fr->comp;
		w->nkids++;
	}
	if (fr->in_decls) {
		if (grow_arr((void **)&w->decls, &w->adecls, w->ndecls, sizeof(*w->decls)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		tdecl *d = &w->decls[w->ndecls++];
		d->r = full;
		d->container = fr->container;
		d->ok = is_function_kind(k);
		d->definition = d->ok && clang_isCursorDefinition(c);
		if (k == CXCursor_LinkageSpec) {
			d->ok = 1;
			clang_visitChildren(c, linkage_visit, &d->ok);
		}
		CXString sp = clang_getCursorSpelling(c);
		d->name = intern(w, clang_getCString(sp));
		clang_disposeString(sp);
	}
	if (is_function_kind(k)) {
		CXString sp = clang_getCursorSpelling(c);
		sub.func = intern(w, clang_getCString(sp));
		if (fr->in_decls && fr->container < 0 && k == CXCursor_FunctionDecl && sub.func && !strcmp(sub.func, "main") &&
		    clang_isCursorDefinition(c) && !w->has_main) {
			w->has_main = 1;
			w->main_off = r.b;
		}
		clang_disposeString(sp);
		unsigned attrs = 0;
		clang_visitChildren(c, cuda_attr_visit, &attrs);
		sub.device = (attrs & 1) && !(attrs & 2);
	}
	if (k == CXCursor_AsmStmt || k == CXCursor_MSAsmStmt) {
		if (grow_arr((void **)&w->asms, &w->aasms, w->nasms, sizeof(*w->asms)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		w->asms[w->nasms++] = (avo_astedit__asm){r.b, r.e, fr->device};
	}
	if (k == CXCursor_CompoundStmt) {
		if (grow_arr((void **)&w->comp, &w->acomp, w->ncomp, sizeof(*w->comp)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		w->comp[w->ncomp].r = r;
		w->comp[w->ncomp].func = (char *)fr->func;
		sub.comp = (int)w->ncomp++;
	} else if (is_container_kind(k)) {
		if (grow_arr((void **)&w->conts, &w->aconts, w->nconts, sizeof(*w->conts)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		w->conts[w->nconts] = r;
		sub.in_decls = 1;
		sub.container = (int)w->nconts++;
	} else if (k == CXCursor_VarDecl) {
		if (grow_arr((void **)&w->vars, &w->avars, w->nvars, sizeof(*w->vars)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		vdecl *v = &w->vars[w->nvars++];
		v->r = r;
		CXString sp = clang_getCursorSpelling(c);
		v->name = intern(w, clang_getCString(sp));
		clang_disposeString(sp);
		enum CXTypeKind t = clang_getCanonicalType(clang_getCursorType(c)).kind;
		v->integer = t >= CXType_Bool && t <= CXType_Int128;
		char *sc = scope_name(c);
		v->scope = intern(w, sc ? sc : "");
		free(sc);
	}
	clang_visitChildren(c, visit, &sub);
	return CXChildVisit_Continue;
}

static void walk_dispose(walk *w)
{
	free(w->comp);
	free(w->kids);
	free(w->decls);
	free(w->conts);
	free(w->vars);
	free(w->asms);
	strv_dispose(&w->names);
}

/* ---- region and knob checks against the AST ------------------------------------------------ */

typedef struct {
	const char *path;
	const char *s;
	size_t len;
	avo_astedit__lines lines;
	size_t err_off; /* where the first problem lies, for apply's mapping */
} checker;

static int region_fail(checker *ck, const avo_astedit_region *r, const char *what)
{
	ck->err_off = r->marker.offset;
	return avo_error_setloc(AVO_EINVALID, ck->path, r->marker.line, r->marker.col, "region '%s' %s", r->name, what);
}

static int contains(rng outer, rng inner) { return outer.b <= inner.b && inner.e <= outer.e; }

static int innermost_compound(walk *w, size_t b, size_t e)
{
	int best = -1;
	for (size_t i = 0; i < w->ncomp; i++) {
		rng r = w->comp[i].r;
		if (r.b < b && e + 1 <= r.e && (best < 0 || r.e - r.b < w->comp[best].r.e - w->comp[best].r.b))
			best = (int)i;
	}
	return best;
}

static int check_region_ast(checker *ck, walk *w, avo_astedit_region *reg)
{
	avo_astedit__lex lx;
	size_t rb = reg->begin.offset, re = reg->end.offset;
	if (avo_astedit__lex_run(&lx, ck->s + rb, re - rb, 0) < 0)
		return AVO_ERROR;
	size_t cb = rb + lx.code_begin, ce = rb + lx.code_end;
	int empty = lx.code_begin == re - rb;
	avo_astedit__lex_dispose(&lx);
	if (empty)
		cb = ce = rb;

	int c = innermost_compound(w, cb, empty ? cb : ce - 1);
	if (c >= 0) {
		int c1 = innermost_compound(w, cb, cb), c2 = empty ? c1 : innermost_compound(w, ce - 1, ce - 1);
		for (size_t i = 0; i < w->nkids && !empty; i++) {
			child *k = &w->kids[i];
			if (k->compound != c || k->r.e <= cb || k->r.b >= ce || (k->r.b >= cb && k->r.e <= ce))
				continue;
			char what[256];
			if (c1 >= 0 && c2 >= 0 && !contains(w->comp[c1].r, w->comp[c2].r) &&
			    !contains(w->comp[c2].r, w->comp[c1].r)) {
				avo_astedit_pos p1 = avo_astedit__pos(&ck->lines, w->comp[c1].r.b),
						p2 = avo_astedit__pos(&ck->lines, w->comp[c2].r.b);
				snprintf(what, sizeof(what), "spans two compound statements (begins in the block at %u:%u, ends in the block at %u:%u)",
					 p1.line, p1.col, p2.line, p2.col);
			} else {
				avo_astedit_pos p = avo_astedit__pos(&ck->lines, k->r.b);
				snprintf(what, sizeof(what), "cuts the statement at %u:%u; it must cover whole statements of one block",
					 p.line, p.col);
			}
			return region_fail(ck, reg, what);
		}
		reg->kind = AVO_ASTEDIT_REGION_STATEMENTS;
		free(reg->function);
		reg->function = avo_strdup(w->comp[c].func ? w->comp[c].func : "");
		return reg->function ? 0 : AVO_ERROR;
	}
	/* declaration scope: the innermost container holding the region, else the file */
	int cont = -1;
	for (size_t i = 0; i < w->nconts; i++) {
		rng r = w->conts[i];
		if (r.b < cb && ce < r.e && (cont < 0 || r.e - r.b < w->conts[cont].e - w->conts[cont].b))
			cont = (int)i;
	}
	avo_buf names = AVO_BUF_INIT;
	for (size_t i = 0; i < w->ndecls && !empty; i++) {
		tdecl *d = &w->decls[i];
		if (d->container != cont || d->r.e <= cb || d->r.b >= ce)
			continue;
		int cut = d->r.b < cb || d->r.e > ce;
		if (cut || !d->ok) {
			avo_astedit_pos p = avo_astedit__pos(&ck->lines, d->r.b);
			char what[320];
			snprintf(what, sizeof(what),
				 cut ? "cuts the declaration of '%s' at %u:%u; it must cover whole statements of one block or whole function definitions"
				     : "covers '%s' at %u:%u, which is not a function; outside a function body a region holds whole function definitions",
				 d->name ? d->name : "", p.line, p.col);
			avo_buf_dispose(&names);
			return region_fail(ck, reg, what);
		}
		if (d->definition && d->name && *d->name)
			avo_buf_printf(&names, "%s%s", names.size ? "," : "", d->name);
	}
	reg->kind = AVO_ASTEDIT_REGION_FUNCTION;
	free(reg->function);
	reg->function = avo_buf_detach(&names);
	return reg->function ? 0 : AVO_ERROR;
}

/* After the AST checks (which give the sharper message), a lexical one: a region never
 * straddles a block or a preprocessor branch, even where the AST has nothing to say (code
 * the preprocessor skips in this parse). */
static int check_region(checker *ck, walk *w, avo_astedit_region *reg)
{
	int rc = check_region_ast(ck, w, reg);
	if (rc < 0)
		return rc;
	avo_astedit__lex lx;
	size_t rb = reg->begin.offset;
	if ((rc = avo_astedit__lex_run(&lx, ck->s + rb, reg->end.offset - rb, 1)) < 0)
		return rc;
	if (lx.problem) {
		avo_astedit_pos p = avo_astedit__pos(&ck->lines, rb + lx.problem_off);
		char what[300];
		snprintf(what, sizeof(what), "straddles a block or a preprocessor branch: %s at %u:%u; it must cover whole statements of one block",
			 lx.problem_msg, p.line, p.col);
		rc = region_fail(ck, reg, what);
	}
	avo_astedit__lex_dispose(&lx);
	return rc;
}

/* No edit of a region holding asm in host code could keep it (apply's rule, which checks
 * edits itself): refuse such a region when the original is parsed. */
static int check_region_asm(checker *ck, walk *w, avo_astedit_region *reg)
{
	int rc = 0;
	for (size_t i = 0; i < w->nasms && rc == 0; i++) {
		if (w->asms[i].device || w->asms[i].b < reg->begin.offset || w->asms[i].e > reg->end.offset)
			continue;
		avo_astedit_pos p = avo_astedit__pos(&ck->lines, w->asms[i].b);
		char what[320];
		snprintf(what, sizeof(what), "holds inline asm at %u:%u in code compiled for the host (a host or __host__ __device__ "
			 "function, or C); asm in a region is allowed only in device code (__global__, or __device__ without "
			 "__host__): move the asm out of the region", p.line, p.col);
		rc = region_fail(ck, reg, what);
	}
	return rc;
}

static int check_knob(checker *ck, walk *w, avo_astedit_knob *k, const char **scope)
{
	*scope = "";
	if (k->kind != AVO_ASTEDIT_KNOB_VARIABLE)
		return 0;
	for (size_t i = 0; i < w->nvars; i++) {
		vdecl *v = &w->vars[i];
		if (strcmp(v->name, k->name) || v->r.b > k->value_pos.offset || v->r.e < k->value_pos.offset + k->value_len)
			continue;
		*scope = v->scope ? v->scope : "";
		if (!v->integer) {
			ck->err_off = k->marker.offset;
			return avo_error_setloc(AVO_EINVALID, ck->path, k->marker.line, k->marker.col,
						"knob marker on '%s', which is not an integer variable", k->name);
		}
		return 0;
	}
	ck->err_off = k->marker.offset;
	return avo_error_setloc(AVO_EINVALID, ck->path, k->marker.line, k->marker.col,
				"knob marker on something that is not a knob: no integer variable '%s' is declared here", k->name);
}

/* Knob variables that share a name get their scope in front (`Cfg<64>::stages`); two in
 * the same scope are refused. */
static int qualify_knobs(checker *ck, avo_astedit_unit *u, const char **scopes)
{
	char *dup = calloc(u->nknobs + 1, 1);
	if (!dup)
		return avo_oom();
	for (size_t i = 0; i < u->nknobs; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(u->knobs[i].name, u->knobs[j].name)) {
				if (!strcmp(scopes[i], scopes[j])) {
					ck->err_off = u->knobs[i].marker.offset;
					free(dup);
					return avo_error_setloc(AVO_EINVALID, ck->path, u->knobs[i].marker.line, u->knobs[i].marker.col,
								"duplicate knob name '%s' in the same scope '%s' (first at line %u)",
								u->knobs[i].name, scopes[i], u->knobs[j].marker.line);
				}
				dup[i] = dup[j] = 1;
			}
	int rc = 0;
	for (size_t i = 0; i < u->nknobs && rc == 0; i++) {
		if (!dup[i])
			continue;
		char *q = avo_sprintf("%s%s%s", scopes[i], *scopes[i] ? "::" : "", u->knobs[i].name);
		if (!q) {
			rc = avo_oom();
			break;
		}
		free(u->knobs[i].name);
		u->knobs[i].name = q;
	}
	free(dup);
	return rc;
}

/* ---- parsing ------------------------------------------------------------------------------- */


int avo_astedit__parse_args(avo_astedit_unit **out, const char *path, const char *src, size_t len, char **args,
		      size_t nargs, avo_astedit__perr *pe)
{
	avo_astedit_unit *u = NULL;
	int rc;
	*out = NULL;
	if ((rc = avo_astedit__scan(&u, path, src, len)) < 0) {
		/* the scanner's message carries line:col; find the offset for apply */
		const char *m = avo_error_last(), *p = strstr(m, path);
		unsigned l = 0, col = 0;
		if (p && sscanf(p + strlen(path), ":%u:%u:", &l, &col) == 2) {
			pe->has_loc = 1;
			pe->line = l;
			pe->col = col;
			avo_astedit__lines t;
			if (avo_astedit__lines_init(&t, src, len) == 0) {
				pe->off = l - 1 < t.n ? t.starts[l - 1] + col - 1 : len;
				avo_astedit__lines_dispose(&t);
			}
		}
		return rc;
	}
	for (size_t i = 0; i < nargs; i++) {
		char **na = realloc(u->clang_args, (u->nclang_args + 1) * sizeof(*na));
		if (!na || !(na[u->nclang_args] = avo_strdup(args[i]))) {
			if (na)
				u->clang_args = na;
			avo_astedit_unit_free(u);
			return avo_oom();
		}
		u->clang_args = na;
		u->nclang_args++;
	}

	CXIndex idx = clang_createIndex(0, 0);
	CXTranslationUnit tu = NULL;
	struct CXUnsavedFile uf = {path, u->source, (unsigned long)len};
	enum CXErrorCode ec = clang_parseTranslationUnit2(
		idx, path, (const char *const *)args, (int)nargs, &uf, 1,
		CXTranslationUnit_KeepGoing | CXTranslationUnit_IgnoreNonErrorsFromIncludedFiles |
			CXTranslationUnit_DetailedPreprocessingRecord, &tu);
	checker ck = {path, u->source, len, {0}, 0};
	walk w = {0};
	if (ec != CXError_Success || !tu) {
		/* clang says nothing more here; the usual cause is an argument it does not know */
		avo_buf a = AVO_BUF_INIT;
		for (size_t i = 0; i < nargs; i++)
			avo_buf_printf(&a, "%s%s", i ? " " : "", args[i]);
		rc = avo_error_set(AVO_EPARSE, "%s: libclang refused to parse the file (%s); check the clang arguments: %.1500s", path,
				   ec == CXError_InvalidArguments ? "invalid arguments" : ec == CXError_ASTReadError ? "AST read error or bad arguments"
				   : ec == CXError_Crashed ? "libclang crashed" : "failure", avo_buf_cstr(&a));
		avo_buf_dispose(&a);
		goto done;
	}
	if ((rc = avo_astedit__lines_init(&ck.lines, u->source, len)) < 0)
		goto done;

	if ((rc = avo_astedit__diagnostics(tu, u, path, pe)) < 0 || (rc = avo_astedit__knob_notes(tu, u, path, args, nargs)) < 0 ||
	    (rc = avo_astedit__header_notes(tu, u, path)) < 0)
		goto done;

	w.s = u->source;
	w.len = len;
	w.main = clang_getFile(tu, path);
	if (!w.main) {
		rc = avo_error_set(AVO_EPARSE, "%s: libclang lost the file", path);
		goto done;
	}
	frame top = {&w, 1, -1, -1, "", 0}; /* top-level declarations: container -1, the file */
	clang_visitChildren(clang_getTranslationUnitCursor(tu), visit, &top);
	if (w.oom) {
		rc = avo_oom();
		goto done;
	}
	if (w.has_main)
		u->main_def = avo_astedit__pos(&ck.lines, w.main_off);
	for (size_t i = 0; i < u->nregions && rc == 0; i++)
		rc = check_region(&ck, &w, &u->regions[i]);
	for (size_t i = 0; i < u->nregions && rc == 0 && !pe->want_asms; i++)
		rc = check_region_asm(&ck, &w, &u->regions[i]);
	if (pe->want_asms) {
		pe->asms = w.asms;
		pe->nasms = w.nasms;
		w.asms = NULL;
	}
	const char **scopes = calloc(u->nknobs + 1, sizeof(*scopes));
	if (!scopes && rc == 0)
		rc = avo_oom();
	for (size_t i = 0; i < u->nknobs && rc == 0; i++)
		rc = check_knob(&ck, &w, &u->knobs[i], &scopes[i]);
	if (rc == 0)
		rc = qualify_knobs(&ck, u, scopes);
	free(scopes);
	if (rc < 0 && u->nwarnings && rc != AVO_ERROR) {
		char *m = avo_strdup(avo_error_last());
		avo_error_set(rc, "%s (clang also reported %zu error%s outside the marked code, the first: %s)", m ? m : "",
			      u->nwarnings, u->nwarnings > 1 ? "s" : "", u->warnings[0]);
		free(m);
	}
	if (rc < 0) {
		avo_astedit_pos p = avo_astedit__pos(&ck.lines, ck.err_off);
		pe->has_loc = 1;
		pe->off = ck.err_off;
		pe->line = p.line;
		pe->col = p.col;
	}
done:
	walk_dispose(&w);
	avo_astedit__lines_dispose(&ck.lines);
	if (tu)
		clang_disposeTranslationUnit(tu);
	clang_disposeIndex(idx);
	if (rc < 0)
		avo_astedit_unit_free(u);
	else
		*out = u;
	return rc;
}

int avo_astedit_parse(avo_astedit_unit **out, const char *path, const char *source, size_t len,
		      const avo_astedit_options *opts)
{
	avo_buf buf = AVO_BUF_INIT;
	strv args = {0};
	avo_astedit__perr pe = {0};
	int rc;
	*out = NULL;
	if (!source) {
		if ((rc = avo_file_read(&buf, path)) < 0)
			return rc;
		source = buf.ptr ? buf.ptr : "";
		len = buf.size;
	}
	const char *ext = avo_astedit__ext(path);
	static const char *known[] = {".cu", ".cuh", ".c", ".h", ".cpp", ".cc", ".cxx", ".hpp", NULL};
	size_t ki = 0;
	while (known[ki] && strcmp(ext, known[ki]))
		ki++;
	if (!known[ki] && !(opts && opts->language && *opts->language)) {
		rc = avo_error_set(AVO_EINVALID, "%s: unknown kind of file (want .cu, .cuh, .c, .h, .cpp, .cc, .cxx or .hpp, or name the language)", path);
		goto done;
	}
	if ((rc = avo_astedit__build_args(&args, path, opts)) < 0)
		goto done;
	pe.all_errors = opts && opts->all_errors;
	rc = avo_astedit__parse_args(out, path, source, len, args.v, args.n, &pe);
done:
	free(pe.diagnostic);
	strv_dispose(&args);
	avo_buf_dispose(&buf);
	return rc;
}
