// avo attention forward, FlashAttention-2 style, sm_80 and up.
// Each CTA owns BLOCK_M = 16 * NWARPS query rows of one (batch, head); each warp
// owns 16 rows. K/V tiles of BLOCK_N keys stream through a STAGES-deep cp.async
// ring in XOR-swizzled shared memory; S = Q K^T and O += P V run on mma.sync
// m16n8k16 (bf16 in, fp32 accumulate) with operands from ldmatrix; the online
// softmax works in the log2 domain with the 1/sqrt(d) scale folded into exp2.
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <math.h>

#include "attention.h"

#define NWARPS 4 // avo:knob 4 8
#define BLOCK_N 64 // avo:knob 32 64 128
#define STAGES 2 // avo:knob 2 3
#define MIN_BLOCKS 2 // avo:knob 1 2

namespace {

constexpr int kThreads = NWARPS * 32;
constexpr int kBlockM = 16 * NWARPS;

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
}

__device__ __forceinline__ void cp_async_commit()
{
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int N>
__device__ __forceinline__ void cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

// c += a * b, m16n8k16, bf16 operands, fp32 accumulators.
__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                          uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

// Element offset of 16-byte chunk c of row r in a [rows][D] tile: chunks are
// XOR-swizzled with the row so that 8 consecutive rows of one chunk column
// (one ldmatrix phase) hit 8 different bank groups.
template <int D>
__device__ __forceinline__ int swz(int r, int c)
{
    return r * D + ((c ^ (r & 7)) << 3);
}

// avo:region load_tile
// Copies a [ROWS][D] bf16 tile (row stride D) from global into swizzled smem.
template <int ROWS, int D>
__device__ __forceinline__ void load_tile(__nv_bfloat16 *dst, const __nv_bfloat16 *src, int tid)
{
    constexpr int kChunks = D / 8;
#pragma unroll
    for (int i = tid; i < ROWS * kChunks; i += kThreads) {
        const int r = i / kChunks, c = i % kChunks;
        cp_async16(smem_addr(dst + swz<D>(r, c)), src + (size_t)r * D + c * 8);
    }
}
// avo:end

template <int D, bool CAUSAL>
__global__ void __launch_bounds__(kThreads, MIN_BLOCKS)
    attention_fwd_kernel(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                         const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o, int s,
                         int hq, int group, float scale_log2)
{
    extern __shared__ uint4 smem_raw[];
    __nv_bfloat16 *s_q = reinterpret_cast<__nv_bfloat16 *>(smem_raw);
    __nv_bfloat16 *s_k = s_q + kBlockM * D;
    __nv_bfloat16 *s_v = s_k + STAGES * BLOCK_N * D;

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    // Causal: the longest rows first so the tail of the grid is short work.
    const int mblk = CAUSAL ? (int)(gridDim.x - 1 - blockIdx.x) : (int)blockIdx.x;
    const int h = blockIdx.y, b = blockIdx.z;
    const int hkv = hq / group;
    const int m0 = mblk * kBlockM;
    const __nv_bfloat16 *q_g = q + ((size_t)(b * hq + h) * s + m0) * D;
    const __nv_bfloat16 *k_g = k + (size_t)(b * hkv + h / group) * s * D;
    const __nv_bfloat16 *v_g = v + (size_t)(b * hkv + h / group) * s * D;
    __nv_bfloat16 *o_g = o + ((size_t)(b * hq + h) * s + m0) * D;

    const int n_blocks = CAUSAL ? (m0 + kBlockM + BLOCK_N - 1) / BLOCK_N : s / BLOCK_N;
    // Blocks below this index lie wholly at or below the diagonal: no mask.
    const int n_unmasked = CAUSAL ? (m0 + 1) / BLOCK_N : n_blocks;

    load_tile<kBlockM, D>(s_q, q_g, tid);
#pragma unroll
    for (int st = 0; st < STAGES - 1; ++st) {
        if (st < n_blocks) {
            load_tile<BLOCK_N, D>(s_k + st * BLOCK_N * D, k_g + (size_t)st * BLOCK_N * D, tid);
            load_tile<BLOCK_N, D>(s_v + st * BLOCK_N * D, v_g + (size_t)st * BLOCK_N * D, tid);
        }
        cp_async_commit();
    }

    const int g = lane / 4, t = lane % 4;
    const int row0 = m0 + warp * 16 + g; // this thread's rows: row0 and row0 + 8
    uint32_t qf[D / 16][4];
    float acc_o[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; ++i)
        acc_o[i][0] = acc_o[i][1] = acc_o[i][2] = acc_o[i][3] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};
    float row_sum[2] = {0.f, 0.f};

    for (int jb = 0; jb < n_blocks; ++jb) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        // Prefetch block jb + STAGES - 1 into the slot everyone finished with.
        {
            const int nb = jb + STAGES - 1;
            if (nb < n_blocks) {
                const int slot = nb % STAGES;
                load_tile<BLOCK_N, D>(s_k + slot * BLOCK_N * D, k_g + (size_t)nb * BLOCK_N * D, tid);
                load_tile<BLOCK_N, D>(s_v + slot * BLOCK_N * D, v_g + (size_t)nb * BLOCK_N * D, tid);
            }
            cp_async_commit();
        }
        if (jb == 0) {
#pragma unroll
            for (int kk = 0; kk < D / 16; ++kk)
                ldmatrix_x4(qf[kk], smem_addr(s_q + swz<D>(warp * 16 + (lane % 16), kk * 2 + lane / 16)));
        }
        const __nv_bfloat16 *k_s = s_k + (jb % STAGES) * BLOCK_N * D;
        const __nv_bfloat16 *v_s = s_v + (jb % STAGES) * BLOCK_N * D;

        float acc_s[BLOCK_N / 8][4];
        // avo:region qk_gemm
#pragma unroll
        for (int i = 0; i < BLOCK_N / 8; ++i)
            acc_s[i][0] = acc_s[i][1] = acc_s[i][2] = acc_s[i][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
            for (int nn = 0; nn < BLOCK_N / 16; ++nn) {
                uint32_t kf[4];
                ldmatrix_x4(kf, smem_addr(k_s + swz<D>(nn * 16 + (lane % 8) + (lane / 16) * 8,
                                                       kk * 2 + (lane / 8) % 2)));
                mma_16816(acc_s[2 * nn], qf[kk], kf[0], kf[1]);
                mma_16816(acc_s[2 * nn + 1], qf[kk], kf[2], kf[3]);
            }
        }
        // avo:end

        // avo:region mask_softmax
        if (CAUSAL && jb >= n_unmasked) {
#pragma unroll
            for (int nt = 0; nt < BLOCK_N / 8; ++nt) {
                const int col = jb * BLOCK_N + nt * 8 + 2 * t;
                if (col > row0) acc_s[nt][0] = -INFINITY;
                if (col + 1 > row0) acc_s[nt][1] = -INFINITY;
                if (col > row0 + 8) acc_s[nt][2] = -INFINITY;
                if (col + 1 > row0 + 8) acc_s[nt][3] = -INFINITY;
            }
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float mx = row_max[r];
#pragma unroll
            for (int nt = 0; nt < BLOCK_N / 8; ++nt)
                mx = fmaxf(mx, fmaxf(acc_s[nt][2 * r], acc_s[nt][2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            // Every row sees key 0 in block 0, so mx is finite from then on.
            const float alpha = exp2f((row_max[r] - mx) * scale_log2);
            row_max[r] = mx;
            const float m_scaled = mx * scale_log2;
            float sum = 0.f;
#pragma unroll
            for (int nt = 0; nt < BLOCK_N / 8; ++nt) {
                acc_s[nt][2 * r] = exp2f(fmaf(acc_s[nt][2 * r], scale_log2, -m_scaled));
                acc_s[nt][2 * r + 1] = exp2f(fmaf(acc_s[nt][2 * r + 1], scale_log2, -m_scaled));
                sum += acc_s[nt][2 * r] + acc_s[nt][2 * r + 1];
            }
            row_sum[r] = row_sum[r] * alpha + sum;
#pragma unroll
            for (int i = 0; i < D / 8; ++i) {
                acc_o[i][2 * r] *= alpha;
                acc_o[i][2 * r + 1] *= alpha;
            }
        }
        // avo:end

        // avo:region pv_gemm
#pragma unroll
        for (int kk = 0; kk < BLOCK_N / 16; ++kk) {
            uint32_t pf[4];
            pf[0] = pack_bf16(acc_s[2 * kk][0], acc_s[2 * kk][1]);
            pf[1] = pack_bf16(acc_s[2 * kk][2], acc_s[2 * kk][3]);
            pf[2] = pack_bf16(acc_s[2 * kk + 1][0], acc_s[2 * kk + 1][1]);
            pf[3] = pack_bf16(acc_s[2 * kk + 1][2], acc_s[2 * kk + 1][3]);
#pragma unroll
            for (int dn = 0; dn < D / 16; ++dn) {
                uint32_t vf[4];
                ldmatrix_x4_trans(vf, smem_addr(v_s + swz<D>(kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8,
                                                             dn * 2 + lane / 16)));
                mma_16816(acc_o[2 * dn], pf, vf[0], vf[1]);
                mma_16816(acc_o[2 * dn + 1], pf, vf[2], vf[3]);
            }
        }
        // avo:end
    }
    cp_async_wait<0>();

    // avo:region epilogue
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
    }
    const float inv0 = 1.f / row_sum[0], inv1 = 1.f / row_sum[1];
    // Stage the bf16 tile through s_q (each warp overwrites only its own rows,
    // which only it read) for 16-byte coalesced stores.
    __syncthreads();
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) {
        const int r = warp * 16 + g;
        *reinterpret_cast<uint32_t *>(s_q + swz<D>(r, dt) + 2 * t) =
            pack_bf16(acc_o[dt][0] * inv0, acc_o[dt][1] * inv0);
        *reinterpret_cast<uint32_t *>(s_q + swz<D>(r + 8, dt) + 2 * t) =
            pack_bf16(acc_o[dt][2] * inv1, acc_o[dt][3] * inv1);
    }
    __syncthreads();
#pragma unroll
    for (int i = tid; i < kBlockM * (D / 8); i += kThreads) {
        const int r = i / (D / 8), c = i % (D / 8);
        *reinterpret_cast<uint4 *>(o_g + (size_t)r * D + c * 8) =
            *reinterpret_cast<const uint4 *>(s_q + swz<D>(r, c));
    }
    // avo:end
}

