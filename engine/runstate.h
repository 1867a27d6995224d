/* The state of a tuning run on disk (format: RUNS.md): lineage.jsonl, attempts.jsonl and
 * run.json in a run directory. Lines are appended with one write(2) and fsync'd; a line cut
 * by a kill is dropped (with a warning) when the run is opened again, so a resumed run
 * continues from the last complete record.
 *
 * Ownership: avo_runstate_open() gives the caller an avo_runstate freed with
 * avo_runstate_free(); the cJSON records it holds are owned by it and borrowed by callers.
 */
#ifndef AVO_RUNSTATE_H
#define AVO_RUNSTATE_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct {
	char *dir;
	cJSON *lineage;   /* array of committed versions, in order */
	cJSON *attempts;  /* array of attempts, in order */
	cJSON *run;       /* run.json object (created when missing) */
	double elapsed_before; /* run time spent by earlier sessions of this run */
	double session_start;  /* avo_now() when opened */
	int dropped_lines;     /* torn lines removed on open */
} avo_runstate;

/* Open (creating) `dir`. With `fresh`, an existing run there is an error (AVO_EINVALID)
 * unless it is empty; without, existing records are loaded. */
int avo_runstate_open(avo_runstate **out, const char *dir, int fresh);
void avo_runstate_free(avo_runstate *rs);

/* Elapsed run time over all sessions. */
double avo_runstate_elapsed(const avo_runstate *rs);

/* Append a record (takes ownership of `rec` in all cases). */
int avo_runstate_add_attempt(avo_runstate *rs, cJSON *rec);
int avo_runstate_add_version(avo_runstate *rs, cJSON *rec);
/* Write run.json atomically from rs->run. */
int avo_runstate_save(avo_runstate *rs);

/* Best committed version (the last one in the lineage), or NULL. Borrowed. */
const cJSON *avo_runstate_best(const avo_runstate *rs);

/* Load a .jsonl file into a cJSON array, skipping (and counting in *dropped) lines that do
 * not parse: used by report/status readers too. *out is caller-owned (cJSON_Delete). */
int avo_runstate_read_jsonl(cJSON **out, const char *path, int *dropped);

#endif
