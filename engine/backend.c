/* Evaluation backends: inline (this process), local (a worker thread per GPU or CPU slot),
 * slurm (job arrays, results through a shared job directory). See backend.h, CLUSTER.md.
 *
 * The spec sections read here (all optional):
 *   "backend": "inline" | "local" | "slurm"
 *   "local": {"gpus": [0, 1], "workers": 4}
 *   "slurm": {"partition": "gpu", "gres": "gpu:1", "gpus": null, "time": "00:30:00",
 *             "cpus_per_task": 8, "account": null, "qos": null, "sbatch_args": ["--exclusive"],
 *             "batch": 8, "parallel": 0, "retries": 2, "poll": 2, "pending_timeout": 3600,
 *             "result_grace": 10, "job_dir": ".avo/slurm", "avo": "/shared/bin/avo",
 *             "keep_jobs": false}
 */
#include "backend.h"

#include "avo_base.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { K_INLINE, K_LOCAL, K_SLURM };

typedef struct {
	char *partition, *gres, *gpus, *time, *account, *qos;
	char **extra;
	size_t nextra;
	long cpus_per_task;
	long batch;              /* candidates per round (slots) */
	long parallel;           /* array throttle (%N); 0: none */
	long retries;            /* resubmissions of a lost task */
	double poll_s;
	double pending_timeout_s; /* 0: wait as long as Slurm keeps the task pending */
	double result_grace_s;   /* a finished task's result file may lag (NFS) */
	double unreachable_s;    /* squeue failing this long: give up */
	int keep;
} slurm_cfg;

struct avo_backend {
	int kind;
	const avo_spec *spec;
	avo_cache *cache;
	avo_eval_options eopts;
	int quiet;
	int interrupted;
	/* local */
	int *gpus;               /* CUDA_VISIBLE_DEVICES index per slot; -1 for CPU workers */
	size_t nslots;
	/* slurm */
	slurm_cfg sc;
	char *job_root, *worker, *spec_abs;
};

/* ---- signals ------------------------------------------------------------------------- */

/* SIGINT/SIGTERM during a batch: remembered here, then passed on to the handler that was
 * installed before (the tune loop's), so both the loop and the backend stop. */
static volatile sig_atomic_t backend__signal;
static struct sigaction backend__old_int, backend__old_term;

static void on_signal(int sig)
{
	backend__signal = sig;
	const struct sigaction *old = sig == SIGINT ? &backend__old_int : &backend__old_term;
	if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN)
		old->sa_handler(sig);
}

static void signals_catch(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	backend__signal = 0;
	sigaction(SIGINT, &sa, &backend__old_int);
	sigaction(SIGTERM, &sa, &backend__old_term);
}

static void signals_restore(void)
{
	sigaction(SIGINT, &backend__old_int, NULL);
	sigaction(SIGTERM, &backend__old_term, NULL);
}

/* ---- the spec's sections ------------------------------------------------------------- */

static int field_err(const avo_spec *s, const char *field, const char *what)
{
	return avo_error_set(AVO_EINVALID, "%s: field \"%s\": %s", s->path, field, what);
}

static int get_str(const avo_spec *s, const cJSON *o, const char *sec, const char *k, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v)) {
		char f[64];
		snprintf(f, sizeof(f), "%s.%s", sec, k);
		return field_err(s, f, "must be a string");
	}
	free(*out);
	*out = avo_strdup(v->valuestring);
	return 0;
}

static int get_num(const avo_spec *s, const cJSON *o, const char *sec, const char *k, double lo, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo) {
		char f[64], w[64];
		snprintf(f, sizeof(f), "%s.%s", sec, k);
		snprintf(w, sizeof(w), "must be a number >= %g", lo);
		return field_err(s, f, w);
	}
	*out = v->valuedouble;
	return 0;
}

static int get_long(const avo_spec *s, const cJSON *o, const char *sec, const char *k, long lo, long *out)
{
	double d = (double)*out;
	int rc = get_num(s, o, sec, k, (double)lo, &d);
	if (rc == 0 && (d != floor(d) || d > 1e9)) {
		char f[64];
		snprintf(f, sizeof(f), "%s.%s", sec, k);
		return field_err(s, f, "must be an integer");
	}
	*out = (long)d;
	return rc;
}

static void slurm_cfg_dispose(slurm_cfg *c)
{
	free(c->partition), free(c->gres), free(c->gpus), free(c->time), free(c->account), free(c->qos);
	for (size_t i = 0; i < c->nextra; i++)
		free(c->extra[i]);
	free(c->extra);
	memset(c, 0, sizeof(*c));
}

/* Slurm's time limit for one task: both compiles, every config and a margin, in minutes. */
static char *default_time(const avo_spec *s)
{
	double sec = 2 * (s->compile_timeout_s > 0 ? s->compile_timeout_s : 300) +
		     (double)s->nconfigs * (s->timeout_s > 0 ? s->timeout_s : 120) + 120;
	return avo_sprintf("%ld", (long)ceil(sec / 60));
}

