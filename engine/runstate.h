/* The state of a tuning run on disk (format: RUNS.md), as `avo tune` keeps it: the typed
 * records of runrec.h, appended with one write(2) and fsync'd, and run.json written
 * atomically. A line cut by a kill is dropped (with a warning) when the run is opened
 * again, so a resumed run continues from the last complete record.
 *
 * One process at a time: opening takes an exclusive lock on <dir>/lock (flock, so a killed
 * holder's lock goes with it) and writes who holds it there (pid, host, start time); a
 * second open fails at once (AVO_EIO) naming them. Opening also removes what a killed
 * run left behind: temp files of atomic writes in the run dir.
 *
 * Ownership: avo_runstate_open() gives the caller an avo_runstate freed with
 * avo_runstate_free() (which releases the lock); the records it holds are owned by it and
 * borrowed by callers; the add functions take the contents of the record they are given.
 */
#ifndef AVO_RUNSTATE_H
#define AVO_RUNSTATE_H

#include "runrec.h"

#include <stddef.h>

typedef struct {
	char *dir;
	avo_runrec_log log;    /* versions (the lineage), attempts, run (run.json) */
	double elapsed_before; /* run time spent by earlier sessions of this run */
	double session_start;  /* avo_now() when opened */
	int dropped_lines;     /* torn lines removed on open */
	int removed_temps;     /* temp files of a killed run removed on open */
	int lock_fd;
} avo_runstate;

/* How to open: continue what is there, start a new run (an existing one is an error), or
 * move an existing run aside to <dir>.old-<time> and start a new one. */
enum { AVO_RUNSTATE_RESUME = 0, AVO_RUNSTATE_NEW = 1, AVO_RUNSTATE_FRESH = 2 };

/* Open (creating) `dir`. AVO_EINVALID: a run exists and mode is NEW, or `dir` is not a
 * directory; AVO_EIO: another process holds the run (the message says which). */
int avo_runstate_open(avo_runstate **out, const char *dir, int mode);
void avo_runstate_free(avo_runstate *rs);

/* Elapsed run time over all sessions. */
double avo_runstate_elapsed(const avo_runstate *rs);

/* Append a record, taking its contents (*rec is left initialised, empty) in all cases. */
int avo_runstate_add_attempt(avo_runstate *rs, avo_runrec_attempt *rec);
int avo_runstate_add_version(avo_runstate *rs, avo_runrec_version *rec);
/* Keep an operator's note (write_note) with the run: notes.jsonl and rs->log.notes. */
int avo_runstate_add_note(avo_runstate *rs, const char *op, const char *text);
/* Write run.json atomically from rs->log.run. */
int avo_runstate_save(avo_runstate *rs);

/* Scratch dirs a run can clean up after a kill are named "<word>-<host>-<pid>-XXXXXX"
 * (avo_runstate_scratch_prefix() gives "<word>-<host>-<pid>-" for avo_mkdtemp). */
char *avo_runstate_scratch_prefix(const char *word); /* caller frees */
/* Remove the dirs of that form in `root` made on this host by a process that is gone
 * (never following links). Returns how many were removed, or a negative AVO_E* when the
 * root cannot be read (a missing root is 0). */
int avo_runstate_clean_scratch(const char *root);

/* Best committed version (the last one in the lineage), or NULL. Borrowed. */
const avo_runrec_version *avo_runstate_best(const avo_runstate *rs);
/* The version with this id, or NULL. Borrowed. */
const avo_runrec_version *avo_runstate_version(const avo_runstate *rs, long id);

#endif
