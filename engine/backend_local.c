/* The local backend: every local GPU (or N CPU workers for C kernels), one evaluation per
 * GPU at a time, a worker thread each. Spec section: "local": {"gpus": [0, 1], "workers": 4}. */
#include "backend_impl.h"

#include "avo_base.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	int *gpus;               /* CUDA_VISIBLE_DEVICES index per slot; -1 for CPU workers */
} local_state;

#define LS(b) ((local_state *)(b)->impl)

/* ---- local: which GPUs ------------------------------------------------------------- */

static size_t count_nvidia_smi(void)
{
	const char *argv[] = {"nvidia-smi", "-L", NULL};
	avo_proc_options po = {0};
	po.argv = argv;
	po.timeout_s = 30;
	avo_proc_result pr;
	size_t n = 0;
	if (avo_proc_run(&pr, &po) == 0 && pr.exited && pr.exit_code == 0) {
		for (const char *p = avo_buf_cstr(&pr.out); p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			n += !strncmp(p, "GPU ", 4);
	}
	avo_proc_result_dispose(&pr);
	return n;
}

static int local_open(avo_backend *b, const cJSON *o, const avo_backend_options *opts)
{
	const avo_spec *s = b->spec;
	(void)opts;
	if (!(b->impl = calloc(1, sizeof(local_state))))
		return avo_oom();
	if (o && !cJSON_IsObject(o))
		return avo_backend__field_err(s, "local", "must be an object");
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "gpus"), *e;
	long workers = 0;
	int rc = avo_backend__get_long(s, o, "local", "workers", 1, &workers);
	if (rc < 0)
		return rc;
	size_t cap = 64;
	LS(b)->gpus = calloc(cap, sizeof(int));
	if (!LS(b)->gpus)
		return avo_oom();
	if (!s->is_cuda) {
		long n = workers ? workers : sysconf(_SC_NPROCESSORS_ONLN);
		b->nslots = n < 1 ? 1 : (size_t)(n > 64 ? 64 : n);
		for (size_t i = 0; i < b->nslots; i++)
			LS(b)->gpus[i] = -1;
		return 0;
	}
	if (g) {
		if (!cJSON_IsArray(g) || cJSON_GetArraySize(g) == 0)
			return avo_backend__field_err(s, "local.gpus", "must be a non-empty array of GPU indices");
		cJSON_ArrayForEach(e, g) {
			if (!cJSON_IsNumber(e) || e->valueint < 0 || b->nslots == cap)
				return avo_backend__field_err(s, "local.gpus", "must be a non-empty array of GPU indices");
			LS(b)->gpus[b->nslots++] = e->valueint;
		}
		return 0;
	}
	if (b->eopts.gpu >= 0) {
		LS(b)->gpus[b->nslots++] = b->eopts.gpu;
		return 0;
	}
	/* The harness gets CUDA_VISIBLE_DEVICES=<index>, so a restriction the user set must
	 * be turned into the indices it names. */
	const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
	if (cvd && *cvd) {
		for (const char *p = cvd; *p && b->nslots < cap;) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p || v < 0)
				return avo_error_set(AVO_EINVALID, "local backend: CUDA_VISIBLE_DEVICES=%s: only numeric "
								   "indices are supported (or set \"local\": {\"gpus\": [...]})", cvd);
			LS(b)->gpus[b->nslots++] = (int)v;
			p = *end == ',' ? end + 1 : end;
			if (*end && *end != ',')
				return avo_error_set(AVO_EINVALID, "local backend: cannot read CUDA_VISIBLE_DEVICES=%s", cvd);
		}
		return 0;
	}
	size_t n = count_nvidia_smi();
	if (n == 0)
		return avo_error_set(AVO_ENOTFOUND, "local backend: no GPU found (nvidia-smi -L lists none)");
	for (size_t i = 0; i < n && b->nslots < cap; i++)
		LS(b)->gpus[b->nslots++] = (int)i;
	return 0;
}

/* ---- local: a worker thread per slot ------------------------------------------------ */

typedef struct {
	avo_backend *b;
	avo_eval_result **out;
	char **errs;
	const char *const *v;
	const size_t *lens;
	size_t n, next;
	int fatal;               /* first environment failure: stop handing out work */
	char *fatal_msg;
	pthread_mutex_t mu;
} local_job;

typedef struct {
	local_job *j;
	int gpu;
	int n;                   /* slot number, for messages */
} local_slot;

static void *local_worker(void *arg)
{
	local_slot *s = arg;
	local_job *j = s->j;
	avo_eval_options eo = j->b->eopts;
	eo.gpu = s->gpu;
	for (;;) {
		pthread_mutex_lock(&j->mu);
		size_t i = j->next;
		int stop = j->fatal || avo_backend__signalled();
		if (!stop && i < j->n)
			j->next++;
		pthread_mutex_unlock(&j->mu);
		if (stop || i >= j->n)
			return NULL;
		avo_eval_result *r = NULL;
		int rc = avo_eval_run(&r, j->b->spec, j->v[i], j->lens[i], j->b->cache, &eo);
		pthread_mutex_lock(&j->mu);
		if (rc < 0) {
			j->errs[i] = avo_sprintf("local backend (%s %d): %s", s->gpu >= 0 ? "GPU" : "worker",
						 s->gpu >= 0 ? s->gpu : s->n, avo_error_last());
			if (!j->fatal) {
				j->fatal = rc;
				j->fatal_msg = avo_strdup(avo_error_last());
			}
		} else {
			j->out[i] = r;
		}
		pthread_mutex_unlock(&j->mu);
	}
}

static int eval_local(avo_backend *b, avo_eval_result **out, char **errs, const char *const *v,
		      const size_t *lens, size_t n)
{
	local_job j = {b, out, errs, v, lens, n, 0, 0, NULL, PTHREAD_MUTEX_INITIALIZER};
	size_t ns = b->nslots < n ? b->nslots : n;
	pthread_t *th = calloc(ns, sizeof(*th));
	local_slot *sl = calloc(ns, sizeof(*sl));
	size_t started = 0;
	int rc = 0;
	if (!th || !sl) {
		rc = avo_oom();
		goto done;
	}
	for (size_t i = 0; i < ns; i++) {
		sl[i] = (local_slot){&j, LS(b)->gpus[i], (int)i};
		if (pthread_create(&th[i], NULL, local_worker, &sl[i]) != 0)
			break;
		started++;
	}
	if (!started)
		local_worker(&(local_slot){&j, LS(b)->gpus[0], 0});
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < n; i++)
		if (!out[i] && !errs[i])
			errs[i] = avo_strdup(avo_backend__signalled() ? "not evaluated: interrupted"
							     : "not evaluated: an earlier evaluation failed");
	/* The environment failing (compiler missing) fails the batch, as inline would. */
	if (j.fatal && !avo_backend__signalled())
		rc = avo_error_set(j.fatal, "%s", j.fatal_msg);
done:
	free(j.fatal_msg);
	free(th);
	free(sl);
	pthread_mutex_destroy(&j.mu);
	return rc;
}

static void local_close(avo_backend *b)
{
	if (b->impl)
		free(LS(b)->gpus);
	free(b->impl);
	b->impl = NULL;
}

const avo_backend_ops avo_backend__local = {"local", local_open, local_close, eval_local, 1};
