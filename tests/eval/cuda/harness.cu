/* Harness of the CUDA test kernel (axpy.cu), on avo's harness library:
 *   harness --n N
 * Inputs uniform in [-1, 1] from avo's seed, a double-precision reference computed on the
 * host and copied to the device; the library does the rest. */
#include "axpy.h"
#include "avo_harness.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct Axpy {
	int n;
	float a;
	std::vector<float> x, y;
	float *dx, *dy;
};

int inputs(void *u, uint64_t seed)
{
	Axpy *p = static_cast<Axpy *>(u);
	for (int i = 0; i < p->n; i++) {
		p->x[i] = avo_harness_uniform(&seed);
		p->y[i] = avo_harness_uniform(&seed);
	}
	size_t bytes = sizeof(float) * (size_t)p->n;
	return cudaMemcpy(p->dx, p->x.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess &&
	       cudaMemcpy(p->dy, p->y.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess ? 0 : -1;
}

int reference(void *u, float *ref)
{
	Axpy *p = static_cast<Axpy *>(u);
	std::vector<float> r(p->n);
	for (int i = 0; i < p->n; i++)
		r[i] = (float)((double)p->a * p->x[i] + p->y[i]);
	return cudaMemcpy(ref, r.data(), sizeof(float) * (size_t)p->n, cudaMemcpyHostToDevice) == cudaSuccess ? 0 : -1;
}

int call(void *u, void *out)
{
	Axpy *p = static_cast<Axpy *>(u);
	return avo_test_axpy(p->a, p->dx, p->dy, static_cast<float *>(out), p->n);
}

} // namespace

int main(int argc, char **argv)
{
	Axpy p;
	p.n = 1 << 20;
	p.a = 1.5f;
	for (int i = 1; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--n"))
			p.n = atoi(argv[i + 1]);
	if (p.n <= 0)
		return 2;
	p.x.resize(p.n);
	p.y.resize(p.n);
	if (cudaMalloc(&p.dx, sizeof(float) * (size_t)p.n) != cudaSuccess ||
	    cudaMalloc(&p.dy, sizeof(float) * (size_t)p.n) != cudaSuccess)
		return 2;
	avo_harness h = AVO_HARNESS_INIT;
	h.user = &p;
	h.out_count = (size_t)p.n;
	h.flops = 2.0 * p.n;
	h.inputs = inputs;
	h.reference = reference;
	h.call = call;
	int rc = avo_harness_main(&h);
	cudaFree(p.dx);
	cudaFree(p.dy);
	return rc;
}
