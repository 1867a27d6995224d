/* Test variant of kernels/cpu/attention.c: does not compile (an undeclared name). */
#include "attention.h"

int avo_cpu_attention(const float *q, const float *k, const float *v, float *o, int sq, int sk,
		      int d, int causal)
{
	(void)q, (void)k, (void)v, (void)o, (void)sq, (void)sk, (void)d, (void)causal;
	return undeclared_tile_size;
}
