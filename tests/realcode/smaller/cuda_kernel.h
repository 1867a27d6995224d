// A CUDA kernel in a .h file (as header-only libraries name them): C by its extension, CUDA
// with --language cuda or the spec's "language" (issue 17 point 6). Written for avo's tests.
#pragma once
#define WIDTH 64 // avo:knob 32 64 128

__global__ void fill(float *o)
{
	// avo:region body
	o[blockIdx.x * WIDTH + threadIdx.x] = 1.0f;
	// avo:end
}
