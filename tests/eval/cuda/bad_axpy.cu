/* A wrong variant of axpy.cu (drops y) for the CUDA test. */
#include "axpy.h"

#include <cuda_runtime.h>

__global__ void axpy_kernel(float a, const float *x, const float *y, float *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = a * x[i] + 0.0f * y[i];
}

int avo_test_axpy(float a, const float *x, const float *y, float *out, int n)
{
	axpy_kernel<<<(n + 255) / 256, 256>>>(a, x, y, out, n);
	return (int)cudaGetLastError();
}
