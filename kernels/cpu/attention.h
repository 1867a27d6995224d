/* The CPU example kernel of avo: single-head attention forward in float32.
 *
 *   O = softmax(Q K^T / sqrt(d)) V      Q, O: [sq x d]; K, V: [sk x d]; row-major
 *
 * With `causal`, query row i attends to key rows j <= i + (sk - sq) (aligned at the bottom
 * right, as FlashAttention does); a row that sees no key is written as zeros.
 * Returns 0, or -1 when d is not in 1..AVO_ATTN_MAX_D or a size is not positive.
 * The variant (attention.c) exports this; the harness (harness.c) calls it. */
#ifndef AVO_CPU_ATTENTION_H
#define AVO_CPU_ATTENTION_H

#define AVO_ATTN_MAX_D 256

int avo_cpu_attention(const float *q, const float *k, const float *v, float *o, int sq, int sk,
		      int d, int causal);

#endif
