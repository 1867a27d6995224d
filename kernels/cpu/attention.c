/* Single-head attention forward, float32 (see attention.h): a FlashAttention-style loop on
 * the CPU. A tile of TILE_Q query rows walks the keys TILE_K at a time with an online
 * softmax, so the scores of a tile never leave a small stack buffer. The regions and knobs
 * below are what avo may change; the defaults are a plain starting point, not tuned. */
#include "attention.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define TILE_Q 16 // avo:knob 4 8 16 32
#define TILE_K 64 // avo:knob 16 32 64 128
#define UNROLL 1 // avo:knob 1 2 4 8

int avo_cpu_attention(const float *q, const float *k, const float *v, float *o, int sq, int sk,
		      int d, int causal)
{
	if (d <= 0 || d > AVO_ATTN_MAX_D || sq <= 0 || sk <= 0)
		return -1;
	const float scale = 1.0f / sqrtf((float)d);
	const int shift = sk - sq; /* causal: row i sees keys j <= i + shift */
	float s[TILE_Q][TILE_K];
	float m[TILE_Q], l[TILE_Q];
	float acc[TILE_Q][AVO_ATTN_MAX_D];

	for (int q0 = 0; q0 < sq; q0 += TILE_Q) {
		const int nq = sq - q0 < TILE_Q ? sq - q0 : TILE_Q;
		for (int i = 0; i < nq; i++) {
			m[i] = -INFINITY;
			l[i] = 0.0f;
			memset(acc[i], 0, sizeof(float) * (size_t)d);
		}
		int kend = causal ? q0 + nq + shift : sk; /* keys past this are masked for the whole tile */
		if (kend > sk)
			kend = sk;
		for (int k0 = 0; k0 < kend; k0 += TILE_K) {
			const int nk = kend - k0 < TILE_K ? kend - k0 : TILE_K;
			// avo:region scores
			for (int i = 0; i < nq; i++) {
				const float *qi = q + (size_t)(q0 + i) * (size_t)d;
				for (int j = 0; j < nk; j++) {
					const float *kj = k + (size_t)(k0 + j) * (size_t)d;
					float dot[UNROLL] = {0};
					int c = 0;
					for (; c + UNROLL <= d; c += UNROLL)
						for (int u = 0; u < UNROLL; u++)
							dot[u] += qi[c + u] * kj[c + u];
					float sum = 0.0f;
					for (int u = 0; u < UNROLL; u++)
						sum += dot[u];
					for (; c < d; c++)
						sum += qi[c] * kj[c];
					s[i][j] = causal && k0 + j > q0 + i + shift ? -INFINITY : sum * scale;
				}
			}
			// avo:end
			// avo:region softmax
			for (int i = 0; i < nq; i++) {
				float mx = m[i];
				for (int j = 0; j < nk; j++)
					mx = fmaxf(mx, s[i][j]);
				if (mx == -INFINITY) { /* nothing visible yet in this row */
					for (int j = 0; j < nk; j++)
						s[i][j] = 0.0f;
					continue;
				}
				const float corr = expf(m[i] - mx); /* 0 on the first visible tile */
				float sum = 0.0f;
				for (int j = 0; j < nk; j++) {
					const float p = expf(s[i][j] - mx);
					s[i][j] = p;
					sum += p;
				}
				l[i] = l[i] * corr + sum;
				m[i] = mx;
				for (int c = 0; c < d; c++)
					acc[i][c] *= corr;
			}
			// avo:end
			// avo:region pv
			for (int i = 0; i < nq; i++) {
				for (int j = 0; j < nk; j++) {
					const float p = s[i][j];
					const float *vj = v + (size_t)(k0 + j) * (size_t)d;
					for (int c = 0; c < d; c++)
						acc[i][c] += p * vj[c];
				}
			}
			// avo:end
		}
		for (int i = 0; i < nq; i++) {
			const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
			float *oi = o + (size_t)(q0 + i) * (size_t)d;
			for (int c = 0; c < d; c++)
				oi[c] = acc[i][c] * inv;
		}
	}
	return 0;
}
