/* Drives the evaluation backends on real variant files (run by test_slurm.sh against a
 * throwaway Slurm cluster, and alone for the local backend):
 *
 *   slurm_test_backend SPEC --backend B [--worker PROG] [--compare] [--cached]
 *                      [--expect-error TEXT] VARIANT...
 *
 * Evaluates the variants through backend B and prints one line per variant. --compare
 * evaluates them inline too (no cache) and fails unless every status and verdict agrees.
 * --cached then checks that every cacheable verdict is in the cache (written by the
 * nodes, so it came back through the shared cache dir). --expect-error: every variant
 * must come back without a verdict, its reason containing TEXT. --expect-open-error TEXT:
 * the backend must refuse to open (a bad spec section) with TEXT in the message. Exit 0
 * pass, 1 fail,
 * 77 skip (no compiler). */
#include "backend.h"

#include "avo_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;

#define CHECK(cond, ...) do { if (!(cond)) { fails++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

int main(int argc, char **argv)
{
	const char *spec_path = NULL, *kind = NULL, *worker = NULL, *expect_error = NULL, *open_error = NULL;
	int compare = 0, cached = 0;
	const char **vpaths = calloc((size_t)argc, sizeof(char *));
	size_t nv = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--backend") && i + 1 < argc)
			kind = argv[++i];
		else if (!strcmp(argv[i], "--worker") && i + 1 < argc)
			worker = argv[++i];
		else if (!strcmp(argv[i], "--expect-error") && i + 1 < argc)
			expect_error = argv[++i];
		else if (!strcmp(argv[i], "--expect-open-error") && i + 1 < argc)
			open_error = argv[++i];
		else if (!strcmp(argv[i], "--compare"))
			compare = 1;
		else if (!strcmp(argv[i], "--cached"))
			cached = 1;
		else if (!spec_path)
			spec_path = argv[i];
		else
			vpaths[nv++] = argv[i];
	}
	if (!spec_path || !kind || (!nv && !open_error)) {
		fprintf(stderr, "usage: slurm_test_backend SPEC --backend B [--worker PROG] [--compare] [--cached] "
				"[--expect-error TEXT] VARIANT...\n");
		return 2;
	}
	avo_spec *spec = NULL;
	avo_cache *cache = NULL;
	avo_backend *b = NULL;
	avo_cache_options co = AVO_CACHE_OPTIONS_INIT;
	if (avo_spec_load(&spec, spec_path) < 0 || avo_cache_open(&cache, &co) < 0) {
		fprintf(stderr, "FAIL: %s\n", avo_error_last());
		return 1;
	}
	avo_buf *texts = calloc(nv, sizeof(*texts));
	const char **srcs = calloc(nv, sizeof(char *));
	size_t *lens = calloc(nv, sizeof(size_t));
	avo_eval_result **res = calloc(nv, sizeof(*res)), **ref = calloc(nv, sizeof(*ref));
	char **errs = calloc(nv, sizeof(char *));
	for (size_t i = 0; i < nv; i++) {
		if (avo_file_read(&texts[i], vpaths[i]) < 0) {
			fprintf(stderr, "FAIL: %s\n", avo_error_last());
			return 1;
		}
		srcs[i] = avo_buf_cstr(&texts[i]);
		lens[i] = texts[i].size;
	}
	avo_eval_options eo = AVO_EVAL_OPTIONS_INIT;
	avo_backend_options bo = AVO_BACKEND_OPTIONS_INIT;
	bo.kind = kind;
	bo.worker = worker;
	int rc = avo_backend_open(&b, spec, cache, &eo, &bo);
	if (open_error) {
		CHECK(rc < 0 && strstr(avo_error_last(), open_error), "open: expected an error with '%s', got '%s'",
		      open_error, rc < 0 ? avo_error_last() : "success");
		printf("open refused: %s\n", avo_error_last());
		nv = 0;
		rc = -1;
	} else {
		CHECK(rc == 0, "open: %s", avo_error_last());
	}
	if (rc == 0) {
		CHECK(!strcmp(avo_backend_name(b), kind), "backend is %s, not %s", avo_backend_name(b), kind);
		rc = avo_backend_eval(b, res, errs, srcs, lens, nv);
		CHECK(rc == 0, "eval: %s", avo_error_last());
		if (rc < 0 && strstr(avo_error_last(), "compiler")) {
			fprintf(stderr, "SKIP: %s\n", avo_error_last());
			return 77;
		}
	}
	for (size_t i = 0; i < nv; i++) {
		if (res[i])
			printf("%s: %s fitness %.6g%s\n", vpaths[i], avo_eval_status_name(res[i]->status), res[i]->fitness,
			       res[i]->from_cache ? " (cached)" : "");
		else
			printf("%s: no verdict: %s\n", vpaths[i], errs[i] ? errs[i] : "(no reason)");
		if (expect_error) {
			CHECK(!res[i], "%s: a verdict, where an error was expected", vpaths[i]);
			CHECK(errs[i] && strstr(errs[i], expect_error), "%s: reason '%s' lacks '%s'", vpaths[i],
			      errs[i] ? errs[i] : "", expect_error);
		} else {
			CHECK(res[i] && !errs[i], "%s: no verdict: %s", vpaths[i], errs[i] ? errs[i] : "");
		}
	}
	if (compare) {
		avo_eval_options ro = AVO_EVAL_OPTIONS_INIT;
		ro.use_cache = 0;
		rc = avo_eval_many(ref, spec, srcs, lens, nv, NULL, &ro);
		CHECK(rc == 0, "inline eval: %s", avo_error_last());
		for (size_t i = 0; rc == 0 && i < nv; i++) {
			if (!res[i])
				continue;
			CHECK(res[i]->status == ref[i]->status, "%s: %s through the backend, %s inline", vpaths[i],
			      avo_eval_status_name(res[i]->status), avo_eval_status_name(ref[i]->status));
			CHECK(res[i]->correct == ref[i]->correct, "%s: verdicts differ", vpaths[i]);
			CHECK(res[i]->nconfigs == ref[i]->nconfigs, "%s: config counts differ", vpaths[i]);
			CHECK(!strcmp(res[i]->variant_hash, ref[i]->variant_hash), "%s: variant hashes differ", vpaths[i]);
		}
	}
	if (cached) {
		for (size_t i = 0; i < nv; i++) {
			if (!res[i] || (res[i]->status != AVO_EVAL_OK && res[i]->status != AVO_EVAL_INCORRECT))
				continue; /* only ok and incorrect verdicts are cached (eval.h) */
			CHECK(avo_cache_has(cache, "eval", res[i]->eval_key) == 1, "%s: eval %s is not in the cache %s",
			      vpaths[i], res[i]->eval_key, avo_cache_dir(cache));
		}
	}
	for (size_t i = 0; i < nv; i++) {
		avo_eval_result_free(res[i]);
		avo_eval_result_free(ref[i]);
		free(errs[i]);
		avo_buf_dispose(&texts[i]);
	}
	free(res), free(ref), free(errs), free(texts), free(srcs), free(lens), free(vpaths);
	avo_backend_free(b);
	avo_cache_free(cache);
	avo_spec_free(spec);
	if (fails)
		fprintf(stderr, "%d check(s) failed\n", fails);
	return fails ? 1 : 0;
}
