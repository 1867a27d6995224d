/* avo status: a tuning run's summary in the terminal, or as JSON (report.h). */
#include "cli.h"
#include "report.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: avo status [SPEC] [--run-dir DIR] [--peers FILE] [--json]\n\n"
		   "Summarise a tuning run: best fitness against the baseline, attempts, commits by\n"
		   "operator, failures by cause, elapsed time, tokens, cost, and per config the baseline\n"
		   "against the best. It reads the run's files only, so it works while 'avo tune' runs.\n\n"
		   "  SPEC            the tuning spec (avo.json); its run is <spec dir>/.avo/<name>/\n"
		   "  --run-dir DIR   the run directory (instead of, or overriding, the spec's)\n"
		   "  --peers FILE    accepted for symmetry with 'avo report' (not shown in the terminal)\n"
		   "  --json          one JSON object on stdout instead of text\n\n"
		   "Exit codes: 0 ok, 2 bad command line, 3 no run or bad spec, 4 I/O error.\n");
}

int avo_cmd_status(int argc, char **argv)
{
	const char *spec = NULL, *run_dir = NULL, *peers = NULL;
	int json = 0;
	const avo_cli_opt opts[] = {{"--json", NULL, NULL, &json}, {"--run-dir", NULL, &run_dir, NULL},
				    {"--peers", NULL, &peers, NULL}, {NULL, NULL, NULL, NULL}};
	int code = avo_cli_parse("status", argc, argv, opts, &spec, usage, &run_dir);
	if (code >= 0)
		return code;
	avo_cli_report_target t;
	avo_report_run *run = NULL;
	avo_buf out = AVO_BUF_INIT;
	int rc;
	if ((rc = avo_cli_report_open(&t, &run, spec, run_dir, NULL, NULL, peers)) < 0)
		goto done;
	rc = json ? avo_report_status_json(&out, run, t.title) : avo_report_status_text(&out, run, t.title);
	if (rc == 0)
		fwrite(avo_buf_cstr(&out), 1, out.size, stdout);
done:
	if (rc < 0)
		rc = avo_cli_fail(rc);
	avo_buf_dispose(&out);
	avo_report_run_free(run);
	avo_cli_report_target_dispose(&t);
	return rc;
}
