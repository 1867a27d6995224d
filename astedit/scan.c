/* The marker scanner: a small C/C++ lexer that finds `// avo:` markers outside strings and
 * block comments, and checks edit text for ways to escape its region. No libclang here, so
 * it can be fuzzed on its own. */
#include "astedit_int.h"
#include "avo_base.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- lines --------------------------------------------------------------------------- */

int astedit__lines_init(astedit__lines *t, const char *s, size_t len)
{
	size_t n = 1;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	t->starts = malloc(n * sizeof(*t->starts));
	if (!t->starts)
		return avo_oom();
	t->n = 0;
	t->starts[t->n++] = 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n')
			t->starts[t->n++] = i + 1;
	return 0;
}

void astedit__lines_dispose(astedit__lines *t)
{
	free(t->starts);
	t->starts = NULL;
	t->n = 0;
}

avo_astedit_pos astedit__pos(const astedit__lines *t, size_t off)
{
	size_t lo = 0, hi = t->n; /* last start <= off */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	avo_astedit_pos p = {(unsigned)lo + 1, (unsigned)(off - t->starts[lo]) + 1, off};
	return p;
}

void astedit__hash_hex(char out[33], const char *data, size_t len)
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof(c.digest); i++) {
		out[2 * i] = hex[c.digest[i] >> 4];
		out[2 * i + 1] = hex[c.digest[i] & 15];
	}
	out[32] = '\0';
}

/* ---- lexer ----------------------------------------------------------------------------- */

static int is_ident(int c) { return isalnum(c) || c == '_' || c == '$'; }

static void problem(astedit__lex *lx, int check, size_t off, const char *msg)
{
	if (!check || lx->problem)
		return;
	lx->problem = 1;
	lx->problem_off = off;
	snprintf(lx->problem_msg, sizeof(lx->problem_msg), "%s", msg);
}

static int add_span(astedit__span **v, size_t *n, size_t *a, size_t start, size_t end)
{
	if (*n == *a) {
		size_t na = *a ? 2 * *a : 16;
		astedit__span *p = realloc(*v, na * sizeof(*p));
		if (!p)
			return avo_oom();
		*v = p;
		*a = na;
	}
	(*v)[*n].start = start;
	(*v)[*n].end = end;
	(*n)++;
	return 0;
}

static int add_comment(astedit__lex *lx, size_t start, size_t end)
{
	return add_span(&lx->comments, &lx->ncomments, &lx->acomments, start, end);
}

int astedit__watch_word(const char *w, size_t n)
{
	static const char *words[] = {"asm", "__asm", "__asm__", "_Pragma", "__pragma", "__attribute__", "__attribute",
				      "__declspec", "section", "__section__", "constructor", "__constructor__",
				      "destructor", "__destructor__", "init_priority", "__init_priority__", "alias",
				      "__alias__", "ifunc", "__ifunc__", "weakref", "__weakref__", NULL};
	for (size_t i = 0; words[i]; i++)
		if (strlen(words[i]) == n && !memcmp(words[i], w, n))
			return (int)i + 1;
	return 0;
}

static void code(astedit__lex *lx, size_t from, size_t to, size_t len)
{
	if (lx->code_begin == len)
		lx->code_begin = from;
	lx->code_end = to;
}

/* End of a line comment starting at i (the "//"): a backslash before the newline continues
 * it onto the next line, as in the compiler. */
static size_t line_comment_end(const char *s, size_t len, size_t i)
{
	while (i < len && s[i] != '\n')
		i++;
	while (i < len && i > 0 && (s[i - 1] == '\\' || (s[i - 1] == '\r' && i > 1 && s[i - 2] == '\\'))) {
		i++;
		while (i < len && s[i] != '\n')
			i++;
	}
	return i;
}

