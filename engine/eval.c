/* The evaluator: compile a variant and the harness as two translation units, link, run the
 * harness per config under a hard timeout, judge, and cache. See eval.h for the rules.
 *
 * Threads: avo_eval_many() compiles with `jobs` worker threads; the calling thread runs the
 * harnesses one at a time (CUDA: as soon as a variant is linked, under a per-GPU file lock
 * so two avo processes never time on one GPU together; C: after every compile is done, so
 * the compiles do not disturb the CPU timings). Cache calls are serialised by one mutex. */
#include "eval.h"
#include "evalbox.h"
#include "avo_base.h"
#include "buildid.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define FEEDBACK_HEAD 6144 /* compiler output: the first errors matter most ... */
#define FEEDBACK_TAIL 2048 /* ... and the summary at the end */
#define RUN_STDERR_TAIL 4096

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

const char *avo_eval_status_name(avo_eval_status s)
{
	switch (s) {
	case AVO_EVAL_OK: return "ok";
	case AVO_EVAL_COMPILE: return "compile";
	case AVO_EVAL_INCORRECT: return "incorrect";
	case AVO_EVAL_CRASH: return "crash";
	case AVO_EVAL_TIMEOUT: return "timeout";
	case AVO_EVAL_PROTOCOL: return "protocol";
	case AVO_EVAL_SKIPPED: return "skipped";
	}
	return "?";
}

static int status_from_name(const char *n, avo_eval_status *out)
{
	for (int s = AVO_EVAL_OK; s <= AVO_EVAL_SKIPPED; s++)
		if (!strcmp(n, avo_eval_status_name((avo_eval_status)s))) {
			*out = (avo_eval_status)s;
			return 0;
		}
	return -1;
}

/* ---- process-wide memo: facts computed once per process ------------------------------ */

/* ---- small helpers ------------------------------------------------------------------- */

static char *join_argv(const char *const *argv)
{
	avo_buf b = AVO_BUF_INIT;
	for (size_t i = 0; argv[i]; i++)
		avo_buf_printf(&b, "%s%s", i ? " " : "", argv[i]);
	return avo_buf_detach(&b);
}

/* A child was not started at all: avo_proc_run's child exits 127 with this message. */
static int not_started(const avo_proc_result *r)
{
	return r->exited && r->exit_code == 127 && strstr(avo_buf_cstr(&r->err), "avo: cannot run ");
}

/* Replace every "<dir>/" by "" so messages name "attention.c:12:3", not the scratch path. */
static void strip_dir(avo_buf *b, const char *dir)
{
	if (!dir || !b->ptr)
		return;
	char *pat = avo_sprintf("%s/", dir);
	if (!pat)
		return;
	size_t pl = strlen(pat);
	char *w = b->ptr;
	for (const char *r = b->ptr; *r;) {
		if (!strncmp(r, pat, pl))
			r += pl;
		else
			*w++ = *r++;
	}
	*w = '\0';
	b->size = (size_t)(w - b->ptr);
	free(pat);
}

/* Head and tail of a long log with a marker between them. Caller frees. */
static char *cap_text(const char *s, size_t head, size_t tail)
{
	size_t n = strlen(s);
	if (n <= head + tail + 64)
		return avo_strdup(s);
	return avo_sprintf("%.*s\n[... %zu bytes cut ...]\n%s", (int)head, s, n - head - tail, s + n - tail);
}

static const char *tail_of(const char *s, size_t cap)
{
	size_t n = strlen(s);
	if (n <= cap)
		return s;
	const char *t = s + n - cap;
	const char *nl = strchr(t, '\n'); /* start on a line */
	return nl && nl[1] ? nl + 1 : t;
}


/* ---- the evaluation context ------------------------------------------------------------ */

typedef enum { IT_PENDING, IT_COMPILING, IT_READY, IT_DONE } item_state;

typedef struct {
	const char *src;
	size_t len;
	char hash[AVO_CACHE_HEX];
	char key[AVO_CACHE_HEX];
	char *dir;    /* scratch dir (owned) */
	char *exe;    /* linked harness (owned) */
	item_state state;
	avo_eval_result *res;
	int env_rc;   /* < 0: the environment failed for this item */
	char *env_msg;
	double t0;
} item;

typedef struct {
	const avo_spec *spec;
	const avo_eval_options *opts;
	avo_cache *cache;
	char *root;        /* scratch root, owned */
	avo_buildid id;    /* compiler, device, headers (buildid.h) */
	char *harness_src; /* harness source text, owned */
	size_t harness_len;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	item *items;
	size_t n;
	size_t next_job;   /* job dispenser; job 0 is the harness when need_harness */
	size_t compiled;   /* items past compilation */
	size_t *todo;      /* indices of the items to build */
	size_t ntodo;
	int need_harness;
	int harness_state; /* 0 pending, 1 ok, -1 failed */
	char *harness_obj; /* object bytes, owned */
	size_t harness_obj_len;
	char *harness_feedback;
} ectx;