static int parse_slurm(avo_backend *b, const cJSON *o, char **job_dir, char **avo)
{
	const avo_spec *s = b->spec;
	slurm_cfg *c = &b->sc;
	c->batch = 8;
	c->retries = 2;
	c->poll_s = 2;
	c->pending_timeout_s = 3600;
	c->result_grace_s = 10;
	c->unreachable_s = 600;
	if (o && !cJSON_IsObject(o))
		return field_err(s, "slurm", "must be an object");
	int rc = 0;
	if ((rc = get_str(s, o, "slurm", "partition", &c->partition)) < 0 ||
	    (rc = get_str(s, o, "slurm", "gres", &c->gres)) < 0 ||
	    (rc = get_str(s, o, "slurm", "gpus", &c->gpus)) < 0 ||
	    (rc = get_str(s, o, "slurm", "time", &c->time)) < 0 ||
	    (rc = get_str(s, o, "slurm", "account", &c->account)) < 0 ||
	    (rc = get_str(s, o, "slurm", "qos", &c->qos)) < 0 ||
	    (rc = get_str(s, o, "slurm", "job_dir", job_dir)) < 0 ||
	    (rc = get_str(s, o, "slurm", "avo", avo)) < 0 ||
	    (rc = get_long(s, o, "slurm", "cpus_per_task", 0, &c->cpus_per_task)) < 0 ||
	    (rc = get_long(s, o, "slurm", "batch", 1, &c->batch)) < 0 ||
	    (rc = get_long(s, o, "slurm", "parallel", 0, &c->parallel)) < 0 ||
	    (rc = get_long(s, o, "slurm", "retries", 0, &c->retries)) < 0 ||
	    (rc = get_num(s, o, "slurm", "poll", 0.05, &c->poll_s)) < 0 ||
	    (rc = get_num(s, o, "slurm", "pending_timeout", 0, &c->pending_timeout_s)) < 0 ||
	    (rc = get_num(s, o, "slurm", "result_grace", 0, &c->result_grace_s)) < 0)
		return rc;
	/* Array indices are the candidates' positions; Slurm's default MaxArraySize is 1001. */
	if (c->batch > 1000)
		return field_err(s, "slurm.batch", "must be at most 1000");
	const cJSON *keep = cJSON_GetObjectItemCaseSensitive(o, "keep_jobs");
	c->keep = cJSON_IsTrue(keep);
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "sbatch_args"), *e;
	if (ex && !cJSON_IsArray(ex))
		return field_err(s, "slurm.sbatch_args", "must be an array of strings");
	c->extra = calloc((size_t)cJSON_GetArraySize(ex) + 1, sizeof(char *));
	if (!c->extra)
		return avo_error_set(AVO_ERROR, "out of memory");
	cJSON_ArrayForEach(e, ex) {
		if (!cJSON_IsString(e))
			return field_err(s, "slurm.sbatch_args", "must be an array of strings");
		c->extra[c->nextra++] = avo_strdup(e->valuestring);
	}
	/* A CUDA kernel needs a GPU on the node; "gres": "" turns the request off. */
	if (!c->gres && !c->gpus && s->is_cuda)
		c->gres = avo_strdup("gpu:1");
	if (!c->time)
		c->time = default_time(s);
	return 0;
}

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

static int local_slots(avo_backend *b, const cJSON *o)
{
	const avo_spec *s = b->spec;
	if (o && !cJSON_IsObject(o))
		return field_err(s, "local", "must be an object");
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "gpus"), *e;
	long workers = 0;
	int rc = get_long(s, o, "local", "workers", 1, &workers);
	if (rc < 0)
		return rc;
	size_t cap = 64;
	b->gpus = calloc(cap, sizeof(int));
	if (!b->gpus)
		return avo_error_set(AVO_ERROR, "out of memory");
	if (!s->is_cuda) {
		long n = workers ? workers : sysconf(_SC_NPROCESSORS_ONLN);
		b->nslots = n < 1 ? 1 : (size_t)(n > 64 ? 64 : n);
		for (size_t i = 0; i < b->nslots; i++)
			b->gpus[i] = -1;
		return 0;
	}
	if (g) {
		if (!cJSON_IsArray(g) || cJSON_GetArraySize(g) == 0)
			return field_err(s, "local.gpus", "must be a non-empty array of GPU indices");
		cJSON_ArrayForEach(e, g) {
			if (!cJSON_IsNumber(e) || e->valueint < 0 || b->nslots == cap)
				return field_err(s, "local.gpus", "must be a non-empty array of GPU indices");
			b->gpus[b->nslots++] = e->valueint;
		}
		return 0;
	}
	if (b->eopts.gpu >= 0) {
		b->gpus[b->nslots++] = b->eopts.gpu;
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
			b->gpus[b->nslots++] = (int)v;
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
		b->gpus[b->nslots++] = (int)i;
	return 0;
}

/* ---- open / free --------------------------------------------------------------------- */

static char *self_exe(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return avo_strdup(buf);
}