int astedit__lex_run(astedit__lex *lx, const char *s, size_t len, int check)
{
	memset(lx, 0, sizeof(*lx));
	lx->code_begin = len;
	char *stack = NULL; /* open brackets */
	size_t *stack_off = NULL;
	size_t depth = 0, adepth = 0;
	long pp_depth = 0;
	size_t pp_open_off = 0;
	int line_start = 1;     /* only blanks so far on this line */
	int in_directive = 0;   /* inside a (non-pragma) preprocessor line */
	int rc = 0;
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			/* a directive continues past a backslash-newline */
			if (!(i > 0 && s[i - 1] == '\\') && !(i > 1 && s[i - 1] == '\r' && s[i - 2] == '\\'))
				in_directive = 0;
			line_start = 1;
			i++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == '\\') {
			if (c == '\\' && !in_directive && !(i + 1 < len && (s[i + 1] == '\n' || s[i + 1] == '\r')))
				code(lx, i, i + 1, len);
			i++;
			continue;
		}
		if (c == '/' && i + 1 < len && s[i + 1] == '/') {
			size_t e = line_comment_end(s, len, i);
			if ((rc = add_comment(lx, i, e)) < 0)
				goto done;
			i = e;
			continue;
		}
		if (c == '/' && i + 1 < len && s[i + 1] == '*') {
			const char *e = NULL;
			for (size_t j = i + 2; j + 1 < len; j++)
				if (s[j] == '*' && s[j + 1] == '/') {
					e = s + j;
					break;
				}
			if (!e) {
				problem(lx, check, i, "unterminated comment");
				i = len;
				continue;
			}
			i = (size_t)(e - s) + 2;
			continue;
		}
		if ((c == '#' || (c == '%' && i + 1 < len && s[i + 1] == ':')) && line_start) {
			size_t j = i + (c == '#' ? 1 : 2);
			if ((rc = add_span(&lx->directives, &lx->ndirectives, &lx->adirectives, i, line_comment_end(s, len, i))) < 0)
				goto done;
			while (j < len && (s[j] == ' ' || s[j] == '\t'))
				j++;
			size_t w = j;
			while (j < len && isalpha((unsigned char)s[j]))
				j++;
			size_t wl = j - w;
			line_start = 0;
			if (wl == 6 && !memcmp(s + w, "pragma", 6)) {
				code(lx, i, j, len);
				i = j;
				continue;
			}
			in_directive = 1;
			if ((wl == 2 && !memcmp(s + w, "if", 2)) || (wl == 5 && !memcmp(s + w, "ifdef", 5)) ||
			    (wl == 6 && !memcmp(s + w, "ifndef", 6))) {
				if (pp_depth++ == 0)
					pp_open_off = i;
			} else if (wl == 5 && !memcmp(s + w, "endif", 5)) {
				if (--pp_depth < 0)
					problem(lx, check, i, "'#endif' without '#if'");
			} else if ((wl == 4 && (!memcmp(s + w, "else", 4) || !memcmp(s + w, "elif", 4))) ||
				   (wl == 7 && !memcmp(s + w, "elifdef", 7)) || (wl == 8 && !memcmp(s + w, "elifndef", 8))) {
				if (pp_depth <= 0)
					problem(lx, check, i, "'#else' without '#if'");
			} else if ((wl == 5 && !memcmp(s + w, "error", 5)) || (wl == 7 && !memcmp(s + w, "warning", 7)) ||
				   (wl == 7 && !memcmp(s + w, "include", 7))) {
				/* free text or a <path>: skip it raw, up to a comment */
				while (j < len && s[j] != '\n' && !(s[j] == '/' && j + 1 < len && (s[j + 1] == '/' || s[j + 1] == '*')))
					j++;
			}
			i = j;
			continue;
		}
		line_start = 0;
		if (c == '"' || c == '\'') {
			size_t j = i + 1;
			int closed = 0;
			while (j < len && s[j] != '\n') {
				if (s[j] == '\\' && j + 1 < len) {
					j += 2;
					continue;
				}
				if (s[j] == (char)c) {
					closed = 1;
					j++;
					break;
				}
				j++;
			}
			if (!closed)
				problem(lx, check, i, c == '"' ? "unterminated string literal" : "unterminated character literal");
			else if (c == '"' && (rc = add_span(&lx->strings, &lx->nstrings, &lx->astrings, i + 1, j - 1)) < 0)
				goto done;
			if (!in_directive)
				code(lx, i, j, len);
			i = j;
			continue;
		}
		if (isdigit(c) || (c == '.' && i + 1 < len && isdigit((unsigned char)s[i + 1]))) {
			/* pp-number, with C++14 digit separators */
			size_t j = i + 1;
			while (j < len) {
				char d = s[j];
				if ((d == '+' || d == '-') && strchr("eEpP", s[j - 1]))
					j++;
				else if (is_ident((unsigned char)d) || d == '.' || (d == '\'' && j + 1 < len && is_ident((unsigned char)s[j + 1])))
					j++;
				else
					break;
			}
			if (!in_directive)
				code(lx, i, j, len);
			i = j;
			continue;
		}
		if (is_ident(c)) {
			size_t j = i;
			while (j < len && is_ident((unsigned char)s[j]))
				j++;
			size_t wl = j - i;
			int raw = j < len && s[j] == '"' && s[j - 1] == 'R' &&
				  (wl == 1 || (wl == 2 && strchr("uUL", s[i])) || (wl == 3 && s[i] == 'u' && s[i + 1] == '8'));
			if (raw) {
				/* R"delim( ... )delim" */
				size_t d0 = j + 1, k = d0;
				while (k < len && k - d0 <= 16 && s[k] != '(' && s[k] != ')' && s[k] != '\\' && s[k] != ' ' &&
				       s[k] != '\n' && s[k] != '"')
					k++;
				if (k >= len || s[k] != '(' || k - d0 > 16) {
					problem(lx, check, i, "bad raw string literal");
					if (!in_directive)
						code(lx, i, j + 1, len);
					i = j + 1;
					continue;
				}
				size_t dl = k - d0, e = len;
				int closed = 0;
				for (size_t q = k + 1; q + dl + 1 < len; q++)
					if (s[q] == ')' && !memcmp(s + q + 1, s + d0, dl) && s[q + 1 + dl] == '"') {
						e = q + dl + 2;
						closed = 1;
						break;
					}
				if (!closed)
					problem(lx, check, i, "unterminated raw string literal");
				else if ((rc = add_span(&lx->strings, &lx->nstrings, &lx->astrings, k + 1, e - dl - 2)) < 0)
					goto done;
				if (!in_directive)
					code(lx, i, e, len);
				i = e;
				continue;
			}
			if (!in_directive)
				code(lx, i, j, len);
			if (astedit__watch_word(s + i, wl) && (rc = add_span(&lx->words, &lx->nwords, &lx->awords, i, j)) < 0)
				goto done;
			i = j;
			continue;
		}
		if (!in_directive) {
			code(lx, i, i + 1, len);
			if (c == '(' || c == '[' || c == '{') {
				if (depth == adepth) {
					size_t na = adepth ? 2 * adepth : 32;
					char *ns = realloc(stack, na);
					if (!ns) {
						rc = avo_oom();
						goto done;
					}
					stack = ns;
					size_t *no = realloc(stack_off, na * sizeof(*no));
					if (!no) {
						rc = avo_oom();
						goto done;
					}
					stack_off = no;
					adepth = na;
				}
				stack[depth] = (char)c;
				stack_off[depth++] = i;
			} else if (c == ')' || c == ']' || c == '}') {
				char want = c == ')' ? '(' : c == ']' ? '[' : '{';
				if (!depth || stack[depth - 1] != want) {
					char msg[40];
					snprintf(msg, sizeof(msg), "unbalanced '%c'", c);
					problem(lx, check, i, msg);
				} else {
					depth--;
				}
			}
		}
		i++;
	}
	if (depth) {
		char msg[40];
		snprintf(msg, sizeof(msg), "unclosed '%c'", stack[depth - 1]);
		problem(lx, check, stack_off[depth - 1], msg);
	}
	if (pp_depth > 0)
		problem(lx, check, pp_open_off, "'#if' without '#endif'");
	/* a backslash at the very end would splice the next line (the end marker) into this one */
	{
		size_t e = len;
		while (e > 0 && (s[e - 1] == '\n' || s[e - 1] == '\r'))
			e--;
		if (e > 0 && s[e - 1] == '\\')
			problem(lx, check, e - 1, "line splice ('\\' at the end of the text)");
	}
