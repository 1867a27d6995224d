#include "cli.h"
#include "cmd_tune.h"
#include "avo_base.h"
#include "avo_cache.h"
#include "spec.h"
#include "tune.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: avo tune SPEC [options]\n\n"
		"Evolve the kernel of SPEC (the AVO loop): an operator proposes edits of the marked\n"
		"regions and knobs, every candidate is compiled, checked and timed, and a version is\n"
		"committed only when it is correct on every config and the gate confirms it faster\n"
		"than the best: re-measured against it, interleaved, with a gain whose interval's\n"
		"lower end clears the minimum gain (README \"The gate\").\n"
		"State lives in the run dir (default <spec dir>/.avo/<name>); see engine/RUNS.md.\n\n"
		"options:\n"
		"  --operator OP       knob (default; no network), llm, command\n"
		"  --operator-options JSON   fields that replace those of the operator's spec section,\n"
		"                      e.g. '{\"reasoning_effort\": \"high\", \"extra_body\": {...}}'\n"
		"  --budget DUR        wall-time budget: 90s, 10m, 2h, 1d (plain number: seconds)\n"
		"  --evals N           evaluation budget (attempts, the baseline included)\n"
		"  --max-cost USD      API cost budget (llm operator)\n"
		"  --resume            continue the run in the run dir (after a crash or a budget)\n"
		"  --fresh-run         move an existing run aside and start over\n"
		"  --run-dir DIR       where the run's state lives\n"
		"  --min-gain G        the gain the gate must confirm: 0.01 = 1%% (default: the\n"
		"                      spec's \"min_gain\", else 0.01)\n"
		"  --confirm N         A B pairs per confirmation (default 3, at least 2)\n"
		"  --stall N           steer the operator after N steps without a commit (default 4)\n"
		"  --jobs N            parallel compiles (default: all cores)\n"
		"  --gpu N             run on GPU N (CUDA_VISIBLE_DEVICES)\n"
		"  --backend B         where evaluations run: inline (default), local (every GPU),\n"
		"                      slurm (job arrays; see engine/CLUSTER.md)\n"
		"  --devices D         local backend: GPU indices \"0,1\" (CUDA) or a number of CPU\n"
		"                      workers (C kernels); default $AVO_DEVICES, else all\n"
		"  --lookahead N       knob proposals in flight (default: 4 per device; 1 on one\n"
		"                      device). The lineage depends on it, not on the devices\n"
		"  --trust-harness     accept a spec whose \"harness_protocol\" is \"legacy-trusted\"\n"
		"                      (its harness prints its own verdict, which a variant can forge)\n"
		"  --progress/--no-progress   live progress line (default: when stderr is a TTY)\n"
		"  --quiet             no progress output\n"
		"  --no-sandbox        evaluate outside the bubblewrap sandbox (candidates run with\n"
		"                      your rights; attempts record \"unsandboxed\")\n\n"
		"Budgets default to the spec's \"budget\"; with none, the run stops after 100\n"
		"evaluations or when the operator has nothing new to try.\n"
		"Exit: 0 done, 1 the original kernel is incorrect, 2 usage, 3 bad spec or kernel,\n"
		"4 environment, 130 interrupted (state saved; continue with --resume).\n");
}

static int bad_value(const char *cmd, const char *opt, const char *v, const char *want)
{
	fprintf(stderr, "avo: %s: %s '%s': expected %s\n", cmd, opt, v, want);
	return -1;
}

/* A whole number in lo..hi. */
static int bounded(const char *v, long lo, long hi, long *out)
{
	char *end;
	*out = strtol(v, &end, 10);
	return *end || *out < lo || *out > hi ? -1 : 0;
}

int avo_cmd_tune_run_option(const char *cmd, int argc, char **argv, int *i, avo_tune_options *o)
{
	const char *a = argv[*i], *v;
	if (strcmp(a, "--evals") && strcmp(a, "--max-cost") && strcmp(a, "--min-gain") && strcmp(a, "--confirm"))
		return 0;
	if (avo_cli_value(cmd, argc, argv, i, &v) < 0)
		return -1;
	char *end;
	long n;
	if (!strcmp(a, "--evals")) {
		if (bounded(v, 1, LONG_MAX, &n) < 0)
			return bad_value(cmd, a, v, "a positive integer");
		o->budget_evaluations = n;
	} else if (!strcmp(a, "--max-cost")) {
		o->budget_cost_usd = strtod(v, &end);
		if (*end || o->budget_cost_usd <= 0)
			return bad_value(cmd, a, v, "a positive number");
	} else if (!strcmp(a, "--min-gain")) {
		o->min_gain = strtod(v, &end);
		if (*end || !(o->min_gain >= 0 && o->min_gain < 10))
			return bad_value(cmd, a, v, "0 <= G < 10 (0.01 = 1%)");
	} else {
		if (bounded(v, 2, 1000, &n) < 0)
			return bad_value(cmd, a, v, "2..1000");
		o->confirm_rounds = (unsigned)n;
	}
	return 1;
}

