/* avo mcp: the tune loop with an MCP client (a coding agent) as its operator, on stdio. */
#include "cli.h"
#include "cmd_tune.h"
#include "avo_agent.h"
#include "avo_base.h"
#include "avo_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: avo mcp SPEC [options]\n\n"
		"Serve the tuning of SPEC to an MCP client (Claude Code, Codex CLI, Gemini CLI, Cursor,\n"
		"...) over stdio: newline-delimited JSON-RPC 2.0 on stdin and stdout, logs on stderr.\n"
		"The client reads the kernel, the lineage and the knowledge base, edits the marked\n"
		"regions and knobs, and calls evaluate: avo compiles, checks and times the working copy\n"
		"and commits it only when it is correct and the gate confirms it faster than the best,\n"
		"as 'avo tune' does (operator \"mcp\" in the records). The run dir is shared with\n"
		"'avo tune'; a new session continues the run where the last one stopped. Once a budget\n"
		"is spent, evaluate refuses and reads go on. The server stops when the client leaves.\n\n"
		"options:\n"
		"  --run-dir DIR       where the run's state lives (default <spec dir>/.avo/<name>)\n"
		"  --fresh-run         move an existing run aside and start over\n"
		"  --budget DUR        wall-time budget of the run: 90s, 10m, 2h, 1d\n"
		"  --evals N           evaluation budget of the run (attempts, the baseline included)\n"
		"  --max-cost USD      cost budget of the run\n"
		"  --min-gain G        the gain the gate must confirm (0.01 = 1%%; default the spec's)\n"
		"  --confirm N         A B pairs per confirmation (default 3); they count as evaluations\n"
		"  --jobs N            parallel compiles (default: all cores)\n"
		"  --gpu N             run on GPU N (CUDA_VISIBLE_DEVICES)\n"
		"  --backend B         where evaluations run: inline (default), local, slurm\n\n"
		"Budgets count over the whole run (every session); with none, 100 evaluations.\n"
		"Exit: 0 the client left, 1 the original kernel is incorrect, 2 usage, 3 bad spec or\n"
		"kernel, 4 environment, 130 interrupted.\n");
}

static int bad_value(const char *opt, const char *v, const char *want)
{
	fprintf(stderr, "avo: mcp: %s '%s': expected %s\n", opt, v, want);
	return AVO_EXIT_USAGE;
}

static int parse_args(avo_tune_options *o, const char **spec_path, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (avo_cli_is_help(a)) {
			usage(stdout);
			return -1;
		}
		if (!strcmp(a, "--fresh-run")) {
			o->fresh_run = 1;
			continue;
		}
		if (a[0] != '-') {
			if (*spec_path) {
				fprintf(stderr, "avo: mcp: one spec at a time ('%s' is extra)\n", a);
				return AVO_EXIT_USAGE;
			}
			*spec_path = a;
			continue;
		}
		int r = avo_cmd_tune_run_option("mcp", argc, argv, &i, o);
		if (r < 0)
			return AVO_EXIT_USAGE;
		if (r)
			continue;
		static const char *const with_value[] = {"--run-dir", "--budget", "--jobs", "--gpu", "--backend"};
		int known = 0;
		for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
			known |= !strcmp(a, with_value[k]);
		if (!known) {
			fprintf(stderr, "avo: mcp: unknown option '%s' (see 'avo mcp --help')\n", a);
			return AVO_EXIT_USAGE;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "avo: mcp: %s needs a value\n", a);
			return AVO_EXIT_USAGE;
		}
		const char *v = argv[++i];
		char *end = NULL;
		if (!strcmp(a, "--run-dir")) {
			o->run_dir = v;
		} else if (!strcmp(a, "--backend")) {
			o->backend = v;
		} else if (!strcmp(a, "--budget")) {
			if ((o->budget_seconds = avo_cli_parse_duration(v)) <= 0)
				return bad_value(a, v, "a duration like 90s, 10m, 2h");
		} else if (!strcmp(a, "--jobs")) {
			o->jobs = (int)strtol(v, &end, 10);
			if (*end || o->jobs < 0)
				return bad_value(a, v, "a number of jobs");
		} else {
			o->gpu = (int)strtol(v, &end, 10);
			if (*end || o->gpu < 0)
				return bad_value(a, v, "a GPU index");
		}
	}
	if (!*spec_path) {
		usage(stderr);
		return AVO_EXIT_USAGE;
	}
	return 0;
}

/* Keep the protocol on private descriptors: whatever else prints to stdout (a library, a
 * child that inherits it) lands on stderr, and nothing but the client feeds our input. */
static int take_stdio(int *in_fd, int *out_fd)
{
	*in_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
	*out_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (*in_fd < 0 || *out_fd < 0 || nul < 0 || dup2(2, 1) < 0 || dup2(nul, 0) < 0) {
		if (nul >= 0)
			close(nul);
		return avo_error_set(AVO_EIO, "mcp: cannot set up stdio: %s", strerror(errno));
	}
	close(nul);
	return 0;
}

int avo_cmd_mcp(int argc, char **argv)
{
	avo_tune_options o = AVO_TUNE_OPTIONS_INIT;
	const char *spec_path = NULL;
	int rc = parse_args(&o, &spec_path, argc, argv);
	if (rc)
		return rc < 0 ? AVO_EXIT_OK : rc;
	o.resume = !o.fresh_run; /* every session continues the run */
	o.progress = 0;

	avo_spec *spec = NULL;
	avo_cache *cache = NULL;
	avo_agent_op *op = NULL;
	avo_cache_options co = AVO_CACHE_OPTIONS_INIT;
	int in_fd = -1, out_fd = -1;
	if ((rc = avo_spec_load(&spec, spec_path)) < 0 || (rc = avo_cache_open(&cache, &co)) < 0)
		goto done;
	avo_cmd_tune_cap_budget(&o, spec);
	avo_signals_ignore_pipe(); /* a client gone mid-answer is an error on write, not a kill */
	if ((rc = take_stdio(&in_fd, &out_fd)) < 0)
		goto done;
	avo_agent_mcp_options mo = {in_fd, out_fd};
	if ((rc = avo_agent_mcp_new(&op, &mo)) < 0)
		goto done;
	o.op_instance = op;
	rc = avo_tune_run(spec, cache, &o);
done:
	avo_agent_op_free(op);
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	avo_cache_free(cache);
	avo_spec_free(spec);
	char again[512];
	snprintf(again, sizeof(again), "the next 'avo mcp %s' continues it", spec_path);
	return avo_cmd_tune_exit(rc, again);
}
