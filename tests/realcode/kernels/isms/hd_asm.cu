// Inline asm in a __host__ __device__ function, under __CUDA_ARCH__ as real code writes it.
// Outside the marks it parses; a region around it is refused (hd_asm_region.cu), since
// region asm is allowed only in device-only functions.
#include <cuda_runtime.h>

#define SHIFT 1 // avo:knob 0 1 2

__host__ __device__ inline unsigned lane_bits(unsigned x)
{
#ifdef __CUDA_ARCH__
	unsigned r;
	asm("brev.b32 %0, %1;" : "=r"(r) : "r"(x));
	return r;
#else
	return x;
#endif
}

__global__ void rev(unsigned *out)
{
	// avo:region body
	out[threadIdx.x] = lane_bits(threadIdx.x) >> SHIFT;
	// avo:end
}