template <int D, bool CAUSAL>
int launch(const avo_attention_params *p, cudaStream_t stream)
{
    constexpr size_t smem = (size_t)(kBlockM + 2 * STAGES * BLOCK_N) * D * sizeof(__nv_bfloat16);
    static_assert(smem <= 227 * 1024, "tiles exceed the 227 KB of shared memory a CTA may use");
    auto kernel = attention_fwd_kernel<D, CAUSAL>;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) !=
        cudaSuccess)
        return AVO_ATTENTION_ECUDA;
    const dim3 grid(p->s / kBlockM, p->hq, p->b);
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    kernel<<<grid, kThreads, smem, stream>>>(
        static_cast<const __nv_bfloat16 *>(p->q), static_cast<const __nv_bfloat16 *>(p->k),
        static_cast<const __nv_bfloat16 *>(p->v), static_cast<__nv_bfloat16 *>(p->o), p->s, p->hq,
        p->hq / p->hkv, scale_log2);
    return cudaPeekAtLastError() == cudaSuccess ? 0 : AVO_ATTENTION_ECUDA;
}

} // namespace

extern "C" int avo_attention_forward(const avo_attention_params *p, cudaStream_t stream)
{
    if (!p || !p->q || !p->k || !p->v || !p->o || p->b <= 0 || p->hq <= 0 || p->hkv <= 0 ||
        p->s <= 0 || p->hq % p->hkv != 0 || p->b > 65535 || p->hq > 65535)
        return AVO_ATTENTION_EINVAL;
    // Whole tiles only: this variant has no ragged-edge path.
    if (p->s % kBlockM != 0 || p->s % BLOCK_N != 0)
        return AVO_ATTENTION_EINVAL;
    if (p->d == 128)
        return p->causal ? launch<128, true>(p, stream) : launch<128, false>(p, stream);
    if (p->d == 64)
        return p->causal ? launch<64, true>(p, stream) : launch<64, false>(p, stream);
    return AVO_ATTENTION_EINVAL;
}

extern "C" const char *avo_attention_variant(void)
{
    return "fa2-mma-sync";
}
