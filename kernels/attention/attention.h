/* avo attention: forward scaled-dot-product attention, bf16 in and out.
 * Layout [batch, heads, seq, dim], contiguous. Query head h reads KV head
 * h / (hq / hkv) (MHA when hq == hkv, GQA otherwise). Softmax scale 1/sqrt(d).
 * The variant (attention.cu or attention_sm90.cu) exports the entry point; the
 * harness and the benchmark call only this. */
#ifndef AVO_ATTENTION_H
#define AVO_ATTENTION_H

#include <cuda_runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct avo_attention_params {
    const void *q; /* bf16 [b, hq,  s, d], device memory, caller owns */
    const void *k; /* bf16 [b, hkv, s, d] */
    const void *v; /* bf16 [b, hkv, s, d] */
    void *o;       /* bf16 [b, hq,  s, d], written in full */
    int b, hq, hkv, s, d;
    int causal;    /* 1: query i sees keys 0..i */
} avo_attention_params;

#define AVO_ATTENTION_EINVAL (-1) /* shape or argument this variant does not support */
#define AVO_ATTENTION_ECUDA (-2)  /* launch failed; cudaPeekAtLastError() has the cause */

/* Enqueues the forward pass on stream; returns 0 or AVO_ATTENTION_E*. */
int avo_attention_forward(const avo_attention_params *p, cudaStream_t stream);

/* The kernel avo_attention_forward would run for p on a device of compute capability
 * cc (major * 10 + minor), or NULL when it serves neither (static storage). Pure host
 * logic: no CUDA call, so it can be checked without a GPU. */
const char *avo_attention_kernel_for(const avo_attention_params *p, int cc);

/* Short name of the variant (for logs), static storage. */
const char *avo_attention_variant(void);

#ifdef __cplusplus
}
#endif

#endif