static avo_eval_result *new_result(const avo_spec *s)
{
	avo_eval_result *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->configs = calloc(s->nconfigs ? s->nconfigs : 1, sizeof(*r->configs));
	if (!r->configs) {
		free(r);
		return NULL;
	}
	r->nconfigs = s->nconfigs;
	for (size_t i = 0; i < s->nconfigs; i++) {
		avo_eval_config_result *c = &r->configs[i];
		c->name = avo_strdup(s->configs[i].name);
		c->status = AVO_EVAL_SKIPPED;
		c->max_rel_err = c->rel_l2_err = c->ms = c->tflops = NAN;
	}
	return r;
}

static void verbose_cmd(const ectx *e, const char *const *argv)
{
	if (!e->opts->verbose)
		return;
	char *s = join_argv(argv);
	fprintf(stderr, "avo: $ %s\n", s ? s : "?");
	free(s);
}

static int cache_get(ectx *e, const char *ns, const char *key, avo_buf *out)
{
	if (!e->cache || !key[0])
		return AVO_ENOTFOUND;
	pthread_mutex_lock(&cache_lock);
	int rc = avo_cache_get(e->cache, ns, key, out);
	pthread_mutex_unlock(&cache_lock);
	return rc;
}

static void cache_put(ectx *e, const char *ns, const char *key, const void *data, size_t len)
{
	if (!e->cache || !key[0])
		return;
	pthread_mutex_lock(&cache_lock);
	if (avo_cache_put(e->cache, ns, key, data, len) < 0)
		fprintf(stderr, "avo: warning: cache: %s\n", avo_error_last());
	pthread_mutex_unlock(&cache_lock);
}

/* Compile `src_path` (content `src`) into `obj`, through the "bin" cache. Returns 0 when
 * compiled, 1 when the compiler rejected it (*feedback set, caller frees), < 0 when the
 * environment failed. `dir` is stripped from the messages. */
/* Run one compile or link command the way every build step runs: from the spec's directory
 * (relative -I in its flags mean that directory), secrets scrubbed, under the compile
 * timeout, keeping the tail of the compiler's output. */
static int run_build_step(ectx *e, const avo_buildid_argv *c, avo_proc_result *r)
{
	verbose_cmd(e, c->v);
	avo_proc_options po = {0};
	avo_evalbox box;
	po.argv = c->v;
	po.cwd = e->spec->dir;
	po.scrub_secrets = 1;
	po.timeout_s = e->spec->compile_timeout_s;
	po.max_output = 1u << 20;
	po.sandbox = avo_evalbox_for_cmd(&box, e->spec, c->v); /* hostile source, contained */
	int rc = avo_proc_run(r, &po);
	avo_evalbox_dispose(&box);
	return rc;
}

static int compile_tu(ectx *e, const char *src_path, const char *src, size_t len, const char *obj,
		      const char *dir, char **feedback)
{
	const avo_spec *s = e->spec;
	char key[AVO_CACHE_HEX];
	avo_buf bytes = AVO_BUF_INIT;
	int rc;
	*feedback = NULL;
	avo_buildid_bin_key(key, s, &e->id, avo_path_basename(src_path), src, len);
	if (cache_get(e, "bin", key, &bytes) == 0) {
		rc = avo_file_write_atomic(obj, bytes.ptr ? bytes.ptr : "", bytes.size, 0644);
		avo_buf_dispose(&bytes);
		return rc;
	}
	avo_buildid_argv c = AVO_BUILDID_ARGV_INIT;
	avo_proc_result r;
	if ((rc = avo_buildid_compile_argv(&c, s, src_path, obj)) == 0)
		rc = run_build_step(e, &c, &r);
	avo_buildid_argv_dispose(&c);
	if (rc < 0)
		return rc;
	if (not_started(&r)) {
		rc = avo_error_set(AVO_EIO, "compiler \"%s\" could not be started", s->compiler);
	} else if (r.timed_out || !r.exited || r.exit_code != 0) {
		/* Some tools print diagnostics on stdout: keep both streams. */
		if (r.out.size)
			avo_buf_printf(&r.err, "%s%s", r.err.size ? "\n" : "", avo_buf_cstr(&r.out));
		strip_dir(&r.err, dir);
		char *how = avo_proc_describe(&r, s->compile_timeout_s);
		char *log = cap_text(avo_buf_cstr(&r.err), FEEDBACK_HEAD, FEEDBACK_TAIL);
		*feedback = avo_sprintf("%s: compiler %s:\n%s", avo_path_basename(src_path), how ? how : "failed",
					log ? log : "");
		free(how);
		free(log);
		rc = 1;
	} else if (e->cache && avo_file_read(&bytes, obj) == 0) {
		cache_put(e, "bin", key, bytes.ptr ? bytes.ptr : "", bytes.size);
	}
	avo_buf_dispose(&bytes);
	avo_proc_result_dispose(&r);
	return rc;
}

