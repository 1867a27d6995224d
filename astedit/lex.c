/* The lexer under the marker scanner: a small C/C++ lexer that finds comments, strings and
 * code spans (so that `// avo:` markers are seen only outside strings and block comments,
 * and edit text can be checked for ways to escape its region), plus line/column lookup and
 * the content hash. No libclang here, so it can be fuzzed on its own. */
#include "astedit_int.h"
#include "avo_base.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- lines --------------------------------------------------------------------------- */

int avo_astedit__lines_init(avo_astedit__lines *t, const char *s, size_t len)
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

void avo_astedit__lines_dispose(avo_astedit__lines *t)
{
	free(t->starts);
	t->starts = NULL;
	t->n = 0;
}

avo_astedit_pos avo_astedit__pos(const avo_astedit__lines *t, size_t off)
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

void avo_astedit_line_col(const char *text, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

void avo_astedit__hash_hex(char out[33], const char *data, size_t len)
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

static void problem(avo_astedit__lex *lx, int check, size_t off, const char *msg)
{
	if (!check || lx->problem)
		return;
	lx->problem = 1;
	lx->problem_off = off;
	snprintf(lx->problem_msg, sizeof(lx->problem_msg), "%s", msg);
}

static int add_span(avo_astedit__span **v, size_t *n, size_t *a, size_t start, size_t end)
{
	if (*n == *a) {
		size_t na = *a ? 2 * *a : 16;
		avo_astedit__span *p = realloc(*v, na * sizeof(*p));
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

static int add_comment(avo_astedit__lex *lx, size_t start, size_t end)
{
	return add_span(&lx->comments, &lx->ncomments, &lx->acomments, start, end);
}

int avo_astedit__watch_word(const char *w, size_t n)
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

static void code(avo_astedit__lex *lx, size_t from, size_t to, size_t len)
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

int avo_astedit__lex_run(avo_astedit__lex *lx, const char *s, size_t len, int check)
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
				else if (avo_astedit__is_ident((unsigned char)d) || d == '.' || (d == '\'' && j + 1 < len && avo_astedit__is_ident((unsigned char)s[j + 1])))
					j++;
				else
					break;
			}
			if (!in_directive)
				code(lx, i, j, len);
			i = j;
			continue;
		}
		if (avo_astedit__is_ident(c)) {
			size_t j = i;
			while (j < len && avo_astedit__is_ident((unsigned char)s[j]))
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
			if (avo_astedit__watch_word(s + i, wl) && (rc = add_span(&lx->words, &lx->nwords, &lx->awords, i, j)) < 0)
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
		avo_astedit__lex_dispose(lx);
	return rc;
}

void avo_astedit__lex_dispose(avo_astedit__lex *lx)
{
	free(lx->comments);
	free(lx->strings);
	free(lx->directives);
	free(lx->words);
	memset(lx, 0, sizeof(*lx));
}
