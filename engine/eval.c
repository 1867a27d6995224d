/* The evaluator: compile a variant and the harness as two translation units, link, run the
 * harness per config under a hard timeout, judge, and cache. See eval.h for the rules and
 * eval_int.h for how the files divide the work.
 *
 * Threads: avo_eval_many() compiles with `jobs` worker threads; the calling thread runs the
 * harnesses one at a time (CUDA: as soon as a variant is linked, under a per-GPU file lock
 * so two avo processes never time on one GPU together; C: after every compile is done, so
 * the compiles do not disturb the CPU timings). Cache calls are serialised by one mutex. */
#include "eval_int.h"
#include "buildid.h"
#include "runstate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		return avo_oom();
	if (mkdir(*out, 0700) < 0 && errno != EEXIST)
		return avo_error_set(AVO_EIO, "%s: cannot create scratch directory: %s", *out, strerror(errno));
	struct stat st;
	if (lstat(*out, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022))
		return avo_error_set(AVO_EIO, "%s: scratch directory is not a private directory of this user",
				     *out);
	return 0;
}

int avo_eval_clean_scratch(const avo_eval_options *opts)
{
	char *root = NULL;
	int rc = scratch_root(&root, opts);
	if (rc == 0)
		rc = avo_runstate_clean_scratch(root);
	free(root);
	return rc;
}

/* ---- the protocol --------------------------------------------------------------------- */

/* The spec's harness protocol. The legacy one lets a variant forge its verdict, so it runs
 * only when the user says so on the command line too. */
static int choose_protocol(avo_eval__ctx *e)
{
	const char *name = e->spec->harness_protocol;
	if (!strcmp(name, avo_eval__proto_legacy.name)) {
		if (!e->opts->trust_harness)
			return avo_error_set(AVO_EINVALID,
					     "%s: \"harness_protocol\": \"%s\" lets a variant forge its own "
					     "verdict; pass --trust-harness to accept that for this run",
					     e->spec->path, name);
		e->proto = &avo_eval__proto_legacy;
		return 0;
	}
	e->proto = &avo_eval__proto_avoh;
	if (!(e->libdir = avo_eval__find_libdir()))
		return avo_error_set(AVO_EIO, "the harness library (avo_harness.h) is not installed: set "
				     "AVO_HARNESS_DIR to its directory");
	static const char *const files[] = {"avo_harness.h", "avo_harness_proto.h", "avo_harness.c",
					    "avo_harness_cuda.cu", NULL};
	avo_cache_key *k = NULL;
	int rc = avo_cache_key_new(&k, "harness-library");
	for (size_t i = 0; rc == 0 && files[i]; i++) {
		char *p = avo_path_join(e->libdir, files[i]);
		avo_buf b = AVO_BUF_INIT;
		if ((rc = p ? avo_file_read(&b, p) : AVO_ERROR) == 0)
			avo_cache_key_add(k, files[i], avo_buf_cstr(&b), b.size);
		avo_buf_dispose(&b);
		free(p);
	}
	if (k)
		avo_cache_key_final(k, e->libhash);
	return rc < 0 ? avo_error_wrap(rc, "the harness library in %s", e->libdir) : 0;
}

/* The harness's part of the eval key: its bytes, the protocol and the library's sources,
 * and whether it runs sandboxed (a result from outside the sandbox is never served to a
 * sandboxed evaluation, nor the other way round). */
static void harness_hash(const avo_eval__ctx *e, char out[AVO_CACHE_HEX])
{
	avo_cache_key *k;
	if (avo_cache_key_new(&k, "harness") < 0) {
		out[0] = '\0';
		return;
	}
	avo_cache_key_add(k, "harness", e->harness_src, e->harness_len);
	avo_cache_key_adds(k, "harness_protocol", e->proto->name);
	avo_cache_key_adds(k, "harness_library", e->libhash);
	avo_cache_key_adds(k, "sandbox", e->spec->sandbox ? "bwrap" : "none");
	avo_cache_key_final(k, out);
}

/* ---- what avo_eval_many and a session share --------------------------------------- */

/* The context of one evaluation call or session: protocol, sandbox, scratch, identity,
 * harness. `hhash` gets the harness's part of the eval key. */
static int ctx_open(avo_eval__ctx *e, const avo_spec *spec, avo_cache *cache, const avo_eval_options *opts,
		    char hhash[AVO_CACHE_HEX])
{
	memset(e, 0, sizeof(*e));
	e->spec = spec;
	e->opts = opts;
	e->cache = opts->use_cache ? cache : NULL;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	avo_buf hsrc = AVO_BUF_INIT;
	int rc;
	if ((rc = choose_protocol(e)) < 0 || (spec->sandbox && (rc = avo_sandbox_check()) < 0) ||
	    (rc = scratch_root(&e->root, opts)) < 0 || (rc = avo_buildid_init(&e->id, spec, opts->gpu, e->cache)) < 0)
		return rc;
	avo_runstate_clean_scratch(e->root); /* what killed evaluations left */
	if ((rc = avo_file_read(&hsrc, spec->harness)) < 0) {
		avo_buf_dispose(&hsrc);
		return avo_error_wrap(AVO_EIO, "harness");
	}
	e->harness_len = hsrc.size;
	e->harness_src = avo_buf_detach(&hsrc);
	harness_hash(e, hhash);
	return 0;
}

