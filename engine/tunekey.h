/* The tuning key of a spec (see RUNS.md): what a tuned result is valid for. Computed from
 * file bytes and spec fields only - no libclang, no timestamps, no absolute paths - so that
 * `avo apply` in a build stays within milliseconds.
 *
 * Ownership: see each function.
 */
#ifndef AVO_TUNEKEY_H
#define AVO_TUNEKEY_H

#include "spec.h"
#include "avo_cache.h"
#include "runrec.h"

#include <math.h> /* NAN in AVO_TUNEKEY_BEST_INIT */

/* The tuning key of `spec` as 32 hex digits (buildid.h: original kernel and harness, configs,
 * arch, compiler identity, flags, link flags, include dirs, defines, headers). */
int avo_tunekey_compute(char out[AVO_CACHE_HEX], const avo_spec *spec, avo_cache *cache);
/* The key that avo recorded before headers and link flags entered it (protocol 1), for a
 * `key` that avo_tunekey_compute() gave in this process; AVO_ENOTFOUND otherwise. A run
 * or a published result keyed so is still valid: the lookups below fall back to it. */
int avo_tunekey_legacy(char out[AVO_CACHE_HEX], const char *key);

/* ---- the best known result for a key (ns "tune" entry -> ns "obj" variant) ------------
 * Shared by `avo apply` and `avo export`. Looks in the local cache first and, when
 * `allow_remote`, then in the remote (then the same for the legacy key). AVO_ENOTFOUND when there is no usable result; an
 * entry naming a variant that is missing or does not hash to its name is a miss too (the
 * reason is in the error slot, for a warning).
 *
 * Ownership: the fields are owned by `out`; release them with avo_tunekey_best_dispose(). */
typedef struct {
	char variant[AVO_CACHE_HEX];
	avo_buf source;        /* the variant's full source text */
	char *entry;           /* the "tune" entry's JSON text */
	int from_remote;       /* 1 when the entry or the object came from the remote */
	double fitness, baseline_fitness; /* 0 when absent */
	char *objective;       /* "ms", "tflops" or NULL */
	char *gpu;             /* NULL when absent */
	avo_runrec_interval speedup; /* the run's final measurement, when it made one */
} avo_tunekey_best;

#define AVO_TUNEKEY_BEST_INIT {{0}, AVO_BUF_INIT, NULL, 0, 0, 0, NULL, NULL, AVO_RUNREC_INTERVAL_NONE}

int avo_tunekey_best_get(avo_tunekey_best *out, avo_cache *cache, const char *key, int allow_remote);
void avo_tunekey_best_dispose(avo_tunekey_best *b);

#endif