int avo_cmd_tune(int argc, char **argv)
{
	avo_tune_options o = AVO_TUNE_OPTIONS_INIT;
	const char *spec_path = NULL;
	int no_sandbox = 0, r;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED() do { if (!v) { fprintf(stderr, "avo: tune: %s needs a value\n", a); return AVO_EXIT_USAGE; } i++; } while (0)
		if (avo_cli_is_help(a)) {
			usage(stdout);
			return AVO_EXIT_OK;
		} else if ((r = avo_cmd_tune_run_option("tune", argc, argv, &i, &o)) != 0) {
			if (r < 0)
				return AVO_EXIT_USAGE;
		} else if (!strcmp(a, "--operator")) {
			NEED();
			o.op = v;
		} else if (!strcmp(a, "--budget")) {
			NEED();
			if ((o.budget_seconds = avo_cli_parse_duration(v)) < 0) {
				fprintf(stderr, "avo: tune: --budget '%s': expected a duration like 90s, 10m, 2h\n", v);
				return AVO_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--stall")) {
			NEED();
			o.stall_attempts = (unsigned)strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--jobs")) {
			NEED();
			o.jobs = atoi(v);
		} else if (!strcmp(a, "--gpu")) {
			NEED();
			o.gpu = atoi(v);
		} else if (!strcmp(a, "--backend")) {
			NEED();
			o.backend = v;
		} else if (!strcmp(a, "--devices")) {
			NEED();
			o.devices = v;
		} else if (!strcmp(a, "--lookahead")) {
			NEED();
			long n;
			if (bounded(v, 1, 4096, &n) < 0) {
				bad_value("tune", a, v, "1..4096");
				return AVO_EXIT_USAGE;
			}
			o.lookahead = (unsigned)n;
		} else if (!strcmp(a, "--operator-options")) {
			NEED();
			o.op_json = v;
		} else if (!strcmp(a, "--run-dir")) {
			NEED();
			o.run_dir = v;
		} else if (!strcmp(a, "--resume")) {
			o.resume = 1;
		} else if (!strcmp(a, "--fresh-run")) {
			o.fresh_run = 1;
		} else if (!strcmp(a, "--trust-harness")) {
			o.trust_harness = 1;
		} else if (!strcmp(a, "--progress")) {
			o.progress = 1;
		} else if (!strcmp(a, "--no-progress")) {
			o.progress = 0;
		} else if (!strcmp(a, "--quiet")) {
			o.quiet = 1;
		} else if (!strcmp(a, "--no-sandbox")) {
			no_sandbox = 1;
		} else if (a[0] == '-') {
			fprintf(stderr, "avo: tune: unknown option '%s' (see 'avo tune --help')\n", a);
			return AVO_EXIT_USAGE;
		} else if (!spec_path) {
			spec_path = a;
		} else {
			fprintf(stderr, "avo: tune: one spec at a time ('%s' is extra)\n", a);
			return AVO_EXIT_USAGE;
		}
#undef NEED
	}
	if (!spec_path) {
		usage(stderr);
		return AVO_EXIT_USAGE;
	}
	if (o.resume && o.fresh_run) {
		fprintf(stderr, "avo: tune: --resume and --fresh-run exclude each other\n");
		return AVO_EXIT_USAGE;
	}
	avo_spec *spec = NULL;
	avo_cache *cache = NULL;
	avo_cache_options co = AVO_CACHE_OPTIONS_INIT;
	int rc;
	if ((rc = avo_spec_load(&spec, spec_path)) < 0)
		return avo_cli_fail(rc);
	if (no_sandbox)
		spec->sandbox = 0;
	if ((rc = avo_cache_open(&cache, &co)) < 0) {
		avo_spec_free(spec);
		return avo_cli_fail(rc);
	}
	avo_cmd_tune_cap_budget(&o, spec);
	rc = avo_tune_run(spec, cache, &o);
	avo_cache_free(cache);
	avo_spec_free(spec);
	char again[512];
	snprintf(again, sizeof(again), "continue with 'avo tune %s --resume'", spec_path);
	return avo_cmd_tune_exit(rc, again);
}

void avo_cmd_tune_cap_budget(avo_tune_options *o, const avo_spec *spec)
{
	if (o->budget_seconds < 0 && o->budget_evaluations < 0 && o->budget_cost_usd < 0 &&
	    spec->budget_seconds <= 0 && spec->budget_evaluations <= 0 && spec->budget_cost_usd <= 0)
		o->budget_evaluations = 100;
}

int avo_cmd_tune_exit(int rc, const char *again)
{
	if (rc == AVO_TUNE_INTERRUPTED) {
		fprintf(stderr, "avo: interrupted; the run is saved: %s\n", again);
		return AVO_EXIT_INTERRUPT;
	}
	if (rc == AVO_EINVALID && strstr(avo_error_last(), "fails its harness"))
		return (fprintf(stderr, "avo: %s\n", avo_error_last()), AVO_EXIT_FAIL);
	return rc < 0 ? avo_cli_fail(rc) : AVO_EXIT_OK;
}
