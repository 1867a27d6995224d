/* The run records (format: RUNS.md), one typed model for every reader and writer:
 * lineage.jsonl (versions), attempts.jsonl (attempts), run.json (the run), the cache's
 * "tune" entry and the export manifest. `avo tune` writes them through runstate.h; `avo
 * report`, `avo status`, `avo export` and the tuning driver read them through here.
 *
 * Reading is lenient and the same everywhere: a missing file is an empty one; a line of a
 * .jsonl file that is not one whole JSON object is skipped with a warning naming
 * file:line; a last line without its newline counts as torn (a kill cut it: not a record)
 * and is reported as such. Unknown numbers are NAN, unknown counts -1, unknown strings
 * NULL, so a record written by an older avo (fewer fields) reads as well as a new one.
 *
 * Optional fields that other parts fill when they know them: the gate's gain over the
 * parent with its interval and sample count (versions and attempts), the final measured
 * speedup of the best over the original (run.json, the tune entry, the manifest), the
 * harness trust mode and the sandbox of the evaluations. Writers omit what is unknown.
 *
 * Ownership: every char * and array inside a record is owned by the record and released
 * by its _dispose function; parse functions fill a zeroed caller-owned struct (dispose it
 * also on failure); _json functions return a cJSON the caller deletes.
 */
#ifndef AVO_RUNREC_H
#define AVO_RUNREC_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* A copy of o[k] when it is a string, else NULL; *err is set when the copy failed. */
char *avo_runrec_field_str(const cJSON *o, const char *k, int *err);

typedef struct {
	char *name;
	char *text;
} avo_runrec_pair;

void avo_runrec_pairs_free(avo_runrec_pair *p, size_t n);
/* The text of `name` in p[0..n), or NULL. */
const char *avo_runrec_pair_find(const avo_runrec_pair *p, size_t n, const char *name);
/* Append a copy of name/text to *p (capacity *cap, grown as needed). */
int avo_runrec_pair_add(avo_runrec_pair **p, size_t *n, size_t *cap, const char *name, const char *text);

/* A measured ratio with its interval: the gate's gain of a version over its parent, or
 * the final speedup of the best over the original. Absent when !avo_runrec_interval_known. */
typedef struct {
	double value;      /* e.g. 1.042 */
	double lo, hi;     /* confidence interval of value; NAN when only the value is known */
	double confidence; /* e.g. 0.95; NAN when unknown */
	long samples;      /* measurements behind it (both sides); -1 unknown */
} avo_runrec_interval;

#define AVO_RUNREC_INTERVAL_NONE {NAN, NAN, NAN, NAN, -1}
int avo_runrec_interval_known(const avo_runrec_interval *i);
/* "1.042x [1.031, 1.055]" or "1.042x" (no interval) into b (n bytes); "?" when unknown. */
const char *avo_runrec_interval_text(char *b, size_t n, const avo_runrec_interval *i);

/* One config's result inside a record. */
typedef struct {
	char *config;
	int correct;        /* 1, 0, or -1 when not recorded */
	char *status;       /* "ok", "incorrect", ...; NULL when not recorded */
	double ms, tflops, max_rel_err;
	long samples;       /* timed repetitions behind ms; -1 unknown */
	double noise;       /* their relative standard deviation (0.02 = 2%); NAN unknown */
} avo_runrec_score;

typedef struct {
	avo_runrec_score *scores;
	size_t nscores;
} avo_runrec_scores;

const avo_runrec_score *avo_runrec_score_find(const avo_runrec_scores *s, const char *config);
void avo_runrec_scores_dispose(avo_runrec_scores *s);

/* How an evaluation was trusted and contained (issue 14); NULL when not recorded. */
typedef struct {
	char *trust;        /* the harness protocol: "avo-harness-1" (verdict outside the candidate) |
			     * "legacy-trusted" (old single binary, --trust-harness) */
	char *sandbox;      /* "bwrap" (sandboxed) | "none" (opted out: "sandbox": false, --no-sandbox) */
} avo_runrec_guard;

