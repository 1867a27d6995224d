// A region holding inline asm in a __host__ __device__ function: refused when parsed, at
// the region's marker, since no edit of it could keep the asm.
#include <cuda_runtime.h>

__host__ __device__ inline unsigned lane_bits(unsigned x)
{
	unsigned r = x;
#ifdef __CUDA_ARCH__
	// avo:region brev
	asm("brev.b32 %0, %1;" : "=r"(r) : "r"(x));
	// avo:end
#endif
	return r;
}

__global__ void rev(unsigned *out) { out[threadIdx.x] = lane_bits(threadIdx.x); }