static void ctx_close(avo_eval__ctx *e)
{
	free(e->root);
	avo_buildid_dispose(&e->id);
	free(e->harness_src);
	for (size_t i = 0; i < e->nhobj; i++)
		free(e->hobj[i].bytes);
	if (e->ref_dir && !e->opts->verbose)
		avo_rm_rf(e->ref_dir);
	free(e->ref_dir);
	free(e->ref_exe);
	free(e->libdir);
	free(e->harness_feedback);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
}

/* Key an item and look it up in ns "eval": 1 when the cache had its verdict (IT_DONE). */
static int item_init(avo_eval__ctx *e, avo_eval__item *it, const char *src, size_t len, int gpu, int remeasure,
		     const char *hhash)
{
	it->src = src;
	it->len = len;
	it->gpu = gpu;
	it->remeasure = remeasure;
	it->t0 = avo_now();
	if (!(it->res = new_result(e->spec)))
		return avo_oom();
	avo_cache_hash_hex(it->hash, it->src, it->len);
	avo_buildid_eval_key(it->key, e->spec, &e->id, it->hash, hhash);
	avo_buf hit = AVO_BUF_INIT;
	avo_eval_result *cached = NULL;
	int found = 0;
	if (!remeasure && avo_eval__cache_get(e, "eval", it->key, &hit) == 0 &&
	    avo_eval_result_parse(&cached, hit.ptr ? hit.ptr : "", hit.size) == 0 &&
	    cached->nconfigs == e->spec->nconfigs) {
		avo_eval_result_free(it->res);
		it->res = cached;
		cached->from_cache = 1;
		it->state = IT_DONE;
		found = 1;
	} else {
		avo_eval_result_free(cached);
		it->state = IT_COMPILING;
	}
	avo_buf_dispose(&hit);
	return found;
}

/* The verdict of a judged item: fitness, its record in ns "eval"; hands it out. */
static avo_eval_result *item_finish(avo_eval__ctx *e, avo_eval__item *it, double t0)
{
	avo_eval_result *r = it->res;
	memcpy(r->variant_hash, it->hash, AVO_CACHE_HEX);
	memcpy(r->eval_key, it->key, AVO_CACHE_HEX);
	if (!r->from_cache) {
		snprintf(r->harness_protocol, sizeof(r->harness_protocol), "%s", e->proto->name);
		r->unsandboxed = !e->spec->sandbox;
		finish(e->spec, r);
		if (!it->remeasure && (r->status == AVO_EVAL_OK || r->status == AVO_EVAL_INCORRECT)) {
			char *j = avo_eval_result_json(r);
			if (j)
				avo_eval__cache_put(e, "eval", it->key, j, strlen(j));
			free(j);
		}
	}
	r->seconds = avo_now() - (r->from_cache ? it->t0 : t0);
	it->res = NULL;
	return r;
}

static void item_dispose(avo_eval__ctx *e, avo_eval__item *it)
{
	avo_eval_result_free(it->res);
	if (it->dir && !e->opts->verbose)
		avo_rm_rf(it->dir);
	else if (it->dir)
		fprintf(stderr, "avo: scratch kept: %s\n", it->dir);
	free(it->dir);
	free(it->exe);
	free(it->env_msg);
	memset(it, 0, sizeof(*it));
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
	avo_eval__ctx e;
	pthread_t *th = NULL;
	size_t nth = 0;
	double t0 = avo_now();
	char hhash[AVO_CACHE_HEX];
	int rc = ctx_open(&e, spec, cache, opts, hhash);
	if (rc < 0)
		goto done;
	if (!(e.items = calloc(n ? n : 1, sizeof(*e.items))) || !(e.todo = calloc(n ? n : 1, sizeof(size_t)))) {
		rc = avo_oom();
		goto done;
	}
	e.n = n;
	size_t to_build = 0;
	for (size_t i = 0; i < n; i++) {
		if ((rc = item_init(&e, &e.items[i], variants[i], lens[i], opts->gpu, opts->remeasure, hhash)) < 0)
			goto done;
		if (rc == 0) {
			e.todo[e.ntodo++] = i;
			to_build++;
		}
	}
	if (to_build) {
		e.need_harness = 1; /* job 0: the shared objects (memoised) and the reference */
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		size_t jobs = opts->jobs > 0 ? (size_t)opts->jobs : cores > 0 ? (size_t)cores : 1;
		size_t njobs = to_build + (size_t)e.need_harness;
		if (jobs > njobs)
			jobs = njobs;
		if (!(th = calloc(jobs, sizeof(*th)))) {
			rc = avo_oom();
			goto done;
		}
		for (; nth < jobs; nth++)
			if (pthread_create(&th[nth], NULL, avo_eval__worker, &e) != 0)
				break;
		if (nth == 0) {
			rc = avo_error_set(AVO_EIO, "cannot start compile threads");
			goto done;
		}
		/* Runs, one at a time, on this thread. */
		for (;;) {
			pthread_mutex_lock(&e.mu);
			avo_eval__item *ready = NULL;
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
			if (ready->env_rc == 0 && avo_eval__run_item(&e, ready) < 0) {
				ready->env_rc = AVO_EIO;
				ready->env_msg = avo_strdup(avo_error_last());
			}
		}
		for (size_t i = 0; i < nth; i++)
			pthread_join(th[i], NULL);
		nth = 0;
	}
	for (size_t i = 0; i < n; i++) {
		avo_eval__item *it = &e.items[i];
		if (it->env_rc < 0) {
			rc = avo_error_set(it->env_rc, "%s", it->env_msg ? it->env_msg : "evaluation failed");
			goto done;
		}
	}
	for (size_t i = 0; i < n; i++)
		out[i] = item_finish(&e, &e.items[i], t0);
	rc = 0;
done:
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	free(th);
	for (size_t i = 0; e.items && i < e.n; i++)
		item_dispose(&e, &e.items[i]);
	if (rc < 0)
		for (size_t i = 0; i < n; i++) {
			avo_eval_result_free(out[i]);
			out[i] = NULL;
		}
	free(e.items);
	free(e.todo);
	ctx_close(&e);
	return rc;
}

