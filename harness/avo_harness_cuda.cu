// avo_harness, CUDA build: `out` and `ref` live on the device. The protocol is the C
// library's (avo_harness.c, included below); this file supplies the device half.
//
// A timed call is bracketed by events on the default stream, then the whole device is
// synchronised, so work a variant leaves on other streams is seen by avo's clock (the gap
// between records) even though the events do not count it.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stddef.h>

#define AVO_HARNESS_CUDA 1

static int cuda_ok(cudaError_t e, const char *what)
{
	if (e == cudaSuccess)
		return 1;
	fprintf(stderr, "avo_harness: %s: %s\n", what, cudaGetErrorString(e));
	return 0;
}

static void *mem_alloc(size_t n)
{
	void *p = NULL;
	return cuda_ok(cudaMalloc(&p, n ? n : 1), "cudaMalloc") ? p : NULL;
}

static void mem_free(void *p) { cudaFree(p); }

static void mem_poison(void *p, size_t n) { cuda_ok(cudaMemset(p, 0xff, n), "cudaMemset"); }

static int mem_to_host(void *dst, const void *src, size_t n)
{
	return cuda_ok(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost), "copy to host") ? 0 : -1;
}

static void dev_sync(void) { cuda_ok(cudaDeviceSynchronize(), "the device"); }

#include "avo_harness.c"

static int timed_call(const avo_harness *h, void *out, double *ms)
{
	static cudaEvent_t e0, e1;
	static int made;
	if (!made && !(cuda_ok(cudaEventCreate(&e0), "event") && cuda_ok(cudaEventCreate(&e1), "event")))
		return -1;
	made = 1;
	cudaEventRecord(e0, 0);
	int rc = h->call(h->user, out);
	cudaEventRecord(e1, 0);
	if (!cuda_ok(cudaEventSynchronize(e1), "the timed call") || !cuda_ok(cudaDeviceSynchronize(), "the device"))
		return -1;
	float f = 0;
	cudaEventElapsedTime(&f, e0, e1);
	*ms = f;
	return rc;
}
