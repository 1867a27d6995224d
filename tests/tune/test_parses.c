/* One libclang parse per candidate, from proposal to verdict, through the real tune loop on
 * the CPU example (kernels/cpu). The count comes from the linker, not from avo: this test
 * is linked with -Wl,--wrap=clang_parseTranslationUnit2, so every parse that astedit makes
 * passes through __wrap_clang_parseTranslationUnit2 below. Production code has no hook.
 *
 *   test_parses SOURCE_DIR WORK_DIR
 *
 * Runs (1) the knob operator for 6 evaluations and (2) the command operator (a script that
 * validates through apply, submits, and reads the base version's source each step) for 3
 * steps, one of them a refused edit. Expected parses: 1 for the original kernel plus 1 per
 * candidate (a refused edit is a candidate that the one parse rejects). */
#include "avo_base.h"
#include "avo_cache.h"
#include "spec.h"
#include "tune.h"

#include <clang-c/Index.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum CXErrorCode __real_clang_parseTranslationUnit2(CXIndex, const char *, const char *const *, int,
						    struct CXUnsavedFile *, unsigned, unsigned,
						    CXTranslationUnit *);
enum CXErrorCode __wrap_clang_parseTranslationUnit2(CXIndex, const char *, const char *const *, int,
						    struct CXUnsavedFile *, unsigned, unsigned,
						    CXTranslationUnit *);

static int parses;

enum CXErrorCode __wrap_clang_parseTranslationUnit2(CXIndex idx, const char *path, const char *const *args,
						    int nargs, struct CXUnsavedFile *uf, unsigned nuf,
						    unsigned flags, CXTranslationUnit *out)
{
	parses++;
	return __real_clang_parseTranslationUnit2(idx, path, args, nargs, uf, nuf, flags, out);
}

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

static void copy(const char *from_dir, const char *to_dir, const char *name)
{
	avo_buf b = AVO_BUF_INIT;
	char *f = avo_path_join(from_dir, name), *t = avo_path_join(to_dir, name);
	if (avo_file_read(&b, f) < 0 || avo_file_write_atomic(t, b.ptr, b.size, 0644) < 0) {
		fprintf(stderr, "cannot copy %s: %s\n", f, avo_error_last());
		exit(1);
	}
	avo_buf_dispose(&b);
	free(f), free(t);
}

/* How many lines of attempts.jsonl are the operator's candidates (not the baseline, not
 * the gate's confirmation runs, which re-run built candidates and parse nothing). */
static int candidates(const char *run_dir)
{
	avo_buf b = AVO_BUF_INIT;
	char *p = avo_path_join(run_dir, "attempts.jsonl");
	int n = 0;
	if (avo_file_read(&b, p) == 0)
		for (const char *s = avo_buf_cstr(&b); (s = strstr(s, "\"operator\":")); s++)
			n += strncmp(s, "\"operator\":\"baseline\"", 21) && strncmp(s, "\"operator\":\"gate\"", 17);
	avo_buf_dispose(&b);
	free(p);
	return n;
}

static int tune(const char *spec_path, const char *run_dir, const char *cache_dir, long evals)
{
	avo_spec *spec = NULL;
	avo_cache *cache = NULL;
	avo_cache_options co = AVO_CACHE_OPTIONS_INIT;
	co.dir = cache_dir;
	co.remote_url = "";
	if (avo_spec_load(&spec, spec_path) < 0 || avo_cache_open(&cache, &co) < 0) {
		fprintf(stderr, "setup: %s\n", avo_error_last());
		exit(1);
	}
	avo_tune_options o = AVO_TUNE_OPTIONS_INIT;
	o.run_dir = run_dir;
	o.budget_evaluations = evals;
	o.quiet = 1;
	o.progress = 0;
	int rc = avo_tune_run(spec, cache, &o);
	if (rc < 0)
		fprintf(stderr, "tune: %s\n", avo_error_last());
	avo_spec_free(spec);
	avo_cache_free(cache);
	return rc;
}

/* A command agent: step 1 sets TILE_K 32, step 2 sends a region edit that does not parse
 * (or, on a kernel without regions, an unknown knob value), step 3 sets UNROLL 2. */
static const char agent_py[] =
	"import json, os, sys\n"
	"req = json.load(sys.stdin)\n"
	"assert req['source'] and 'avo:knob' in req['source']\n"
	"state = sys.argv[1]\n"
	"n = int(open(state).read()) if os.path.exists(state) else 0\n"
	"open(state, 'w').write(str(n + 1))\n"
	"regions = list(req['regions'])\n"
	"if n % 3 == 0:\n"
	"    print(json.dumps({'knobs': {'TILE_K': '32'}, 'note': 'smaller tiles'}))\n"
	"elif n % 3 == 1 and regions:\n"
	"    print(json.dumps({'regions': {regions[0]: 'int x = ;\\n'}, 'note': 'broken'}))\n"
	"else:\n"
	"    print(json.dumps({'knobs': {'UNROLL': '2'}, 'note': 'unroll'}))\n";

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SOURCE_DIR WORK_DIR\n", argv[0]);
		return 2;
	}
	char *src = avo_path_join(argv[1], "kernels/cpu"), *work = argv[2];
	avo_rm_rf(work);
	avo_mkdir_p(work, 0755);
	const char *files[] = {"attention.c", "attention.h", "harness.c", "avo.json"};
	for (size_t i = 0; i < 4; i++)
		copy(src, work, files[i]);
	char *cache_dir = avo_path_join(work, "cache"), *spec_path = avo_path_join(work, "avo.json");

	/* (1) knob operator */
	char *run1 = avo_path_join(work, "run-knob");
	parses = 0;
	CHECK(tune(spec_path, run1, cache_dir, 6) == 0);
	int c1 = candidates(run1);
	fprintf(stderr, "knob: %d candidates, %d libclang parses\n", c1, parses);
	CHECK(c1 >= 2);
	CHECK(parses == 1 + c1);

	/* (2) command operator: apply, evaluate and the base's source in every step */
	char *agent = avo_path_join(work, "agent.py"), *state = avo_path_join(work, "agent.state");
	if (avo_file_write_atomic(agent, agent_py, strlen(agent_py), 0755) < 0)
		return 1;
	avo_buf spec = AVO_BUF_INIT;
	avo_file_read(&spec, spec_path);
	cJSON *j = cJSON_Parse(avo_buf_cstr(&spec));
	cJSON_AddStringToObject(j, "operator", "command");
	cJSON *cmd = cJSON_AddObjectToObject(j, "command");
	const char *av[] = {"python3", agent, state};
	cJSON_AddItemToObject(cmd, "argv", cJSON_CreateStringArray(av, 3));
	char *text = cJSON_Print(j);
	char *spec2 = avo_path_join(work, "avo-command.json");
	avo_file_write_atomic(spec2, text, strlen(text), 0644);
	char *run2 = avo_path_join(work, "run-command");
	parses = 0;
	CHECK(tune(spec2, run2, cache_dir, 4) == 0); /* with confirmations: 3 or more steps */
	int c2 = candidates(run2);
	fprintf(stderr, "command: %d candidates, %d libclang parses\n", c2, parses);
	CHECK(c2 >= 1);
	CHECK(parses == 1 + c2);

	cJSON_Delete(j);
	free(text), free(spec2), free(run2), free(agent), free(state), avo_buf_dispose(&spec);
	free(src), free(cache_dir), free(spec_path), free(run1);
	if (!failures)
		avo_rm_rf(work);
	return failures ? 1 : 0;
}
