/* avo eval SPEC: compile, check and time the spec's kernel (or given variants). */
#include "cli.h"
#include "backend.h"
#include "eval.h"
#include "tune.h"
#include "avo_base.h"
#include "avo_cache.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_variants(const avo_spec *spec, const char **vpaths, const char **srcs, const size_t *lens, size_t nv)
{
	avo_astedit_unit *orig = NULL;
	int rc = 0;
	for (size_t i = 0; i < nv && rc == 0; i++) {
		avo_astedit_unit *m = NULL;
		if (avo_astedit_scan(&m, vpaths[i], srcs[i], lens[i]) == 0 && m->nregions == 0 && m->nknobs == 0) {
			/* a file that claims to be no edit (a harness test's stand-in) is evaluated as is */
			fprintf(stderr, "avo: note: %s has no avo markers: evaluated as a free-standing file, not as an edit of %s\n",
				vpaths[i], spec->kernel);
			avo_astedit_unit_free(m);
			continue;
		}
		avo_astedit_unit_free(m);
		if (!orig && (rc = avo_tune_parse_kernel(&orig, spec)) < 0)
			break;
		avo_astedit_error err;
		rc = avo_astedit_variant_check(orig, vpaths[i], srcs[i], lens[i], &err);
		avo_astedit_error_dispose(&err);
	}
	if (rc < 0)
		fprintf(stderr, "avo: %s\n", avo_error_last());
	avo_astedit_unit_free(orig);
	return rc < 0 ? avo_cli_exit_code(rc) : AVO_EXIT_OK;
}

static void help(FILE *f)
{
	fprintf(f,
		"usage: avo eval SPEC [--variant FILE]... [--json] [--jobs N] [--gpu N]\n"
		"                     [--no-cache] [--no-sandbox] [--timeout S] [--trust-harness]\n"
		"                     [--verbose]\n\n"
		"Compile the kernel named by SPEC (avo.json) with its harness, run every config,\n"
		"check the results against the reference and time them. With --variant, evaluate\n"
		"FILE in place of the kernel (the user's kernel file is never written); several\n"
		"--variant options are compiled in parallel and run one at a time. A variant must\n"
		"be an edit of the kernel: the same markers, knob values their markers allow, and\n"
		"every byte outside the regions unchanged; else exit 3 naming the file and line.\n"
		"A FILE without any avo marker is evaluated as it is (with a note).\n\n"
		"options:\n"
		"  --variant FILE  evaluate FILE instead of the spec's kernel (repeatable)\n"
		"  --json          print the result as JSON on stdout (an array for several variants)\n"
		"  --jobs N        parallel compiles (default: all cores)\n"
		"  --gpu N         run on GPU N (sets CUDA_VISIBLE_DEVICES for the harness)\n"
		"  --no-cache      neither read nor write the cache\n"
		"  --no-edit-check evaluate each FILE as given, not checked as an edit of the kernel\n"
		"                  (harness development: deliberately wrong variants)\n"
		"  --no-sandbox    run compiles and harnesses outside the bubblewrap sandbox\n"
		"                  (they then run with your rights; the result says \"unsandboxed\")\n"
		"  --timeout S     seconds per harness run (overrides the spec's \"timeout\")\n"
		"  --trust-harness run a spec whose \"harness_protocol\" is \"legacy-trusted\": its\n"
		"                  harness prints its own verdict, which a variant can forge\n"
		"  --backend B     where to evaluate: inline (default), local (every GPU, or CPU\n"
		"                  workers), slurm (a job array; see engine/CLUSTER.md)\n"
		"  -v, --verbose   print every command and keep the scratch directories\n\n"
		"exit codes: 0 every variant correct; 1 a variant is incorrect, crashed, timed out or\n"
		"did not compile (feedback on stderr); 2 bad command line; 3 bad spec or input file;\n"
		"4 environment (compiler missing, I/O).\n");
}

static int parse_int(const char *s, long lo, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < lo)
		return -1;
	*out = v;
	return 0;
}

static void fmt_num(char *buf, size_t n, const char *fmt, double v)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, fmt, v);
}

