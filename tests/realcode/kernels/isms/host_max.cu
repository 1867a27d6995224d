// max()/min() called from host code: nvcc's math_functions.hpp has host overloads; clang's
// are device-only.
#include <cuda_runtime.h>

#define BLOCK 256 // avo:knob 128 256

__global__ void fill(float *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	// avo:region body
	if (i < n)
		out[i] = 1.0f;
	// avo:end
}

int launch_fill(float *out, int n)
{
	fill<<<max((n + BLOCK - 1) / BLOCK, 1), BLOCK>>>(out, n);
	return min((int)cudaGetLastError(), 1);
}
