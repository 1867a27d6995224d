/* Evaluation backends: where avo_eval_run() happens. See CLUSTER.md.
 *
 *   inline  in this process, as `avo eval` does (the default)
 *   local   every local GPU (or N CPU workers for C kernels), one evaluation per GPU at a
 *           time, a worker thread each
 *   slurm   batches as Slurm job arrays; each task runs `avo __backend-worker` on a node
 *           and leaves its result in a shared job directory; lost tasks are retried
 *
 * The backend is named by the spec ("backend": "slurm", plus a "slurm" or "local" section)
 * or by the command line (--backend), which wins.
 *
 * Ownership: avo_backend_open() gives the caller an avo_backend freed with
 * avo_backend_free(); it borrows the spec, the cache and the options until then.
 * avo_backend_eval() hands out[i] (free with avo_eval_result_free) and errs[i] (free) to
 * the caller.
 */
#ifndef AVO_BACKEND_H
#define AVO_BACKEND_H

#include "eval.h"

typedef struct avo_backend avo_backend;

typedef struct {
	const char *kind;       /* "inline" | "local" | "slurm"; NULL: the spec's, else inline */
	const char *job_root;   /* slurm: NULL: spec's slurm.job_dir, else <spec dir>/.avo/slurm */
	const char *worker;     /* slurm: program run on the nodes; NULL: spec's slurm.avo, else this avo */
	int quiet;              /* no progress lines on stderr */
	const char *devices;    /* local: "N" CPU workers (C kernels) or "0,2" GPU indices (CUDA);
				 * NULL: $AVO_DEVICES, else the spec's "local" section, else all */
} avo_backend_options;

#define AVO_BACKEND_OPTIONS_INIT {NULL, NULL, NULL, 0, NULL}

int avo_backend_open(avo_backend **out, const avo_spec *spec, avo_cache *cache,
		     const avo_eval_options *eopts, const avo_backend_options *opts);
void avo_backend_free(avo_backend *b);

/* "inline", "local" or "slurm". */
const char *avo_backend_name(const avo_backend *b);
/* How many evaluations it runs at once: the batch size that keeps it busy (>= 1). */
size_t avo_backend_slots(const avo_backend *b);

/* Evaluate n variants (full kernel sources). out[i] is the verdict on variants[i]; it is
 * NULL when the backend could not reach one (a task lost after its retries, a node that
 * never came back, an interrupt), and then errs[i] says why. Returns 0 when every
 * variant has a verdict or a reason, AVO_EINVALID/AVO_EIO/AVO_ENOTFOUND when the backend
 * cannot run at all (sbatch missing, job dir not writable), and AVO_ERROR after SIGINT or
 * SIGTERM (jobs in flight are cancelled; finished verdicts are still in out[]). */
int avo_backend_eval(avo_backend *b, avo_eval_result **out, char **errs,
		     const char *const *variants, const size_t *lens, size_t n);

/* The backend's evaluation pipeline (engine/pipeline.h: compiles on every core, one run
 * worker per device), opened on first use; *out is borrowed, NULL when the backend has
 * none (slurm: its batches are job arrays). < 0: it could not start. */
struct avo_pipeline;
int avo_backend_pipeline(avo_backend *b, struct avo_pipeline **out);

/* Did a SIGINT/SIGTERM arrive during the last avo_backend_eval()? */
int avo_backend_interrupted(const avo_backend *b);

/* The hidden subcommand a Slurm task runs: `avo __backend-worker JOBDIR [INDEX]`
 * (INDEX defaults to $SLURM_ARRAY_TASK_ID). Returns an exit code. */
int avo_backend_worker_main(int argc, char **argv);

#endif
