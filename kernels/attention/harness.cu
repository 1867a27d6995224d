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

constexpr int kRefRows = 16, kRefKeys = 32, kRefThreads = 256;

// fp32 reference for kRefRows query rows of one (b, h), written to ref. Each warp
// owns rows w and w+8; lane c scores key c of the tile, so row reductions are warp
// shuffles.
template <int D>
__global__ void __launch_bounds__(kRefThreads) reference_kernel(
    const __nv_bfloat16 *q, const __nv_bfloat16 *k, const __nv_bfloat16 *v, float *ref,
    int s, int hq, int hkv, int causal)
{
    // Inputs stay bf16 in shared memory (exact: they are bf16), so D = 256 fits in 48 KB.
    __shared__ __nv_bfloat16 s_q[kRefRows][D];
    __shared__ __nv_bfloat16 s_k[kRefKeys][D + 2];
    __shared__ __nv_bfloat16 s_v[kRefKeys][D];
    __shared__ float s_p[kRefRows][kRefKeys];
    __shared__ float s_alpha[kRefRows], s_l[kRefRows];

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int h = blockIdx.y, b = blockIdx.z, r0 = blockIdx.x * kRefRows;
    const int hk = h / (hq / hkv);
    const __nv_bfloat16 *qg = q + (size_t)(b * hq + h) * s * D;
    const __nv_bfloat16 *kg = k + (size_t)(b * hkv + hk) * s * D;
    const __nv_bfloat16 *vg = v + (size_t)(b * hkv + hk) * s * D;
    float *rg = ref + (size_t)(b * hq + h) * s * D;
    const float scale = 1.f / sqrtf((float)D);

    for (int i = tid; i < kRefRows * D; i += kRefThreads) {
        const int r = i / D, c = i % D;
        s_q[r][c] = r0 + r < s ? qg[(size_t)(r0 + r) * D + c] : __float2bfloat16(0.f);
    }
    constexpr int kRowsPerThread = kRefRows * D / kRefThreads;
    const int my_d = tid % D, my_r = tid / D;          // rows my_r + i * (kRefThreads / D)
    float acc[kRowsPerThread];
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) acc[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    const int last_row = min(s, r0 + kRefRows) - 1;
    const int n_keys = causal ? last_row + 1 : s;
    for (int k0 = 0; k0 < n_keys; k0 += kRefKeys) {
        __syncthreads();
        for (int i = tid; i < kRefKeys * D; i += kRefThreads) {
            const int r = i / D, c = i % D;
            const bool in = k0 + r < s;
            s_k[r][c] = in ? kg[(size_t)(k0 + r) * D + c] : __float2bfloat16(0.f);
            s_v[r][c] = in ? vg[(size_t)(k0 + r) * D + c] : __float2bfloat16(0.f);
        }
        __syncthreads();
        for (int rr = 0; rr < 2; ++rr) {
            const int r = warp + 8 * rr, row = r0 + r, key = k0 + lane;
            float dot = 0.f;
            for (int c = 0; c < D; ++c) dot = fmaf(__bfloat162float(s_q[r][c]), __bfloat162float(s_k[lane][c]), dot);
            float sc = dot * scale;
            if (key >= s || (causal && key > row)) sc = -INFINITY;
            float mx = sc;
            for (int off = 16; off; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
            const float m_new = fmaxf(m[rr], mx);
            // A row past the end of seq, or with no key yet, keeps m = -inf.
            const float p = m_new == -INFINITY ? 0.f : expf(sc - m_new);
            const float alpha = m_new == -INFINITY ? 1.f : expf(m[rr] - m_new);
            float sum = p;
            for (int off = 16; off; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
            m[rr] = m_new;
            l[rr] = l[rr] * alpha + sum;
            s_p[r][lane] = p;
            if (lane == 0) s_alpha[r] = alpha;
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < kRowsPerThread; ++i) {
            const int r = my_r + i * (kRefThreads / D);
            float a = acc[i] * s_alpha[r];
            for (int c = 0; c < kRefKeys; ++c) a = fmaf(s_p[r][c], __bfloat162float(s_v[c][my_d]), a);
            acc[i] = a;
        }
    }
    if (lane == 0) {
        s_l[warp] = l[0];
        s_l[warp + 8] = l[1];
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
        const int r = my_r + i * (kRefThreads / D), row = r0 + r;
        if (row < s)
            rg[(size_t)row * D + my_d] = acc[i] / s_l[r];
    }
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
    for (int i = 1; i < argc; ++i) {
        if (i + 1 >= argc)
            return usage();
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--b")) b = parse_int(a, v);
        else if (!strcmp(a, "--hq")) hq = parse_int(a, v);
        else if (!strcmp(a, "--hkv")) hkv = parse_int(a, v);
        else if (!strcmp(a, "--s")) s = parse_int(a, v);
        else if (!strcmp(a, "--d")) d = parse_int(a, v);
        else if (!strcmp(a, "--causal")) causal = parse_int(a, v);
        else {
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
