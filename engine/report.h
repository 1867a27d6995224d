/* Reports of a tuning run: read a run directory (RUNS.md) and render it as one
 * self-contained HTML page (`avo report`) or as a terminal / JSON summary (`avo status`).
 * Nothing here needs the spec, libclang or the cache: callers pass what they know.
 *
 * Reading goes through the run records' one reader (runrec.h): a line of a .jsonl file that
 * is not a whole object (the torn last line of a killed run, most often) is skipped and noted
 * in run->warnings; a missing file is an empty one. Only a run directory holding none of
 * lineage.jsonl, attempts.jsonl and run.json is an error (AVO_ENOTFOUND).
 *
 * Ownership: avo_report_load() gives the caller an avo_report_run freed with
 * avo_report_run_free(); every pointer inside it lives as long as the run. The render
 * functions append to a caller-owned avo_buf. Unknown numbers are NAN, unknown counts -1.
 */
#ifndef AVO_REPORT_H
#define AVO_REPORT_H

#include "avo_base.h"
#include "runrec.h"

#include <stddef.h>

/* The records are the run records' own types (runrec.h). */
typedef avo_runrec_score avo_report_score;
typedef avo_runrec_pair avo_report_pair;
typedef avo_runrec_scores avo_report_scores;
typedef avo_runrec_version avo_report_version;
typedef avo_runrec_attempt avo_report_attempt;

/* One row of peers.json: {"config": "...", "cudnn": 612.0, "fa2": 330.1} (TFLOP/s). */
typedef struct {
	char *config;
	avo_report_pair *cols; /* numeric columns, value text as printed with %g */
	double *values;
	size_t ncols;
} avo_report_peer;

typedef struct {
	char *run_dir;

	avo_report_version *versions; size_t nversions;
	avo_report_attempt *attempts; size_t nattempts;
	avo_report_peer *peers; size_t npeers;

	avo_runrec_run info; /* run.json; info.present says whether it was there */

	char **warnings; size_t nwarnings;
} avo_report_run;

/* Read run_dir. `peers_path` may be NULL (then run_dir/peers.json, when present). */
int avo_report_load(avo_report_run **out, const char *run_dir, const char *peers_path);
void avo_report_run_free(avo_report_run *run);

/* The numbers every view shows, derived from the files (lineage first, run.json where the
 * lineage has no answer). Counts of failures are per attempt status other than
 * "committed"; commits_by_op counts non-baseline versions per operator. */
typedef struct {
	const avo_report_version *baseline; /* NULL when the lineage is empty */
	const avo_report_version *best;     /* highest fitness, latest on ties; NULL when empty */
	double best_fitness, baseline_fitness, speedup;
	const char *objective;              /* borrowed; "" when unknown */
	long attempts, commits;             /* attempts evaluated, versions after the baseline */
	double elapsed_s, tokens_in, tokens_out, cost_usd;
	const char *stop_reason;            /* borrowed; NULL while running or unknown */
	int done;
	avo_report_pair *commits_by_op; size_t ncommits_by_op;   /* text = count as decimal */
	avo_report_pair *failures; size_t nfailures;             /* status -> count */
	long confirmations;                 /* the gate's A/B runs: measurements, not failures */
	avo_runrec_interval final;          /* the final measured speedup, when the run made one */
	double noise_limit;                 /* noise above this (relative sd) hides the gains sought */
	long noisy_configs;                 /* configs of the baseline or best above noise_limit */
} avo_report_summary;

/* The larger of a config's noise in the baseline and in the best (NAN when neither has one). */
double avo_report_config_noise(const avo_report_score *base, const avo_report_score *best);

/* Fill `out`; release with avo_report_summary_dispose(). Borrowed pointers point into run. */
int avo_report_summarize(avo_report_summary *out, const avo_report_run *run);
void avo_report_summary_dispose(avo_report_summary *s);

typedef struct {
	const char *title;        /* the spec's name, or NULL (the run dir's basename) */
	const char *kernel_path;  /* original kernel, for the diff; NULL: no diff against it */
	const char *kernel_src;   /* its bytes, if already read; NULL: read kernel_path */
	const char *best_src;     /* the best variant's full source, or NULL */
	double generated_at;      /* wall time shown in the footer; 0: now */
} avo_report_options;

#define AVO_REPORT_OPTIONS_INIT {NULL, NULL, NULL, NULL, 0}

/* Append the HTML page to `out`. */
int avo_report_html(avo_buf *out, const avo_report_run *run, const avo_report_options *opts);
/* Render and write `path` atomically (0644). */
int avo_report_write_html(const char *path, const avo_report_run *run, const avo_report_options *opts);

/* The terminal summary (`avo status`) and its JSON form (one object, newline-terminated). */
int avo_report_status_text(avo_buf *out, const avo_report_run *run, const char *title);
int avo_report_status_json(avo_buf *out, const avo_report_run *run, const char *title);

/* ---- pieces, exposed for tests -------------------------------------------------- */

/* Append `s` (len bytes; (size_t)-1 for strlen) HTML-escaped (& < > " '). NULL is "". */
int avo_report_escape(avo_buf *out, const char *s, size_t len);

/* Append a unified line diff of a -> b (3 lines of context; no ---/+++ header). Lines
 * are plain text; `html` nonzero escapes them and wraps -/+ lines in <span class=del|add>.
 * *changed (may be NULL) is set to 1 when the texts differ. */
int avo_report_diff(avo_buf *out, const char *a, const char *b, int html, int *changed);

/* Regions and knobs found in a source by their markers (astedit's scanner, no libclang):
 * region text is from the line after `// avo:region NAME` to the start of the `// avo:end`
 * line; a source whose markers do not scan has none.
 * *out (caller frees with avo_report_pairs_free) holds name/text pairs. */
int avo_report_scan_regions(avo_report_pair **out, size_t *n, const char *src);
int avo_report_scan_knobs(avo_report_pair **out, size_t *n, const char *src);
void avo_report_pairs_free(avo_report_pair *p, size_t n);

#endif
