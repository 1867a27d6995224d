/* The evaluator: compile a variant with the spec's harness, run every config under a hard
 * timeout, judge correctness, time, and store the evaluation in the cache.
 *
 * Harness protocols, one file each behind a table (eval_int.h):
 *   "avo-harness-1" (default, proto_avoh.c): the harness uses harness/avo_harness.h. A
 *     reference process (the harness linked with the original kernel, never calling it)
 *     computes the outputs for seeds avo draws; the candidate process gets each call's seed
 *     from avo, poisons, calls, times, and sends the outputs avo asks for (the checked call
 *     and two timed calls avo picks in secret). avo compares them with the reference under
 *     the tolerance and checks the reported times against its own clock. stdout is ignored.
 *   "legacy-trusted" (proto_legacy.c): `harness <config args>` prints one JSON object as
 *     its last stdout line, {"correct":true,"max_rel_err":1.2e-3,"ms":0.83,"tflops":612.4},
 *     optionally with "samples" (ms per repetition; the gate, gate.h, takes `ms` as one
 *     sample without them) and "rel_l2_err". A variant can forge
 *     it, so it runs only with opts->trust_harness (--trust-harness); otherwise
 *     avo_eval_many() fails with AVO_EINVALID. The result records the protocol.
 * Non-zero exit, a signal, a timeout or a broken protocol is a failed evaluation.
 *
 * Judging: a config passes when its run exited 0, every checked output is within the
 * tolerance (max |out-ref| / max |ref|), no element is unwritten or NaN/Inf, and the times
 * are plausible. Configs run in order and stop at the first failure
 * (the rest are AVO_EVAL_SKIPPED). Fitness = geometric mean over configs of tflops
 * (objective "tflops") or of 1/ms (objective "ms"); 0 unless every config passed.
 *
 * Caching (when a cache is given): compiled objects go in ns "bin", evaluations in ns
 * "eval", under the keys of buildid.h (one field list: source or variant, harness, every
 * included header, compiler identity, flags, device, configs, tolerance, objective,
 * protocol; the harness protocol and the harness library's sources through the harness's
 * part). Results that are "ok" or "incorrect" are cached; compile failures, crashes,
 * timeouts and protocol failures are not (they may be flaky or depend on the machine's
 * state), so they are re-evaluated next time. A NULL cache evaluates everything afresh.
 * The evaluator stores no variant in ns "obj": the tune loop stores a candidate once, when
 * it commits it (engine/candidate.h).
 *
 * Per process, computed once (buildid.h): the compiler identity, the device identity, the
 * header digest; and the harness object. A header edited during a long `avo tune` is
 * therefore seen by the next process, not the running one.
 *
 * Sandbox: every compile, link and harness run goes through bubblewrap (avo_sandbox in
 * avo_base.h, engine/evalbox.h) unless the spec says "sandbox": false; when it cannot start,
 * avo_eval_* fail with an environment error that says so.
 *
 * Runs: cwd is a fresh scratch dir, secrets are scrubbed from the environment, the process
 * group is killed at the spec's timeout; rlimits: file size 1 GiB, 8192 processes, and for C
 * kernels without sanitizers 16 GiB of address space (none for CUDA, which maps more).
 * With opts->gpu >= 0 the harness gets CUDA_VISIBLE_DEVICES=<gpu> and
 * CUDA_DEVICE_ORDER=PCI_BUS_ID (nvidia-smi's numbering).
 *
 * Ownership: avo_eval_run() gives the caller an avo_eval_result freed with
 * avo_eval_result_free().
 */
#ifndef AVO_EVAL_H
#define AVO_EVAL_H

#include "spec.h"
#include "avo_cache.h"
#include "eval_result.h"

typedef struct {
	int jobs;                    /* parallel compiles; 0: all cores */
	int gpu;                     /* CUDA_VISIBLE_DEVICES index; -1: leave as is (identity of GPU 0) */
	int use_cache;               /* read and write the eval cache */
	int verbose;                 /* print commands on stderr and keep the scratch dirs */
	const char *scratch_dir;     /* NULL: $TMPDIR/avo-<uid> (/tmp when TMPDIR is unset) */
	int trust_harness;           /* accept "harness_protocol": "legacy-trusted" (--trust-harness) */
	int remeasure;               /* run again: neither read nor write ns "eval" ("bin" still
				      * serves the compiled objects); the gate's confirmations */
	const char *hide_dir;        /* kept from the sandbox's sight (a run dir); NULL: none */
} avo_eval_options;

#define AVO_EVAL_OPTIONS_INIT {0, -1, 1, 0, NULL, 0, 0, NULL}

/* Evaluate `variant` (the full kernel source text). Returns 0 whenever a verdict was
 * reached (whatever it is: see out->status) and a negative AVO_E* code only when the
 * environment failed (compiler missing, scratch dir unusable); then *out is NULL. */
int avo_eval_run(avo_eval_result **out, const avo_spec *spec, const char *variant, size_t len,
		 avo_cache *cache, const avo_eval_options *opts);
/* Evaluate several variants: compiles in parallel (opts->jobs), runs one at a time per GPU.
 * out[i] corresponds to variants[i]. */
int avo_eval_many(avo_eval_result **out, const avo_spec *spec, const char *const *variants,
		  const size_t *lens, size_t n, avo_cache *cache, const avo_eval_options *opts);
/* A session: the build and the run of an evaluation apart, from any threads, for a
 * pipeline (engine/pipeline.h) that compiles on every core while each device runs.
 * avo_eval_session_build() looks the variant up in ns "eval" and otherwise compiles and
 * links it: a verdict known already (cached; did not compile) comes back in *res, else
 * *built waits to be run. avo_eval_session_run() runs it with CUDA_VISIBLE_DEVICES=<gpu>
 * (gpu -1: as opts->gpu says) and takes it. `src` is borrowed until then. Both return < 0
 * only when the environment failed. remeasure: as avo_eval_options.remeasure, per build.
 * Ownership: the session is freed with avo_eval_session_free() (after every built one is
 * run or freed with avo_eval_built_free()); results with avo_eval_result_free(). */
typedef struct avo_eval_session avo_eval_session;
typedef struct avo_eval_built avo_eval_built;
int avo_eval_session_open(avo_eval_session **out, const avo_spec *spec, avo_cache *cache,
			  const avo_eval_options *opts);
int avo_eval_session_build(avo_eval_session *s, const char *src, size_t len, int remeasure,
			   avo_eval_built **built, avo_eval_result **res);
int avo_eval_session_run(avo_eval_session *s, avo_eval_built *b, int gpu, avo_eval_result **res);
void avo_eval_built_free(avo_eval_session *s, avo_eval_built *b);
void avo_eval_session_free(avo_eval_session *s);

/* Remove what killed evaluations left in the scratch root (their dirs carry a pid that is
 * gone; engine/runstate.h). Every evaluation does it first; `avo tune` at its start too.
 * Returns how many dirs went, or a negative AVO_E* when the root is not usable. */
int avo_eval_clean_scratch(const avo_eval_options *opts);

#endif
