// Narrowing in initializer lists: nvcc warns, clang refuses by default.
#include <cuda_runtime.h>

#define PER 128 // avo:knob 64 128 256

__global__ void count(int *out, int n)
{
	// avo:region body
	unsigned m[1] = {n / PER};
	out[0] = (int)m[0];
	// avo:end
}

int blocks_for(int n)
{
	unsigned b[1] = {n / PER};
	return (int)b[0];
}
