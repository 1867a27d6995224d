/* avo report: one self-contained HTML page about a tuning run (report.h). */
#include "avo_cache.h"
#include "cli.h"
#include "report.h"
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: avo report [SPEC] [-o FILE] [--run-dir DIR] [--peers FILE] [--kernel FILE] [--title NAME]\n\n"
		   "Write one self-contained HTML page (inline CSS and SVG, no script, no network) about a\n"
		   "tuning run: fitness over time with every attempt, the lineage, baseline against best per\n"
		   "config (and peers), the best version's diff against the original regions, cost and tokens.\n\n"
		   "  SPEC             the tuning spec (avo.json); its run is <spec dir>/.avo/<name>/\n"
		   "  -o, --output F   where to write the page (default: report.html)\n"
		   "  --run-dir DIR    the run directory (instead of, or overriding, the spec's)\n"
		   "  --peers FILE     peer results: a JSON array of {\"config\":..,\"cudnn\":..,\"fa2\":..} in\n"
		   "                   TFLOP/s, or a bench/results file ({\"rows\":[{\"config\":..,\"cudnn\":\n"
		   "                   {\"tflops\":..}}]}); default: DIR/peers.json when present\n"
		   "  --kernel FILE    the original kernel, for the diff (default: the spec's kernel)\n"
		   "  --title NAME     the page's title (default: the spec's name)\n\n"
		   "Exit codes: 0 written, 2 bad command line, 3 no run or bad spec, 4 I/O error.\n");
}

void avo_cli_report_target_dispose(avo_cli_report_target *t)
{
	free(t->run_dir), free(t->kernel), free(t->title);
	memset(t, 0, sizeof(*t));
}

static int target_resolve(avo_cli_report_target *out, const char *spec_path, const char *run_dir,
			  const char *kernel, const char *title)
{
	avo_spec *spec = NULL;
	int rc;
	memset(out, 0, sizeof(*out));
	if (spec_path && (rc = avo_spec_load(&spec, spec_path)) < 0)
		return rc;
	if (run_dir)
		out->run_dir = avo_strdup(run_dir);
	else if (spec) {
		char *dot = avo_path_join(spec->dir, ".avo");
		out->run_dir = dot ? avo_path_join(dot, spec->name) : NULL;
		free(dot);
	}
	out->kernel = avo_strdup(kernel ? kernel : spec ? spec->kernel : NULL);
	out->title = avo_strdup(title ? title : spec ? spec->name : NULL);
	rc = !out->run_dir || (!out->kernel && (kernel || spec)) || (!out->title && (title || spec))
		     ? avo_oom()
		     : 0;
	avo_spec_free(spec);
	return rc;
}

int avo_cli_report_open(avo_cli_report_target *t, avo_report_run **run, const char *spec_path,
			const char *run_dir, const char *kernel, const char *title, const char *peers)
{
	int rc;
	*run = NULL;
	if ((rc = target_resolve(t, spec_path, run_dir, kernel, title)) < 0 ||
	    (rc = avo_report_load(run, t->run_dir, peers)) < 0)
		return rc;
	for (size_t i = 0; i < (*run)->nwarnings; i++)
		fprintf(stderr, "avo: warning: %s\n", (*run)->warnings[i]);
	return 0;
}

/* The best version's full source from the local cache, when its lineage line has no edits
 * (older runs): NULL when not there. Caller frees. */
static char *best_source(const avo_report_run *run)
{
	avo_report_summary s;
	char *src = NULL;
	if (avo_report_summarize(&s, run) < 0)
		return NULL;
	if (s.best && !s.best->has_edits && s.best->variant && strlen(s.best->variant) == AVO_CACHE_HEX - 1) {
		avo_cache_options co = AVO_CACHE_OPTIONS_INIT;
		avo_cache *c = NULL;
		avo_buf b = AVO_BUF_INIT;
		co.remote_url = "";
		co.quiet = 1;
		if (avo_cache_open(&c, &co) == 0 && avo_cache_get_local(c, "obj", s.best->variant, &b) == 0)
			src = avo_buf_detach(&b);
		avo_buf_dispose(&b);
		avo_cache_free(c);
	}
	avo_report_summary_dispose(&s);
	return src;
}

int avo_cmd_report(int argc, char **argv)
{
	const char *spec = NULL, *output = "report.html", *run_dir = NULL, *peers = NULL, *kernel = NULL,
		   *title = NULL;
	const avo_cli_opt opts[] = {{"--output", "-o", &output, NULL}, {"--run-dir", NULL, &run_dir, NULL},
				    {"--peers", NULL, &peers, NULL},    {"--kernel", NULL, &kernel, NULL},
				    {"--title", NULL, &title, NULL},    {NULL, NULL, NULL, NULL}};
	int code = avo_cli_parse("report", argc, argv, opts, &spec, usage, &run_dir);
	if (code >= 0)
		return code;

	avo_cli_report_target t;
	avo_report_run *run = NULL;
	char *best = NULL;
	int rc;
	if ((rc = avo_cli_report_open(&t, &run, spec, run_dir, kernel, title, peers)) < 0)
		goto done;
	best = best_source(run);
	avo_report_options o = AVO_REPORT_OPTIONS_INIT;
	o.title = t.title;
	o.kernel_path = t.kernel;
	o.best_src = best;
	if ((rc = avo_report_write_html(output, run, &o)) < 0)
		goto done;
	printf("%s\n", output);
done:
	if (rc < 0)
		rc = avo_cli_fail(rc);
	free(best);
	avo_report_run_free(run);
	avo_cli_report_target_dispose(&t);
	return rc;
}
