/* The build step of an evaluation: command lines, compiles through the "bin" cache, links.
 * Job 0 of the worker threads builds what every link shares: the harness object, the
 * harness library's object (protocol avo-harness-1) and the reference executable (the
 * harness linked with the original kernel). The other jobs compile and link variants. */
#include "eval_int.h"
#include "evalbox.h"
#include "runstate.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- small helpers ------------------------------------------------------------------- */

static char *join_argv(const char *const *argv)
{
	avo_buf b = AVO_BUF_INIT;
	for (size_t i = 0; argv[i]; i++)
		avo_buf_printf(&b, "%s%s", i ? " " : "", argv[i]);
	return avo_buf_detach(&b);
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


/* A child was not started at all: avo_proc_run's child exits 127 with this message. */
static int not_started(const avo_proc_result *r)
{
	return r->exited && r->exit_code == 127 && strstr(avo_buf_cstr(&r->err), "avo: cannot run ");
}

/* ---- command lines and keys (buildid.h), plus the harness library ----------------------- */

/* The name a TU is keyed under: with the harness library, its sources are part of it. */
static char *key_name(const avo_eval__ctx *e, const char *path)
{
	return e->libdir ? avo_sprintf("%s lib:%s", avo_path_basename(path), e->libhash)
			 : avo_strdup(avo_path_basename(path));
}

static void bin_key(const avo_eval__ctx *e, char out[AVO_CACHE_HEX], const char *path, const char *src,
		    size_t len)
{
	char *name = key_name(e, path);
	avo_buildid_bin_key(out, e->spec, &e->id, name ? name : "?", src, len);
	free(name);
}

/* The compile line, and -I<library dir> for <avo_harness.h> (after -o: order is free). */
static int compile_argv(const avo_eval__ctx *e, avo_buildid_argv *c, const char *src, const char *obj, char **owned)
{
	int rc = avo_buildid_compile_argv(c, e->spec, src, obj);
	if (rc == 0 && e->libdir) {
		if (!(*owned = avo_sprintf("-I%s", e->libdir)))
			return avo_oom();
		rc = avo_buildid_argv_push(c, *owned);
	}
	return rc;
}

void avo_eval__verbose_cmd(const avo_eval__ctx *e, const char *const *argv)
{
	if (!e->opts->verbose)
		return;
	char *s = join_argv(argv);
	fprintf(stderr, "avo: $ %s\n", s ? s : "?");
	free(s);
}

int avo_eval__cache_get(avo_eval__ctx *e, const char *ns, const char *key, avo_buf *out)
{
	if (!e->cache || !key[0])
		return AVO_ENOTFOUND;
	pthread_mutex_lock(&cache_lock);
	int rc = avo_cache_get(e->cache, ns, key, out);
	pthread_mutex_unlock(&cache_lock);
	return rc;
}

void avo_eval__cache_put(avo_eval__ctx *e, const char *ns, const char *key, const void *data, size_t len)
{
	if (!e->cache || !key[0])
		return;
	pthread_mutex_lock(&cache_lock);
	if (avo_cache_put(e->cache, ns, key, data, len) < 0)
		fprintf(stderr, "avo: warning: cache: %s\n", avo_error_last());
	pthread_mutex_unlock(&cache_lock);
}

/* Run one compile or link command the way every build step runs: from the spec's directory
 * (relative -I in its flags mean that directory), secrets scrubbed, under the compile
 * timeout, keeping the tail of the compiler's output. */
static int run_build_step(avo_eval__ctx *e, const avo_buildid_argv *c, avo_proc_result *r)
{
	avo_eval__verbose_cmd(e, c->v);
	avo_proc_options po = {0};
	avo_evalbox box;
	po.argv = c->v;
	po.cwd = e->spec->dir;
	po.scrub_secrets = 1;
	po.timeout_s = e->spec->compile_timeout_s;
	po.max_output = 1u << 20;
	/* hostile source, contained; it may read the harness library (under /tmp, say) */
	po.sandbox = avo_evalbox_for_cmd(&box, e->spec, c->v, e->libdir, e->opts->hide_dir);
	int rc = avo_proc_run(r, &po);
	avo_evalbox_dispose(&box);
	return rc;
}

/* Compile `src_path` (content `src`) into `obj`, through the "bin" cache. Returns 0 when
 * compiled, 1 when the compiler rejected it (*feedback set, caller frees), < 0 when the
 * environment failed. `dir` is stripped from the messages. */
static int compile_tu(avo_eval__ctx *e, const char *src_path, const char *src, size_t len, const char *obj,
		      const char *dir, char **feedback)
{
	const avo_spec *s = e->spec;
	char key[AVO_CACHE_HEX];
	avo_buf bytes = AVO_BUF_INIT;
	int rc;
	*feedback = NULL;
	bin_key(e, key, src_path, src, len);
	if (avo_eval__cache_get(e, "bin", key, &bytes) == 0) {
		rc = avo_file_write_atomic(obj, bytes.ptr ? bytes.ptr : "", bytes.size, 0644);
		avo_buf_dispose(&bytes);
		return rc;
	}
	avo_buildid_argv c = AVO_BUILDID_ARGV_INIT;
	avo_proc_result r = {0};
	char *inc = NULL;
	if ((rc = compile_argv(e, &c, src_path, obj, &inc)) == 0)
		rc = run_build_step(e, &c, &r);
	avo_buildid_argv_dispose(&c);
	free(inc);
	if (rc < 0) {
		avo_proc_result_dispose(&r);
		return rc;
	}
	if (not_started(&r)) {
		rc = avo_error_set(AVO_EIO, "compiler \"%s\" could not be started", s->compiler);
	} else if (r.timed_out || !r.exited || r.exit_code != 0) {
		/* Some tools print diagnostics on stdout: keep both streams. */
		if (r.out.size)
			avo_buf_printf(&r.err, "%s%s", r.err.size ? "\n" : "", avo_buf_cstr(&r.out));
		strip_dir(&r.err, dir);
		char *how = avo_proc_describe(&r, s->compile_timeout_s);
		char *log = cap_text(avo_buf_cstr(&r.err), AVO_EVAL_FEEDBACK_HEAD, AVO_EVAL_FEEDBACK_TAIL);
		*feedback = avo_sprintf("%s: compiler %s:\n%s", avo_path_basename(src_path), how ? how : "failed",
					log ? log : "");
		free(how);
		free(log);
		rc = 1;
	} else if (e->cache && avo_file_read(&bytes, obj) == 0) {
		avo_eval__cache_put(e, "bin", key, bytes.ptr ? bytes.ptr : "", bytes.size);
	}
	avo_buf_dispose(&bytes);
	avo_proc_result_dispose(&r);
	return rc;
}

/* Link `objs` (the shared objects first, written into `dir`) into `exe`. Returns 0, 1 when
 * the link failed (*feedback set, caller frees), < 0 when the environment failed. */
static int link_exe(avo_eval__ctx *e, const char *dir, const char *own_obj, const char *exe, char **feedback)
{
	char *objs[4];
	size_t n = 0;
	int rc = 0;
	*feedback = NULL;
	for (size_t i = 0; i < e->nhobj && rc == 0; i++) {
		objs[n] = avo_path_join(dir, e->hobj[i].name);
		rc = objs[n] ? avo_file_write_atomic(objs[n], e->hobj[i].bytes, e->hobj[i].len, 0644)
			     : avo_oom();
		n++;
	}
	objs[n++] = (char *)own_obj;
	avo_buildid_argv c = AVO_BUILDID_ARGV_INIT;
	avo_proc_result r = {0};
	/* buildid's link line takes two objects (the harness, then ours); the library's object
	 * goes at the end, after the link flags, which it does not need. */
	if (rc == 0 && (rc = avo_buildid_link_argv(&c, e->spec, objs[0], objs[n - 1], exe)) == 0) {
		for (size_t i = 1; rc == 0 && i + 1 < n; i++)
			rc = avo_buildid_argv_push(&c, objs[i]);
		if (rc == 0)
			rc = run_build_step(e, &c, &r);
	}
	avo_buildid_argv_dispose(&c);
	if (rc == 0 && (r.timed_out || !r.exited || r.exit_code != 0)) {
		strip_dir(&r.err, dir);
		char *how = avo_proc_describe(&r, e->spec->compile_timeout_s);
		char *log = cap_text(avo_buf_cstr(&r.err), AVO_EVAL_FEEDBACK_HEAD, AVO_EVAL_FEEDBACK_TAIL);
		*feedback = avo_sprintf("link failed (%s):\n%s", how ? how : "?", log ? log : "");
		free(how);
		free(log);
		rc = 1;
	}
	avo_proc_result_dispose(&r);
	for (size_t i = 0; i + 1 < n; i++)
		free(objs[i]);
	return rc;
}

/* One shared object (harness or library): from the process memo, else compiled. */
static int build_shared(avo_eval__ctx *e, const char *path, const char *src, size_t len, const char *objname,
			const char *dir)
{
	char mkey[AVO_CACHE_HEX + 16], bkey[AVO_CACHE_HEX];
	avo_eval__obj *o = &e->hobj[e->nhobj];
	char *obj = NULL, *fb = NULL;
	avo_buf b = AVO_BUF_INIT;
	o->name = objname;
	bin_key(e, bkey, path, src, len);
	snprintf(mkey, sizeof(mkey), "obj:%s", bkey);
	if (avo_buildid_memo_get(mkey, &o->bytes, &o->len) == 0) {
		e->nhobj++;
		return 0;
	}
	obj = avo_path_join(dir, objname);
	int rc = compile_tu(e, path, src, len, obj, NULL, &fb);
	if (rc == 0 && (rc = avo_file_read(&b, obj)) == 0) {
		o->len = b.size;
		o->bytes = avo_buf_detach(&b);
		avo_buildid_memo_put(mkey, o->bytes, o->len);
		e->nhobj++;
	} else if (rc > 0) {
		e->harness_feedback = avo_sprintf("the harness%s did not compile: %s",
						  e->nhobj ? " library" : "", fb);
	}
	avo_buf_dispose(&b);
	free(fb);
	free(obj);
	return rc;
}

/* A kernel given as a header (.cuh, .h, .hpp: nvcc and cc refuse to compile one) goes
 * through `avo_kernel_tu.{cu,c,cpp}` beside it in the scratch dir, holding only
 * `#include "<kernel>"`; *tu is that file (caller frees), or NULL for a source kernel. */
static int header_wrapper(const avo_spec *s, const char *dir, char **tu)
{
	const char *base = avo_path_basename(s->kernel), *dot = strrchr(base, '.'), *ext = NULL;
	*tu = NULL;
	if (!dot || (strcmp(dot, ".cuh") && strcmp(dot, ".h") && strcmp(dot, ".hpp")))
		return 0;
	if (s->is_cuda || !strcmp(s->language, "cuda"))
		ext = "cu";
	else if (!strcmp(dot, ".hpp") || !strcmp(s->language, "c++"))
		ext = "cpp";
	else
		ext = "c";
	char *text = avo_sprintf("#include \"%s\"\n", base);
	*tu = avo_sprintf("%s/avo_kernel_tu.%s", dir, ext);
	int rc = text && *tu ? avo_file_write_atomic(*tu, text, strlen(text), 0644) : avo_oom();
	free(text);
	return rc;
}

/* The reference executable: the harness and its library linked with the original kernel,
 * which the reference process never calls (it only has to resolve the entry point). */
static int build_reference(avo_eval__ctx *e, const char *dir)
{
	avo_buf ksrc = AVO_BUF_INIT;
	char *kobj = NULL, *fb = NULL;
	int rc = avo_file_read(&ksrc, e->spec->kernel);
	if (rc < 0)
		return avo_error_wrap(rc, "kernel");
	kobj = avo_path_join(dir, "original.o");
	e->ref_exe = avo_path_join(dir, "harness-reference");
	char *tu = NULL;
	if ((rc = header_wrapper(e->spec, dir, &tu)) < 0) {
		free(kobj);
		avo_buf_dispose(&ksrc);
		return rc;
	}
	rc = compile_tu(e, tu ? tu : e->spec->kernel, avo_buf_cstr(&ksrc), ksrc.size, kobj, NULL, &fb);
	free(tu);
	if (rc == 0)
		rc = link_exe(e, dir, kobj, e->ref_exe, &fb);
	if (rc > 0)
		e->harness_feedback = avo_sprintf("the reference (the harness with the original kernel) did "
						  "not build: %s", fb);
	free(fb);
	free(kobj);
	avo_buf_dispose(&ksrc);
	return rc;
}

/* Job 0: the shared objects, and the reference executable when the protocol needs it. */
static int build_harness_objs(avo_eval__ctx *e)
{
	char *prefix = avo_runstate_scratch_prefix("harness");
	int rc = prefix ? avo_mkdtemp(&e->ref_dir, e->root, prefix) : avo_error_set(AVO_ERROR, "out of memory");
	free(prefix);
	if (rc < 0)
		return rc;
	rc = build_shared(e, e->spec->harness, e->harness_src, e->harness_len, "harness.o", e->ref_dir);
	if (rc == 0 && e->proto->uses_library) {
		const char *lib = e->spec->is_cuda ? "avo_harness_cuda.cu" : "avo_harness.c";
		char *path = avo_path_join(e->libdir, lib);
		avo_buf src = AVO_BUF_INIT;
		if ((rc = avo_file_read(&src, path)) < 0)
			rc = avo_error_wrap(rc, "the harness library");
		else
			rc = build_shared(e, path, avo_buf_cstr(&src), src.size, "avo_harness.o", e->ref_dir);
		avo_buf_dispose(&src);
		free(path);
		if (rc == 0)
			rc = build_reference(e, e->ref_dir);
	}
	return rc;
}

/* The directory of the harness library (see eval_int.h). */
char *avo_eval__find_libdir(void)
{
	return avo_path_share_dir("AVO_HARNESS_DIR", "harness", AVO_HARNESS_SRC_DIR);
}

static void set_compile_failure(avo_eval__item *it, const char *fb)
{
	it->res->status = AVO_EVAL_COMPILE;
	free(it->res->feedback);
	it->res->feedback = avo_strdup(fb ? fb : "compile failed");
}

void avo_eval__build_harness(avo_eval__ctx *e)
{
	int rc = build_harness_objs(e);
	pthread_mutex_lock(&e->mu);
	e->harness_state = rc == 0 ? 1 : -1;
	if (rc < 0 && !e->harness_feedback)
		e->harness_feedback = avo_sprintf("harness: %s", avo_error_last());
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

/* Compile and link one variant (a worker thread). Leaves it IT_READY (exe set) or IT_DONE. */
void avo_eval__build_variant(avo_eval__ctx *e, avo_eval__item *it)
{
	const avo_spec *s = e->spec;
	char *src = NULL, *obj = NULL, *fb = NULL, *tu = NULL;
	int rc;
	char *prefix = avo_runstate_scratch_prefix("eval");
	rc = prefix ? avo_mkdtemp(&it->dir, e->root, prefix) : avo_error_set(AVO_ERROR, "out of memory");
	free(prefix);
	if (rc < 0)
		goto env_fail;
	/* The variant keeps the kernel's file name, in the scratch dir, never over the user's file. */
	src = avo_path_join(it->dir, avo_path_basename(s->kernel));
	obj = avo_path_join(it->dir, "variant.o");
	if ((rc = avo_file_write_atomic(src, it->src, it->len, 0644)) < 0)
		goto env_fail;
	/* A kernel given as a header is compiled through a one-line wrapper that includes it. */
	if ((rc = header_wrapper(s, it->dir, &tu)) < 0)
		goto env_fail;
	rc = compile_tu(e, tu ? tu : src, it->src, it->len, obj, it->dir, &fb);
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
	it->exe = avo_path_join(it->dir, "harness");
	free(fb);
	fb = NULL;
	if ((rc = link_exe(e, it->dir, obj, it->exe, &fb)) < 0)
		goto env_fail;
	if (rc > 0)
		set_compile_failure(it, fb);
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
	free(tu);
	free(obj);
	free(fb);
}

void *avo_eval__worker(void *arg)
{
	avo_eval__ctx *e = arg;
	for (;;) {
		pthread_mutex_lock(&e->mu);
		size_t job = e->next_job++;
		pthread_mutex_unlock(&e->mu);
		if (e->need_harness && job == 0) {
			avo_eval__build_harness(e);
			continue;
		}
		size_t idx = job - (size_t)e->need_harness;
		if (idx >= e->ntodo)
			return NULL;
		avo_eval__build_variant(e, &e->items[e->todo[idx]]);
	}
}

