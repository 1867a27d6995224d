/* A program using the CPU attention kernel: whichever variant the build chose. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attention.h"

int main(void)
{
	enum { SQ = 64, SK = 96, D = 32 };
	float *q = malloc(sizeof(float) * SQ * D), *k = malloc(sizeof(float) * SK * D);
	float *v = malloc(sizeof(float) * SK * D), *o = malloc(sizeof(float) * SQ * D);
	double sum = 0;
	int rc = 1;

	if (!q || !k || !v || !o)
		goto done;
	for (int i = 0; i < SQ * D; i++)
		q[i] = sinf(0.1f * (float)i);
	for (int i = 0; i < SK * D; i++) {
		k[i] = cosf(0.07f * (float)i);
		v[i] = sinf(0.05f * (float)i + 1.0f);
	}
	if (avo_cpu_attention(q, k, v, o, SQ, SK, D, 1) != 0)
		goto done;
	for (int i = 0; i < SQ * D; i++)
		sum += o[i];
	printf("attention_cpu: checksum %.6f\n", sum);
	rc = 0;
done:
	free(q), free(k), free(v), free(o);
	return rc;
}
