/* Evaluation backends: the registry, the spec's "backend" field, signals around a batch.
 * Each backend is one file behind avo_backend_ops (backend_impl.h). See backend.h, CLUSTER.md.
 *
 * The spec sections read (all optional):
 *   "backend": "inline" | "local" | "slurm"
 *   "local": {...}   backend_local.c
 *   "slurm": {...}   backend_slurm.c
 */
#include "backend_impl.h"

#include "avo_base.h"
#include "pipeline.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The backends avo knows, by name. A new one: its file, and one line here. */
static const avo_backend_ops *const backend_registry[] = {
	&avo_backend__inline,
	&avo_backend__local,
	&avo_backend__slurm,
};

/* ---- signals ------------------------------------------------------------------------- */

/* SIGINT/SIGTERM/SIGHUP during a batch: remembered here through base/signal.c's stack, whose
 * lower entries (the tune loop's) run too, so both the loop and the backend stop. */
static volatile sig_atomic_t backend__signal;

int avo_backend__signalled(void) { return backend__signal; }
const volatile sig_atomic_t *avo_backend__signal_flag(void) { return &backend__signal; }

static void on_signal(int sig) { backend__signal = sig; }

static int signals_catch(void)
{
	backend__signal = 0;
	return avo_signals_push(on_signal);
}

static void signals_restore(void) { avo_signals_pop(); }

/* ---- the spec's sections ------------------------------------------------------------- */

/* The spec's own field readers and messages (spec.h): one implementation. */
int avo_backend__field_err(const avo_spec *s, const char *field, const char *what)
{
	return avo_spec_field_error(s, field, what);
}

int avo_backend__get_str(const avo_spec *s, const cJSON *o, const char *sec, const char *k, char **out)
{
	return avo_spec_section_str(s, o, sec, k, out);
}

int avo_backend__get_num(const avo_spec *s, const cJSON *o, const char *sec, const char *k, double lo, double *out)
{
	return avo_spec_section_num(s, o, sec, k, lo, out);
}

int avo_backend__get_long(const avo_spec *s, const cJSON *o, const char *sec, const char *k, long lo, long *out)
{
	double d = (double)*out;
	int rc = avo_backend__get_num(s, o, sec, k, (double)lo, &d);
	if (rc == 0 && (d != floor(d) || d > 1e9)) {
		char f[64];
		snprintf(f, sizeof(f), "%s.%s", sec, k);
		return avo_backend__field_err(s, f, "must be an integer");
	}
	*out = (long)d;
	return rc;
}

/* ---- open / free ---------------------------------------------------------------------- */

int avo_backend_open(avo_backend **out, const avo_spec *spec, avo_cache *cache,
		     const avo_eval_options *eopts, const avo_backend_options *opts)
{
	*out = NULL;
	avo_backend_options dflt = AVO_BACKEND_OPTIONS_INIT;
	if (!opts)
		opts = &dflt;
	avo_backend *b = calloc(1, sizeof(*b));
	if (!b)
		return avo_oom();
	b->spec = spec;
	b->cache = cache;
	b->eopts = eopts ? *eopts : (avo_eval_options)AVO_EVAL_OPTIONS_INIT;
	b->quiet = opts->quiet;
	char *kind = avo_strdup(opts->kind ? opts->kind : spec->backend); /* spec.h: parsed once */
	int rc = 0;
	const char *name = kind ? kind : "inline";
	avo_buf known = AVO_BUF_INIT;
	for (size_t i = 0; i < sizeof(backend_registry) / sizeof(backend_registry[0]); i++) {
		if (!strcmp(name, backend_registry[i]->name))
			b->ops = backend_registry[i];
		avo_buf_printf(&known, "%s%s", i ? ", " : "", backend_registry[i]->name);
	}
	if (!b->ops)
		rc = avo_error_set(AVO_EINVALID, "%s: unknown backend \"%s\" (%s)",
				   opts->kind ? "--backend" : spec->path, name, avo_buf_cstr(&known));
	avo_buf_dispose(&known);
	if (rc == 0)
		rc = b->ops->open(b, avo_spec_section(spec, b->ops->name), opts);
	free(kind);
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
	avo_pipeline_free(b->pipe);
	if (b->ops && b->ops->close)
		b->ops->close(b);
	free(b->devices);
	free(b);
}

const char *avo_backend_name(const avo_backend *b)
{
	return b->ops->name;
}

size_t avo_backend_slots(const avo_backend *b)
{
	return b->nslots ? b->nslots : 1;
}

int avo_backend_pipeline(avo_backend *b, struct avo_pipeline **out)
{
	int rc = 0;
	if (!b->pipe && b->ndevices) {
		avo_pipeline_options po = {b->devices, b->ndevices, b->eopts.jobs};
		rc = avo_pipeline_open(&b->pipe, b->spec, b->cache, &b->eopts, &po);
	}
	*out = b->pipe;
	return rc;
}

int avo_backend__eval_pipeline(avo_backend *b, avo_eval_result **out, char **errs, const char *const *v,
			       const size_t *lens, size_t n)
{
	avo_pipeline *p = NULL;
	int rc = avo_backend_pipeline(b, &p);
	if (rc < 0 || !p)
		return rc < 0 ? rc : avo_error_set(AVO_EINVALID, "the %s backend has no pipeline", b->ops->name);
	long *ids = calloc(n, sizeof(*ids));
	if (!ids)
		return avo_oom();
	for (size_t i = 0; i < n && rc == 0; i++)
		if ((ids[i] = avo_pipeline_submit(p, v[i], lens[i], AVO_PIPELINE_ANY, 0)) < 0)
			rc = (int)ids[i];
	for (size_t i = 0; i < n; i++) {
		if (rc < 0 || ids[i] <= 0) {
			if (ids[i] > 0)
				avo_pipeline_cancel(p, ids[i]);
			continue;
		}
		int wrc = avo_pipeline_wait(p, ids[i], &out[i], NULL, avo_backend__signal_flag(), NULL);
		if (wrc < 0 && !avo_backend__signalled())
			rc = wrc; /* the environment failed: as inline, the whole call fails */
		else if (wrc < 0)
			avo_pipeline_cancel(p, ids[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (!out[i] && rc == 0)
			errs[i] = avo_strdup(avo_backend__signalled() ? "not evaluated: interrupted" : "not evaluated");
	if (rc < 0)
		for (size_t i = 0; i < n; i++) {
			avo_eval_result_free(out[i]);
			out[i] = NULL;
		}
	free(ids);
	return rc;
}

int avo_backend_interrupted(const avo_backend *b)
{
	return b->interrupted;
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
	if (!b->ops->catch_signals)
		return b->ops->eval(b, out, errs, variants, lens, n);
	int caught = signals_catch() == 0;
	int rc = b->ops->eval(b, out, errs, variants, lens, n);
	if (backend__signal)
		b->interrupted = 1;
	if (caught)
		signals_restore();
	if (b->interrupted && rc == 0)
		rc = avo_error_set(AVO_ERROR, "interrupted");
	return rc;
}
