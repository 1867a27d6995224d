/* avo_astedit: parse a kernel with libclang, find its regions and knobs, apply validated edits.
 *
 * Markers (see astedit/MARKERS.md, README "Markers"):
 *   // avo:region NAME      opens a region; its text starts on the next line
 *   // avo:end              closes it; the region's text ends where this line starts
 *   #define NAME V          // avo:knob V1 V2 ...      (or // avo:knob LO..HI)
 *   constexpr int NAME = V; // avo:knob ...            (any integer declaration)
 *
 * Ownership: avo_astedit_parse() gives the caller an avo_astedit_unit, freed with
 * avo_astedit_unit_free(); everything it points to lives as long as the unit.
 * avo_astedit_apply() gives the caller the new source (free()) and fills an error struct
 * to be released with avo_astedit_error_dispose().
 * Errors: 0 on success, negative AVO_E* (avo_base.h) with the message in avo_error_last(),
 * formatted "file:line:col: reason".
 */
#ifndef AVO_ASTEDIT_H
#define AVO_ASTEDIT_H

#include <stddef.h>

typedef struct {
	unsigned line, col; /* 1-based, col in bytes */
	size_t offset;      /* byte offset into the source */
} avo_astedit_pos;

typedef enum {
	AVO_ASTEDIT_REGION_STATEMENTS = 0, /* whole statements of one compound statement */
	AVO_ASTEDIT_REGION_FUNCTION = 1,   /* one (or more) whole function definitions */
} avo_astedit_region_kind;

typedef struct {
	char *name;
	avo_astedit_region_kind kind;
	char *function;         /* enclosing function (STATEMENTS) or the function defined; may be "" */
	avo_astedit_pos marker; /* the `// avo:region` comment */
	avo_astedit_pos begin;  /* first byte of the region text (line after the marker) */
	avo_astedit_pos end;    /* one past the last byte (start of the `// avo:end` line) */
	char hash[33];          /* XXH3-128 hex of the region text */
} avo_astedit_region;

typedef enum {
	AVO_ASTEDIT_KNOB_DEFINE = 0,   /* #define NAME V */
	AVO_ASTEDIT_KNOB_VARIABLE = 1, /* constexpr / const / plain integer declaration */
} avo_astedit_knob_kind;

typedef struct {
	char *name;
	avo_astedit_knob_kind kind;
	char *value;            /* current value text as written, e.g. "64" */
	avo_astedit_pos value_pos; /* where the value text starts */
	size_t value_len;       /* bytes of the value text */
	char **values;          /* allowed values (list form), NULL when a range */
	size_t nvalues;
	int is_range;           /* LO..HI form */
	long long lo, hi;
	avo_astedit_pos marker; /* the `// avo:knob` comment */
} avo_astedit_knob;

typedef struct {
	char *path;             /* as given */
	char *source;           /* the bytes parsed (NUL-terminated) */
	size_t source_len;
	avo_astedit_region *regions;
	size_t nregions;
	avo_astedit_knob *knobs;
	size_t nknobs;
	char **clang_args;      /* the full argument list used (for re-parsing edits) */
	size_t nclang_args;
	avo_astedit_pos main_def; /* where the file defines main() at file scope; line 0: it does not */
	char **warnings;        /* clang errors in code nobody marked, "file:line:col: error: ..."
	                           (the parse is still used; an edit may add none) */
	size_t nwarnings;
} avo_astedit_unit;

typedef struct {
	const char *const *clang_args; /* extra args appended (-I, -D, -std=...) */
	size_t nclang_args;
	const char *compile_db_dir;    /* directory with compile_commands.json, or NULL */
	const char *cuda_path;         /* NULL: found like CMake's FindCUDAToolkit */
	int cuda_host_side;            /* CUDA: 0 = --cuda-device-only (default), 1 = host only */
	const char *const *compile_flags; /* a compiler's flags (nvcc or cc, e.g. the spec's
	                                     "flags"): only those that change the meaning are kept,
	                                     as from compile_commands.json */
	size_t ncompile_flags;
	const char *flags_dir;         /* relative paths in compile_flags resolve here (NULL: cwd) */
	const char *language;          /* "cuda", "c", "c++", or NULL: `-x` in clang_args, else
	                                  the extension (.cu/.cuh CUDA, .h C, .hpp C++) */
	int all_errors;                /* a refused parse lists every error (else the first) */
} avo_astedit_options;

#define AVO_ASTEDIT_OPTIONS_INIT {NULL, 0, NULL, NULL, 0, NULL, 0, NULL, NULL, 0}

