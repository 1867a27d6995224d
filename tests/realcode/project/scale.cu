// A CUDA kernel that parses only with what the project passes it: FROM_GENEX comes from a
// $<$<COMPILE_LANGUAGE:CUDA>:...> option, FROM_CUDA_FLAGS from CMAKE_CUDA_FLAGS, and
// `if constexpr` needs the C++17 of cuda_std_17. It also holds the nvcc-isms avo's CUDA
// prelude covers (__ldcs/__stcs on float4, host max, narrowing). Written for avo's tests.
#include <cuda_runtime.h>
#if !defined(FROM_GENEX) || !defined(FROM_CUDA_FLAGS)
#error "the project's CUDA flags did not reach this file"
#endif

#define BLOCK 256 // avo:knob 128 256 512

template <int V> __device__ float4 scaled(float4 x)
{
	if constexpr (V > 1)
		return make_float4(x.x * V, x.y * V, x.z * V, x.w * V);
	else
		return x;
}

__global__ void scale4(float4 *out, const float4 *in, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	// avo:region body
	float4 v = __ldcs(in + i);
	__stcs(out + i, scaled<2>(v));
	// avo:end
}

extern "C" int avo_scale4(float4 *out, const float4 *in, int n)
{
	unsigned blocks = {(n + BLOCK - 1) / BLOCK}; // narrowing nvcc accepts
	scale4<<<max((int)blocks, 1), BLOCK>>>(out, in, n);
	return cudaGetLastError() == cudaSuccess ? 0 : -1;
}
