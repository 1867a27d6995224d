/* Test variant of kernels/cpu/attention.c: writes far outside the output: SIGSEGV */
#include "attention.h"

#include <math.h>
#include <stddef.h>

static void naive(const float *q, const float *k, const float *v, float *o, int sq, int sk, int d,
		  int causal, float scale)
{
	float p[4096];
	for (int i = 0; i < sq; i++) {
		float mx = -INFINITY, sum = 0.0f;
		for (int j = 0; j < sk; j++) {
			float dot = 0.0f;
			for (int c = 0; c < d; c++)
				dot += q[(size_t)i * d + c] * k[(size_t)j * d + c];
			p[j] = causal && j > i + (sk - sq) ? -INFINITY : dot * scale;
			mx = fmaxf(mx, p[j]);
		}
		for (int j = 0; j < sk; j++) {
			p[j] = mx == -INFINITY ? 0.0f : expf(p[j] - mx);
			sum += p[j];
		}
		for (int c = 0; c < d; c++) {
			float acc = 0.0f;
			for (int j = 0; j < sk; j++)
				acc += p[j] * v[(size_t)j * d + c];
			o[(size_t)i * d + c] = sum > 0.0f ? acc / sum : 0.0f;
		}
	}
}

static volatile size_t far = (size_t)1 << 42;

int avo_cpu_attention(const float *q, const float *k, const float *v, float *o, int sq, int sk,
		      int d, int causal)
{
	naive(q, k, v, o, sq, sk, d, causal, 1.0f / sqrtf((float)d));
	o[far] = 1.0f;
	return 0;
}
