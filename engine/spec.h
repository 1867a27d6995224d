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
 *   "timeout": 60,                        seconds per harness run, > 0, default 120
 *   "compile_timeout": 300,               seconds per compile or link, default 300
 *   "operator": "knob" | "llm" | "command",   default "knob"
 *   "budget": {"evaluations": 100, "seconds": 3600, "cost_usd": 5},   each >= 0; 0 or
 *                                         absent: no limit
 *   "shipped_dir": "tuned",
 *   "knowledge": "kb",                    read by the tuner from `json`
 *   "min_gain": 0.01,                     the gate's minimum gain (engine/gate.h), >= 0
 *   "backend": "inline" | "local" | "slurm",   where evaluations run (engine/backend.h)
 *   "knob": {...}, "llm": {...}, "command": {...}   operator settings (agent/), objects
 *   "sandbox": true,                      false: run compiles and harnesses outside the
 *                                         bubblewrap sandbox (explicit opt-out, recorded)
 *   "local": {...}, "slurm": {...}        backend settings (engine/CLUSTER.md), objects
 *   "_key_roots": {"source": "/abs", ...} written by avo_tune(): roots for the keys
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

struct cJSON;

typedef struct {
	char *name;
	char **args;
	size_t nargs;
} avo_spec_config;

/* A named root that paths in keys are taken relative to (buildid.c). */
typedef struct {
	const char *label;   /* "source", "build", "project_source", "project_build" (static) */
	char *dir;           /* absolute */
} avo_spec_root;

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
	char *knowledge;     /* resolved, or NULL */
	char *backend;       /* "inline", "local", "slurm", or NULL (inline) */
	double min_gain;     /* the gate's minimum gain (0.01 = 1%), >= 0; -1: the default */
	avo_spec_root key_roots[4]; size_t nkey_roots; /* "_key_roots" of a generated spec */
	/* Plug-in sections, parsed once and owned by the spec: the operators' ("knob", "llm",
	 * "command") and the backends' ("local", "slurm"). Read them with avo_spec_section(). */
	struct cJSON *sections;
	char *json;          /* the raw JSON text (kept for tools that print the spec) */
	int sandbox;         /* 1 (default): evaluations run in the sandbox; 0: opted out */
} avo_spec;

/* Errors name the spec file and the field: "avo.json: field \"configs\": must be a non-empty array". */
int avo_spec_load(avo_spec **out, const char *path);
void avo_spec_free(avo_spec *s);

/* The object of section `name` ("knob", "llm", "command", "local", "slurm"), borrowed from
 * the spec; NULL when absent. */
const struct cJSON *avo_spec_section(const avo_spec *s, const char *name);

/* Field readers for plug-ins that type their own section, with the spec's messages
 * ("avo.json: field \"slurm.poll\": must be a number >= 0.05"). Absent or null fields leave
 * *out unchanged and return 0. */
int avo_spec_section_str(const avo_spec *s, const struct cJSON *o, const char *sec, const char *k, char **out);
int avo_spec_section_num(const avo_spec *s, const struct cJSON *o, const char *sec, const char *k, double lo,
			 double *out);
int avo_spec_field_error(const avo_spec *s, const char *field, const char *what);

#endif
