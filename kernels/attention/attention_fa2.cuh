// avo attention forward, FlashAttention-2 style, sm_80 and up: the kernel that serves
// every shape (any s >= 1, head dim 64, 128 or 256). attention.cu tunes it with knobs;
// attention_sm90.cu includes it as the fallback of its dispatch.
//
// Each CTA owns BLOCK_M = 16 * NW query rows of one (batch, head); each warp owns 16
// rows. K/V tiles of BN keys stream through an ST-deep cp.async ring in XOR-swizzled
// shared memory; S = Q K^T and O += P V run on mma.sync m16n8k16 (bf16 in, fp32
// accumulate) with operands from ldmatrix; the online softmax works in the log2 domain
// with the 1/sqrt(d) scale folded into exp2. Ragged ends: rows and keys past s are
// loaded as zeros (cp.async zero-fill), keys past s are masked, rows past s not stored.
// Head dim 256 reads Q fragments from shared memory (keeping them in registers would
// spill the accumulators).
#ifndef AVO_ATTENTION_FA2_CUH
#define AVO_ATTENTION_FA2_CUH

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <math.h>

#include "attention.h"

namespace avo_fa2 {

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes from src, or zeros when !valid (src is then not read).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool valid)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
                 "r"(valid ? 16 : 0));
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

// Copies a [ROWS][D] bf16 tile (row stride D) into swizzled smem; rows >= valid are zeros.
template <int ROWS, int D, int THREADS>
__device__ __forceinline__ void load_tile(__nv_bfloat16 *dst, const __nv_bfloat16 *src, int valid, int tid)
{
    constexpr int kChunks = D / 8;
#pragma unroll
    for (int i = tid; i < ROWS * kChunks; i += THREADS) {
        const int r = i / kChunks, c = i % kChunks;
        const bool in = r < valid;
        cp_async16(smem_addr(dst + swz<D>(r, c)), in ? src + (size_t)r * D + c * 8 : src, in);
    }
}

