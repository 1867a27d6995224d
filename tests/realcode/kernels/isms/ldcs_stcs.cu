// nvcc declares __ldcs/__stcs for every vector type; clang 19 only sees CUDA's bf16/fp16
// overloads, so a float4 call finds "no matching function" without avo's prelude.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#define VEC 4 // avo:knob 1 2 4

__global__ void stream_copy(float4 *out, const float4 *in, int4 *tags, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	// avo:region copy
	float4 v = __ldcs(in + i);
	__stcs(out + i, v);
	__stcs(tags + i, make_int4(i, VEC, 0, 0));
	// avo:end
}
