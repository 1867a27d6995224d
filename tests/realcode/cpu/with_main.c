/* Pattern from real code (written for avo's tests): a kernel file that carries its own main(),
 * as CUDA samples do, guarded so avo can link it with the harness. */
#include <math.h>
#include <stddef.h>

#define CHUNK 2 // avo:knob 1 2 4 8

int avo_cpu_attention(const float *q, const float *k, const float *v, float *o, int sq, int sk, int d,
		      int causal)
{
	if (d <= 0 || d > 256 || sq <= 0 || sk <= 0)
		return -1;
	const float scale = 1.0f / sqrtf((float)d);
	for (int i = 0; i < sq; i++) {
		int kend = causal ? i + (sk - sq) + 1 : sk;
		kend = kend < 0 ? 0 : kend > sk ? sk : kend;
		float m = -INFINITY, l = 0.0f;
		float *oi = o + (size_t)i * d;
		for (int c = 0; c < d; c++)
			oi[c] = 0.0f;
		// avo:region row
		for (int j0 = 0; j0 < kend; j0 += CHUNK) {
			for (int j = j0; j < j0 + CHUNK && j < kend; j++) {
				float s = 0.0f;
				for (int c = 0; c < d; c++)
					s += q[(size_t)i * d + c] * k[(size_t)j * d + c];
				s *= scale;
				const float mn = s > m ? s : m, a = expf(m - mn), p = expf(s - mn);
				l = l * a + p;
				for (int c = 0; c < d; c++)
					oi[c] = oi[c] * a + p * v[(size_t)j * d + c];
				m = mn;
			}
		}
		// avo:end
		for (int c = 0; c < d; c++)
			oi[c] = l > 0.0f ? oi[c] / l : 0.0f;
	}
	return 0;
}

#ifndef AVO_KERNEL_ONLY
#include <stdio.h>
/* The sample's own driver, as samples ship them; avo builds with -DAVO_KERNEL_ONLY. */
int main(void)
{
	float q[4] = {1, 0, 0, 1}, o[4];
	avo_cpu_attention(q, q, q, o, 2, 2, 2, 0);
	printf("%g %g\n", o[0], o[3]);
	return 0;
}
#endif