done:
	free(stack);
	free(stack_off);
	if (rc < 0)
		astedit__lex_dispose(lx);
	return rc;
}

void astedit__lex_dispose(astedit__lex *lx)
{
	free(lx->comments);
	free(lx->strings);
	free(lx->directives);
	free(lx->words);
	memset(lx, 0, sizeof(*lx));
}

/* ---- knob values --------------------------------------------------------------------- */

int astedit__knob_literal(const char *v, long long *val)
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
	astedit__lines lines;
	avo_astedit_unit *u;
	size_t aregions, aknobs;
} scan_state;

static int fail_at(scan_state *st, size_t off, const char *fmt, const char *a, const char *b)
{
	avo_astedit_pos p = astedit__pos(&st->lines, off);
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
		if (e - i < 6 || memcmp(s + i, "define", 6) || (i + 6 < e && is_ident((unsigned char)s[i + 6])))
			return fail_at(st, b, "knob marker on a preprocessor line that is not '#define NAME V'%s%s", NULL, NULL);
		i += 6;
		while (i < e && (s[i] == ' ' || s[i] == '\t'))
			i++;
		nb = i;
		while (i < e && is_ident((unsigned char)s[i]))
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
		while (i > b && is_ident((unsigned char)s[i - 1]))
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
	if (vb == ve || !astedit__knob_literal(k->value, &v))
		return fail_at(st, vb, "knob '%s' value '%s' is not an integer literal", k->name, k->value);
	k->value_pos = astedit__pos(&st->lines, vb);
	k->value_len = ve - vb;
	return 0;
}