static void print_table(const avo_spec *s, const char *label, const avo_eval_result *r)
{
	printf("%s: %s%s\n", s->name, label, r->from_cache ? " (cached result)" : "");
	printf("  %-20s %-10s %-8s %12s %12s %12s\n", "config", "status", "correct", "max_rel_err", "ms", "tflops");
	for (size_t i = 0; i < r->nconfigs; i++) {
		const avo_eval_config_result *c = &r->configs[i];
		char e[32], ms[32], tf[32];
		fmt_num(e, sizeof(e), "%.3g", c->max_rel_err);
		fmt_num(ms, sizeof(ms), "%.4g", c->ms);
		fmt_num(tf, sizeof(tf), "%.4g", c->tflops);
		printf("  %-20s %-10s %-8s %12s %12s %12s\n", c->name, avo_eval_status_name(c->status),
		       c->status == AVO_EVAL_SKIPPED ? "-" : c->correct ? "yes" : "no", e, ms, tf);
	}
	if (r->correct)
		printf("verdict: correct; fitness %.6g (geometric mean of %s over %zu configs); %.2f s\n",
		       r->fitness, strcmp(s->objective, "tflops") ? "1/ms" : "tflops", r->nconfigs, r->seconds);
	else
		printf("verdict: %s (%s); fitness 0; %.2f s\n", r->status == AVO_EVAL_INCORRECT ? "incorrect" : "failed",
		       avo_eval_status_name(r->status), r->seconds);
}