/* One line of lineage.jsonl: a committed version. */
typedef struct {
	long id, parent;    /* parent -1 for the baseline */
	char *op, *variant, *objective, *note;
	double fitness, time, elapsed_s, cost_usd;
	long attempt;
	double tokens_in, tokens_out;
	avo_runrec_scores s;
	int has_edits;      /* the line carried an "edits" object */
	avo_runrec_pair *regions; size_t nregions; /* edits relative to the ORIGINAL kernel */
	avo_runrec_pair *knobs; size_t nknobs;
	avo_runrec_interval gain; /* the gate's gain over the parent */
	avo_runrec_guard guard;
	unsigned line;      /* line number in lineage.jsonl (0: not read from a file) */
} avo_runrec_version;

/* One line of attempts.jsonl. */
typedef struct {
	long n;
	double time, elapsed_s, fitness, best_before, cost_usd, tokens_in, tokens_out;
	double eval_s;      /* wall seconds of its evaluation (NAN: none) */
	double operator_s;  /* seconds the operator took since the previous record (NAN: not an operator's) */
	char *op, *status, *variant, *feedback, *note, *edit_hash;
	int from_cache;     /* 1, 0, -1 unknown */
	char *device;       /* the device that ran it ("GPU 1", "worker 0"); NULL: none or unknown */
	avo_runrec_scores s;
	avo_runrec_interval gain; /* the gate's measured gain over the best, when it measured */
	avo_runrec_guard guard;
	unsigned line;
} avo_runrec_attempt;

/* A device of the evaluation pipeline, in run.json's "devices" (this session's). */
typedef struct {
	char *name;         /* "GPU 0", "worker 3" */
	double busy_s;      /* seconds it ran harnesses */
	long runs;          /* evaluations it ran */
	long dropped;       /* of them, runs whose verdict went unused (a confirmation queued
			     * ahead against a best that changed, a run past the budget) */
} avo_runrec_device;

/* run.json. */
typedef struct {
	int present;        /* the file was there and held an object */
	char *spec, *tuning_key, *stop_reason, *objective, *op;
	double started, elapsed_s, best_fitness, baseline_fitness;
	double tokens_in, tokens_out, cost_usd;
	long attempts, commits, best_id;
	double budget_seconds, budget_cost_usd;
	long budget_evaluations;
	int done;           /* 1, 0, -1 unknown */
	double min_gain;    /* the gate's minimum gain (0.01: 1%); NAN unknown */
	avo_runrec_interval speedup; /* final measurement of the best against the original */
	avo_runrec_guard guard;
	avo_runrec_device *devices; /* per device utilization: busy_s / devices_wall_s */
	size_t ndevices;
	double devices_wall_s;      /* wall seconds of the pipeline (this session); NAN unknown */
} avo_runrec_run;

/* The cache's "tune" entry: the best result for a tuning key (what `avo apply` uses). */
typedef struct {
	char *tuning_key, *variant, *objective, *kernel, *arch, *gpu, *avo_version;
	double fitness, baseline_fitness, time;
	long version;
	avo_runrec_scores s;
	avo_runrec_interval speedup;
	avo_runrec_guard guard;
} avo_runrec_tune;

/* The manifest `avo export` writes next to a shipped variant (<kernel>.avo.json). */
typedef struct {
	char *kernel, *arch, *tuning_key, *original_hash, *variant_hash, *objective, *gpu;
	char *date, *avo_version;
	double fitness, baseline_fitness, tuned_time;
	avo_runrec_scores s;
	avo_runrec_interval speedup;
	avo_runrec_guard guard;
} avo_runrec_manifest;

void avo_runrec_version_init(avo_runrec_version *v);
void avo_runrec_attempt_init(avo_runrec_attempt *a);
void avo_runrec_run_init(avo_runrec_run *r);
void avo_runrec_tune_init(avo_runrec_tune *t);
void avo_runrec_manifest_init(avo_runrec_manifest *m);

void avo_runrec_version_dispose(avo_runrec_version *v);
void avo_runrec_attempt_dispose(avo_runrec_attempt *a);
void avo_runrec_run_dispose(avo_runrec_run *r);
void avo_runrec_tune_dispose(avo_runrec_tune *t);
void avo_runrec_manifest_dispose(avo_runrec_manifest *m);

