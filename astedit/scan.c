/* The marker scanner: reads `// avo:` markers (regions, knobs and their values) from the
 * lexer's comments (lex.c) into an avo_astedit_unit. No libclang here, so it can be fuzzed
 * on its own. */
#include "astedit_int.h"
#include "avo_base.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- knob values --------------------------------------------------------------------- */

int avo_astedit__knob_literal(const char *v, long long *val)
{
	if (!strcmp(v, "true") || !strcmp(v, "false")) {
		*val = v[0] == 't';
		return 1;
	}
	char digits[64];
	size_t n = 0;
	const char *p = v;
	int neg = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (!isdigit((unsigned char)*p))
		return 0;
	int base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
		base = 2;
		p += 2;
	} else if (p[0] == '0' && p[1]) {
		base = 8;
	}
	for (; *p; p++) {
		if (*p == '\'')
			continue;
		int ok = base == 16 ? isxdigit((unsigned char)*p) : base == 2 ? (*p == '0' || *p == '1')
			 : base == 8 ? (*p >= '0' && *p <= '7') : isdigit((unsigned char)*p);
		if (!ok)
			break;
		if (n + 1 >= sizeof(digits))
			return 0;
		digits[n++] = *p;
	}
	if (!n)
		return 0;
	digits[n] = '\0';
	for (; *p; p++) /* suffix */
		if (!strchr("uUlLzZ", *p))
			return 0;
	errno = 0;
	char *end;
	unsigned long long u = strtoull(digits, &end, base);
	if (errno || *end || u > (unsigned long long)9223372036854775807LL)
		return 0;
	*val = neg ? -(long long)u : (long long)u;
	return 1;
}

/* ---- markers --------------------------------------------------------------------------- */

typedef struct {
	const char *path;
	const char *s;
	size_t len;
	avo_astedit__lines lines;
	avo_astedit_unit *u;
	size_t aregions, aknobs;
} scan_state;

static int fail_at(scan_state *st, size_t off, const char *fmt, const char *a, const char *b)
{
	avo_astedit_pos p = avo_astedit__pos(&st->lines, off);
	char msg[512];
	snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
	return avo_error_setloc(AVO_EINVALID, st->path, p.line, p.col, "%s", msg);
}

static char *word(const char *s, size_t len, size_t *i)
{
	while (*i < len && (s[*i] == ' ' || s[*i] == '\t'))
		(*i)++;
	size_t b = *i;
	while (*i < len && !isspace((unsigned char)s[*i]))
		(*i)++;
	return *i > b ? avo_strndup(s + b, *i - b) : NULL;
}

