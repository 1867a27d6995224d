/* For backend implementations only (one file each: backend_inline.c, backend_local.c,
 * backend_slurm.c): the table a backend fills, and what backend.c lends them. A new backend
 * (Kubernetes, say) is a new file defining one avo_backend_ops and one line in the registry
 * in backend.c (and its file in CMakeLists.txt).
 *
 * Ownership: a backend keeps its own state in b->impl, allocated by open() and released by
 * close(); everything else in struct avo_backend belongs to backend.c.
 */
#ifndef AVO_BACKEND_IMPL_H
#define AVO_BACKEND_IMPL_H

#include "backend.h"

#include <cjson/cJSON.h>
#include <signal.h>

typedef struct {
	const char *name;  /* what "backend" / --backend says */
	/* Read the backend's section of the spec (`section`: root[name], may be NULL), set
	 * b->nslots and b->impl. */
	int (*open)(avo_backend *b, const cJSON *section, const avo_backend_options *opts);
	void (*close)(avo_backend *b);
	/* As avo_backend_eval(), with out[]/errs[] cleared; SIGINT/SIGTERM are caught around
	 * it when catch_signals (read avo_backend__signalled()). */
	int (*eval)(avo_backend *b, avo_eval_result **out, char **errs, const char *const *v,
		    const size_t *lens, size_t n);
	int catch_signals;
} avo_backend_ops;

struct avo_backend {
	const avo_backend_ops *ops;
	const avo_spec *spec;
	avo_cache *cache;
	avo_eval_options eopts;
	int quiet;
	int interrupted;
	size_t nslots;
	void *impl;
	/* The devices of its pipeline (open() sets them; none: no pipeline), the pipeline. */
	int *devices;            /* CUDA_VISIBLE_DEVICES index per device, -1: a CPU worker */
	size_t ndevices;
	struct avo_pipeline *pipe;
};

extern const avo_backend_ops avo_backend__inline, avo_backend__local, avo_backend__slurm;

/* The signal that arrived during the current eval (0: none), and its flag. */
int avo_backend__signalled(void);
const volatile sig_atomic_t *avo_backend__signal_flag(void);
/* Evaluate through the pipeline: submit all, wait for each (eval() of inline and local). */
int avo_backend__eval_pipeline(avo_backend *b, avo_eval_result **out, char **errs, const char *const *v,
			       const size_t *lens, size_t n);

/* Optional fields of a backend's spec section; errors name "<sec>.<k>" in the spec. */
int avo_backend__field_err(const avo_spec *s, const char *field, const char *what);
int avo_backend__get_str(const avo_spec *s, const cJSON *o, const char *sec, const char *k, char **out);
int avo_backend__get_num(const avo_spec *s, const cJSON *o, const char *sec, const char *k, double lo, double *out);
int avo_backend__get_long(const avo_spec *s, const cJSON *o, const char *sec, const char *k, long lo, long *out);

/* <dir>/<sub>/<i><ext>: a task's file in a slurm job dir (caller frees). */
char *avo_backend__task_path(const char *dir, const char *sub, size_t i, const char *ext);

#endif
