// avo attention harness, on avo's harness library (harness/avo_harness.h): it says how
// to make the inputs from a seed, the fp32 GPU reference and how to call the variant;
// the library poisons the output before every call, hands checked outputs to avo (which
// compares them with the reference, computed in a process that never runs the variant)
// and times the calls.
//
//   harness --b B --hq H --hkv K --s S --d D --causal 0|1
//
// Before every call the L2 cache is flushed, so each call starts with its inputs out of
// L2. The reference recomputes every query row in fp32 from the same bf16 inputs.
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <algorithm>

#include "attention.h"
#include "harness_common.cuh"
#include "avo_harness.h"

namespace {

using avo_attn_harness::fill_normal;
using avo_attn_harness::parse_int;
using avo_attn_harness::shape_arg;

using avo_attn_harness::kRefRows;
using avo_attn_harness::kRefThreads;

// The fp32 reference of one block of query rows, written to ref.
template <int D>
__global__ void __launch_bounds__(kRefThreads) reference_kernel(
    const __nv_bfloat16 *q, const __nv_bfloat16 *k, const __nv_bfloat16 *v, float *ref,
    int s, int hq, int hkv, int causal)
{
    float *rg = ref + (size_t)(blockIdx.z * hq + blockIdx.y) * s * D;
    avo_attn_harness::reference_rows<D>(q, k, v, s, hq, hkv, causal,
                                        [&](int row, int d, float x) { rg[(size_t)row * D + d] = x; });
}

struct Attn {
    avo_attention_params p;
    __nv_bfloat16 *q, *k, *v;
    size_t nq, nkv;
    void *flush;
    size_t flush_bytes;
    unsigned flush_round;
};

bool cuda_ok(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return true;
    fprintf(stderr, "harness: %s: %s\n", what, cudaGetErrorString(e));
    return false;
}

int make_inputs(void *u, uint64_t seed)
{
    Attn *a = static_cast<Attn *>(u);
    fill_normal<<<1024, 256>>>(a->q, a->nq, seed * 3 + 1);
    fill_normal<<<1024, 256>>>(a->k, a->nkv, seed * 3 + 2);
    fill_normal<<<1024, 256>>>(a->v, a->nkv, seed * 3 + 3);
    return cuda_ok(cudaGetLastError(), "fill_normal") ? 0 : -1;
}

int reference(void *u, float *ref)
{
    const Attn *a = static_cast<const Attn *>(u);
    const avo_attention_params &p = a->p;
    const dim3 grid((unsigned)((p.s + kRefRows - 1) / kRefRows), (unsigned)p.hq, (unsigned)p.b);
    if (p.d == 256)
        reference_kernel<256><<<grid, kRefThreads>>>(a->q, a->k, a->v, ref, p.s, p.hq, p.hkv, p.causal);
    else if (p.d == 128)
        reference_kernel<128><<<grid, kRefThreads>>>(a->q, a->k, a->v, ref, p.s, p.hq, p.hkv, p.causal);
    else
        reference_kernel<64><<<grid, kRefThreads>>>(a->q, a->k, a->v, ref, p.s, p.hq, p.hkv, p.causal);
    return cuda_ok(cudaGetLastError(), "reference") ? 0 : -1;
}

int prepare(void *u)
{
    Attn *a = static_cast<Attn *>(u);
    return cuda_ok(cudaMemsetAsync(a->flush, (int)(a->flush_round++ & 0xff), a->flush_bytes, 0), "L2 flush")
               ? 0 : -1;
}

int call(void *u, void *out)
{
    Attn *a = static_cast<Attn *>(u);
    a->p.o = out;
    const int rc = avo_attention_forward(&a->p, 0);
    if (rc != 0)
        fprintf(stderr, "harness: avo_attention_forward (%s) returned %d: %s\n", avo_attention_variant(), rc,
                rc == AVO_ATTENTION_EINVAL ? "unsupported arguments" : cudaGetErrorString(cudaGetLastError()));
    return rc;
}

int usage()
{
    fprintf(stderr, "usage: harness --b B --hq H --hkv K --s S --d D --causal 0|1\n");
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    long b = -1, hq = -1, hkv = -1, s = -1, d = -1, causal = -1;
    long *const shape[6] = {&b, &hq, &hkv, &s, &d, &causal};
    for (int i = 1; i < argc; ++i) {
        if (i + 1 >= argc)
            return usage();
        const char *a = argv[i], *v = argv[++i];
        if (!shape_arg(a, v, shape)) {
            fprintf(stderr, "harness: unknown option '%s'\n", a);
            return usage();
        }
    }
    if (b < 1 || hq < 1 || hkv < 1 || s < 1 || (d != 64 && d != 128 && d != 256) || causal < 0 || causal > 1 ||
        hq % hkv != 0) {
        fprintf(stderr, "harness: need b,hq,hkv,s >= 1, hq %% hkv == 0, d 64|128|256, causal 0|1\n");
        return 2;
    }
    Attn a;
    memset(&a, 0, sizeof a);
    a.nq = (size_t)b * hq * s * d;
    a.nkv = (size_t)b * hkv * s * d;
    int dev = 0;
    cudaDeviceProp prop;
    if (!cuda_ok(cudaGetDevice(&dev), "device") || !cuda_ok(cudaGetDeviceProperties(&prop, dev), "device"))
        return 2;
    a.flush_bytes = std::max<size_t>(2 * (size_t)prop.l2CacheSize, 256u << 20);
    if (!cuda_ok(cudaMalloc(&a.q, a.nq * 2), "cudaMalloc") || !cuda_ok(cudaMalloc(&a.k, a.nkv * 2), "cudaMalloc") ||
        !cuda_ok(cudaMalloc(&a.v, a.nkv * 2), "cudaMalloc") ||
        !cuda_ok(cudaMalloc(&a.flush, a.flush_bytes), "cudaMalloc"))
        return 2;
    a.p.q = a.q;
    a.p.k = a.k;
    a.p.v = a.v;
    a.p.b = (int)b;
    a.p.hq = (int)hq;
    a.p.hkv = (int)hkv;
    a.p.s = (int)s;
    a.p.d = (int)d;
    a.p.causal = (int)causal;

    avo_harness h = AVO_HARNESS_INIT;
    h.user = &a;
    h.out_count = a.nq;
    h.out_type = AVO_HARNESS_BF16;
    h.flops = 4.0 * b * hq * (double)s * s * d / (causal ? 2 : 1);
    h.inputs = make_inputs;
    h.reference = reference;
    h.call = call;
    h.prepare = prepare;
    const int rc = avo_harness_main(&h);
    cudaFree(a.q);
    cudaFree(a.k);
    cudaFree(a.v);
    cudaFree(a.flush);
    return rc;
}