static int valid_name(const char *n)
{
	if (!n || !(isalpha((unsigned char)n[0]) || n[0] == '_'))
		return 0;
	for (const char *p = n; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-'))
			return 0;
	return 1;
}

static size_t line_begin(const char *s, size_t off)
{
	while (off > 0 && s[off - 1] != '\n')
		off--;
	return off;
}

static int only_blanks(const char *s, size_t b, size_t e)
{
	for (size_t i = b; i < e; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

static void free_region(avo_astedit_region *r)
{
	free(r->name);
	free(r->function);
}

static void free_knob(avo_astedit_knob *k)
{
	free(k->name);
	free(k->value);
	for (size_t i = 0; i < k->nvalues; i++)
		free(k->values[i]);
	free(k->values);
}

void avo_astedit_unit_free(avo_astedit_unit *u)
{
	if (!u)
		return;
	free(u->path);
	free(u->source);
	for (size_t i = 0; i < u->nregions; i++)
		free_region(&u->regions[i]);
	free(u->regions);
	for (size_t i = 0; i < u->nknobs; i++)
		free_knob(&u->knobs[i]);
	free(u->knobs);
	for (size_t i = 0; i < u->nclang_args; i++)
		free(u->clang_args[i]);
	free(u->clang_args);
	for (size_t i = 0; i < u->nwarnings; i++)
		free(u->warnings[i]);
	free(u->warnings);
	free(u);
}

/* The code before a knob marker: `#define NAME V` or `... NAME = V;` / `... NAME{V};`. */
static int parse_knob_code(scan_state *st, avo_astedit_knob *k, size_t lb, size_t cb)
{
	const char *s = st->s;
	size_t b = lb, e = cb;
	while (b < e && isspace((unsigned char)s[b]))
		b++;
	while (e > b && isspace((unsigned char)s[e - 1]))
		e--;
	if (b == e)
		return fail_at(st, cb, "knob marker must follow '#define NAME V' or an integer declaration on the same line%s%s", NULL, NULL);
	size_t nb, ne, vb, ve;
	if (s[b] == '#') {
		size_t i = b + 1;
		while (i < e && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (e - i < 6 || memcmp(s + i, "define", 6) || (i + 6 < e && avo_astedit__is_ident((unsigned char)s[i + 6])))
			return fail_at(st, b, "knob marker on a preprocessor line that is not '#define NAME V'%s%s", NULL, NULL);
		i += 6;
		while (i < e && (s[i] == ' ' || s[i] == '\t'))
			i++;
		nb = i;
		while (i < e && avo_astedit__is_ident((unsigned char)s[i]))
			i++;
		ne = i;
		if (ne == nb)
			return fail_at(st, b, "knob marker on a '#define' without a name%s%s", NULL, NULL);
		if (i < e && s[i] == '(') {
			char *n = avo_strndup(s + nb, ne - nb);
			int rc = fail_at(st, nb, "knob marker on function-like macro '%s'; a knob is '#define NAME V'%s", n, NULL);
			free(n);
			return rc;
		}
		while (i < e && (s[i] == ' ' || s[i] == '\t'))
			i++;
		vb = i;
		ve = e;
		k->kind = AVO_ASTEDIT_KNOB_DEFINE;
	} else {
		if (s[e - 1] != ';')
			return fail_at(st, b, "knob marker on something that is not a knob (expected 'NAME = V;' or '#define NAME V' before it)%s%s", NULL, NULL);
		e--;
		while (e > b && isspace((unsigned char)s[e - 1]))
			e--;
		size_t i;
		if (e > b && s[e - 1] == '}') {
			ve = e - 1;
			i = ve;
			while (i > b && s[i - 1] != '{')
				i--;
			if (i == b)
				return fail_at(st, b, "knob marker on something that is not a knob (expected 'NAME = V;' or '#define NAME V' before it)%s%s", NULL, NULL);
			vb = i;
			i--; /* at '{' */
		} else {
			i = e;
			while (i > b && s[i - 1] != '=')
				i--;
			if (i == b || (i >= 2 + b && strchr("=!<>+-*/%&|^", s[i - 2])))
				return fail_at(st, b, "knob marker on something that is not a knob (expected 'NAME = V;' or '#define NAME V' before it)%s%s", NULL, NULL);
			vb = i;
			ve = e;
			i--; /* at '=' */
		}
		while (i > b && isspace((unsigned char)s[i - 1]))
			i--;
		ne = i;
		while (i > b && avo_astedit__is_ident((unsigned char)s[i - 1]))
			i--;
		nb = i;
		if (nb == ne || isdigit((unsigned char)s[nb]))
			return fail_at(st, b, "knob marker on something that is not a knob (expected 'NAME = V;' or '#define NAME V' before it)%s%s", NULL, NULL);
		/* `= (3);`: the value is what the parentheses hold */
		for (;;) {
			while (vb < ve && isspace((unsigned char)s[vb]))
				vb++;
			while (ve > vb && isspace((unsigned char)s[ve - 1]))
				ve--;
			if (ve - vb < 2 || s[vb] != '(' || s[ve - 1] != ')')
				break;
			vb++;
			ve--;
		}
		k->kind = AVO_ASTEDIT_KNOB_VARIABLE;
	}
	k->name = avo_strndup(s + nb, ne - nb);
	k->value = avo_strndup(s + vb, ve - vb);
	if (!k->name || !k->value)
		return avo_oom();
	long long v;
	if (vb == ve || !avo_astedit__knob_literal(k->value, &v))
		return fail_at(st, vb, "knob '%s' value '%s' is not an integer literal", k->name, k->value);
	k->value_pos = avo_astedit__pos(&st->lines, vb);
	k->value_len = ve - vb;
	return 0;
}

static int parse_knob_values(scan_state *st, avo_astedit_knob *k, size_t mb, size_t i, size_t e)
{
	const char *s = st->s;
	long long cur;
	avo_astedit__knob_literal(k->value, &cur);
	char *w;
	while ((w = word(s, e, &i))) {
		if (k->is_range) {
			free(w);
			return fail_at(st, mb, "knob '%s': a range 'LO..HI' stands alone%s", k->name, NULL);
		}
		char *dots = strstr(w, "..");
		if (dots) {
			if (k->nvalues) {
				free(w);
				return fail_at(st, mb, "knob '%s': a range 'LO..HI' stands alone%s", k->name, NULL);
			}
			*dots = '\0';
			if (!avo_astedit__knob_literal(w, &k->lo) || !avo_astedit__knob_literal(dots + 2, &k->hi) || k->lo > k->hi) {
				*dots = '.';
				int rc = fail_at(st, mb, "knob '%s': bad range '%s' (want LO..HI with LO <= HI)", k->name, w);
				free(w);
				return rc;
			}
			k->is_range = 1;
			free(w);
			continue;
		}
		long long v;
		if (!avo_astedit__knob_literal(w, &v)) {
			int rc = fail_at(st, mb, "knob '%s': allowed value '%s' is not an integer literal", k->name, w);
			free(w);
			return rc;
		}
		char **nv = realloc(k->values, (k->nvalues + 1) * sizeof(*nv));
		if (!nv) {
			free(w);
			return avo_oom();
		}
		k->values = nv;
		k->values[k->nvalues++] = w;
	}
	if (!k->is_range && !k->nvalues)
		return fail_at(st, mb, "knob '%s' lists no allowed values%s", k->name, NULL);
	if (k->is_range && (cur < k->lo || cur > k->hi))
		return fail_at(st, mb, "knob '%s': current value %s is outside its range", k->name, k->value);
	if (!k->is_range) {
		for (size_t j = 0; j < k->nvalues; j++)
			if (!strcmp(k->values[j], k->value))
				return 0;
		return fail_at(st, mb, "knob '%s': current value %s is not among its allowed values", k->name, k->value);
	}
	return 0;
}

static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t na = *cap ? 2 * *cap : 8;
	void *q = realloc(*p, na * elem);
	if (!q)
		return avo_oom();
	memset((char *)q + *cap * elem, 0, (na - *cap) * elem);
	*p = q;
	*cap = na;
	return 0;
}

int avo_astedit__scan(avo_astedit_unit **out, const char *path, const char *source, size_t len)
{
	*out = NULL;
	scan_state st = {path, source, len, {0}, NULL, 0, 0};
	avo_astedit__lex lx;
	int rc;
	avo_astedit_unit *u = calloc(1, sizeof(*u));
	if (!u)
		return avo_oom();
	st.u = u;
	u->path = avo_strdup(path);
	u->source = malloc(len + 1);
	if (!u->path || !u->source) {
		avo_astedit_unit_free(u);
		return avo_oom();
	}
	memcpy(u->source, source, len);
	u->source[len] = '\0';
	u->source_len = len;
	st.s = u->source;
	if ((rc = avo_astedit__lines_init(&st.lines, st.s, len)) < 0) {
		avo_astedit_unit_free(u);
		return rc;
	}
	memset(&lx, 0, sizeof(lx));
	const char *nul = memchr(st.s, '\0', len);
	if (nul) { /* not text; the marker strings could not hold it either */
		rc = fail_at(&st, (size_t)(nul - st.s), "the file contains a NUL byte%s%s", NULL, NULL);
		goto done;
	}
	for (size_t i = 0; i < len; i++)
		if (st.s[i] == '\r' && (i + 1 == len || st.s[i + 1] != '\n')) {
			/* clang ends a line there, avo's markers would not: say it rather than misread */
			rc = fail_at(&st, i, "a line ends with a lone CR (classic Mac line endings); convert the file to LF or CRLF%s%s", NULL, NULL);
			goto done;
		}
	if ((rc = avo_astedit__lex_run(&lx, st.s, len, 0)) < 0)
		goto done;

	long open = -1; /* index of the open region */
	for (size_t ci = 0; ci < lx.ncomments; ci++) {
		size_t cb = lx.comments[ci].start, ce = lx.comments[ci].end;
		size_t i = cb + 2;
		while (i < ce && (st.s[i] == ' ' || st.s[i] == '\t'))
			i++;
		if (ce - i < 5 || memcmp(st.s + i, "avo:", 4) || !isalpha((unsigned char)st.s[i + 4]))
			continue;
		size_t wb = i + 4, we = wb;
		while (we < ce && isalnum((unsigned char)st.s[we]))
			we++;
		size_t wl = we - wb;
		i = we;
		if (wl == 6 && !memcmp(st.s + wb, "region", 6)) {
			if (!only_blanks(st.s, line_begin(st.s, cb), cb)) {
				rc = fail_at(&st, cb, "region marker must be on a line of its own%s%s", NULL, NULL);
				goto done;
			}
			char *name = word(st.s, ce, &i), *extra = word(st.s, ce, &i);
			if (!valid_name(name) || extra) {
				rc = fail_at(&st, cb, name ? "bad region name '%s' (want one word of letters, digits, '_', '.', '-')" : "region marker without a name%s", name, NULL);
				free(name);
				free(extra);
				goto done;
			}
			free(extra);
			if (open >= 0) {
				avo_astedit_region *o = &u->regions[open];
				rc = fail_at(&st, cb, "region '%s' opens inside region '%s'; regions may not nest or overlap", name, o->name);
				free(name);
				goto done;
			}
			for (size_t r = 0; r < u->nregions; r++)
				if (!strcmp(u->regions[r].name, name)) {
					char msg[300];
					snprintf(msg, sizeof(msg), "duplicate region name '%s' (first at line %u)", name, u->regions[r].marker.line);
					rc = fail_at(&st, cb, "%s%s", msg, NULL);
					free(name);
					goto done;
				}
			if ((rc = grow((void **)&u->regions, &st.aregions, u->nregions, sizeof(*u->regions))) < 0) {
				free(name);
				goto done;
			}
			avo_astedit_region *r = &u->regions[u->nregions++];
			r->name = name;
			r->marker = avo_astedit__pos(&st.lines, cb);
			size_t b = ce;
			while (b < len && st.s[b] != '\n')
				b++;
			if (b < len)
				b++;
			r->begin = avo_astedit__pos(&st.lines, b);
			open = (long)(u->nregions - 1);
		} else if (wl == 3 && !memcmp(st.s + wb, "end", 3)) {
			if (!only_blanks(st.s, line_begin(st.s, cb), cb)) {
				rc = fail_at(&st, cb, "'// avo:end' must be on a line of its own%s%s", NULL, NULL);
				goto done;
			}
			char *name = word(st.s, ce, &i), *extra = word(st.s, ce, &i);
			if (open < 0) {
				rc = fail_at(&st, cb, "'// avo:end' without an open region%s%s", NULL, NULL);
			} else if (extra || (name && strcmp(name, u->regions[open].name))) {
				rc = fail_at(&st, cb, "'// avo:end %s' does not match the open region '%s'", name, u->regions[open].name);
			} else {
				avo_astedit_region *r = &u->regions[open];
				size_t e = line_begin(st.s, cb);
				if (e < r->begin.offset)
					e = r->begin.offset;
				r->end = avo_astedit__pos(&st.lines, e);
				avo_astedit__hash_hex(r->hash, st.s + r->begin.offset, e - r->begin.offset);
				r->function = avo_strdup("");
				open = -1;
			}
			free(name);
			free(extra);
			if (rc < 0)
				goto done;
		} else if (wl == 4 && !memcmp(st.s + wb, "knob", 4)) {
			if ((rc = grow((void **)&u->knobs, &st.aknobs, u->nknobs, sizeof(*u->knobs))) < 0)
				goto done;
			avo_astedit_knob *k = &u->knobs[u->nknobs++];
			k->marker = avo_astedit__pos(&st.lines, cb);
			if ((rc = parse_knob_code(&st, k, line_begin(st.s, cb), cb)) < 0 ||
			    (rc = parse_knob_values(&st, k, cb, i, ce)) < 0)
				goto done;
			/* two variables may share a name in different scopes: the AST check qualifies them */
			for (size_t j = 0; j + 1 < u->nknobs; j++)
				if (!strcmp(u->knobs[j].name, k->name) &&
				    (k->kind == AVO_ASTEDIT_KNOB_DEFINE || u->knobs[j].kind == AVO_ASTEDIT_KNOB_DEFINE)) {
					char msg[300];
					snprintf(msg, sizeof(msg), "duplicate knob name '%s' (first at line %u)", k->name, u->knobs[j].marker.line);
					rc = fail_at(&st, cb, "%s%s", msg, NULL);
					goto done;
				}
			if (open >= 0) {
				rc = fail_at(&st, cb, "knob '%s' is inside region '%s'; knobs must lie outside regions", k->name, u->regions[open].name);
				goto done;
			}
		} else {
			char *m = avo_strndup(st.s + wb, wl);
			rc = fail_at(&st, cb, "unknown marker 'avo:%s' (want avo:region, avo:end or avo:knob)%s", m, NULL);
			free(m);
			goto done;
		}
	}
	if (open >= 0) {
		avo_astedit_region *r = &u->regions[open];
		avo_error_setloc(AVO_EINVALID, path, r->marker.line, r->marker.col,
				 "region '%s' is not closed (no '// avo:end' follows)", r->name);
		rc = AVO_EINVALID;
		goto done;
	}
	rc = 0;
done:
	avo_astedit__lex_dispose(&lx);
	avo_astedit__lines_dispose(&st.lines);
	if (rc < 0)
		avo_astedit_unit_free(u);
	else
		*out = u;
	return rc;
}

int avo_astedit_scan(avo_astedit_unit **out, const char *path, const char *source, size_t len)
{
	return avo_astedit__scan(out, path, source, len);
}

const avo_astedit_region *avo_astedit_region_find(const avo_astedit_unit *u, const char *name)
{
	for (size_t i = 0; u && name && i < u->nregions; i++)
		if (!strcmp(u->regions[i].name, name))
			return &u->regions[i];
	return NULL;
}

const avo_astedit_knob *avo_astedit_knob_find(const avo_astedit_unit *u, const char *name)
{
	for (size_t i = 0; u && name && i < u->nknobs; i++)
		if (!strcmp(u->knobs[i].name, name))
			return &u->knobs[i];
	return NULL;
}

char *avo_astedit_region_text(const avo_astedit_unit *u, const avo_astedit_region *r)
{
	return avo_strndup(u->source + r->begin.offset, r->end.offset - r->begin.offset);
}