/* Parse `path`. When `source` is non-NULL it is used instead of the file's content (the
 * path still names the file in messages and picks the language by extension: .cu/.cuh as
 * CUDA, .c/.h as C). Fails with AVO_EPARSE on clang errors in marked code (a region, a
 * knob's line) or without a location; errors elsewhere in the file or the author's headers
 * become u->warnings, errors in system headers are ignored (see MARKERS.md); AVO_EINVALID on bad
 * markers, AVO_ENOTFOUND on an unreadable file or missing compile_commands entry, AVO_ERROR
 * when no CUDA toolkit is found. `opts` may be NULL. Nothing is written to disk. */
int avo_astedit_parse(avo_astedit_unit **out, const char *path, const char *source, size_t len,
		      const avo_astedit_options *opts);
void avo_astedit_unit_free(avo_astedit_unit *u);

const avo_astedit_region *avo_astedit_region_find(const avo_astedit_unit *u, const char *name);
const avo_astedit_knob *avo_astedit_knob_find(const avo_astedit_unit *u, const char *name);
/* Region text as a fresh string (caller frees). */
char *avo_astedit_region_text(const avo_astedit_unit *u, const avo_astedit_region *r);

typedef struct {
	const char *region; /* region name */
	const char *text;   /* new text for the region (whole lines, ends with '\n') */
} avo_astedit_region_edit;

typedef struct {
	const char *knob;   /* knob name */
	const char *value;  /* new value; must be allowed by the knob's marker */
} avo_astedit_knob_edit;

typedef enum {
	AVO_ASTEDIT_ERR_NONE = 0,
	AVO_ASTEDIT_ERR_UNKNOWN_NAME,   /* no such region/knob */
	AVO_ASTEDIT_ERR_VALUE,          /* knob value not allowed */
	AVO_ASTEDIT_ERR_ESCAPE,         /* edit text contains markers or unbalanced braces */
	AVO_ASTEDIT_ERR_PARSE,          /* the edited file does not parse */
	AVO_ASTEDIT_ERR_MARKERS,        /* regions/knobs not found again after the edit */
	AVO_ASTEDIT_ERR_OUTSIDE,        /* bytes outside the edited spans changed */
	AVO_ASTEDIT_ERR_DUPLICATE,      /* the same region or knob edited twice */
} avo_astedit_error_kind;

typedef struct {
	avo_astedit_error_kind kind;
	char *message;     /* one line, "file:line:col: reason" */
	char *diagnostic;  /* clang's diagnostic text (PARSE), else NULL */
	char *region;      /* region the problem lies in, or NULL */
	unsigned line, col;        /* in the edited file */
	unsigned region_line;      /* 1-based line inside the region text, 0 if n/a */
} avo_astedit_error;

void avo_astedit_error_dispose(avo_astedit_error *e);

/* Apply edits to `orig` and validate: edit text cannot escape its region (no markers,
 * balanced brackets and #if/#endif, no unterminated comment/string, no trailing line
 * splice), knob values allowed by their markers, re-parse (in memory, with orig's clang
 * arguments) without errors, same regions (kind, function) and knobs found where the edit
 * put them, every byte outside the edited spans unchanged. Region text missing its final
 * newline gets one. On success *out (caller frees) is the new source and *out_len (may be
 * NULL) its length. On failure returns <0 (AVO_EINVALID, AVO_EPARSE, AVO_ENOTFOUND) and
 * fills `err` (may be NULL; dispose it in either case). Never writes any file. */
int avo_astedit_apply(char **out, size_t *out_len, const avo_astedit_unit *orig,
		      const avo_astedit_region_edit *redits, size_t nredits,
		      const avo_astedit_knob_edit *kedits, size_t nkedits, avo_astedit_error *err);

/* Is `vsrc` (the file `vpath`) an edit of `orig`: the same markers, knob values its
 * markers allow, region texts that pass avo_astedit_apply(), and every other byte the
 * original's? 0 if so; else <0 (AVO_EINVALID, AVO_EPARSE) with "vpath:line:col: reason" and
 * `err` filled (may be NULL; dispose it in either case). Nothing is written. */
int avo_astedit_variant_check(const avo_astedit_unit *orig, const char *vpath, const char *vsrc, size_t vlen,
			      avo_astedit_error *err);

/* Line and column (1-based; a column counts bytes) of byte `off` of `text`. */
void avo_astedit_line_col(const char *text, size_t off, unsigned *line, unsigned *col);

/* The marker scanner alone (no libclang): used by the fuzz target. Fills regions (name,
 * positions, hash; kind and function are not decided, function is "") and knobs (all
 * fields); nclang_args is 0. Returns 0 or AVO_EINVALID with "file:line:col: reason". */
int avo_astedit_scan(avo_astedit_unit **out, const char *path, const char *source, size_t len);

#endif
