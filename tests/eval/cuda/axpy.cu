/* out = a * x + y; the test kernel of tests/eval (see axpy.h). */
#include "axpy.h"

#include <cuda_runtime.h>

#define BLOCK 256 // avo:knob 128 256 512

__global__ void axpy_kernel(float a, const float *x, const float *y, float *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		// avo:region body
		out[i] = a * x[i] + y[i];
		// avo:end
	}
}

int avo_test_axpy(float a, const float *x, const float *y, float *out, int n)
{
	axpy_kernel<<<(n + BLOCK - 1) / BLOCK, BLOCK>>>(a, x, y, out, n);
	return (int)cudaGetLastError();
}