/* The harness object, compiled once per process (memo) and cached in "bin". */
static int build_harness(ectx *e)
{
	char mkey[AVO_CACHE_HEX + 16], bkey[AVO_CACHE_HEX];
	avo_buildid_bin_key(bkey, e->spec, &e->id, avo_path_basename(e->spec->harness), e->harness_src,
			    e->harness_len);
	snprintf(mkey, sizeof(mkey), "harness:%s", bkey);
	if (avo_buildid_memo_get(mkey, &e->harness_obj, &e->harness_obj_len) == 0)
		return 0;
	char *dir = NULL, *obj = NULL, *fb = NULL;
	int rc = avo_mkdtemp(&dir, e->root, "harness-");
	if (rc < 0)
		return rc;
	obj = avo_path_join(dir, "harness.o");
	rc = compile_tu(e, e->spec->harness, e->harness_src, e->harness_len, obj, NULL, &fb);
	if (rc == 0) {
		avo_buf b = AVO_BUF_INIT;
		if ((rc = avo_file_read(&b, obj)) == 0) {
			e->harness_obj_len = b.size;
			e->harness_obj = avo_buf_detach(&b);
			avo_buildid_memo_put(mkey, e->harness_obj, e->harness_obj_len);
		}
		avo_buf_dispose(&b);
	} else if (rc > 0) {
		e->harness_feedback = avo_sprintf("the harness did not compile: %s", fb);
	}
	free(fb);
	free(obj);
	if (!e->opts->verbose)
		avo_rm_rf(dir);
	free(dir);
	return rc;
}

static void set_compile_failure(item *it, const char *fb)
{
	it->res->status = AVO_EVAL_COMPILE;
	free(it->res->feedback);
	it->res->feedback = avo_strdup(fb ? fb : "compile failed");
}

/* Compile and link one variant (a worker thread). Leaves it IT_READY (exe set) or IT_DONE. */
static void build_variant(ectx *e, item *it)
{
	const avo_spec *s = e->spec;
	char *src = NULL, *obj = NULL, *fb = NULL, *hobj = NULL;
	int rc;
	if ((rc = avo_mkdtemp(&it->dir, e->root, "eval-")) < 0)
		goto env_fail;
	/* The variant keeps the kernel's file name, in the scratch dir, never over the user's file. */
	src = avo_path_join(it->dir, avo_path_basename(s->kernel));
	obj = avo_path_join(it->dir, "variant.o");
	if ((rc = avo_file_write_atomic(src, it->src, it->len, 0644)) < 0)
		goto env_fail;
	rc = compile_tu(e, src, it->src, it->len, obj, it->dir, &fb);
	if (rc < 0)
		goto env_fail;
	/* Wait for the harness (another worker may be compiling it). */
	pthread_mutex_lock(&e->mu);
	while (e->harness_state == 0)
		pthread_cond_wait(&e->cv, &e->mu);
	int hs = e->harness_state;
	pthread_mutex_unlock(&e->mu);
	if (hs < 0) {
		set_compile_failure(it, e->harness_feedback);
		goto done;
	}
	if (rc > 0) {
		set_compile_failure(it, fb);
		goto done;
	}
	hobj = avo_path_join(it->dir, "harness.o");
	it->exe = avo_path_join(it->dir, "harness");
	if ((rc = avo_file_write_atomic(hobj, e->harness_obj, e->harness_obj_len, 0644)) < 0)
		goto env_fail;
	avo_buildid_argv c = AVO_BUILDID_ARGV_INIT;
	avo_proc_result r;
	if ((rc = avo_buildid_link_argv(&c, s, hobj, obj, it->exe)) == 0)
		rc = run_build_step(e, &c, &r);
	avo_buildid_argv_dispose(&c);
	if (rc < 0)
		goto env_fail;
	if (r.timed_out || !r.exited || r.exit_code != 0) {
		strip_dir(&r.err, it->dir);
		char *how = avo_proc_describe(&r, s->compile_timeout_s);
		char *log = cap_text(avo_buf_cstr(&r.err), FEEDBACK_HEAD, FEEDBACK_TAIL);
		char *msg = avo_sprintf("link failed (%s):\n%s", how ? how : "?", log ? log : "");
		set_compile_failure(it, msg);
		free(msg);
		free(how);
		free(log);
	}
	avo_proc_result_dispose(&r);
	goto done;
env_fail:
	it->env_rc = rc < 0 ? rc : AVO_ERROR;
	it->env_msg = avo_strdup(avo_error_last());
done:
	pthread_mutex_lock(&e->mu);
	it->state = it->res->status == AVO_EVAL_COMPILE || it->env_rc < 0 ? IT_DONE : IT_READY;
	e->compiled++;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	free(src);
	free(obj);
	free(fb);
	free(hobj);
}

static void *worker(void *arg)
{
	ectx *e = arg;
	for (;;) {
		pthread_mutex_lock(&e->mu);
		size_t job = e->next_job++;
		pthread_mutex_unlock(&e->mu);
		if (e->need_harness && job == 0) {
			int rc = build_harness(e);
			pthread_mutex_lock(&e->mu);
			e->harness_state = rc == 0 ? 1 : -1;
			if (rc < 0 && !e->harness_feedback)
				e->harness_feedback = avo_sprintf("harness: %s", avo_error_last());
			pthread_cond_broadcast(&e->cv);
			pthread_mutex_unlock(&e->mu);
			continue;
		}
		size_t idx = job - (size_t)e->need_harness;
		if (idx >= e->ntodo)
			return NULL;
		build_variant(e, &e->items[e->todo[idx]]);
	}
}

