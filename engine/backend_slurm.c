/* The slurm backend: batches as Slurm job arrays; each task runs `avo __backend-worker` on a
 * node and leaves its result in a shared job directory; lost tasks are retried. CLUSTER.md.
 *
 * Spec section (all optional):
 *   "slurm": {"partition": "gpu", "gres": "gpu:1", "gpus": null, "time": "00:30:00",
 *             "cpus_per_task": 8, "account": null, "qos": null, "sbatch_args": ["--exclusive"],
 *             "batch": 8, "parallel": 0, "retries": 2, "poll": 2, "pending_timeout": 3600,
 *             "result_grace": 10, "job_dir": ".avo/slurm", "avo": "/shared/bin/avo",
 *             "keep_jobs": false}
 */
#include "backend_impl.h"
#include "runstate.h"

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

typedef struct {
	slurm_cfg sc;
	char *job_root, *worker, *spec_abs;
} slurm_state;

#define SL(b) ((slurm_state *)(b)->impl)

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
	slurm_cfg *c = &SL(b)->sc;
	c->batch = 8;
	c->retries = 2;
	c->poll_s = 2;
	c->pending_timeout_s = 3600;
	c->result_grace_s = 10;
	c->unreachable_s = 600;
	if (o && !cJSON_IsObject(o))
		return avo_backend__field_err(s, "slurm", "must be an object");
	int rc = 0;
	if ((rc = avo_backend__get_str(s, o, "slurm", "partition", &c->partition)) < 0 ||
	    (rc = avo_backend__get_str(s, o, "slurm", "gres", &c->gres)) < 0 ||
	    (rc = avo_backend__get_str(s, o, "slurm", "gpus", &c->gpus)) < 0 ||
	    (rc = avo_backend__get_str(s, o, "slurm", "time", &c->time)) < 0 ||
	    (rc = avo_backend__get_str(s, o, "slurm", "account", &c->account)) < 0 ||
	    (rc = avo_backend__get_str(s, o, "slurm", "qos", &c->qos)) < 0 ||
	    (rc = avo_backend__get_str(s, o, "slurm", "job_dir", job_dir)) < 0 ||
	    (rc = avo_backend__get_str(s, o, "slurm", "avo", avo)) < 0 ||
	    (rc = avo_backend__get_long(s, o, "slurm", "cpus_per_task", 0, &c->cpus_per_task)) < 0 ||
	    (rc = avo_backend__get_long(s, o, "slurm", "batch", 1, &c->batch)) < 0 ||
	    (rc = avo_backend__get_long(s, o, "slurm", "parallel", 0, &c->parallel)) < 0 ||
	    (rc = avo_backend__get_long(s, o, "slurm", "retries", 0, &c->retries)) < 0 ||
	    (rc = avo_backend__get_num(s, o, "slurm", "poll", 0.05, &c->poll_s)) < 0 ||
	    (rc = avo_backend__get_num(s, o, "slurm", "pending_timeout", 0, &c->pending_timeout_s)) < 0 ||
	    (rc = avo_backend__get_num(s, o, "slurm", "result_grace", 0, &c->result_grace_s)) < 0)
		return rc;
	/* Array indices are the candidates' positions; Slurm's default MaxArraySize is 1001. */
	if (c->batch > 1000)
		return avo_backend__field_err(s, "slurm.batch", "must be at most 1000");
	const cJSON *keep = cJSON_GetObjectItemCaseSensitive(o, "keep_jobs");
	c->keep = cJSON_IsTrue(keep);
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "sbatch_args"), *e;
	if (ex && !cJSON_IsArray(ex))
		return avo_backend__field_err(s, "slurm.sbatch_args", "must be an array of strings");
	c->extra = calloc((size_t)cJSON_GetArraySize(ex) + 1, sizeof(char *));
	if (!c->extra)
		return avo_oom();
	cJSON_ArrayForEach(e, ex) {
		if (!cJSON_IsString(e))
			return avo_backend__field_err(s, "slurm.sbatch_args", "must be an array of strings");
		c->extra[c->nextra++] = avo_strdup(e->valuestring);
	}
	/* A CUDA kernel needs a GPU on the node; "gres": "" turns the request off. */
	if (!c->gres && !c->gpus && s->is_cuda)
		c->gres = avo_strdup("gpu:1");
	if (!c->time)
		c->time = default_time(s);
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

