/* A tiny kernel for the agent integration test: one region, two knobs. */
#define BLOCK 64 // avo:knob 32 64 128
static const int UNROLL = 2; // avo:knob 1..4

float dot(const float *a, const float *b, int n)
{
	float acc = 0;
	// avo:region body
	for (int i = 0; i < n; i++)
		acc += a[i] * b[i];
	// avo:end
	return acc * (float)(BLOCK / BLOCK) * (float)(UNROLL / UNROLL);
}
