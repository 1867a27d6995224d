// What both attention harnesses (harness.cu on avo's library, harness_legacy.cu kept to
// compare with it) share: the same inputs from a seed, and the same argument parsing.
#ifndef AVO_ATTENTION_HARNESS_COMMON_CUH
#define AVO_ATTENTION_HARNESS_COMMON_CUH

#include <cuda_bf16.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

} // namespace
} // namespace avo_attn_harness

#endif
