/* What region text may hold (issue 14, "regions stay regions"): no preprocessor directive
 * but loop pragmas and the region's own original directive lines; no attribute that moves
 * code or data out of the region's reach (section, constructor, destructor, alias, ...);
 * inline asm only in device-only functions and never with a section directive. The text
 * checks run before clang; the asm placement check runs on the re-parsed AST. */
#include "astedit_int.h"
#include "avo_base.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* `#pragma` lines and `_Pragma("...")` texts that only steer loops. */
static int loop_pragma(const char *p, size_t n)
{
	char w[3][24] = {{0}};
	size_t i = 0;
	for (int k = 0; k < 3; k++) {
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		size_t b = i;
		while (i < n && (isalnum((unsigned char)p[i]) || p[i] == '_'))
			i++;
		snprintf(w[k], sizeof(w[k]), "%.*s", (int)(i - b), p + b);
	}
	static const char *one[] = {"unroll", "nounroll", "ivdep", "unroll_and_jam", "nounroll_and_jam", "omp", NULL};
	for (size_t k = 0; one[k]; k++)
		if (!strcmp(w[0], one[k]))
			return 1;
	return (!strcmp(w[0], "GCC") && (!strcmp(w[1], "unroll") || !strcmp(w[1], "ivdep"))) ||
	       (!strcmp(w[0], "clang") && !strcmp(w[1], "loop"));
}

/* The directive after '#' (or '%:'): its word and where the rest starts. */
static size_t directive_word(const char *s, size_t b, size_t e, char *word, size_t wsz)
{
	size_t i = b + (s[b] == '#' ? 1 : 2);
	while (i < e && (s[i] == ' ' || s[i] == '\t'))
		i++;
	size_t w = i;
	while (i < e && isalpha((unsigned char)s[i]))
		i++;
	snprintf(word, wsz, "%.*s", (int)(i - w), s + w);
	return i;
}

/* Same directive line, blanks aside. */
static int same_line(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i = 0, j = 0;
	for (;;) {
		while (i < an && isspace((unsigned char)a[i]))
			i++;
		while (j < bn && isspace((unsigned char)b[j]))
			j++;
		if (i == an || j == bn)
			return i == an && j == bn;
		if (a[i] != b[j])
			return 0;
		i++;
		j++;
	}
}

static int refuse(size_t *bad_off, size_t off, char *msg, size_t msgsz, const char *fmt, const char *a)
{
	*bad_off = off;
	snprintf(msg, msgsz, fmt, a);
	return 1;
}

int avo_astedit__guard_text(const avo_astedit_unit *orig, const avo_astedit_region *r, const char *t,
			const avo_astedit__lex *lx, size_t *nasm, size_t *bad_off, char *msg, size_t msgsz)
{
	*nasm = 0;
	const char *os = orig->source + r->begin.offset;
	size_t olen = r->end.offset - r->begin.offset;
	avo_astedit__lex olx;
	int have_orig = avo_astedit__lex_run(&olx, os, olen, 0) == 0;
	int res = 0;
	for (size_t i = 0; i < lx->ndirectives && !res; i++) {
		size_t b = lx->directives[i].start, e = lx->directives[i].end;
		char word[16];
		size_t rest = directive_word(t, b, e, word, sizeof(word));
		if (!strcmp(word, "pragma") && loop_pragma(t + rest, e - rest))
			continue;
		int known = 0;
		for (size_t j = 0; have_orig && j < olx.ndirectives && !known; j++)
			known = same_line(t + b, e - b, os + olx.directives[j].start, olx.directives[j].end - olx.directives[j].start);
		if (!known)
			res = refuse(bad_off, b, msg, msgsz,
				     "holds the preprocessor directive '#%s'; region text holds no directives but loop pragmas (#pragma unroll, ...) and the region's own original directive lines", word);
	}
	if (have_orig)
		avo_astedit__lex_dispose(&olx);
	int attr_syntax = strstr(t, "[[") != NULL;
	size_t danger = (size_t)-1, nasm_words = 0;
	for (size_t i = 0; i < lx->nwords && !res; i++) {
		size_t b = lx->words[i].start, n = lx->words[i].end - b;
		int w = avo_astedit__watch_word(t + b, n);
		if (w <= 3) {
			nasm_words++;
		} else if (w <= 5) { /* _Pragma("...") */
			size_t k = 0;
			while (k < lx->nstrings && lx->strings[k].start < b)
				k++;
			if (k == lx->nstrings || !loop_pragma(t + lx->strings[k].start, lx->strings[k].end - lx->strings[k].start))
				res = refuse(bad_off, b, msg, msgsz, "holds a '%s' that is not a loop pragma", "_Pragma");
		} else if (w <= 8) {
			attr_syntax = 1;
		} else if (danger == (size_t)-1) {
			danger = b;
		}
	}
	if (!res && attr_syntax && danger != (size_t)-1) {
		char a[32];
		size_t e = danger;
		while (isalnum((unsigned char)t[e]) || t[e] == '_')
			e++;
		snprintf(a, sizeof(a), "%.*s", (int)(e - danger), t + danger);
		res = refuse(bad_off, danger, msg, msgsz,
			     "uses the attribute '%s', which places code or data outside the region's reach", a);
	}
	static const char *sections[] = {".section", ".pushsection", ".popsection", ".previous", ".subsection", ".init_array",
					 ".fini_array", ".preinit_array", ".ctors", ".dtors", ".text", ".data", ".bss",
					 ".rodata", ".globl", ".symver", ".incbin", NULL};
	for (size_t i = 0; i < lx->nstrings && nasm_words && !res; i++) {
		const char *b = t + lx->strings[i].start;
		size_t n = lx->strings[i].end - lx->strings[i].start;
		for (size_t k = 0; sections[k] && !res; k++) {
			size_t sl = strlen(sections[k]);
			for (size_t q = 0; q + sl <= n && !res; q++)
				if (!memcmp(b + q, sections[k], sl) && (q + sl == n || !isalnum((unsigned char)b[q + sl])))
					res = refuse(bad_off, lx->strings[i].start + q, msg, msgsz,
						     "holds inline asm with the section directive '%s'; asm in a region may not place code or data", sections[k]);
		}
	}
	*nasm = nasm_words;
	return res;
}

int avo_astedit__guard_asm(const avo_astedit__asm *asms, size_t nasms, size_t b, size_t e, size_t nasm_words, size_t *bad_off,
		       char *msg, size_t msgsz)
{
	size_t found = 0;
	for (size_t i = 0; i < nasms; i++) {
		if (asms[i].b < b || asms[i].e > e)
			continue;
		found++;
		if (!asms[i].device)
			return refuse(bad_off, asms[i].b, msg, msgsz,
				      "holds inline asm in host code%s; asm is allowed only in device code (__global__, or __device__ without __host__)",
				      " (a host or __host__ __device__ function, or C)");
	}
	if (found < nasm_words)
		return refuse(bad_off, b, msg, msgsz, "uses 'asm' outside an asm statement in device code%s (an asm label, or asm in host code)", "");
	return 0;
}
