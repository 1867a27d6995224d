/* The hidden subcommand a Slurm task runs on a node: `avo __backend-worker JOBDIR [INDEX]`
 * (backend.h). It reads the job dir the slurm backend wrote and leaves r/<i>.json or
 * r/<i>.err there. */
#include "backend_impl.h"

#include "avo_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int worker_fail(const char *errpath, int code)
{
	const char *m = avo_error_last();
	fprintf(stderr, "avo: %s\n", m);
	if (errpath)
		avo_file_write_atomic(errpath, m, strlen(m), 0644);
	return code;
}

int avo_backend_worker_main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: avo __backend-worker JOBDIR [INDEX] (run by the slurm backend)\n");
		return 2;
	}
	const char *dir = argv[1];
	const char *is = argc == 3 ? argv[2] : getenv("SLURM_ARRAY_TASK_ID");
	char *end = NULL;
	unsigned long i = is ? strtoul(is, &end, 10) : 0;
	if (!is || !*is || *end) {
		fprintf(stderr, "avo: __backend-worker: no task index (SLURM_ARRAY_TASK_ID unset)\n");
		return 2;
	}
	char host[256] = "?";
	gethostname(host, sizeof(host) - 1);
	char *errpath = avo_backend__task_path(dir, "r", i, ".err"), *jpath = avo_path_join(dir, "job.json");
	char *vpath = avo_backend__task_path(dir, "v", i, ".src"), *rpath = avo_backend__task_path(dir, "r", i, ".json");
	avo_buf jb = AVO_BUF_INIT, vb = AVO_BUF_INIT;
	cJSON *job = NULL;
	avo_spec *spec = NULL;
	avo_cache *cache = NULL;
	avo_eval_result *r = NULL;
	char *json = NULL;
	int code = 4, rc;
	if ((rc = avo_file_read(&jb, jpath)) < 0 || (rc = avo_file_read(&vb, vpath)) < 0) {
		code = worker_fail(errpath, 4);
		goto done;
	}
	job = cJSON_ParseWithLength(jb.ptr, jb.size);
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(job, "spec");
	if (!cJSON_IsString(sp)) {
		avo_error_set(AVO_EPARSE, "%s: not a job file", jpath);
		code = worker_fail(errpath, 4);
		goto done;
	}
	if ((rc = avo_spec_load(&spec, sp->valuestring)) < 0) {
		avo_error_wrap(rc, "on %s", host);
		code = worker_fail(errpath, 3);
		goto done;
	}
	const cJSON *x;
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(job, "timeout_s")) && x->valuedouble > 0)
		spec->timeout_s = x->valuedouble;
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(job, "compile_timeout_s")) && x->valuedouble > 0)
		spec->compile_timeout_s = x->valuedouble;
	avo_eval_options eo = AVO_EVAL_OPTIONS_INIT;
	eo.gpu = -1; /* Slurm's CUDA_VISIBLE_DEVICES names the GPU it gave us */
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(job, "jobs")))
		eo.jobs = x->valueint;
	eo.verbose = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(job, "verbose"));
	const cJSON *cd = cJSON_GetObjectItemCaseSensitive(job, "cache_dir");
	eo.use_cache = cJSON_IsString(cd);
	if (eo.use_cache) {
		avo_cache_options co = AVO_CACHE_OPTIONS_INIT;
		co.dir = cd->valuestring;
		if ((rc = avo_cache_open(&cache, &co)) < 0) {
			avo_error_wrap(rc, "on %s: cache", host);
			code = worker_fail(errpath, 4);
			goto done;
		}
	}
	if ((rc = avo_eval_run(&r, spec, vb.ptr ? vb.ptr : "", vb.size, cache, &eo)) < 0) {
		avo_error_wrap(rc, "on %s", host);
		code = worker_fail(errpath, 4);
		goto done;
	}
	if (!(json = avo_eval_result_json(r)) ||
	    (rc = avo_file_write_atomic(rpath, json, strlen(json), 0644)) < 0) {
		code = worker_fail(errpath, 4);
		goto done;
	}
	printf("avo: task %lu on %s: %s, fitness %.6g, %.2f s%s\n", i, host, avo_eval_status_name(r->status),
	       r->fitness, r->seconds, r->from_cache ? " (cached)" : "");
	code = 0;
done:
	free(json);
	avo_eval_result_free(r);
	avo_cache_free(cache);
	avo_spec_free(spec);
	cJSON_Delete(job);
	avo_buf_dispose(&jb);
	avo_buf_dispose(&vb);
	free(errpath), free(jpath), free(vpath), free(rpath);
	return code;
}