/* ---- running and judging ------------------------------------------------------------- */

/* Rewrite bare nan/inf tokens (outside strings) as null, so "ms":nan still parses and is
 * judged as NaN rather than as a missing result. Caller frees. */
static char *nan_to_null(const char *s, size_t n)
{
	avo_buf b = AVO_BUF_INIT;
	int in_str = 0;
	for (size_t i = 0; i < n;) {
		char ch = s[i];
		if (in_str) {
			avo_buf_put(&b, &ch, 1);
			if (ch == '\\' && i + 1 < n) {
				avo_buf_put(&b, &s[i + 1], 1);
				i += 2;
				continue;
			}
			in_str = ch != '"';
			i++;
			continue;
		}
		if (ch == '"') {
			in_str = 1;
			avo_buf_put(&b, &ch, 1);
			i++;
			continue;
		}
		size_t j = i;
		if ((s[j] == '-' || s[j] == '+') && j + 1 < n && isalpha((unsigned char)s[j + 1]))
			j++;
		size_t k = j;
		while (k < n && isalpha((unsigned char)s[k]))
			k++;
		if (k > j && (k - j == 3 || k - j == 8) &&
		    (!strncasecmp(s + j, "nan", k - j) || !strncasecmp(s + j, "inf", k - j) ||
		     !strncasecmp(s + j, "infinity", k - j))) {
			avo_buf_puts(&b, "null");
			i = k;
			continue;
		}
		if (k > i) {
			avo_buf_put(&b, s + i, k - i);
			i = k;
			continue;
		}
		avo_buf_put(&b, &ch, 1);
		i++;
	}
	return avo_buf_detach(&b);
}

/* The last stdout line that is a JSON object, or NULL. Caller cJSON_Deletes. */
static cJSON *last_json_line(const char *out)
{
	size_t n = strlen(out);
	while (n > 0) {
		size_t end = n;
		while (end > 0 && (out[end - 1] == '\n' || out[end - 1] == '\r' || out[end - 1] == ' '))
			end--;
		size_t start = end;
		while (start > 0 && out[start - 1] != '\n')
			start--;
		size_t b = start;
		while (b < end && (out[b] == ' ' || out[b] == '\t'))
			b++;
		if (b < end && out[b] == '{') {
			cJSON *j = cJSON_ParseWithLength(out + b, end - b);
			if (!j) {
				char *fixed = nan_to_null(out + b, end - b);
				if (fixed)
					j = cJSON_Parse(fixed);
				free(fixed);
			}
			if (j && cJSON_IsObject(j))
				return j;
			cJSON_Delete(j);
		}
		n = start;
	}
	return NULL;
}

/* A number field: 1 present (null reads as NaN), 0 absent, -1 wrong type. */
static int num_field(const cJSON *o, const char *name, double *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!it)
		return 0;
	if (cJSON_IsNull(it)) {
		*v = NAN;
		return 1;
	}
	if (!cJSON_IsNumber(it))
		return -1;
	*v = it->valuedouble;
	return 1;
}

static void fail_config(avo_eval_config_result *c, avo_eval_status st, char *msg)
{
	c->status = st;
	c->correct = 0;
	free(c->feedback);
	c->feedback = msg;
}

/* Judge one harness run. */
/* Per-repetition times (ms) from an optional "samples" array: finite positive numbers,
 * at most 100000. Without it the gate takes `ms` as one sample. */
static void read_samples(const cJSON *arr, avo_eval_config_result *c)
{
	const cJSON *x;
	size_t n = cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0;
	if (!n || n > 100000 || !(c->samples = calloc(n, sizeof(double))))
		return;
	cJSON_ArrayForEach(x, arr)
		if (cJSON_IsNumber(x) && isfinite(x->valuedouble) && x->valuedouble > 0)
			c->samples[c->nsamples++] = x->valuedouble;
}