static int slurm_open(avo_backend *b, const cJSON *section, const avo_backend_options *opts)
{
	char *job_dir = NULL, *avo = NULL;
	int rc;
	if (!(b->impl = calloc(1, sizeof(slurm_state))))
		return avo_oom();
	slurm_state *st = SL(b);
	if ((rc = parse_slurm(b, section, &job_dir, &avo)) < 0)
		goto done;
	b->nslots = (size_t)st->sc.batch;
	char *sp = realpath(b->spec->path, NULL);
	st->spec_abs = sp ? sp : avo_strdup(b->spec->path);
	if (opts->job_root)
		st->job_root = avo_strdup(opts->job_root);
	else if (job_dir)
		st->job_root = job_dir[0] == '/' ? avo_strdup(job_dir) : avo_path_join(b->spec->dir, job_dir);
	else
		st->job_root = avo_sprintf("%s/.avo/slurm", b->spec->dir);
	st->worker = opts->worker ? avo_strdup(opts->worker) : avo ? avo_strdup(avo) : self_exe();
	if (!st->job_root || !st->worker) {
		rc = avo_error_set(AVO_ERROR, "slurm backend: cannot name the job dir or the avo program");
		goto done;
	}
	/* Nodes reach the job dir by the same path: it must be absolute. */
	if (st->job_root[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		char *abs = cwd ? avo_path_join(cwd, st->job_root) : NULL;
		free(cwd);
		if (abs) {
			free(st->job_root);
			st->job_root = abs;
		}
	}
	/* Job dirs that a killed avo of this host left behind go now (runstate.h). */
	if (avo_runstate_clean_scratch(st->job_root) > 0 && !b->quiet)
		fprintf(stderr, "avo: slurm: removed the job dirs of a killed run from %s\n", st->job_root);
done:
	free(job_dir);
	free(avo);
	return rc;
}

static void slurm_close(avo_backend *b)
{
	slurm_state *st = SL(b);
	if (!st)
		return;
	slurm_cfg_dispose(&st->sc);
	free(st->job_root), free(st->worker), free(st->spec_abs);
	free(st);
	b->impl = NULL;
}

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

char *avo_backend__task_path(const char *dir, const char *sub, size_t i, const char *ext)
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
		char *p = avo_backend__task_path(dir, "v", i, ".src");
		rc = avo_file_write_atomic(p, v[i], lens[i], 0644);
		free(p);
	}
	if (rc < 0)
		return rc;
	/* What the worker needs besides the variant: the spec and the overrides made here. */
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "spec", SL(b)->spec_abs);
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
	rc = js && p ? avo_file_write_atomic(p, js, strlen(js), 0644) : avo_oom();
	free(js);
	free(p);
	if (rc < 0)
		return rc;
	avo_buf sh = AVO_BUF_INIT;
	avo_buf_puts(&sh, "#!/bin/sh\n# One avo evaluation (written by avo; see engine/CLUSTER.md).\nexec ");
	sh_quote(&sh, SL(b)->worker);
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
	const slurm_cfg *c = &SL(b)->sc;
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
		rc = avo_oom();
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
	char *p = avo_backend__task_path(dir, "r", i, ".json");
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
	p = avo_backend__task_path(dir, "r", i, ".err");
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
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !avo_backend__signalled())
		;
}

static int eval_slurm(avo_backend *b, avo_eval_result **out, char **errs, const char *const *v,
		      const size_t *lens, size_t n)
{
	const slurm_cfg *c = &SL(b)->sc;
	char *dir = NULL;
	stask *t = calloc(n, sizeof(*t));
	size_t *idx = calloc(n, sizeof(*idx));
	long *tj = calloc(n, sizeof(*tj));
	int rc, submitted = 0;
	if (!t || !idx || !tj) {
		rc = avo_oom();
		goto done;
	}
	/* batch-<host>-<pid>-XXXXXX: a later run on this host removes it if we are killed. */
	char *prefix = avo_runstate_scratch_prefix("batch");
	rc = prefix ? avo_mkdir_p(SL(b)->job_root, 0755) : avo_oom();
	if (rc == 0)
		rc = avo_mkdtemp(&dir, SL(b)->job_root, prefix);
	free(prefix);
	if (rc < 0 || (rc = write_job_dir(b, dir, v, lens, n)) < 0) {
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
		if (avo_backend__signalled()) {
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

const avo_backend_ops avo_backend__slurm = {"slurm", slurm_open, slurm_close, eval_slurm, 1};
