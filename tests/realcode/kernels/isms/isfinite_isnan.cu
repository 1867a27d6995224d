// isfinite/isnan from <math.h> called in device code: nvcc maps them to its device
// builtins; clang's device pass must see them as device functions.
#include <cuda_runtime.h>
#include <math.h>

#define CLAMP 1 // avo:knob 0 1

__global__ void clean(float *x, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	// avo:region body
	float v = x[i];
	if (!isfinite(v) || isnan(v))
		v = CLAMP ? 0.f : v;
	x[i] = v;
	// avo:end
}