static void judge(const avo_spec *s, const avo_proc_result *r, avo_eval_config_result *c)
{
	char *how = avo_proc_describe(r, s->timeout_s);
	const char *err_tail = tail_of(avo_buf_cstr(&r->err), RUN_STDERR_TAIL);
	const char *sep = *err_tail ? "; stderr:\n" : "";
	cJSON *j = NULL;
	c->correct = 0;
	if (r->timed_out) {
		fail_config(c, AVO_EVAL_TIMEOUT, avo_sprintf("%s: %s%s%s", c->name, how, sep, err_tail));
		goto done;
	}
	if (!r->exited) {
		fail_config(c, AVO_EVAL_CRASH, avo_sprintf("%s: %s%s%s", c->name, how, sep, err_tail));
		goto done;
	}
	j = last_json_line(avo_buf_cstr(&r->out));
	const cJSON *cor = j ? cJSON_GetObjectItemCaseSensitive(j, "correct") : NULL;
	if (r->exit_code != 0 && !(cor && cJSON_IsFalse(cor))) {
		fail_config(c, AVO_EVAL_CRASH, avo_sprintf("%s: %s%s%s", c->name, how, sep, err_tail));
		goto done;
	}
	if (!j) {
		fail_config(c, AVO_EVAL_PROTOCOL,
			    avo_sprintf("%s: no JSON result line on stdout (%s)%s%s", c->name, how, sep, err_tail));
		goto done;
	}
	int need_tflops = !strcmp(s->objective, "tflops");
	int has_tf = num_field(j, "tflops", &c->tflops);
	int has_l2 = num_field(j, "rel_l2_err", &c->rel_l2_err);
	const char *missing = !cor || !cJSON_IsBool(cor) ? "a boolean \"correct\""
			      : num_field(j, "max_rel_err", &c->max_rel_err) != 1 ? "a number \"max_rel_err\""
			      : num_field(j, "ms", &c->ms) != 1 ? "a number \"ms\""
			      : has_tf < 0 || (need_tflops && has_tf == 0) ? "a number \"tflops\""
			      : has_l2 < 0 ? "a number \"rel_l2_err\"" : NULL;
	if (missing) {
		fail_config(c, AVO_EVAL_PROTOCOL, avo_sprintf("%s: the result line lacks %s", c->name, missing));
		goto done;
	}
	if (cJSON_IsFalse(cor)) {
		fail_config(c, AVO_EVAL_INCORRECT,
			    avo_sprintf("%s: the harness reports incorrect output (max_rel_err %g, %s)%s%s",
					c->name, c->max_rel_err, how, sep, err_tail));
		goto done;
	}
	const char *bad = !isfinite(c->max_rel_err) ? "max_rel_err is NaN or Inf"
			  : has_l2 && !isfinite(c->rel_l2_err) ? "rel_l2_err is NaN or Inf"
			  : !isfinite(c->ms) ? "ms is NaN or Inf"
			  : has_tf && !isfinite(c->tflops) ? "tflops is NaN or Inf" : NULL;
	if (bad) {
		fail_config(c, AVO_EVAL_INCORRECT, avo_sprintf("%s: %s", c->name, bad));
		goto done;
	}
	if (c->max_rel_err > s->tolerance) {
		fail_config(c, AVO_EVAL_INCORRECT, avo_sprintf("%s: max_rel_err %g exceeds the tolerance %g",
							       c->name, c->max_rel_err, s->tolerance));
		goto done;
	}
	if (c->ms <= 0 || (need_tflops && c->tflops <= 0)) {
		fail_config(c, AVO_EVAL_PROTOCOL, avo_sprintf("%s: %s must be > 0", c->name,
							      c->ms <= 0 ? "ms" : "tflops"));
		goto done;
	}
	read_samples(cJSON_GetObjectItemCaseSensitive(j, "samples"), c);
	c->status = AVO_EVAL_OK;
	c->correct = 1;
done:
	cJSON_Delete(j);
	free(how);
}

/* One file lock per GPU index under the scratch root: two avo processes never time on
 * the same GPU at once. Returns the fd (or -1: run unlocked). */
static int lock_gpu(const ectx *e)
{
	char name[64];
	snprintf(name, sizeof(name), "gpu%d.lock", avo_buildid_gpu_index(e->opts->gpu));
	char *p = avo_path_join(e->root, name);
	int fd = p ? open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
	free(p);
	if (fd >= 0)
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
	return fd;
}

static int has_sanitizer(const avo_spec *s)
{
	for (size_t i = 0; i < s->nflags; i++)
		if (strstr(s->flags[i], "-fsanitize"))
			return 1;
	for (size_t i = 0; i < s->nlink_flags; i++)
		if (strstr(s->link_flags[i], "-fsanitize"))
			return 1;
	return 0;
}