int avo_backend_open(avo_backend **out, const avo_spec *spec, avo_cache *cache,
		     const avo_eval_options *eopts, const avo_backend_options *opts)
{
	*out = NULL;
	avo_backend_options dflt = AVO_BACKEND_OPTIONS_INIT;
	if (!opts)
		opts = &dflt;
	avo_backend *b = calloc(1, sizeof(*b));
	if (!b)
		return avo_error_set(AVO_ERROR, "out of memory");
	b->spec = spec;
	b->cache = cache;
	b->eopts = eopts ? *eopts : (avo_eval_options)AVO_EVAL_OPTIONS_INIT;
	b->quiet = opts->quiet;
	cJSON *root = spec->json ? cJSON_Parse(spec->json) : NULL;
	char *kind = avo_strdup(opts->kind), *job_dir = NULL, *avo = NULL;
	int rc = 0;
	if (!kind && (rc = get_str(spec, root, "spec", "backend", &kind)) < 0)
		goto done;
	if (!kind || !strcmp(kind, "inline")) {
		b->kind = K_INLINE;
		b->nslots = 1;
	} else if (!strcmp(kind, "local")) {
		b->kind = K_LOCAL;
		rc = local_slots(b, cJSON_GetObjectItemCaseSensitive(root, "local"));
	} else if (!strcmp(kind, "slurm")) {
		b->kind = K_SLURM;
		if ((rc = parse_slurm(b, cJSON_GetObjectItemCaseSensitive(root, "slurm"), &job_dir, &avo)) < 0)
			goto done;
		b->nslots = (size_t)b->sc.batch;
		char *sp = realpath(spec->path, NULL);
		b->spec_abs = sp ? sp : avo_strdup(spec->path);
		if (opts->job_root)
			b->job_root = avo_strdup(opts->job_root);
		else if (job_dir)
			b->job_root = job_dir[0] == '/' ? avo_strdup(job_dir) : avo_path_join(spec->dir, job_dir);
		else
			b->job_root = avo_sprintf("%s/.avo/slurm", spec->dir);
		b->worker = opts->worker ? avo_strdup(opts->worker) : avo ? avo_strdup(avo) : self_exe();
		if (!b->job_root || !b->worker) {
			rc = avo_error_set(AVO_ERROR, "slurm backend: cannot name the job dir or the avo program");
			goto done;
		}
		/* Nodes reach the job dir by the same path: it must be absolute. */
		if (b->job_root[0] != '/') {
			char *cwd = getcwd(NULL, 0);
			char *abs = cwd ? avo_path_join(cwd, b->job_root) : NULL;
			free(cwd);
			if (abs) {
				free(b->job_root);
				b->job_root = abs;
			}
		}
	} else {
		rc = avo_error_set(AVO_EINVALID, "%s: unknown backend \"%s\" (inline, local or slurm)",
				   opts->kind ? "--backend" : spec->path, kind);
	}
done:
	free(kind);
	free(job_dir);
	free(avo);
	cJSON_Delete(root);
	if (rc < 0) {
		avo_backend_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

void avo_backend_free(avo_backend *b)
{
	if (!b)
		return;
	free(b->gpus);
	slurm_cfg_dispose(&b->sc);
	free(b->job_root);
	free(b->worker);
	free(b->spec_abs);
	free(b);
}

const char *avo_backend_name(const avo_backend *b)
{
	return b->kind == K_SLURM ? "slurm" : b->kind == K_LOCAL ? "local" : "inline";
}

size_t avo_backend_slots(const avo_backend *b)
{
	return b->nslots ? b->nslots : 1;
}

int avo_backend_interrupted(const avo_backend *b)
{
	return b->interrupted;
}

/* ---- inline ---------------------------------------------------------------------------- */

static int eval_inline(avo_backend *b, avo_eval_result **out, char **errs, const char *const *v,
		       const size_t *lens, size_t n)
{
	(void)errs; /* every variant gets a verdict, or the environment failed for all */
	int rc = avo_eval_many(out, b->spec, v, lens, n, b->cache, &b->eopts);
	if (rc < 0) {
		for (size_t i = 0; i < n; i++) {
			avo_eval_result_free(out[i]);
			out[i] = NULL;
		}
	}
	return rc;
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
		int stop = j->fatal || backend__signal;
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
		rc = avo_error_set(AVO_ERROR, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < ns; i++) {
		sl[i] = (local_slot){&j, b->gpus[i], (int)i};
		if (pthread_create(&th[i], NULL, local_worker, &sl[i]) != 0)
			break;
		started++;
	}
	if (!started)
		local_worker(&(local_slot){&j, b->gpus[0], 0});
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < n; i++)
		if (!out[i] && !errs[i])
			errs[i] = avo_strdup(backend__signal ? "not evaluated: interrupted"
							     : "not evaluated: an earlier evaluation failed");
	/* The environment failing (compiler missing) fails the batch, as inline would. */
	if (j.fatal && !backend__signal)
		rc = avo_error_set(j.fatal, "%s", j.fatal_msg);
done:
	free(j.fatal_msg);
	free(th);
	free(sl);
	pthread_mutex_destroy(&j.mu);
	return rc;
}

/* ---- slurm ------------------------------------------------------------------------------- */

enum { T_WAIT, T_DONE, T_FAILED };

typedef struct {
	int state;
	long job;                /* the job id of the current try (array job id) */
	int tries;
	double first_seen_gone;  /* when squeue first showed it ended (or absent) with no result */
	double pending_since;
	int worker_err;          /* the worker reported an environment failure on this try */
	char *slurm_state;       /* the last state squeue showed */
	char *reason;
	avo_buf history;         /* "try 1: CANCELLED; try 2: NODE_FAIL" */
} stask;

static void say(const avo_backend *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const avo_backend *b, const char *fmt, ...)
{
	if (b->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("avo: slurm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Run a Slurm client command; its stdout in *out (caller disposes), stderr in the error. */
static int slurm_cmd(avo_buf *out, const char *const *argv)
{
	avo_proc_options po = {0};
	po.argv = argv;
	po.timeout_s = 60;
	avo_proc_result pr;
	int rc = avo_proc_run(&pr, &po);
	if (rc < 0) {
		avo_proc_result_dispose(&pr);
		return avo_error_wrap(AVO_ENOTFOUND, "%s (is Slurm's client installed?)", argv[0]);
	}
	if (!pr.exited || pr.exit_code != 0) {
		char *how = avo_proc_describe(&pr, po.timeout_s);
		const char *e = avo_buf_cstr(&pr.err);
		rc = avo_error_set(AVO_EIO, "%s: %s%s%.*s", argv[0], how ? how : "failed", *e ? ": " : "",
				   (int)strcspn(e, "\n"), e);
		free(how);
		avo_proc_result_dispose(&pr);
		return rc;
	}
	*out = pr.out;
	pr.out = (avo_buf)AVO_BUF_INIT;
	avo_proc_result_dispose(&pr);
	return 0;
}

static char *task_path(const char *dir, const char *sub, size_t i, const char *ext)
{
	return avo_sprintf("%s/%s/%zu%s", dir, sub, i, ext);
}

/* Quote for /bin/sh. */
static void sh_quote(avo_buf *b, const char *s)
{
	avo_buf_puts(b, "'");
	for (; *s; s++) {
		if (*s == '\'')
			avo_buf_puts(b, "'\\''");
		else
			avo_buf_put(b, s, 1);
	}
	avo_buf_puts(b, "'");
}

static int write_job_dir(avo_backend *b, const char *dir, const char *const *v, const size_t *lens, size_t n)
{
	int rc = 0;
	char *sub[3] = {avo_path_join(dir, "v"), avo_path_join(dir, "r"), avo_path_join(dir, "log")};
	for (int k = 0; k < 3 && rc == 0; k++)
		rc = avo_mkdir_p(sub[k], 0755);
	for (int k = 0; k < 3; k++)
		free(sub[k]);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *p = task_path(dir, "v", i, ".src");
		rc = avo_file_write_atomic(p, v[i], lens[i], 0644);
		free(p);
	}
	if (rc < 0)
		return rc;
	/* What the worker needs besides the variant: the spec and the overrides made here. */
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "spec", b->spec_abs);
	if (b->cache && b->eopts.use_cache)
		cJSON_AddStringToObject(j, "cache_dir", avo_cache_dir(b->cache));
	cJSON_AddNumberToObject(j, "timeout_s", b->spec->timeout_s);
	cJSON_AddNumberToObject(j, "compile_timeout_s", b->spec->compile_timeout_s);
	cJSON_AddNumberToObject(j, "jobs", b->eopts.jobs);
	cJSON_AddBoolToObject(j, "verbose", b->eopts.verbose);
	cJSON_AddBoolToObject(j, "trust_harness", b->eopts.trust_harness); /* --trust-harness */
	cJSON_AddNumberToObject(j, "count", (double)n);
	char *js = cJSON_Print(j);
	cJSON_Delete(j);
	char *p = avo_path_join(dir, "job.json");
	rc = js && p ? avo_file_write_atomic(p, js, strlen(js), 0644) : avo_error_set(AVO_ERROR, "out of memory");
	free(js);
	free(p);
	if (rc < 0)
		return rc;
	avo_buf sh = AVO_BUF_INIT;
	avo_buf_puts(&sh, "#!/bin/sh\n# One avo evaluation (written by avo; see engine/CLUSTER.md).\nexec ");
	sh_quote(&sh, b->worker);
	avo_buf_puts(&sh, " __backend-worker ");
	sh_quote(&sh, dir);
	avo_buf_puts(&sh, "\n");
	p = avo_path_join(dir, "task.sh");
	rc = avo_file_write_atomic(p, sh.ptr, sh.size, 0755);
	free(p);
	avo_buf_dispose(&sh);
	return rc;
}

/* sbatch one array over `idx`; the array job id in *job. */
static int submit(avo_backend *b, const char *dir, const size_t *idx, size_t nidx, long *job)
{
	const slurm_cfg *c = &b->sc;
	avo_buf arr = AVO_BUF_INIT;
	for (size_t i = 0; i < nidx; i++)
		avo_buf_printf(&arr, "%s%zu", i ? "," : "", idx[i]);
	if (c->parallel > 0)
		avo_buf_printf(&arr, "%%%ld", c->parallel);
	char *a_array = avo_sprintf("--array=%s", avo_buf_cstr(&arr));
	char *a_name = avo_sprintf("--job-name=avo-%s", b->spec->name);
	char *a_out = avo_sprintf("--output=%s/log/%%a.%%j.out", dir);
	char *a_dir = avo_sprintf("--chdir=%s", dir);
	char *a_part = c->partition && *c->partition ? avo_sprintf("--partition=%s", c->partition) : NULL;
	char *a_time = c->time && *c->time ? avo_sprintf("--time=%s", c->time) : NULL;
	char *a_gres = c->gres && *c->gres ? avo_sprintf("--gres=%s", c->gres) : NULL;
	char *a_gpus = c->gpus && *c->gpus ? avo_sprintf("--gpus=%s", c->gpus) : NULL;
	char *a_cpus = c->cpus_per_task > 0 ? avo_sprintf("--cpus-per-task=%ld", c->cpus_per_task) : NULL;
	char *a_acct = c->account && *c->account ? avo_sprintf("--account=%s", c->account) : NULL;
	char *a_qos = c->qos && *c->qos ? avo_sprintf("--qos=%s", c->qos) : NULL;
	char *script = avo_path_join(dir, "task.sh");
	const char **argv = calloc(20 + c->nextra, sizeof(char *));
	int rc;
	if (!argv || !script) {
		rc = avo_error_set(AVO_ERROR, "out of memory");
		goto done;
	}
	size_t k = 0;
	argv[k++] = "sbatch";
	argv[k++] = "--parsable";
	/* We retry lost tasks ourselves, so every try is visible and bounded. */
	argv[k++] = "--no-requeue";
	argv[k++] = a_array;
	argv[k++] = a_name;
	argv[k++] = a_out;
	argv[k++] = a_dir;
	const char *opt[] = {a_part, a_time, a_gres, a_gpus, a_cpus, a_acct, a_qos};
	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
		if (opt[i])
			argv[k++] = opt[i];
	for (size_t i = 0; i < c->nextra; i++)
		argv[k++] = c->extra[i];
	argv[k++] = script;
	argv[k] = NULL;
	avo_buf o = AVO_BUF_INIT;
	if ((rc = slurm_cmd(&o, argv)) == 0) {
		/* --parsable: "<jobid>" or "<jobid>;<cluster>" */
		char *end;
		long id = strtol(avo_buf_cstr(&o), &end, 10);
		if (id <= 0 || (*end && *end != ';' && *end != '\n'))
			rc = avo_error_set(AVO_EIO, "sbatch: unexpected output '%s'", avo_buf_cstr(&o));
		else
			*job = id;
	}
	avo_buf_dispose(&o);
done:
	free(argv);
	free(script);
	free(a_array), free(a_name), free(a_out), free(a_dir), free(a_part), free(a_time);
	free(a_gres), free(a_gpus), free(a_cpus), free(a_acct), free(a_qos);
	avo_buf_dispose(&arr);
	return rc;
}

static void scancel_tasks(const long *jobs, const size_t *idx, size_t n)
{
	/* "JOB_IDX" ids; a handful per call keeps argv small. */
	for (size_t i = 0; i < n;) {
		const char *argv[34] = {"scancel", "--quiet"};
		char ids[32][48];
		size_t k = 2, m = 0;
		for (; i < n && m < 32; i++, m++) {
			if (idx)
				snprintf(ids[m], sizeof(ids[m]), "%ld_%zu", jobs[i], idx[i]);
			else
				snprintf(ids[m], sizeof(ids[m]), "%ld", jobs[i]);
			argv[k++] = ids[m];
		}
		argv[k] = NULL;
		avo_buf o = AVO_BUF_INIT;
		if (slurm_cmd(&o, argv) < 0)
			fprintf(stderr, "avo: slurm: warning: %s\n", avo_error_last());
		avo_buf_dispose(&o);
	}
}

/* squeue over our jobs: for each line "JOB|IDX|STATE|REASON" call back. */
static int poll_squeue(stask *t, size_t n)
{
	/* Only the current tries of waiting tasks: older jobs may be purged already. */
	avo_buf ids = AVO_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < i && !(t[j].state == T_WAIT && t[j].job == t[i].job))
			j++;
		if (t[i].state == T_WAIT && j == i)
			avo_buf_printf(&ids, "%s%ld", ids.size ? "," : "", t[i].job);
	}
	const char *argv[] = {"squeue", "--noheader", "--array", "--states=all", "--jobs", avo_buf_cstr(&ids),
			      "--format=%F|%K|%T|%r", NULL};
	avo_buf o = AVO_BUF_INIT;
	int rc = slurm_cmd(&o, argv);
	avo_buf_dispose(&ids);
	if (rc < 0 && strstr(avo_error_last(), "Invalid job id")) {
		rc = 0; /* every job listed was purged: all gone */
		avo_buf_clear(&o);
	}
	if (rc < 0) {
		avo_buf_dispose(&o);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		free(t[i].slurm_state);
		t[i].slurm_state = NULL;
	}
	char *save = NULL;
	for (char *line = strtok_r(o.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = {0};
		char *p = line;
		for (int k = 0; k < 4 && p; k++) {
			f[k] = p;
			p = k < 3 ? strchr(p, '|') : NULL;
			if (p)
				*p++ = '\0';
		}
		if (!f[3])
			continue;
		long job = strtol(f[0], NULL, 10);
		char *end;
		unsigned long idx = strtoul(f[1], &end, 10);
		if (*end || idx >= n || t[idx].job != job)
			continue; /* an earlier try of a task, or not ours */
		free(t[idx].slurm_state);
		free(t[idx].reason);
		t[idx].slurm_state = avo_strdup(f[2]);
		t[idx].reason = avo_strdup(f[3]);
	}
	avo_buf_dispose(&o);
	return 0;
}

static int is_active_state(const char *s)
{
	static const char *const active[] = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED",
					     "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING",
					     "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD", NULL};
	for (size_t i = 0; s && active[i]; i++)
		if (!strcmp(s, active[i]))
			return 1;
	return 0;
}

