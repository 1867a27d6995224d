/* avo_astedit internals shared by lex.c and scan.c (markers, no libclang) and the libclang
 * files (astedit.c, args.c, apply.c, diag.c, guard.c, variant.c); names avo_astedit__*. */
#ifndef AVO_ASTEDIT_INT_H
#define AVO_ASTEDIT_INT_H

#include "avo_astedit.h"

#include <ctype.h>
#include <stddef.h>

/* Line table: offsets of line starts, for offset -> line:col. */
typedef struct {
	size_t *starts;
	size_t n;
} avo_astedit__lines;

int avo_astedit__lines_init(avo_astedit__lines *t, const char *s, size_t len);
void avo_astedit__lines_dispose(avo_astedit__lines *t);
avo_astedit_pos avo_astedit__pos(const avo_astedit__lines *t, size_t off);

/* A byte of a C identifier (and '$', which GCC and clang accept). */
static inline int avo_astedit__is_ident(int c) { return isalnum(c) || c == '_' || c == '$'; }

/* What one lexer pass over C/C++/CUDA text learns. */
typedef struct {
	size_t start, end;
} avo_astedit__span;

typedef struct {
	avo_astedit__span *comments; /* line comments: from "//" to the end of the line (no newline) */
	size_t ncomments, acomments;
	size_t code_begin, code_end; /* first byte / one past the last byte of code (not blank,
	                                comment or non-pragma directive); code_begin == len if none */
	avo_astedit__span *strings;      /* string literal bodies (between the quotes) */
	size_t nstrings, astrings;
	avo_astedit__span *directives;   /* preprocessor lines, from '#' to the end (with splices) */
	size_t ndirectives, adirectives;
	avo_astedit__span *words;        /* identifiers that avo_astedit__watch_word() names (asm, attributes) */
	size_t nwords, awords;
	int problem;                 /* first structural problem (balance checks), 0 if none */
	size_t problem_off;
	char problem_msg[160];
} avo_astedit__lex;

/* Identifiers worth a look in edit text: asm keywords, _Pragma, attribute syntax and
 * attribute names that place code or data outside the region's reach. Returns 0 if not one. */
int avo_astedit__watch_word(const char *w, size_t n);

/* Lex `s`. check_balance: record unbalanced brackets, unterminated comments/strings,
 * unbalanced #if/#endif and a trailing line splice as `problem`. Returns 0 or AVO_ERROR
 * (allocation). */
int avo_astedit__lex_run(avo_astedit__lex *lx, const char *s, size_t len, int check_balance);
void avo_astedit__lex_dispose(avo_astedit__lex *lx);

/* Scan markers into a fresh unit (no clang); the unit owns a copy of the source. */
int avo_astedit__scan(avo_astedit_unit **out, const char *path, const char *source, size_t len);

/* Is `v` an integer literal we accept as a knob value ("64", "-1", "0x40", "128u", "true")?
 * On success *val gets its value. */
int avo_astedit__knob_literal(const char *v, long long *val);

/* 32 hex chars + NUL. */
void avo_astedit__hash_hex(char out[33], const char *data, size_t len);

/* A growable NULL-terminated string vector. */
typedef struct {
	char **v;
	size_t n, a;
} strv;

int avo_astedit__strv_add(strv *s, const char *x);
void avo_astedit__strv_dispose(strv *s);

/* The extension of a path's base name, with its dot ("" if none). */
const char *avo_astedit__ext(const char *path);

/* The full clang argument list for `path` (args.c). */
int avo_astedit__build_args(strv *args, const char *path, const avo_astedit_options *o);

typedef struct {
	size_t b, e; /* extent in the parsed file */
	int device;  /* in a device-only function */
} avo_astedit__asm;

/* Where a parse failed (astedit.c), for apply's mapping of errors to regions; and, when
 * want_asms is set, the asm statements found (the caller frees asms). */
typedef struct {
	int want_asms;
	int all_errors;   /* a refusal lists every clang error */
	avo_astedit__asm *asms;
	size_t nasms;
	int has_loc;
	size_t off;       /* in the parsed file, when has_loc */
	unsigned line, col;
	char *diagnostic; /* clang's text (parse errors) */
} avo_astedit__perr;

/* Scan markers, parse `src` with `args`, check regions and knobs against the AST. */
int avo_astedit__parse_args(avo_astedit_unit **out, const char *path, const char *src, size_t len, char **args,
			size_t nargs, avo_astedit__perr *pe);

/* diag.c: sort clang's errors into refusals and warnings on `u` (see there). */
struct CXTranslationUnitImpl; /* CXTranslationUnit, without libclang's header (lex.c and scan.c are fuzzed alone) */
int avo_astedit__diagnostics(struct CXTranslationUnitImpl *tu, avo_astedit_unit *u, const char *path, avo_astedit__perr *pe);
/* Append `w` (taken, may be NULL: out of memory) to u->warnings. */
int avo_astedit__add_warning(avo_astedit_unit *u, char *w);
/* Notes on knobs that change nothing (skipped by the preprocessor, or overridden by -D). */
int avo_astedit__knob_notes(struct CXTranslationUnitImpl *tu, avo_astedit_unit *u, const char *path, char **args, size_t nargs);
/* Notes on avo markers in the user's own headers (ignored: only the kernel is edited). */
int avo_astedit__header_notes(struct CXTranslationUnitImpl *tu, avo_astedit_unit *u, const char *path);
/* 1 when `nu` has an error warning that `orig` has not (*which: its index), 0 if none, -1 OOM. */
int avo_astedit__diagnostics_same(const avo_astedit_unit *orig, const avo_astedit_unit *nu, size_t *which);

/* guard.c: what region text may hold. Each returns 0, or 1 with *bad_off (into the text
 * for guard_text, into the parsed file for guard_asm) and a reason in msg. guard_text also
 * counts the asm keywords in *nasm, which guard_asm then finds as device-code statements
 * within [b, e) of the re-parsed file. */
int avo_astedit__guard_text(const avo_astedit_unit *orig, const avo_astedit_region *r, const char *t,
			const avo_astedit__lex *lx, size_t *nasm, size_t *bad_off, char *msg, size_t msgsz);
int avo_astedit__guard_asm(const avo_astedit__asm *asms, size_t nasms, size_t b, size_t e, size_t nasm_words, size_t *bad_off,
		       char *msg, size_t msgsz);

#endif