/* Run every config of a built item, in order, stopping at the first failure. */
static int run_item(ectx *e, item *it)
{
	const avo_spec *s = e->spec;
	avo_eval_result *res = it->res;
	char *cwd = avo_path_join(it->dir, "run");
	char gpu_env[48];
	const char *env_add[3] = {NULL, NULL, NULL};
	int rc = cwd ? avo_mkdir_p(cwd, 0700) : avo_error_set(AVO_ERROR, "out of memory");
	if (rc < 0)
		goto done;
	if (e->opts->gpu >= 0) {
		snprintf(gpu_env, sizeof(gpu_env), "CUDA_VISIBLE_DEVICES=%d", e->opts->gpu);
		env_add[0] = gpu_env;
		/* Number GPUs as nvidia-smi does, so the identity we key on is the GPU we run on. */
		env_add[1] = "CUDA_DEVICE_ORDER=PCI_BUS_ID";
	}
	for (size_t i = 0; i < s->nconfigs; i++) {
		avo_eval_config_result *c = &res->configs[i];
		avo_buildid_argv a = AVO_BUILDID_ARGV_INIT;
		avo_buildid_argv_push(&a, it->exe);
		for (size_t j = 0; j < s->configs[i].nargs; j++)
			avo_buildid_argv_push(&a, s->configs[i].args[j]);
		verbose_cmd(e, a.v);
		avo_proc_options po = {0};
		po.argv = a.v;
		po.cwd = cwd;
		po.env_add = env_add;
		po.scrub_secrets = 1;
		po.timeout_s = s->timeout_s;
		/* CUDA maps a huge virtual address space, and so do sanitizers: no RLIMIT_AS there. */
		po.rlimit_as_mb = s->is_cuda || has_sanitizer(s) ? 0 : 16384;
		po.rlimit_fsize_mb = 1024;
		po.rlimit_nproc = 8192; /* stops a fork bomb; threads count too, so keep it roomy */
		po.max_output = 1u << 20;
		avo_evalbox box; /* writes only its run dir; reads its executable's dir */
		po.sandbox = avo_evalbox_init(&box, s, cwd, it->dir);
		int lock = s->is_cuda ? lock_gpu(e) : -1;
		avo_proc_result r;
		rc = avo_proc_run(&r, &po);
		avo_evalbox_dispose(&box);
		if (lock >= 0)
			close(lock);
		avo_buildid_argv_dispose(&a);
		if (rc < 0)
			goto done;
		judge(s, &r, c);
		avo_proc_result_dispose(&r);
		if (c->status != AVO_EVAL_OK) {
			res->status = c->status;
			res->feedback = avo_strdup(c->feedback);
			break;
		}
	}
done:
	free(cwd);
	return rc;
}

/* Fitness and the overall verdict once every config is judged. */
static void finish(const avo_spec *s, avo_eval_result *r)
{
	r->correct = r->status == AVO_EVAL_OK;
	r->fitness = 0;
	if (!r->correct)
		return;
	double logsum = 0;
	int tf = !strcmp(s->objective, "tflops");
	for (size_t i = 0; i < r->nconfigs; i++)
		logsum += tf ? log(r->configs[i].tflops) : -log(r->configs[i].ms);
	r->fitness = r->nconfigs ? exp(logsum / (double)r->nconfigs) : 0;
}

/* ---- scratch -------------------------------------------------------------------------- */

/* $TMPDIR/avo-<uid>, private to the user (refuses one that someone else could write). */
static int scratch_root(char **out, const avo_eval_options *o)
{
	if (o->scratch_dir) {
		*out = avo_strdup(o->scratch_dir);
		return avo_mkdir_p(*out, 0700);
	}
	const char *tmp = getenv("TMPDIR");
	*out = avo_sprintf("%s/avo-%ld", tmp && *tmp ? tmp : "/tmp", (long)getuid());
	if (!*out)
		return avo_error_set(AVO_ERROR, "out of memory");
	if (mkdir(*out, 0700) < 0 && errno != EEXIST)
		return avo_error_set(AVO_EIO, "%s: cannot create scratch directory: %s", *out, strerror(errno));
	struct stat st;
	if (lstat(*out, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022))
		return avo_error_set(AVO_EIO, "%s: scratch directory is not a private directory of this user",
				     *out);
	return 0;
}

/* ---- the API -------------------------------------------------------------------------- */

