// What both attention harnesses (harness.cu on avo's library, harness_legacy.cu kept to
// compare with it) share: the same inputs from a seed, the same fp32 reference, and the
// same argument parsing.
#ifndef AVO_ATTENTION_HARNESS_COMMON_CUH
#define AVO_ATTENTION_HARNESS_COMMON_CUH

#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace avo_attn_harness {
namespace { // each harness is one translation unit

__device__ __forceinline__ uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

// Standard normal values (Box-Muller on a counter hash), like torch.randn.
__global__ void fill_normal(__nv_bfloat16 *x, size_t n, uint64_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const uint64_t r = mix64(seed ^ mix64(i + 0x9e3779b97f4a7c15ull));
        const float u1 = ((r >> 40) + 1) * (1.0f / 16777217.0f); // (0, 1]
        const float u2 = ((r >> 16) & 0xffffff) * (1.0f / 16777216.0f);
        x[i] = __float2bfloat16(sqrtf(-2.f * logf(u1)) * cospif(2.f * u2));
    }
}

constexpr int kRefRows = 16, kRefKeys = 32, kRefThreads = 256;

// The fp32 reference of kRefRows query rows of one (b = blockIdx.z, h = blockIdx.y), from
// row blockIdx.x * kRefRows: calls emit(row, d, value) for each output element this
// thread owns (rows < s only). Run by all kRefThreads threads of the block. Each warp owns
// rows w and w+8; lane c scores key c of the tile, so row reductions are warp shuffles.
// Inputs stay bf16 in shared memory (exact: they are bf16), so D = 256 fits in 48 KB.
template <int D, typename Emit>
__device__ void reference_rows(const __nv_bfloat16 *q, const __nv_bfloat16 *k, const __nv_bfloat16 *v,
                               int s, int hq, int hkv, int causal, Emit emit)
{
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
            emit(row, my_d, acc[i] / s_l[r]);
    }
}

long parse_int(const char *name, const char *v)
{
    char *end = nullptr;
    const long x = strtol(v, &end, 10);
    if (!*v || *end || x < 0 || x > (1l << 30)) {
        fprintf(stderr, "harness: bad value for %s: '%s'\n", name, v);
        exit(2);
    }
    return x;
}

// One of the shape options both harnesses take: parsed into its slot of `shape` (--b,
// --hq, --hkv, --s, --d, --causal, in that order), true; false when `a` is none of them.
bool shape_arg(const char *a, const char *v, long *const shape[6])
{
    static const char *const names[6] = {"--b", "--hq", "--hkv", "--s", "--d", "--causal"};
    for (int i = 0; i < 6; ++i)
        if (!strcmp(a, names[i])) {
            *shape[i] = parse_int(a, v);
            return true;
        }
    return false;
}

} // namespace
} // namespace avo_attn_harness

#endif