/* The last lines of a task's latest log (log/<index>.<job id>.out), for the report. */
static char *log_tail(const char *dir, size_t i)
{
	char *logdir = avo_path_join(dir, "log");
	DIR *d = logdir ? opendir(logdir) : NULL;
	long best = -1;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end;
		unsigned long idx = strtoul(e->d_name, &end, 10);
		if (end == e->d_name || idx != i || *end != '.')
			continue;
		long job = strtol(end + 1, NULL, 10);
		if (job > best)
			best = job;
	}
	if (d)
		closedir(d);
	char *out = NULL;
	char *path = best >= 0 ? avo_sprintf("%s/%zu.%ld.out", logdir, i, best) : NULL;
	avo_buf b = AVO_BUF_INIT;
	if (path && avo_file_read(&b, path) == 0 && b.size) {
		while (b.size && b.ptr[b.size - 1] == '\n')
			b.ptr[--b.size] = '\0';
		size_t from = b.size > 600 ? b.size - 600 : 0;
		out = avo_sprintf("%s%s", from ? "..." : "", b.ptr + from);
	}
	avo_buf_dispose(&b);
	free(path);
	free(logdir);
	return out;
}

/* A verdict in r/<i>.json, or an environment failure in r/<i>.err. 1: found. */
static int read_result(const char *dir, size_t i, avo_eval_result **out, char **err)
{
	char *p = task_path(dir, "r", i, ".json");
	avo_buf b = AVO_BUF_INIT;
	int found = 0;
	if (avo_file_read(&b, p) == 0) {
		if (avo_eval_result_parse(out, avo_buf_cstr(&b), b.size) == 0)
			found = 1;
		else
			*err = avo_sprintf("unreadable result file %s: %s", p, avo_error_last());
	}
	avo_buf_dispose(&b);
	free(p);
	if (found)
		return 1;
	p = task_path(dir, "r", i, ".err");
	if (avo_file_read(&b, p) == 0) {
		free(*err);
		*err = avo_buf_detach(&b);
		unlink(p); /* the next try starts clean */
	}
	avo_buf_dispose(&b);
	free(p);
	return 0;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !backend__signal)
		;
}