int avo_eval_many(avo_eval_result **out, const avo_spec *spec, const char *const *variants,
		  const size_t *lens, size_t n, avo_cache *cache, const avo_eval_options *opts)
{
	avo_eval_options defaults = AVO_EVAL_OPTIONS_INIT;
	if (!opts)
		opts = &defaults;
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	ectx e;
	memset(&e, 0, sizeof(e));
	e.spec = spec;
	e.opts = opts;
	e.cache = opts->use_cache ? cache : NULL;
	pthread_mutex_init(&e.mu, NULL);
	pthread_cond_init(&e.cv, NULL);
	avo_buf hsrc = AVO_BUF_INIT;
	pthread_t *th = NULL;
	size_t nth = 0;
	int rc;
	double t0 = avo_now();
	char hhash[AVO_CACHE_HEX];

	if ((spec->sandbox && (rc = avo_sandbox_check()) < 0) ||
	    (rc = scratch_root(&e.root, opts)) < 0 || (rc = avo_buildid_init(&e.id, spec, opts->gpu, e.cache)) < 0)
		goto done;
	if ((rc = avo_file_read(&hsrc, spec->harness)) < 0) {
		rc = avo_error_wrap(AVO_EIO, "harness");
		goto done;
	}
	e.harness_len = hsrc.size;
	e.harness_src = avo_buf_detach(&hsrc);
	avo_cache_hash_hex(hhash, e.harness_src, e.harness_len);
	if (!(e.items = calloc(n ? n : 1, sizeof(*e.items))) || !(e.todo = calloc(n ? n : 1, sizeof(size_t)))) {
		rc = avo_error_set(AVO_ERROR, "out of memory");
		goto done;
	}
	e.n = n;
	size_t to_build = 0;
	for (size_t i = 0; i < n; i++) {
		item *it = &e.items[i];
		it->src = variants[i];
		it->len = lens[i];
		it->t0 = avo_now();
		if (!(it->res = new_result(spec))) {
			rc = avo_error_set(AVO_ERROR, "out of memory");
			goto done;
		}
		avo_cache_hash_hex(it->hash, it->src, it->len);
		avo_buildid_eval_key(it->key, spec, &e.id, it->hash, hhash);
		avo_buf hit = AVO_BUF_INIT;
		avo_eval_result *cached = NULL;
		if (!opts->remeasure && cache_get(&e, "eval", it->key, &hit) == 0 &&
		    avo_eval_result_parse(&cached, hit.ptr ? hit.ptr : "", hit.size) == 0 &&
		    cached->nconfigs == spec->nconfigs) {
			avo_eval_result_free(it->res);
			it->res = cached;
			cached->from_cache = 1;
			it->state = IT_DONE;
		} else {
			avo_eval_result_free(cached);
			it->state = IT_COMPILING;
			e.todo[e.ntodo++] = i;
			to_build++;
		}
		avo_buf_dispose(&hit);
	}
	if (to_build) {
		char mkey[AVO_CACHE_HEX + 16], bkey[AVO_CACHE_HEX];
		avo_buildid_bin_key(bkey, spec, &e.id, avo_path_basename(spec->harness), e.harness_src, e.harness_len);
		snprintf(mkey, sizeof(mkey), "harness:%s", bkey);
		if (avo_buildid_memo_get(mkey, &e.harness_obj, &e.harness_obj_len) == 0)
			e.harness_state = 1;
		else
			e.need_harness = 1;
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		size_t jobs = opts->jobs > 0 ? (size_t)opts->jobs : cores > 0 ? (size_t)cores : 1;
		size_t njobs = to_build + (size_t)e.need_harness;
		if (jobs > njobs)
			jobs = njobs;
		if (!(th = calloc(jobs, sizeof(*th)))) {
			rc = avo_error_set(AVO_ERROR, "out of memory");
			goto done;
		}
		for (; nth < jobs; nth++)
			if (pthread_create(&th[nth], NULL, worker, &e) != 0)
				break;
		if (nth == 0) {
			rc = avo_error_set(AVO_EIO, "cannot start compile threads");
			goto done;
		}
		/* Runs, one at a time, on this thread. */
		for (;;) {
			pthread_mutex_lock(&e.mu);
			item *ready = NULL;
			for (;;) {
				int all_built = e.compiled == to_build;
				if (spec->is_cuda || all_built)
					for (size_t i = 0; i < n && !ready; i++)
						if (e.items[i].state == IT_READY)
							ready = &e.items[i];
				if (ready || all_built)
					break;
				pthread_cond_wait(&e.cv, &e.mu);
			}
			if (ready)
				ready->state = IT_DONE; /* only this thread runs items */
			pthread_mutex_unlock(&e.mu);
			if (!ready)
				break;
			if (ready->env_rc == 0 && run_item(&e, ready) < 0) {
				ready->env_rc = AVO_EIO;
				ready->env_msg = avo_strdup(avo_error_last());
			}
		}
		for (size_t i = 0; i < nth; i++)
			pthread_join(th[i], NULL);
		nth = 0;
	}
	for (size_t i = 0; i < n; i++) {
		item *it = &e.items[i];
		if (it->env_rc < 0) {
			rc = avo_error_set(it->env_rc, "%s", it->env_msg ? it->env_msg : "evaluation failed");
			goto done;
		}
	}
	for (size_t i = 0; i < n; i++) {
		item *it = &e.items[i];
		avo_eval_result *r = it->res;
		memcpy(r->variant_hash, it->hash, AVO_CACHE_HEX);
		memcpy(r->eval_key, it->key, AVO_CACHE_HEX);
		if (!r->from_cache) {
			r->unsandboxed = !spec->sandbox;
			finish(spec, r);
			if (!opts->remeasure && (r->status == AVO_EVAL_OK || r->status == AVO_EVAL_INCORRECT)) {
				char *j = avo_eval_result_json(r);
				if (j)
					cache_put(&e, "eval", it->key, j, strlen(j));
				free(j);
			}
		}
		r->seconds = avo_now() - (r->from_cache ? it->t0 : t0);
		out[i] = r;
		it->res = NULL;
	}
	rc = 0;
done:
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	free(th);
	for (size_t i = 0; e.items && i < e.n; i++) {
		item *it = &e.items[i];
		avo_eval_result_free(it->res);
		if (it->dir && !opts->verbose)
			avo_rm_rf(it->dir);
		else if (it->dir)
			fprintf(stderr, "avo: scratch kept: %s\n", it->dir);
		free(it->dir);
		free(it->exe);
		free(it->env_msg);
	}
	if (rc < 0)
		for (size_t i = 0; i < n; i++) {
			avo_eval_result_free(out[i]);
			out[i] = NULL;
		}
	free(e.items);
	free(e.todo);
	free(e.root);
	avo_buildid_dispose(&e.id);
	free(e.harness_src);
	free(e.harness_obj);
	free(e.harness_feedback);
	avo_buf_dispose(&hsrc);
	pthread_mutex_destroy(&e.mu);
	pthread_cond_destroy(&e.cv);
	return rc;
}