static int parse_knob_values(scan_state *st, avo_astedit_knob *k, size_t mb, size_t i, size_t e)
{
	const char *s = st->s;
	long long cur;
	astedit__knob_literal(k->value, &cur);
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
			if (!astedit__knob_literal(w, &k->lo) || !astedit__knob_literal(dots + 2, &k->hi) || k->lo > k->hi) {
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
		if (!astedit__knob_literal(w, &v)) {
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

int astedit__scan(avo_astedit_unit **out, const char *path, const char *source, size_t len)
{
	*out = NULL;
	scan_state st = {path, source, len, {0}, NULL, 0, 0};
	astedit__lex lx;
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
	if ((rc = astedit__lines_init(&st.lines, st.s, len)) < 0) {
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
	if ((rc = astedit__lex_run(&lx, st.s, len, 0)) < 0)
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
			r->marker = astedit__pos(&st.lines, cb);
			size_t b = ce;
			while (b < len && st.s[b] != '\n')
				b++;
			if (b < len)
				b++;
			r->begin = astedit__pos(&st.lines, b);
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
				r->end = astedit__pos(&st.lines, e);
				astedit__hash_hex(r->hash, st.s + r->begin.offset, e - r->begin.offset);
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
			k->marker = astedit__pos(&st.lines, cb);
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
	astedit__lex_dispose(&lx);
	astedit__lines_dispose(&st.lines);
	if (rc < 0)
		avo_astedit_unit_free(u);
	else
		*out = u;
	return rc;
}

int avo_astedit_scan(avo_astedit_unit **out, const char *path, const char *source, size_t len)
{
	return astedit__scan(out, path, source, len);
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
