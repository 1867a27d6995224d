/* The local backend: every local GPU (or N CPU workers for C kernels), one evaluation per
 * device at a time, through the pipeline (engine/pipeline.h): compiles on every core, one
 * run worker per device. Spec section: "local": {"gpus": [0, 1], "workers": 4}; the
 * command line (--devices) or $AVO_DEVICES win. */
#include "backend_impl.h"

#include "avo_base.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LS_GPUS(b) ((b)->devices)

/* ---- local: which GPUs ------------------------------------------------------------- */

static size_t count_nvidia_smi(void)
{
	const char *argv[] = {"nvidia-smi", "-L", NULL};
	avo_proc_options po = {0};
	po.argv = argv;
	po.timeout_s = 30;
	avo_proc_result pr;
	size_t n = 0;
	if (avo_proc_run(&pr, &po) == 0 && pr.exited && pr.exit_code == 0) {
		for (const char *p = avo_buf_cstr(&pr.out); p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			n += !strncmp(p, "GPU ", 4);
	}
	avo_proc_result_dispose(&pr);
	return n;
}

#define MAX_DEVICES 64

/* A list of GPU indices ("0,2") into b->devices; `what` names it in errors. */
static int gpu_list(avo_backend *b, const char *text, const char *what)
{
	for (const char *p = text; *p && b->ndevices < MAX_DEVICES;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 0 || (*end && *end != ','))
			return avo_error_set(AVO_EINVALID, "local backend: %s=%s: only numeric GPU indices are "
							   "supported (or set \"local\": {\"gpus\": [...]})", what, text);
		b->devices[b->ndevices++] = (int)v;
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int cpu_workers(avo_backend *b, long n)
{
	b->ndevices = n < 1 ? 1 : (size_t)(n > MAX_DEVICES ? MAX_DEVICES : n);
	for (size_t i = 0; i < b->ndevices; i++)
		b->devices[i] = -1;
	return 0;
}

static int which_devices(avo_backend *b, const cJSON *o, const avo_backend_options *opts)
{
	const avo_spec *s = b->spec;
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "gpus"), *e;
	long workers = 0;
	int rc = avo_backend__get_long(s, o, "local", "workers", 1, &workers);
	if (rc < 0)
		return rc;
	/* --devices, then $AVO_DEVICES: "N" CPU workers, or GPU indices "0,1" */
	const char *dv = opts->devices ? opts->devices : getenv("AVO_DEVICES");
	const char *dv_name = opts->devices ? "--devices" : "AVO_DEVICES";
	if (dv && *dv && !s->is_cuda) {
		char *end;
		long n = strtol(dv, &end, 10);
		if (*end || n < 1)
			return avo_error_set(AVO_EINVALID, "local backend: %s=%s: a C kernel's devices are a number of "
							   "CPU workers", dv_name, dv);
		return cpu_workers(b, n);
	}
	if (!s->is_cuda)
		return cpu_workers(b, workers ? workers : sysconf(_SC_NPROCESSORS_ONLN));
	if (dv && *dv)
		return gpu_list(b, dv, dv_name);
	if (g) {
		if (!cJSON_IsArray(g) || cJSON_GetArraySize(g) == 0)
			return avo_backend__field_err(s, "local.gpus", "must be a non-empty array of GPU indices");
		cJSON_ArrayForEach(e, g) {
			if (!cJSON_IsNumber(e) || e->valueint < 0 || b->ndevices == MAX_DEVICES)
				return avo_backend__field_err(s, "local.gpus", "must be a non-empty array of GPU indices");
			b->devices[b->ndevices++] = e->valueint;
		}
		return 0;
	}
	if (b->eopts.gpu >= 0) {
		b->devices[b->ndevices++] = b->eopts.gpu;
		return 0;
	}
	/* The harness gets CUDA_VISIBLE_DEVICES=<index>, so a restriction the user set must
	 * be turned into the indices it names. */
	const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
	if (cvd && *cvd)
		return gpu_list(b, cvd, "CUDA_VISIBLE_DEVICES");
	size_t n = count_nvidia_smi();
	if (n == 0)
		return avo_error_set(AVO_ENOTFOUND, "local backend: no GPU found (nvidia-smi -L lists none)");
	for (size_t i = 0; i < n && b->ndevices < MAX_DEVICES; i++)
		b->devices[b->ndevices++] = (int)i;
	return 0;
}

static int local_open(avo_backend *b, const cJSON *o, const avo_backend_options *opts)
{
	if (o && !cJSON_IsObject(o))
		return avo_backend__field_err(b->spec, "local", "must be an object");
	if (!(b->devices = calloc(MAX_DEVICES, sizeof(int))))
		return avo_oom();
	int rc = which_devices(b, o, opts);
	b->nslots = b->ndevices;
	return rc;
}

/* ---- local: the pipeline (engine/pipeline.h) -------------------------------------- */

static int eval_local(avo_backend *b, avo_eval_result **out, char **errs, const char *const *v,
		      const size_t *lens, size_t n)
{
	return avo_backend__eval_pipeline(b, out, errs, v, lens, n);
}

const avo_backend_ops avo_backend__local = {"local", local_open, NULL, eval_local, 1};