/* ---- a session: builds and runs apart (the pipeline, engine/pipeline.h) ---------------- */

struct avo_eval_session {
	avo_eval__ctx e;
	avo_eval_options opts;
	char hhash[AVO_CACHE_HEX];
	int harness_started;
};

struct avo_eval_built {
	avo_eval__item it;
	double t0;
};

int avo_eval_session_open(avo_eval_session **out, const avo_spec *spec, avo_cache *cache,
			  const avo_eval_options *opts)
{
	avo_eval_session *s = calloc(1, sizeof(*s));
	*out = NULL;
	if (!s)
		return avo_oom();
	s->opts = opts ? *opts : (avo_eval_options)AVO_EVAL_OPTIONS_INIT;
	int rc = ctx_open(&s->e, spec, cache, &s->opts, s->hhash);
	if (rc < 0) {
		avo_eval_session_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void avo_eval_session_free(avo_eval_session *s)
{
	if (!s)
		return;
	ctx_close(&s->e);
	free(s);
}

/* An environment failure of an item: its message in the error slot. */
static int item_env_fail(avo_eval__ctx *e, avo_eval__item *it)
{
	int rc = avo_error_set(it->env_rc < 0 ? it->env_rc : AVO_EIO, "%s", it->env_msg ? it->env_msg : "evaluation failed");
	item_dispose(e, it);
	return rc;
}

int avo_eval_session_build(avo_eval_session *s, const char *src, size_t len, int remeasure,
			   avo_eval_built **built, avo_eval_result **res)
{
	avo_eval__ctx *e = &s->e;
	*built = NULL;
	*res = NULL;
	avo_eval_built *b = calloc(1, sizeof(*b));
	if (!b)
		return avo_oom();
	b->t0 = avo_now();
	int rc = item_init(e, &b->it, src, len, s->opts.gpu, remeasure || s->opts.remeasure, s->hhash);
	if (rc < 0) {
		item_dispose(e, &b->it);
		free(b);
		return rc;
	}
	if (rc == 0) {
		/* The first build makes the shared objects; the others wait for them. */
		pthread_mutex_lock(&e->mu);
		int mine = !s->harness_started;
		s->harness_started = 1;
		pthread_mutex_unlock(&e->mu);
		if (mine)
			avo_eval__build_harness(e);
		avo_eval__build_variant(e, &b->it);
		if (b->it.env_rc < 0) {
			rc = item_env_fail(e, &b->it);
			free(b);
			return rc;
		}
	}
	if (b->it.state == IT_DONE) { /* cached, or it did not build: a verdict already */
		*res = item_finish(e, &b->it, b->t0);
		item_dispose(e, &b->it);
		free(b);
		return 0;
	}
	*built = b;
	return 0;
}

int avo_eval_session_run(avo_eval_session *s, avo_eval_built *b, int gpu, avo_eval_result **res)
{
	avo_eval__ctx *e = &s->e;
	*res = NULL;
	b->it.gpu = gpu >= 0 ? gpu : s->opts.gpu;
	int rc = avo_eval__run_item(e, &b->it);
	if (rc < 0) {
		b->it.env_rc = rc;
		b->it.env_msg = avo_strdup(avo_error_last());
		rc = item_env_fail(e, &b->it);
	} else {
		*res = item_finish(e, &b->it, b->t0);
		item_dispose(e, &b->it);
	}
	free(b);
	return rc;
}

void avo_eval_built_free(avo_eval_session *s, avo_eval_built *b)
{
	if (!b)
		return;
	item_dispose(&s->e, &b->it);
	free(b);
}

int avo_eval_run(avo_eval_result **out, const avo_spec *spec, const char *variant, size_t len,
		 avo_cache *cache, const avo_eval_options *opts)
{
	return avo_eval_many(out, spec, &variant, &len, 1, cache, opts);
}