int avo_eval_run(avo_eval_result **out, const avo_spec *spec, const char *variant, size_t len,
		 avo_cache *cache, const avo_eval_options *opts)
{
	return avo_eval_many(out, spec, &variant, &len, 1, cache, opts);
}

void avo_eval_result_free(avo_eval_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->configs && i < r->nconfigs; i++) {
		free(r->configs[i].name);
		free(r->configs[i].feedback);
		free(r->configs[i].samples);
	}
	free(r->configs);
	free(r->feedback);
	free(r);
}

/* ---- JSON ----------------------------------------------------------------------------- */

static void add_num(cJSON *o, const char *name, double v)
{
	if (isfinite(v))
		cJSON_AddNumberToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

static void add_str(cJSON *o, const char *name, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

char *avo_eval_result_json(const avo_eval_result *r)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "status", avo_eval_status_name(r->status));
	cJSON_AddBoolToObject(o, "correct", r->correct);
	add_num(o, "fitness", r->fitness);
	cJSON_AddStringToObject(o, "variant_hash", r->variant_hash);
	cJSON_AddStringToObject(o, "eval_key", r->eval_key);
	cJSON_AddBoolToObject(o, "from_cache", r->from_cache);
	if (r->unsandboxed)
		cJSON_AddTrueToObject(o, "unsandboxed");
	add_num(o, "seconds", r->seconds);
	add_str(o, "feedback", r->feedback);
	cJSON *arr = cJSON_AddArrayToObject(o, "configs");
	for (size_t i = 0; arr && i < r->nconfigs; i++) {
		const avo_eval_config_result *c = &r->configs[i];
		cJSON *co = cJSON_CreateObject();
		if (!co)
			break;
		cJSON_AddStringToObject(co, "name", c->name ? c->name : "");
		cJSON_AddStringToObject(co, "status", avo_eval_status_name(c->status));
		cJSON_AddBoolToObject(co, "correct", c->correct);
		add_num(co, "max_rel_err", c->max_rel_err);
		add_num(co, "rel_l2_err", c->rel_l2_err);
		add_num(co, "ms", c->ms);
		add_num(co, "tflops", c->tflops);
		add_str(co, "feedback", c->feedback);
		if (c->nsamples)
			cJSON_AddItemToObject(co, "samples", cJSON_CreateDoubleArray(c->samples, (int)c->nsamples));
		cJSON_AddItemToArray(arr, co);
	}
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static double get_num_or_nan(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

static char *get_str_or_null(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(it) ? avo_strdup(it->valuestring) : NULL;
}

int avo_eval_result_parse(avo_eval_result **out, const char *json, size_t len)
{
	*out = NULL;
	cJSON *o = cJSON_ParseWithLength(json, len);
	avo_eval_result *r = NULL;
	int rc = avo_error_set(AVO_EPARSE, "not an evaluation result");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "configs");
	if (!cJSON_IsObject(o) || !cJSON_IsString(st) || !cJSON_IsArray(arr))
		goto done;
	if (!(r = calloc(1, sizeof(*r))))
		goto done;
	if (status_from_name(st->valuestring, &r->status) < 0)
		goto done;
	r->correct = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "correct"));
	r->fitness = get_num_or_nan(o, "fitness");
	if (!isfinite(r->fitness))
		r->fitness = 0;
	r->from_cache = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "from_cache"));
	r->unsandboxed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "unsandboxed"));
	r->seconds = get_num_or_nan(o, "seconds");
	r->feedback = get_str_or_null(o, "feedback");
	char *h = get_str_or_null(o, "variant_hash"), *k = get_str_or_null(o, "eval_key");
	snprintf(r->variant_hash, sizeof(r->variant_hash), "%s", h ? h : "");
	snprintf(r->eval_key, sizeof(r->eval_key), "%s", k ? k : "");
	free(h);
	free(k);
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (!(r->configs = calloc(n ? n : 1, sizeof(*r->configs))))
		goto done;
	const cJSON *c;
	cJSON_ArrayForEach(c, arr) {
		avo_eval_config_result *cr = &r->configs[r->nconfigs++];
		const cJSON *cs = cJSON_GetObjectItemCaseSensitive(c, "status");
		if (!cJSON_IsObject(c) || !cJSON_IsString(cs) || status_from_name(cs->valuestring, &cr->status) < 0)
			goto done;
		cr->name = get_str_or_null(c, "name");
		cr->correct = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "correct"));
		cr->max_rel_err = get_num_or_nan(c, "max_rel_err");
		cr->rel_l2_err = get_num_or_nan(c, "rel_l2_err");
		cr->ms = get_num_or_nan(c, "ms");
		cr->tflops = get_num_or_nan(c, "tflops");
		cr->feedback = get_str_or_null(c, "feedback");
		read_samples(cJSON_GetObjectItemCaseSensitive(c, "samples"), cr);
		if (!cr->name)
			goto done;
	}
	rc = 0;
	*out = r;
	r = NULL;
done:
	avo_eval_result_free(r);
	cJSON_Delete(o);
	if (rc == 0)
		avo_error_clear();
	return rc;
}
