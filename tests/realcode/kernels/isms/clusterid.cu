// %clusterid in inline PTX with operands: nvcc takes the single %, clang wants %%. Outside
// the marked code this is a warning (the parse is still usable), not a refusal.
#include <cuda_runtime.h>

#define VEC 2 // avo:knob 1 2

__device__ unsigned cluster_id()
{
	unsigned r;
	asm volatile("mov.u32 %0, %clusterid.x;" : "=r"(r));
	return r;
}

__global__ void tag(unsigned *out)
{
	// avo:region body
	out[threadIdx.x] = cluster_id() * VEC;
	// avo:end
}