/* Replace run.json's "devices" (copied) and "devices_wall_s". */
int avo_runrec_run_set_devices(avo_runrec_run *r, const avo_runrec_device *d, size_t n, double wall_s);

/* cJSON -> record (lenient: wrong types read as unknown). `out` is initialised first. */
int avo_runrec_version_parse(avo_runrec_version *out, const cJSON *o);
int avo_runrec_attempt_parse(avo_runrec_attempt *out, const cJSON *o);
int avo_runrec_run_parse(avo_runrec_run *out, const cJSON *o);
int avo_runrec_tune_parse(avo_runrec_tune *out, const cJSON *o);
int avo_runrec_manifest_parse(avo_runrec_manifest *out, const cJSON *o);

/* record -> cJSON (NULL on allocation failure). */
cJSON *avo_runrec_version_json(const avo_runrec_version *v);
cJSON *avo_runrec_attempt_json(const avo_runrec_attempt *a);
cJSON *avo_runrec_run_json(const avo_runrec_run *r);
cJSON *avo_runrec_tune_json(const avo_runrec_tune *t);
cJSON *avo_runrec_manifest_json(const avo_runrec_manifest *m);
cJSON *avo_runrec_scores_json(const avo_runrec_scores *s);
int avo_runrec_scores_copy(avo_runrec_scores *out, const avo_runrec_scores *in);

/* ---- the one JSONL reader ------------------------------------------------------------ */

typedef struct {
	char **warnings; size_t nwarnings; /* "path:line: ..." */
	int torn;           /* the last line had no newline (a kill cut it) */
	int bad;            /* lines skipped, the torn one included */
	int present;        /* the file exists */
} avo_runrec_read_info;

void avo_runrec_read_info_dispose(avo_runrec_read_info *ri);

/* Called for each whole JSON object line (1-based line number); a negative return stops. */
typedef int (*avo_runrec_line_fn)(const cJSON *obj, unsigned line, void *payload);

/* Read `path` line by line (see the top of this file). Returns 0 or the callback's error;
 * AVO_EIO when the file exists but cannot be read. */
int avo_runrec_read_jsonl(const char *path, avo_runrec_line_fn fn, void *payload, avo_runrec_read_info *ri);

/* ---- a whole run directory ---------------------------------------------------------- */

typedef struct {
	avo_runrec_version *versions; size_t nversions;
	avo_runrec_attempt *attempts; size_t nattempts;
	avo_runrec_run run;
	char **notes; size_t nnotes;   /* notes.jsonl: the operator's notes (write_note), oldest first */
	int has_lineage, has_attempts; /* the files exist */
	int torn;                      /* lines skipped in the two .jsonl files */
	char **warnings; size_t nwarnings;
} avo_runrec_log;

/* Read lineage.jsonl, attempts.jsonl, notes.jsonl and run.json of `dir` into *out (zeroed first; release
 * with avo_runrec_log_dispose, also on failure). A missing dir reads as an empty run. */
int avo_runrec_log_load(avo_runrec_log *out, const char *dir);
void avo_runrec_log_dispose(avo_runrec_log *log);
/* Append a record to the log (in memory), taking its contents (*v is left empty). */
int avo_runrec_log_add_version(avo_runrec_log *log, avo_runrec_version *v);
int avo_runrec_log_add_attempt(avo_runrec_log *log, avo_runrec_attempt *a);
/* Append a copy of the note's text to the log's notes. */
int avo_runrec_log_add_note(avo_runrec_log *log, const char *text);
/* The record of one note in notes.jsonl: {"time", "operator", "text"}; NULL: out of memory. */
cJSON *avo_runrec_note_json(const char *op, const char *text, double time);
/* Append a copy of `w` to the log's warnings. */
int avo_runrec_log_warn(avo_runrec_log *log, const char *w);

/* Append one record to a .jsonl file: one write(2) of the whole line with O_APPEND, then
 * fsync, so a kill can only cut the last line. */
int avo_runrec_append(const char *path, const cJSON *rec);
/* Write a JSON document atomically (temp file + rename), pretty-printed, newline-ended. */
int avo_runrec_write_json(const char *path, const cJSON *doc);

#endif
