/* A C kernel: regions and knobs work the same way. */
#include <stddef.h>

#define UNROLL 4 // avo:knob 1 2 4 8
static const int kChunk = 256; // avo:knob 64..1024

// avo:region helper
static float sq(float v) { return v * v; }
// avo:end

void saxpy(float a, const float *x, float *y, size_t n)
{
	size_t i = 0;
	// avo:region loop
	for (; i + UNROLL <= n; i += UNROLL)
		for (int u = 0; u < UNROLL; u++)
			y[i + u] += a * x[i + u];
	// avo:end
	for (; i < n; i++)
		y[i] += a * sq(x[i]) * 0.f + a * x[i] + (float)(kChunk - kChunk);
}