template <int D, int NW, int BN, int ST, int MINB, bool CAUSAL>
__global__ void __launch_bounds__(NW * 32, MINB)
    fwd_kernel(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
               const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o, int s, int hq,
               int group, float scale_log2)
{
    constexpr int kThreads = NW * 32, kBlockM = 16 * NW;
    constexpr bool kQInRegs = D <= 128;
    extern __shared__ uint4 smem_raw[];
    __nv_bfloat16 *s_q = reinterpret_cast<__nv_bfloat16 *>(smem_raw);
    __nv_bfloat16 *s_k = s_q + kBlockM * D;
    __nv_bfloat16 *s_v = s_k + ST * BN * D;

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

    const int key_blocks = (s + BN - 1) / BN;
    const int n_blocks = CAUSAL ? min((m0 + kBlockM + BN - 1) / BN, key_blocks) : key_blocks;
    // Blocks below this index need no mask: wholly at or below the diagonal, and
    // wholly inside the sequence.
    const int n_unmasked = min(CAUSAL ? (m0 + 1) / BN : n_blocks, s / BN);

    load_tile<kBlockM, D, kThreads>(s_q, q_g, s - m0, tid);
#pragma unroll
    for (int st = 0; st < ST - 1; ++st) {
        if (st < n_blocks) {
            load_tile<BN, D, kThreads>(s_k + st * BN * D, k_g + (size_t)st * BN * D, s - st * BN, tid);
            load_tile<BN, D, kThreads>(s_v + st * BN * D, v_g + (size_t)st * BN * D, s - st * BN, tid);
        }
        cp_async_commit();
    }

    const int g = lane / 4, t = lane % 4;
    const int row0 = m0 + warp * 16 + g; // this thread's rows: row0 and row0 + 8
    uint32_t qf[kQInRegs ? D / 16 : 1][4];
    float acc_o[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; ++i)
        acc_o[i][0] = acc_o[i][1] = acc_o[i][2] = acc_o[i][3] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};
    float row_sum[2] = {0.f, 0.f};

    for (int jb = 0; jb < n_blocks; ++jb) {
        cp_async_wait<ST - 2>();
        __syncthreads();
        // Prefetch block jb + ST - 1 into the slot everyone finished with.
        {
            const int nb = jb + ST - 1;
            if (nb < n_blocks) {
                const int slot = nb % ST;
                load_tile<BN, D, kThreads>(s_k + slot * BN * D, k_g + (size_t)nb * BN * D, s - nb * BN, tid);
                load_tile<BN, D, kThreads>(s_v + slot * BN * D, v_g + (size_t)nb * BN * D, s - nb * BN, tid);
            }
            cp_async_commit();
        }
        if (kQInRegs && jb == 0) {
#pragma unroll
            for (int kk = 0; kk < (kQInRegs ? D / 16 : 0); ++kk)
                ldmatrix_x4(qf[kk], smem_addr(s_q + swz<D>(warp * 16 + (lane % 16), kk * 2 + lane / 16)));
        }
        const __nv_bfloat16 *k_s = s_k + (jb % ST) * BN * D;
        const __nv_bfloat16 *v_s = s_v + (jb % ST) * BN * D;

        float acc_s[BN / 8][4];
#pragma unroll
        for (int i = 0; i < BN / 8; ++i)
            acc_s[i][0] = acc_s[i][1] = acc_s[i][2] = acc_s[i][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
            uint32_t qk[4];
            if (!kQInRegs)
                ldmatrix_x4(qk, smem_addr(s_q + swz<D>(warp * 16 + (lane % 16), kk * 2 + lane / 16)));
            const uint32_t(&qa)[4] = kQInRegs ? qf[kQInRegs ? kk : 0] : qk;
#pragma unroll
            for (int nn = 0; nn < BN / 16; ++nn) {
                uint32_t kf[4];
                ldmatrix_x4(kf, smem_addr(k_s + swz<D>(nn * 16 + (lane % 8) + (lane / 16) * 8,
                                                       kk * 2 + (lane / 8) % 2)));
                mma_16816(acc_s[2 * nn], qa, kf[0], kf[1]);
                mma_16816(acc_s[2 * nn + 1], qa, kf[2], kf[3]);
            }
        }

        if (jb >= n_unmasked) {
            // Past the diagonal (causal) or past the end of the sequence.
            const int lim0 = CAUSAL ? min(row0, s - 1) : s - 1, lim1 = CAUSAL ? min(row0 + 8, s - 1) : s - 1;
#pragma unroll
            for (int nt = 0; nt < BN / 8; ++nt) {
                const int col = jb * BN + nt * 8 + 2 * t;
                if (col > lim0) acc_s[nt][0] = -INFINITY;
                if (col + 1 > lim0) acc_s[nt][1] = -INFINITY;
                if (col > lim1) acc_s[nt][2] = -INFINITY;
                if (col + 1 > lim1) acc_s[nt][3] = -INFINITY;
            }
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float mx = row_max[r];
#pragma unroll
            for (int nt = 0; nt < BN / 8; ++nt)
                mx = fmaxf(mx, fmaxf(acc_s[nt][2 * r], acc_s[nt][2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            // Every row sees key 0 in block 0, so mx is finite from then on.
            const float alpha = exp2f((row_max[r] - mx) * scale_log2);
            row_max[r] = mx;
            const float m_scaled = mx * scale_log2;
            float sum = 0.f;
#pragma unroll
            for (int nt = 0; nt < BN / 8; ++nt) {
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

#pragma unroll
        for (int kk = 0; kk < BN / 16; ++kk) {
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
    }
    cp_async_wait<0>();

#pragma unroll
    for (int r = 0; r < 2; ++r) {
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
    }
    const float inv0 = 1.f / row_sum[0], inv1 = 1.f / row_sum[1];
    // Stage the bf16 tile through s_q for 16-byte coalesced stores (after every warp
    // is done reading Q from it).
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
    const int rows = min(kBlockM, s - m0);
#pragma unroll
    for (int i = tid; i < kBlockM * (D / 8); i += kThreads) {
        const int r = i / (D / 8), c = i % (D / 8);
        if (r < rows)
            *reinterpret_cast<uint4 *>(o_g + (size_t)r * D + c * 8) =
                *reinterpret_cast<const uint4 *>(s_q + swz<D>(r, c));
    }
}

template <int D, int NW, int BN, int ST, int MINB, bool CAUSAL>
int launch(const avo_attention_params *p, cudaStream_t stream)
{
    constexpr int kBlockM = 16 * NW;
    constexpr size_t smem = (size_t)(kBlockM + 2 * ST * BN) * D * sizeof(__nv_bfloat16);
    static_assert(smem <= 227 * 1024, "tiles exceed the 227 KB of shared memory a CTA may use");
    auto kernel = fwd_kernel<D, NW, BN, ST, MINB, CAUSAL>;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess)
        return AVO_ATTENTION_ECUDA;
    const dim3 grid((unsigned)((p->s + kBlockM - 1) / kBlockM), (unsigned)p->hq, (unsigned)p->b);
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    kernel<<<grid, NW * 32, smem, stream>>>(
        static_cast<const __nv_bfloat16 *>(p->q), static_cast<const __nv_bfloat16 *>(p->k),
        static_cast<const __nv_bfloat16 *>(p->v), static_cast<__nv_bfloat16 *>(p->o), p->s, p->hq,
        p->hq / p->hkv, scale_log2);
    return cudaPeekAtLastError() == cudaSuccess ? 0 : AVO_ATTENTION_ECUDA;
}

// The arguments every kernel needs: pointers set, sizes positive, hq a multiple of hkv,
// grid dimensions and element offsets in range.
inline bool params_ok(const avo_attention_params *p)
{
    return p && p->q && p->k && p->v && p->o && p->b > 0 && p->hq > 0 && p->hkv > 0 && p->s > 0 &&
           p->hq % p->hkv == 0 && p->b <= 65535 && p->hq <= 65535 && (p->causal == 0 || p->causal == 1) &&
           (int64_t)p->b * p->hq * p->s <= INT32_MAX;
}

inline bool serves(const avo_attention_params *p)
{
    return params_ok(p) && (p->d == 64 || p->d == 128 || p->d == 256);
}

// Head dims 64 and 128 take the caller's tile shape; 256 takes 4 warps, 32-key tiles,
// two stages (registers and shared memory bound it).
template <int NW, int BN, int ST, int MINB>
int forward(const avo_attention_params *p, cudaStream_t stream)
{
    if (!serves(p))
        return AVO_ATTENTION_EINVAL;
    switch (p->d) {
    case 64:
        return p->causal ? launch<64, NW, BN, ST, MINB, true>(p, stream) : launch<64, NW, BN, ST, MINB, false>(p, stream);
    case 128:
        return p->causal ? launch<128, NW, BN, ST, MINB, true>(p, stream)
                         : launch<128, NW, BN, ST, MINB, false>(p, stream);
    default:
        return p->causal ? launch<256, 4, 32, 2, 1, true>(p, stream) : launch<256, 4, 32, 2, 1, false>(p, stream);
    }
}

} // namespace avo_fa2

#endif