int avo_cmd_eval(int argc, char **argv)
{
	const char *spec_path = NULL, *backend_kind = NULL;
	avo_backend *backend = NULL;
	char **why = NULL;
	const char **vpaths = calloc((size_t)argc + 1, sizeof(char *));
	size_t nv = 0;
	int json = 0, no_cache = 0, verbose = 0, no_edit_check = 0, no_sandbox = 0, trust = 0;
	long jobs = 0, gpu = -1;
	double timeout = 0;
	int code = AVO_EXIT_USAGE;
	avo_spec *spec = NULL;
	avo_cache *cache = NULL;
	avo_buf *texts = NULL;
	const char **srcs = NULL;
	size_t *lens = NULL;
	avo_eval_result **res = NULL;

	if (!vpaths) {
		fprintf(stderr, "avo: out of memory\n");
		return AVO_EXIT_ENV;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (avo_cli_is_help(a)) {
			help(stdout);
			code = AVO_EXIT_OK;
			goto done;
		} else if (!strcmp(a, "--json")) {
			json = 1;
		} else if (!strcmp(a, "--no-cache")) {
			no_cache = 1;
		} else if (!strcmp(a, "--no-edit-check")) {
			no_edit_check = 1;
		} else if (!strcmp(a, "--no-sandbox")) {
			no_sandbox = 1;
		} else if (!strcmp(a, "--trust-harness")) {
			trust = 1;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			verbose = 1;
		} else if (!strcmp(a, "--variant") && val) {
			vpaths[nv++] = val;
			i++;
		} else if (!strcmp(a, "--jobs") && val) {
			if (parse_int(val, 1, &jobs) < 0) {
				fprintf(stderr, "avo: eval: --jobs needs a positive integer, not '%s'\n", val);
				goto done;
			}
			i++;
		} else if (!strcmp(a, "--gpu") && val) {
			if (parse_int(val, 0, &gpu) < 0) {
				fprintf(stderr, "avo: eval: --gpu needs a GPU index, not '%s'\n", val);
				goto done;
			}
			i++;
		} else if (!strcmp(a, "--backend") && val) {
			backend_kind = val;
			i++;
		} else if (!strcmp(a, "--timeout") && val) {
			char *end;
			timeout = strtod(val, &end);
			if (*end || !val[0] || !(timeout > 0) || !isfinite(timeout)) {
				fprintf(stderr, "avo: eval: --timeout needs a positive number of seconds, not '%s'\n", val);
				goto done;
			}
			i++;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "avo: eval: unknown or incomplete option '%s' (see 'avo eval --help')\n", a);
			goto done;
		} else if (!spec_path) {
			spec_path = a;
		} else {
			fprintf(stderr, "avo: eval: unexpected argument '%s'\n", a);
			goto done;
		}
	}
	if (!spec_path) {
		help(stderr);
		goto done;
	}
	int rc = avo_spec_load(&spec, spec_path);
	if (rc < 0) {
		code = avo_cli_fail(rc == AVO_EIO ? AVO_EIO : AVO_EINVALID);
		goto done;
	}
	if (timeout > 0)
		spec->timeout_s = timeout;
	if (no_sandbox)
		spec->sandbox = 0;
	if (nv == 0)
		vpaths[nv++] = spec->kernel;
	texts = calloc(nv, sizeof(*texts));
	srcs = calloc(nv, sizeof(*srcs));
	lens = calloc(nv, sizeof(*lens));
	res = calloc(nv, sizeof(*res));
	why = calloc(nv, sizeof(*why));
	if (!texts || !srcs || !lens || !res || !why) {
		fprintf(stderr, "avo: out of memory\n");
		code = AVO_EXIT_ENV;
		goto done;
	}
	for (size_t i = 0; i < nv; i++) {
		if ((rc = avo_file_read(&texts[i], vpaths[i])) < 0) {
			code = avo_cli_fail(rc);
			goto done;
		}
		srcs[i] = avo_buf_cstr(&texts[i]);
		lens[i] = texts[i].size;
	}
	/* a --variant must be an edit of the spec's kernel: same markers, allowed knob values,
	 * nothing changed outside the regions (astedit/MARKERS.md) */
	if (vpaths[0] != spec->kernel && !no_edit_check && (code = check_variants(spec, vpaths, srcs, lens, nv)) != AVO_EXIT_OK)
		goto done;
	if (!no_cache) {
		avo_cache_options co = AVO_CACHE_OPTIONS_INIT;
		if (avo_cache_open(&cache, &co) < 0) {
			fprintf(stderr, "avo: warning: cache unavailable, evaluating without it: %s\n", avo_error_last());
			cache = NULL;
		}
	}
	/* On SIGINT/SIGTERM/SIGHUP, kill the children (each runs in its own process group, so the
	 * terminal's ^C does not reach it; a looping variant would outlive avo) and die. */
	if ((rc = avo_signals_push(avo_signals_die)) < 0) {
		code = avo_cli_fail(rc);
		goto done;
	}
	avo_eval_options eo = AVO_EVAL_OPTIONS_INIT;
	eo.jobs = (int)jobs;
	eo.gpu = (int)gpu;
	eo.use_cache = cache != NULL;
	eo.verbose = verbose;
	eo.trust_harness = trust;
	/* backend (engine/backend.h): inline is avo_eval_many itself */
	avo_backend_options bo = AVO_BACKEND_OPTIONS_INIT;
	bo.kind = backend_kind;
	if ((rc = avo_backend_open(&backend, spec, cache, &eo, &bo)) < 0) {
		code = avo_cli_fail(rc);
		goto done;
	}
	if ((rc = avo_backend_eval(backend, res, why, srcs, lens, nv)) < 0) {
		fprintf(stderr, "avo: %s\n", avo_error_last());
		/* EINVALID: the spec asks for what the command line did not allow (--trust-harness) */
		code = avo_backend_interrupted(backend) ? AVO_EXIT_INTERRUPT
		       : rc == AVO_EINVALID ? avo_cli_exit_code(rc) : AVO_EXIT_ENV;
		goto done;
	}
	code = AVO_EXIT_OK;
	if (json && nv > 1)
		printf("[");
	for (size_t i = 0; i < nv; i++) {
		const avo_eval_result *r = res[i];
		if (!r) { /* the backend lost it (engine/CLUSTER.md) */
			if (json)
				printf("%snull", i ? "," : "");
			fprintf(stderr, "avo: %s: no verdict: %s\n", vpaths[i], why[i] ? why[i] : "");
			code = AVO_EXIT_ENV;
			continue;
		}
		if (json) {
			char *j = avo_eval_result_json(r);
			printf("%s%s", i ? "," : "", j ? j : "null");
			free(j);
		} else {
			char label[1024];
			snprintf(label, sizeof(label), "%s%s", nv > 1 || vpaths[i] != spec->kernel ? "variant " : "",
				 vpaths[i]);
			if (i)
				printf("\n");
			print_table(spec, label, r);
		}
		if (!r->correct) {
			if (code == AVO_EXIT_OK)
				code = AVO_EXIT_FAIL;
			fprintf(stderr, "avo: %s: %s\n", vpaths[i], avo_eval_status_name(r->status));
			if (r->feedback)
				fprintf(stderr, "%s\n", r->feedback);
		}
	}
	if (json)
		printf("%s\n", nv > 1 ? "]" : "");
done:
	for (size_t i = 0; res && i < nv; i++)
		avo_eval_result_free(res[i]);
	for (size_t i = 0; why && i < nv; i++)
		free(why[i]);
	free(why);
	avo_backend_free(backend);
	for (size_t i = 0; texts && i < nv; i++)
		avo_buf_dispose(&texts[i]);
	free(res);
	free(texts);
	free(srcs);
	free(lens);
	free(vpaths);
	avo_cache_free(cache);
	avo_spec_free(spec);
	return code;
}
