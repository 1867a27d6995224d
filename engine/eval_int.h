/* Internals of the evaluator, shared by its files (not installed, not for other modules):
 *   eval.c         the API: avo_eval_many's scheduling, verdicts, fitness, the cache
 *   eval_build.c   the build step: compiles (buildid.h gives the command lines and keys),
 *                  links, the harness objects and the reference executable
 *   eval_run.c     the run step: one spawn function, the per-GPU lock, the config loop
 *   eval_result.c  the result type: status names, JSON, free (eval_result.h)
 *   proto_*.c      the harness protocols, one file each behind avo_eval_proto
 * Names with the prefix avo_eval__ travel between these files only. */
#ifndef AVO_EVAL_INT_H
#define AVO_EVAL_INT_H

#include "eval.h"
#include "avo_base.h"
#include "buildid.h"

#include <pthread.h>

#define AVO_EVAL_FEEDBACK_HEAD 6144 /* compiler output: the first errors matter most ... */
#define AVO_EVAL_FEEDBACK_TAIL 2048 /* ... and the summary at the end */
#define AVO_EVAL_STDERR_TAIL 4096

/* ---- the evaluation context ----------------------------------------------------------- */

typedef enum { IT_PENDING, IT_COMPILING, IT_READY, IT_DONE } avo_eval__state;

typedef struct {
	const char *src;
	size_t len;
	char hash[AVO_CACHE_HEX];
	char key[AVO_CACHE_HEX];
	char *dir;    /* scratch dir (owned) */
	char *exe;    /* linked harness (owned) */
	avo_eval__state state;
	avo_eval_result *res;
	int env_rc;   /* < 0: the environment failed for this item */
	char *env_msg;
	double t0;
	int gpu;      /* CUDA_VISIBLE_DEVICES index of its runs; -1: leave as is */
	int remeasure; /* neither read nor write ns "eval" (avo_eval_options.remeasure) */
} avo_eval__item;

/* An object every link of this evaluation shares (the harness, the harness library). */
typedef struct {
	char *bytes;  /* owned */
	size_t len;
	const char *name; /* file name in a link dir */
} avo_eval__obj;

typedef struct avo_eval_proto avo_eval_proto;

typedef struct {
	const avo_spec *spec;
	const avo_eval_options *opts;
	const avo_eval_proto *proto;
	avo_cache *cache;
	char *root;        /* scratch root, owned */
	avo_buildid id;    /* compiler, device, headers (buildid.h) */
	char libhash[AVO_CACHE_HEX]; /* the harness library's sources; "" for legacy */
	char *libdir;      /* the harness library's directory, owned; NULL for legacy */
	char *harness_src; /* harness source text, owned */
	size_t harness_len;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	avo_eval__item *items;
	size_t n;
	size_t next_job;   /* job dispenser; job 0 is the harness when need_harness */
	size_t compiled;   /* items past compilation */
	size_t *todo;      /* indices of the items to build */
	size_t ntodo;
	int need_harness;
	int harness_state; /* 0 pending, 1 ok, -1 failed */
	avo_eval__obj hobj[2]; /* harness object, then (protocol avo-harness-1) the library */
	size_t nhobj;
	char *ref_dir;     /* holds the reference executable (owned; removed at the end) */
	char *ref_exe;     /* the harness linked with the original kernel, owned */
	char *harness_feedback;
} avo_eval__ctx;

/* ---- a harness protocol: one file each ------------------------------------------------ */

struct avo_eval_proto {
	const char *name;   /* the spec's "harness_protocol" */
	int uses_library;   /* link harness/avo_harness and build the reference executable */
	/* Run config `i` of a built item and fill *c. Returns < 0 only when the environment
	 * failed (then the evaluation stops); a verdict of any kind returns 0. */
	int (*run_config)(avo_eval__ctx *e, avo_eval__item *it, size_t i, const char *cwd,
			  avo_eval_config_result *c);
};

extern const avo_eval_proto avo_eval__proto_avoh;   /* proto_avoh.c */
extern const avo_eval_proto avo_eval__proto_legacy; /* proto_legacy.c */

/* ---- shared helpers ------------------------------------------------------------------- */

/* eval_build.c */
/* Compile and link one variant; leaves it IT_READY (exe set) or IT_DONE (a verdict, or
 * env_rc < 0). Waits for the harness (job 0, or avo_eval__build_harness) to be built. */
void avo_eval__build_variant(avo_eval__ctx *e, avo_eval__item *it);
/* The shared objects and the reference executable; sets harness_state and wakes waiters. */
void avo_eval__build_harness(avo_eval__ctx *e);
void avo_eval__verbose_cmd(const avo_eval__ctx *e, const char *const *argv);
int avo_eval__cache_get(avo_eval__ctx *e, const char *ns, const char *key, avo_buf *out);
void avo_eval__cache_put(avo_eval__ctx *e, const char *ns, const char *key, const void *data, size_t len);
void *avo_eval__worker(void *ctx);
/* The harness library's directory: $AVO_HARNESS_DIR, <prefix>/share/avo/harness next to the
 * binary, else the source tree. Caller frees; NULL when none is found. */
char *avo_eval__find_libdir(void);

/* eval_run.c */
/* The one place an evaluation starts a harness process (the sandbox wraps it here).
 * pass_fds: -1-terminated fds the process gets as 3, 4, ...; env_add as avo_proc_options. */
int avo_eval__spawn(avo_eval__ctx *e, int gpu, const char *const *argv, const char *cwd,
		    const char *const *env_add, const int *pass_fds, avo_proc_result *r);
int avo_eval__run_item(avo_eval__ctx *e, avo_eval__item *it);
const char *avo_eval__tail_of(const char *s, size_t cap);
void avo_eval__fail_config(avo_eval_config_result *c, avo_eval_status st, char *msg);

#endif