static int eval_slurm(avo_backend *b, avo_eval_result **out, char **errs, const char *const *v,
		      const size_t *lens, size_t n)
{
	const slurm_cfg *c = &b->sc;
	char *dir = NULL;
	stask *t = calloc(n, sizeof(*t));
	size_t *idx = calloc(n, sizeof(*idx));
	long *tj = calloc(n, sizeof(*tj));
	int rc, submitted = 0;
	if (!t || !idx || !tj) {
		rc = avo_error_set(AVO_ERROR, "out of memory");
		goto done;
	}
	if ((rc = avo_mkdir_p(b->job_root, 0755)) < 0 || (rc = avo_mkdtemp(&dir, b->job_root, "batch-")) < 0 ||
	    (rc = write_job_dir(b, dir, v, lens, n)) < 0) {
		rc = avo_error_wrap(rc, "slurm backend: job dir");
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	long job = 0;
	if ((rc = submit(b, dir, idx, n, &job)) < 0)
		goto done; /* nothing runs: a configuration problem (partition, gres, no Slurm) */
	submitted = 1;
	for (size_t i = 0; i < n; i++) {
		t[i].job = job;
		t[i].tries = 1;
	}
	say(b, "job %ld: %zu evaluation%s (job dir %s)", job, n, n == 1 ? "" : "s", dir);
	double unreachable_since = 0;
	size_t left = n;
	while (left > 0) {
		if (backend__signal) {
			b->interrupted = 1;
			break;
		}
		sleep_s(c->poll_s);
		double now = avo_now();
		for (size_t i = 0; i < n; i++) {
			if (t[i].state != T_WAIT)
				continue;
			char *err = NULL;
			if (read_result(dir, i, &out[i], &err)) {
				t[i].state = T_DONE;
				left--;
			} else if (err) {
				/* The worker could not evaluate (environment on that node): a lost try. */
				avo_buf_printf(&t[i].history, "%stry %d (job %ld_%zu): %s", t[i].history.size ? "; " : "",
					       t[i].tries, t[i].job, i, err);
				t[i].worker_err = 1;
			}
			free(err);
		}
		if (left == 0)
			break;
		if (poll_squeue(t, n) < 0) {
			if (!unreachable_since) {
				unreachable_since = now;
				say(b, "warning: %s (still trying)", avo_error_last());
			}
			if (now - unreachable_since < c->unreachable_s)
				continue;
			for (size_t i = 0; i < n; i++)
				if (t[i].state == T_WAIT) {
					errs[i] = avo_sprintf("slurm: the controller did not answer for %.0f s: %s",
							      now - unreachable_since, avo_error_last());
					t[i].state = T_FAILED;
				}
			break;
		}
		unreachable_since = 0;
		size_t nre = 0;
		for (size_t i = 0; i < n; i++) {
			stask *k = &t[i];
			if (k->state != T_WAIT)
				continue;
			const char *st = k->slurm_state;
			if (st && !strcmp(st, "PENDING")) {
				if (!k->pending_since)
					k->pending_since = now;
				if (c->pending_timeout_s > 0 && now - k->pending_since > c->pending_timeout_s) {
					scancel_tasks(&k->job, &i, 1);
					errs[i] = avo_sprintf("slurm: task %ld_%zu still pending after %.0f s (%s); cancelled",
							      k->job, i, now - k->pending_since,
							      k->reason ? k->reason : "no reason given");
					k->state = T_FAILED;
					left--;
				}
				continue;
			}
			k->pending_since = 0;
			if (is_active_state(st)) {
				k->first_seen_gone = 0;
				continue;
			}
			/* Ended (or gone from squeue) without a result: the result file may still be
			 * on its way through a network filesystem. */
			if (!k->worker_err) {
				if (!k->first_seen_gone) {
					k->first_seen_gone = now;
					continue;
				}
				if (now - k->first_seen_gone < c->result_grace_s)
					continue;
			}
			char *err = NULL;
			if (read_result(dir, i, &out[i], &err)) {
				free(err);
				k->state = T_DONE;
				left--;
				continue;
			}
			free(err);
			if (!k->worker_err) {
				char *tail = log_tail(dir, i);
				avo_buf_printf(&k->history, "%stry %d (job %ld_%zu): %s%s%s", k->history.size ? "; " : "",
					       k->tries, k->job, i, st ? st : "gone from the queue",
					       tail ? ": " : "", tail ? tail : "");
				free(tail);
			}
			if (k->tries > c->retries) {
				errs[i] = avo_sprintf("slurm: no result after %d tr%s: %s", k->tries,
						      k->tries == 1 ? "y" : "ies", avo_buf_cstr(&k->history));
				k->state = T_FAILED;
				left--;
				continue;
			}
			idx[nre++] = i;
		}
		if (nre) {
			long nj = 0;
			if (submit(b, dir, idx, nre, &nj) < 0) {
				for (size_t r = 0; r < nre; r++) {
					errs[idx[r]] = avo_sprintf("slurm: resubmitting failed: %s (%s)", avo_error_last(),
								   avo_buf_cstr(&t[idx[r]].history));
					t[idx[r]].state = T_FAILED;
					left--;
				}
			} else {
				say(b, "job %ld: retrying %zu lost task%s", nj, nre, nre == 1 ? "" : "s");
				for (size_t r = 0; r < nre; r++) {
					stask *k = &t[idx[r]];
					k->job = nj;
					k->tries++;
					k->first_seen_gone = k->pending_since = 0;
					k->worker_err = 0;
				}
			}
		}
	}
	if (b->interrupted) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (t[i].state == T_WAIT) {
				tj[m] = t[i].job;
				idx[m++] = i;
				errs[i] = avo_strdup("not evaluated: interrupted");
			}
		say(b, "interrupted: cancelling %zu task%s", m, m == 1 ? "" : "s");
		scancel_tasks(tj, idx, m);
		rc = avo_error_set(AVO_ERROR, "interrupted");
	}
done:
	if (dir) {
		int failed = 0;
		for (size_t i = 0; i < n; i++)
			failed |= !out[i];
		if (c->keep || (failed && submitted && !b->interrupted)) {
			for (size_t i = 0; i < n; i++)
				if (errs[i] && !out[i]) {
					char *e = avo_sprintf("%s (logs in %s/log)", errs[i], dir);
					free(errs[i]);
					errs[i] = e;
				}
		} else {
			avo_rm_rf(dir);
		}
	}
	for (size_t i = 0; t && i < n; i++) {
		free(t[i].slurm_state);
		free(t[i].reason);
		avo_buf_dispose(&t[i].history);
	}
	free(t);
	free(idx);
	free(tj);
	free(dir);
	return rc;
}

