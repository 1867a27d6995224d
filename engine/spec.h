/* The tuning spec (avo.json), parsed with cJSON.
 *
 * {
 *   "name": "attn",                       required, non-empty
 *   "kernel": "attention.cu",             required, must be readable
 *   "harness": "harness.cu",              required, must be readable
 *   "compiler": "nvcc" | "cc" | path,     default: nvcc for a .cu kernel, cc otherwise;
 *                                         a compiler whose name ends in "nvcc" compiles CUDA
 *   "flags": ["-O3"],                     compile flags for both TUs and the link; -O3 is
 *                                         added when no -O option is given
 *   "link_flags": ["-lm"],                after the objects on the link line
 *   "include_dirs": ["."],                -I, after the kernel's own directory
 *   "defines": ["X=1"],                   -D
 *   "arch": "sm_90a",                     nvcc only: sm_NN[a|f] -> -gencode=arch=compute_NN[a|f],
 *                                         code=sm_NN[a|f]; "native" -> -arch=native; "" or
 *                                         absent: nvcc's default. Must be "" for a C compiler.
 *   "configs": [{"name": "small", "args": ["--b", "1"]}],   required, non-empty; names
 *                                         unique; args are strings or numbers (4096 -> "4096")
 *   "tolerance": 2e-2,                    max_rel_err allowed, >= 0, default 1e-2
 *   "objective": "tflops" | "ms",         default "ms" (fitness = geomean(1/ms) or geomean(tflops))
 *   "harness_protocol": "avo-harness-1",  default; the harness uses harness/avo_harness.h.
 *                                         "legacy-trusted": one binary that prints its own
 *                                         verdict, which a variant can forge; runs only with
 *                                         --trust-harness (see eval.h)
 *   "timeout": 60,                        seconds per harness run, > 0, default 120
 *   "compile_timeout": 300,               seconds per compile or link, default 300
 *   "operator": "knob" | "llm" | "command",   default "knob"
 *   "budget": {"evaluations": 100, "seconds": 3600, "cost_usd": 5},   each >= 0; 0 or
 *                                         absent: no limit
 *   "shipped_dir": "tuned",
 *   "knowledge": "kb",                    read by the tuner from `json`
 *   "knob": {...}, "llm": {...}, "command": {...}   operator settings (agent/), objects
 * }
 *
 * Relative paths (kernel, harness, include_dirs, shipped_dir) resolve against the spec's
 * directory, which is made absolute. Errors name the file and the field:
 *   avo.json: field "configs": must be a non-empty array of {"name", "args"}
 *   avo.json:3:13: parse error                                  (malformed JSON, AVO_EPARSE)
 * Unknown top-level fields (and unknown fields of a config) are a warning on stderr, not
 * an error: a typo is shown, and a spec written for a newer avo still loads. Fields whose
 * name starts with "_" or "//" are comments and pass silently.
 *
 * Ownership: avo_spec_load() gives the caller an avo_spec freed with avo_spec_free().
 */
#ifndef AVO_SPEC_H
#define AVO_SPEC_H

#include <stddef.h>

typedef struct {
	char *name;
	char **args;
	size_t nargs;
} avo_spec_config;

typedef struct {
	char *path;          /* the spec file */
	char *dir;           /* its directory; relative paths resolve here */
	char *name;
	char *kernel;        /* resolved path */
	char *harness;       /* resolved path */
	char *compiler;
	int is_cuda;
	char **flags; size_t nflags;
	char **link_flags; size_t nlink_flags;
	char **include_dirs; size_t ninclude_dirs; /* resolved */
	char **defines; size_t ndefines;
	char *arch;
	avo_spec_config *configs; size_t nconfigs;
	double tolerance;
	char *objective;     /* "ms" or "tflops" */
	char *harness_protocol; /* "avo-harness-1" or "legacy-trusted" */
	double timeout_s;
	double compile_timeout_s;
	char *op;            /* operator name */
	double budget_seconds; long budget_evaluations; double budget_cost_usd;
	char *shipped_dir;   /* resolved, or NULL */
	char *json;          /* the raw JSON text (for operator-specific sections) */
} avo_spec;

/* Errors name the spec file and the field: "avo.json: field \"configs\": must be a non-empty array". */
int avo_spec_load(avo_spec **out, const char *path);
void avo_spec_free(avo_spec *s);

#endif
