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

static int mem_copy(void *dst, const void *src, size_t n)
{
	return cuda_ok(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToDevice), "copy on the device") ? 0 : -1;
}

static void dev_sync(void) { cuda_ok(cudaDeviceSynchronize(), "the device"); }

#include "avo_harness_proto.h"

// avo_harness_digest of n bytes of device memory (cudaMalloc'd: 8-byte aligned).
__global__ void avo_harness_digest_kernel(const unsigned char *p, size_t n, unsigned long long *sum)
{
	unsigned long long acc = 0;
	const size_t words = (n + 7) / 8;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < words; i += (size_t)gridDim.x * blockDim.x) {
		uint64_t w = 0;
		if ((i + 1) * 8 <= n)
			w = reinterpret_cast<const uint64_t *>(p)[i];
		else
			for (size_t b = 0; i * 8 + b < n; b++)
				w |= (uint64_t)p[i * 8 + b] << (8 * b);
		acc += avo_harness_digest_word(w, i);
	}
	for (int off = 16; off; off >>= 1)
		acc += __shfl_xor_sync(0xffffffffu, acc, off);
	if ((threadIdx.x & 31) == 0)
		atomicAdd(sum, acc);
}

static int mem_digest(const void *p, size_t n, uint64_t *out)
{
	static unsigned long long *sum;
	if (!sum && !cuda_ok(cudaMalloc(&sum, sizeof(*sum)), "cudaMalloc"))
		return -1;
	unsigned long long h = 0;
	if (!cuda_ok(cudaMemset(sum, 0, sizeof(*sum)), "cudaMemset"))
		return -1;
	avo_harness_digest_kernel<<<1024, 256>>>((const unsigned char *)p, n, sum);
	if (!cuda_ok(cudaGetLastError(), "the digest") || !cuda_ok(cudaMemcpy(&h, sum, sizeof(h), cudaMemcpyDeviceToHost), "the digest"))
		return -1;
	*out = h;
	return 0;
}

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
