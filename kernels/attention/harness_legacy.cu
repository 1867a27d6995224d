// avo attention harness: checks a variant of avo_attention_forward against an
// fp32 GPU reference on fresh random inputs and times it.
//
//   harness --b B --hq H --hkv K --s S --d D --causal 0|1 [--iters N] [--tol T] [--hold-ms M]
//
// Every query row of the output is checked (no sampling): the reference kernel
// recomputes each row in fp32 from the same bf16 inputs. The output is poisoned
// with NaN first, so an element the variant never wrote fails the check. After
// timing, the first inputs are made again and the output must equal the first bit
// for bit (a race shows up as a difference). Last stdout line: one JSON object.
//
// Timing measures what the library harness (harness.cu on harness/avo_harness_cuda.cu)
// measures, step for step, so the two protocols' fitness can be compared
// (bench/results/harness-h200/README.md): every warm-up and timed call gets fresh inputs
// from a new seed, a poisoned output and an L2 flush, then the device is synchronised and
// the call alone is timed between events, then its output is read once (the library's
// digest); the median of 20 timed calls (the mean of the middle two). Before them, as avo
// does after the checked call (engine/proto_avoh.c, "warm hold"), untimed calls of the same
// sequence keep the device busy for --hold-ms (500) and at least 3 calls (at most 256), so
// the timed calls start in the sustained, power-limited state, not with power to spare.
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <unistd.h>
#include <algorithm>
#include <vector>

#include "attention.h"
#include "harness_common.cuh"

#define CHECK(call)                                                                          \
    do {                                                                                     \
        cudaError_t err_ = (call);                                                           \
        if (err_ != cudaSuccess) {                                                           \
            fprintf(stderr, "harness: %s:%d: %s: %s\n", __FILE__, __LINE__, #call,          \
                    cudaGetErrorString(err_));                                               \
            exit(2);                                                                         \
        }                                                                                    \
    } while (0)

#define CHECK_LAUNCH() CHECK(cudaGetLastError())

namespace {

using avo_attn_harness::fill_normal;
using avo_attn_harness::parse_int;
using avo_attn_harness::shape_arg;

struct ErrStats {
    double sum_sq_diff, sum_sq_ref;
    unsigned int max_diff_bits, max_ref_bits; // non-negative floats order as ints
    unsigned long long bad;                   // non-finite outputs
};

using avo_attn_harness::kRefRows;
using avo_attn_harness::kRefThreads;

// The fp32 reference of one block of query rows (harness_common.cuh), compared with out
// as it goes, so the reference tensor is never stored.
template <int D>
__global__ void __launch_bounds__(kRefThreads) reference_check(
    const __nv_bfloat16 *q, const __nv_bfloat16 *k, const __nv_bfloat16 *v,
    const __nv_bfloat16 *out, int s, int hq, int hkv, int causal, ErrStats *stats)
{
    __shared__ double s_red[2][kRefThreads / 32];
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const __nv_bfloat16 *og = out + (size_t)(blockIdx.z * hq + blockIdx.y) * s * D;
    double sq_diff = 0, sq_ref = 0;
    float max_diff = 0.f, max_ref = 0.f;
    unsigned long long bad = 0;
    avo_attn_harness::reference_rows<D>(q, k, v, s, hq, hkv, causal, [&](int row, int d, float ref) {
        const float got = __bfloat162float(og[(size_t)row * D + d]);
        if (!isfinite(got)) {
            ++bad;
            return;
        }
        const float diff = fabsf(got - ref);
        sq_diff += (double)diff * diff;
        sq_ref += (double)ref * ref;
        max_diff = fmaxf(max_diff, diff);
        max_ref = fmaxf(max_ref, fabsf(ref));
    });
    for (int off = 16; off; off >>= 1) {
        sq_diff += __shfl_xor_sync(0xffffffffu, sq_diff, off);
        sq_ref += __shfl_xor_sync(0xffffffffu, sq_ref, off);
        max_diff = fmaxf(max_diff, __shfl_xor_sync(0xffffffffu, max_diff, off));
        max_ref = fmaxf(max_ref, __shfl_xor_sync(0xffffffffu, max_ref, off));
        bad += __shfl_xor_sync(0xffffffffu, bad, off);
    }
    if (lane == 0) {
        s_red[0][warp] = sq_diff;
        s_red[1][warp] = sq_ref;
        atomicMax(&stats->max_diff_bits, __float_as_uint(max_diff));
        atomicMax(&stats->max_ref_bits, __float_as_uint(max_ref));
        if (bad) atomicAdd(&stats->bad, bad);
    }
    __syncthreads();
    if (tid == 0) {
        double a = 0, c = 0;
        for (int w = 0; w < kRefThreads / 32; ++w) {
            a += s_red[0][w];
            c += s_red[1][w];
        }
        atomicAdd(&stats->sum_sq_diff, a);
        atomicAdd(&stats->sum_sq_ref, c);
    }
}

// Counts elements (as 16-bit words) that differ between a and b.
__global__ void count_diff(const uint16_t *a, const uint16_t *b, size_t n, unsigned long long *out)
{
    unsigned long long c = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        c += a[i] != b[i];
    for (int off = 16; off; off >>= 1) c += __shfl_xor_sync(0xffffffffu, c, off);
    if ((threadIdx.x & 31) == 0 && c) atomicAdd(out, c);
}

// Reads every 8-byte word of the output once, as the library's per-call digest does.
__global__ void read_output(const uint64_t *p, size_t words, unsigned long long *sink)
{
    uint64_t x = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < words; i += (size_t)gridDim.x * blockDim.x)
        x += p[i] * (2 * i + 1);
    if (x == 0x5eed) atomicAdd(sink, 1ull); // never in practice: keeps the reads
}