/* ---- the entry point -------------------------------------------------------------------- */

int avo_backend_eval(avo_backend *b, avo_eval_result **out, char **errs,
		     const char *const *variants, const size_t *lens, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = NULL, errs[i] = NULL;
	b->interrupted = 0;
	if (n == 0)
		return 0;
	if (b->kind == K_INLINE)
		return eval_inline(b, out, errs, variants, lens, n);
	signals_catch();
	int rc = b->kind == K_LOCAL ? eval_local(b, out, errs, variants, lens, n)
				    : eval_slurm(b, out, errs, variants, lens, n);
	if (backend__signal)
		b->interrupted = 1;
	signals_restore();
	if (b->interrupted && rc == 0)
		rc = avo_error_set(AVO_ERROR, "interrupted");
	return rc;
}

/* ---- the worker (runs on a node) ---------------------------------------------------- */

static int worker_fail(const char *errpath, int code)
{
	const char *m = avo_error_last();
	fprintf(stderr, "avo: %s\n", m);
	if (errpath)
		avo_file_write_atomic(errpath, m, strlen(m), 0644);
	return code;
}

int avo_backend_worker_main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: avo __backend-worker JOBDIR [INDEX] (run by the slurm backend)\n");
		return 2;
	}
	const char *dir = argv[1];
	const char *is = argc == 3 ? argv[2] : getenv("SLURM_ARRAY_TASK_ID");
	char *end = NULL;
	unsigned long i = is ? strtoul(is, &end, 10) : 0;
	if (!is || !*is || *end) {
		fprintf(stderr, "avo: __backend-worker: no task index (SLURM_ARRAY_TASK_ID unset)\n");
		return 2;
	}
	char host[256] = "?";
	gethostname(host, sizeof(host) - 1);
	char *errpath = task_path(dir, "r", i, ".err"), *jpath = avo_path_join(dir, "job.json");
	char *vpath = task_path(dir, "v", i, ".src"), *rpath = task_path(dir, "r", i, ".json");
	avo_buf jb = AVO_BUF_INIT, vb = AVO_BUF_INIT;
	cJSON *job = NULL;
	avo_spec *spec = NULL;
	avo_cache *cache = NULL;
	avo_eval_result *r = NULL;
	char *json = NULL;
	int code = 4, rc;
	if ((rc = avo_file_read(&jb, jpath)) < 0 || (rc = avo_file_read(&vb, vpath)) < 0) {
		code = worker_fail(errpath, 4);
		goto done;
	}
	job = cJSON_ParseWithLength(jb.ptr, jb.size);
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(job, "spec");
	if (!cJSON_IsString(sp)) {
		avo_error_set(AVO_EPARSE, "%s: not a job file", jpath);
		code = worker_fail(errpath, 4);
		goto done;
	}
	if ((rc = avo_spec_load(&spec, sp->valuestring)) < 0) {
		avo_error_wrap(rc, "on %s", host);
		code = worker_fail(errpath, 3);
		goto done;
	}
	const cJSON *x;
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(job, "timeout_s")) && x->valuedouble > 0)
		spec->timeout_s = x->valuedouble;
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(job, "compile_timeout_s")) && x->valuedouble > 0)
		spec->compile_timeout_s = x->valuedouble;
	avo_eval_options eo = AVO_EVAL_OPTIONS_INIT;
	eo.gpu = -1; /* Slurm's CUDA_VISIBLE_DEVICES names the GPU it gave us */
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(job, "jobs")))
		eo.jobs = x->valueint;
	eo.verbose = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(job, "verbose"));
	eo.trust_harness = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(job, "trust_harness"));
	const cJSON *cd = cJSON_GetObjectItemCaseSensitive(job, "cache_dir");
	eo.use_cache = cJSON_IsString(cd);
	if (eo.use_cache) {
		avo_cache_options co = AVO_CACHE_OPTIONS_INIT;
		co.dir = cd->valuestring;
		if ((rc = avo_cache_open(&cache, &co)) < 0) {
			avo_error_wrap(rc, "on %s: cache", host);
			code = worker_fail(errpath, 4);
			goto done;
		}
	}
	if ((rc = avo_eval_run(&r, spec, vb.ptr ? vb.ptr : "", vb.size, cache, &eo)) < 0) {
		avo_error_wrap(rc, "on %s", host);
		code = worker_fail(errpath, 4);
		goto done;
	}
	if (!(json = avo_eval_result_json(r)) ||
	    (rc = avo_file_write_atomic(rpath, json, strlen(json), 0644)) < 0) {
		code = worker_fail(errpath, 4);
		goto done;
	}
	printf("avo: task %lu on %s: %s, fitness %.6g, %.2f s%s\n", i, host, avo_eval_status_name(r->status),
	       r->fitness, r->seconds, r->from_cache ? " (cached)" : "");
	code = 0;
done:
	free(json);
	avo_eval_result_free(r);
	avo_cache_free(cache);
	avo_spec_free(spec);
	cJSON_Delete(job);
	avo_buf_dispose(&jb);
	avo_buf_dispose(&vb);
	free(errpath), free(jpath), free(vpath), free(rpath);
	return code;
}
