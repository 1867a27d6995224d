/* The inline backend: evaluations in this process, as `avo eval` does (the default). */
#include "backend_impl.h"

#include "avo_base.h"

#include <stdlib.h>

static int inline_open(avo_backend *b, const cJSON *section, const avo_backend_options *opts)
{
	(void)section, (void)opts;
	b->nslots = 1;
	/* one device for the tune loop's pipeline (engine/pipeline.h): compiles overlap runs */
	if (!(b->devices = calloc(1, sizeof(int))))
		return avo_oom();
	b->devices[0] = b->eopts.gpu;
	b->ndevices = 1;
	return 0;
}

static int eval_inline(avo_backend *b, avo_eval_result **out, char **errs, const char *const *v,
		       const size_t *lens, size_t n)
{
	(void)errs; /* every variant gets a verdict, or the environment failed for all */
	int rc = avo_eval_many(out, b->spec, v, lens, n, b->cache, &b->eopts);
	if (rc < 0) {
		for (size_t i = 0; i < n; i++) {
			avo_eval_result_free(out[i]);
			out[i] = NULL;
		}
	}
	return rc;
}

const avo_backend_ops avo_backend__inline = {"inline", inline_open, NULL, eval_inline, 0};