double now_ms()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

uint64_t mix_host(uint64_t x) // the next call's seed (splitmix64, as avo's seeds)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void usage()
{
    fprintf(stderr, "usage: harness --b B --hq H --hkv K --s S --d D --causal 0|1 "
                    "[--iters N] [--tol T] [--hold-ms M]\n");
}

} // namespace

int main(int argc, char **argv)
{
    long b = -1, hq = -1, hkv = -1, s = -1, d = -1, causal = -1, iters = 20, hold_ms = 500;
    long *const shape[6] = {&b, &hq, &hkv, &s, &d, &causal};
    double tol = 2e-2;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        }
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        const char *a = argv[i], *v = argv[++i];
        if (shape_arg(a, v, shape)) continue;
        if (!strcmp(a, "--iters")) iters = parse_int(a, v);
        else if (!strcmp(a, "--hold-ms")) hold_ms = parse_int(a, v);
        else if (!strcmp(a, "--tol")) tol = atof(v);
        else {
            fprintf(stderr, "harness: unknown option '%s'\n", a);
            usage();
            return 2;
        }
    }
    if (b < 1 || hq < 1 || hkv < 1 || s < 1 || (d != 64 && d != 128) || causal < 0 || causal > 1 ||
        hq % hkv != 0 || iters < 2 || !(tol > 0)) {
        fprintf(stderr, "harness: need b,hq,hkv,s >= 1, hq %% hkv == 0, d 64|128, causal 0|1, "
                        "iters >= 2, tol > 0\n");
        return 2;
    }

    int dev = 0;
    cudaDeviceProp prop;
    CHECK(cudaGetDevice(&dev));
    CHECK(cudaGetDeviceProperties(&prop, dev));
    const size_t nq = (size_t)b * hq * s * d, nkv = (size_t)b * hkv * s * d;
    __nv_bfloat16 *q, *k, *v, *o, *o_first;
    CHECK(cudaMalloc(&q, nq * 2));
    CHECK(cudaMalloc(&k, nkv * 2));
    CHECK(cudaMalloc(&v, nkv * 2));
    CHECK(cudaMalloc(&o, nq * 2));
    CHECK(cudaMalloc(&o_first, nq * 2));
    // Written between timed runs so each run starts with inputs out of L2.
    const size_t flush_bytes = std::max<size_t>(2 * (size_t)prop.l2CacheSize, 256u << 20);
    void *flush;
    CHECK(cudaMalloc(&flush, flush_bytes));
    ErrStats *stats;
    unsigned long long *ndiff, *sink;
    CHECK(cudaMalloc(&stats, sizeof(ErrStats)));
    CHECK(cudaMalloc(&ndiff, sizeof(*ndiff)));
    CHECK(cudaMalloc(&sink, sizeof(*sink)));

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const uint64_t seed = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
                          ((uint64_t)getpid() << 32);
    // The library harness's inputs callback, then its poison (every byte 0xff: a NaN).
    auto make_inputs = [&](uint64_t sd) {
        fill_normal<<<1024, 256>>>(q, nq, sd * 3 + 1);
        CHECK_LAUNCH();
        fill_normal<<<1024, 256>>>(k, nkv, sd * 3 + 2);
        CHECK_LAUNCH();
        fill_normal<<<1024, 256>>>(v, nkv, sd * 3 + 3);
        CHECK_LAUNCH();
        CHECK(cudaMemset(o, 0xff, nq * 2));
    };
    make_inputs(seed);
    CHECK(cudaMemset(stats, 0, sizeof(ErrStats)));
    CHECK(cudaMemset(ndiff, 0, sizeof(*ndiff)));

    avo_attention_params p;
    memset(&p, 0, sizeof p);
    p.q = q;
    p.k = k;
    p.v = v;
    p.o = o;
    p.b = (int)b;
    p.hq = (int)hq;
    p.hkv = (int)hkv;
    p.s = (int)s;
    p.d = (int)d;
    p.causal = (int)causal;
    int rc = avo_attention_forward(&p, 0);
    if (rc != 0) {
        fprintf(stderr, "harness: avo_attention_forward (%s) returned %d: %s\n",
                avo_attention_variant(), rc,
                rc == AVO_ATTENTION_EINVAL ? "unsupported arguments"
                                           : cudaGetErrorString(cudaGetLastError()));
        return 1;
    }
    CHECK_LAUNCH();
    CHECK(cudaDeviceSynchronize());
    CHECK(cudaMemcpy(o_first, o, nq * 2, cudaMemcpyDeviceToDevice));

    const dim3 rgrid((unsigned)((s + kRefRows - 1) / kRefRows), (unsigned)hq, (unsigned)b);
    if (d == 128)
        reference_check<128><<<rgrid, kRefThreads>>>(q, k, v, o, (int)s, (int)hq, (int)hkv,
                                                      (int)causal, stats);
    else
        reference_check<64><<<rgrid, kRefThreads>>>(q, k, v, o, (int)s, (int)hq, (int)hkv,
                                                     (int)causal, stats);
    CHECK_LAUNCH();
    ErrStats st;
    CHECK(cudaMemcpy(&st, stats, sizeof st, cudaMemcpyDeviceToHost));

    // Timing, as avo_harness_cuda.cu does it: per call fresh inputs, poison, L2 flush,
    // a synchronised device, then the call alone between events, then the output read.
    // The warm hold first (see the top): calls until hold_ms have passed, 3 <= n <= 256.
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    uint64_t call_seed = seed;
    unsigned flush_round = 0;
    std::vector<float> times;
    const double hold_t0 = now_ms();
    long warm = 0;
    while (times.size() < (size_t)iters) {
        const bool timed = warm >= 256 || (warm >= 3 && now_ms() - hold_t0 >= (double)hold_ms);
        make_inputs(call_seed = mix_host(call_seed));
        CHECK(cudaMemsetAsync(flush, (int)(flush_round++ & 0xff), flush_bytes, 0));
        CHECK(cudaDeviceSynchronize());
        CHECK(cudaEventRecord(e0, 0));
        if (avo_attention_forward(&p, 0) != 0) {
            fprintf(stderr, "harness: timed launch failed\n");
            return 1;
        }
        CHECK_LAUNCH();
        CHECK(cudaEventRecord(e1, 0));
        CHECK(cudaEventSynchronize(e1));
        CHECK(cudaDeviceSynchronize());
        float ms = 0;
        CHECK(cudaEventElapsedTime(&ms, e0, e1));
        read_output<<<1024, 256>>>(reinterpret_cast<const uint64_t *>(o), nq * 2 / 8, sink);
        CHECK_LAUNCH();
        CHECK(cudaDeviceSynchronize());
        if (timed)
            times.push_back(ms);
        else
            ++warm;
    }
    std::vector<float> samples = times;
    // The first inputs again: the output must be the first call's, bit for bit.
    make_inputs(seed);
    if (avo_attention_forward(&p, 0) != 0) {
        fprintf(stderr, "harness: launch failed\n");
        return 1;
    }
    CHECK_LAUNCH();
    CHECK(cudaDeviceSynchronize());
    std::sort(times.begin(), times.end());
    const size_t nt = times.size();
    const double ms = nt % 2 ? times[nt / 2] : 0.5 * ((double)times[nt / 2 - 1] + times[nt / 2]);

    count_diff<<<1024, 256>>>(reinterpret_cast<const uint16_t *>(o),
                              reinterpret_cast<const uint16_t *>(o_first), nq, ndiff);
    CHECK_LAUNCH();
    unsigned long long changed = 0;
    CHECK(cudaMemcpy(&changed, ndiff, sizeof changed, cudaMemcpyDeviceToHost));

    float max_diff, max_ref;
    memcpy(&max_diff, &st.max_diff_bits, 4);
    memcpy(&max_ref, &st.max_ref_bits, 4);
    const double max_rel = max_ref > 0 ? max_diff / max_ref : INFINITY;
    const double rel_l2 = st.sum_sq_ref > 0 ? sqrt(st.sum_sq_diff / st.sum_sq_ref) : INFINITY;
    const bool correct = st.bad == 0 && changed == 0 && max_rel <= tol && rel_l2 <= tol;
    const double flops = 4.0 * b * hq * (double)s * s * d / (causal ? 2 : 1);
    const double tflops = flops / (ms * 1e-3) / 1e12;
    if (!correct)
        fprintf(stderr,
                "harness: %s FAILED: %llu non-finite outputs, %llu changed between runs, "
                "max_rel_err %.3e, rel_l2_err %.3e, tol %.1e\n",
                avo_attention_variant(), st.bad, changed, max_rel, rel_l2, tol);
    printf("{\"correct\":%s,\"max_rel_err\":%.4e,\"rel_l2_err\":%.4e,\"ms\":%.4f,"
           "\"tflops\":%.1f,\"nonfinite\":%llu,\"nondeterministic\":%llu,\"seed\":%llu,"
           "\"variant\":\"%s\",\"gpu\":\"%s\",\"samples\":[",
           correct ? "true" : "false", max_rel, rel_l2, ms, tflops, st.bad, changed,
           (unsigned long long)seed, avo_attention_variant(), prop.name);
    for (size_t i = 0; i < samples.size(); ++i)
        printf("%s%.5f", i ? "," : "", samples[i]);
    printf("]}\n");
    CHECK(cudaFree(q));
    CHECK(cudaFree(k));
    CHECK(cudaFree(v));
    CHECK(cudaFree(o));
    CHECK(cudaFree(o_first));
    CHECK(cudaFree(flush));
    CHECK(cudaFree(stats));
    CHECK(cudaFree(ndiff));
    CHECK(cudaFree(sink));
    return correct ? 0 : 1;
}
