/* The tuning spec (avo.json), parsed with cJSON. See README "Tuning spec".
 *
 * {
 *   "name": "attn",                       required
 *   "kernel": "attention.cu",             required, relative to the spec's directory
 *   "harness": "harness.cu",              required
 *   "compiler": "nvcc" | "cc" | path,     default: nvcc for .cu, cc otherwise
 *   "flags": ["-O3"],                     compile flags for both TUs
 *   "link_flags": ["-lm"],
 *   "include_dirs": ["."],
 *   "defines": ["X=1"],
 *   "arch": "sm_90a",                     CUDA only; "" for C
 *   "configs": [{"name": "small", "args": ["--b", "1"]}],   required, non-empty
 *   "tolerance": 2e-2,                    max_rel_err allowed, default 1e-2
 *   "objective": "tflops" | "ms",         default "ms" (fitness = 1/geomean(ms) or geomean(tflops))
 *   "timeout": 60,                        seconds per harness run, default 120
 *   "compile_timeout": 300,
 *   "operator": "knob" | "llm" | "command",
 *   "budget": {"evaluations": 100, "seconds": 3600, "cost_usd": 5},
 *   "shipped_dir": "tuned",
 *   "llm": {...}, "command": {...}        operator settings (agent/)
 * }
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
