// Patterns from real CUDA code (written for avo's tests) that nvcc compiles and clang 19
// refuses without avo's CUDA prelude: __ldcs/__stcs on vector types next to CUDA's bf16
// overloads, max() in host code, narrowing in initializer lists; and one it cannot fix,
// %clusterid in inline PTX (clang wants %%), which outside the marked code is a warning.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>

#define VEC 4 // avo:knob 1 2 4

__device__ unsigned cluster_id()
{
	unsigned r;
	asm volatile("mov.u32 %0, %clusterid.x;" : "=r"(r));
	return r;
}

__global__ void stream_copy(float4 *out, const float4 *in, int4 *tags, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	// avo:region copy
	float4 v = __ldcs(in + i);
	if (!isfinite(v.x) || isnan(v.y))
		v.x = 0.f;
	__stcs(out + i, v);
	int4 t = {i, i + 1, VEC, (int)cluster_id()};
	__stcs(tags + i, t);
	// avo:end
}

int blocks_for(int n, int per)
{
	unsigned b[1] = {n / per}; // narrowing: nvcc warns, clang refuses by default
	return max((int)b[0], 1);   // host max: nvcc's math_functions.hpp
}
