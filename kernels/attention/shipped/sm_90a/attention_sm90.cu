// avo attention forward for Hopper (sm_90a): wgmma + TMA + warp specialization.
// A CTA owns BLOCK_M = 128 query rows of one (batch, query head) and runs three
// warpgroups: warpgroup 0 is the producer (one thread issues TMA bulk tensor
// loads of Q once and of K/V tiles into a STAGES-deep ring, each stage guarded by
// a "full" and an "empty" mbarrier), warpgroups 1 and 2 are consumers, each
// owning 64 query rows: S = Q K^T with wgmma (Q and K from shared memory), online
// softmax in registers (exp2, scale folded in), O += P V with wgmma (P from
// registers, V from shared memory, MN-major); inside a warpgroup the softmax of
// block j overlaps the P V product of block j-1. setmaxnreg moves registers from the
// producer to the consumers. Tiles use the 128-byte TMA swizzle, which the wgmma
// descriptors read directly. Causal: KV blocks past the diagonal are never loaded,
// only the diagonal block is masked. GQA: query head h reads KV head h / (hq/hkv).
// avo_attention_forward dispatches: shapes the Hopper kernel serves (sm90_serves) run
// here on an sm_90 device, every other shape and device runs the sm_80 kernel of
// attention_fa2.cuh. Build with -gencode for sm_90a (and sm_80 for other GPUs: the
// Hopper kernel then compiles to a trap there and is never launched).
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda.h>
#include <cudaTypedefs.h>
#include <stdint.h>
#include <math.h>

#include "attention.h"
#include "attention_fa2.cuh"

#define STAGES 2 // avo:knob 2 3
#define PRODUCER_REGS 24 // avo:knob 24 32 40
#define CONSUMER_REGS 240 // avo:knob 232 240
#define PINGPONG 1 // avo:knob 0 1

// Device code for sm_90a only: the sm_80 pass of a fat binary never sees wgmma.
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define AVO_SM90_DEVICE 0
#pragma nv_diag_suppress 177 // the Hopper helpers go unused on this pass
#else
#define AVO_SM90_DEVICE 1
#endif

namespace {

constexpr int kD = 128;
constexpr int kBlockM = 128, kBlockN = 128;
constexpr int kConsumers = 2;
constexpr int kThreads = 128 * (kConsumers + 1);
constexpr int kBoxBytes = 128 * 64 * 2;      // one TMA box: 128 rows x 64 bf16 (128 B)
constexpr int kTileBytes = 2 * kBoxBytes;    // a 128 x 128 tile = two boxes along d
// setmaxnreg moves registers inside the CTA's allocation: 384 threads start with
// 168 each (the cap of __launch_bounds__(384, 1)); an increase that the pool cannot
// cover would wait forever, so bad knob combinations fail to compile instead.
static_assert(PRODUCER_REGS % 8 == 0 && CONSUMER_REGS % 8 == 0 && PRODUCER_REGS >= 24 &&
                  CONSUMER_REGS <= 256,
              "setmaxnreg takes multiples of 8 in 24..256");
static_assert(128 * (PRODUCER_REGS + kConsumers * CONSUMER_REGS) <= 168 * kThreads,
              "PRODUCER_REGS + 2 * CONSUMER_REGS exceeds the CTA's register pool");

struct Smem {
    alignas(1024) unsigned char q[kTileBytes];
    alignas(1024) unsigned char k[STAGES][kTileBytes];
    alignas(1024) unsigned char v[STAGES][kTileBytes];
    uint64_t q_full;
    uint64_t k_full[STAGES], k_empty[STAGES];
    uint64_t v_full[STAGES], v_empty[STAGES];
};

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbar_init(uint64_t *bar, int count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count));
}

__device__ __forceinline__ void mbar_expect_tx(uint64_t *bar, uint32_t bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)),
                 "r"(bytes)
                 : "memory");
}

__device__ __forceinline__ void mbar_arrive(uint64_t *bar)
{
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}

__device__ __forceinline__ void mbar_wait(uint64_t *bar, int parity)
{
    asm volatile("{\n.reg .pred p;\n"
                 "WAIT_%=:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
                 "@!p bra WAIT_%=;\n}\n" ::"r"(smem_addr(bar)),
                 "r"(parity)
                 : "memory");
}

// avo:region tma
// 3-D TMA load of one box at (col, row, head) into dst, completing on bar. Rows past
// the head's s arrive as zeros (and still count in the transaction bytes).
__device__ __forceinline__ void tma_load(void *dst, const CUtensorMap *map, uint64_t *bar, int col,
                                         int row, int head)
{
    asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%3, %4, %5}], [%2];\n" ::"r"(smem_addr(dst)),
                 "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(col), "r"(row), "r"(head)
                 : "memory");
}
// avo:end

// wgmma shared-memory descriptor, 128-byte swizzle; offsets in bytes.
__device__ __forceinline__ uint64_t make_desc(uint32_t addr, uint32_t lbo, uint32_t sbo)
{
    return (uint64_t)((addr & 0x3ffff) >> 4) | ((uint64_t)(lbo >> 4) << 16) |
           ((uint64_t)(sbo >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void wgmma_fence()
{
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}

__device__ __forceinline__ void wgmma_commit()
{
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

template <int N>
__device__ __forceinline__ void wgmma_wait()
{
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

// Keeps the compiler from moving accesses of r across the async wgmma boundary.
__device__ __forceinline__ void reg_fence(float (&r)[64])
{
#pragma unroll
    for (int i = 0; i < 64; ++i)
        asm volatile("" : "+f"(r[i])::"memory");
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

// d (+)= A[64x16] * B[16x128]; A and B from shared memory (descriptors), both K-major.
__device__ __forceinline__ void wgmma_ss(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int accumulate)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
                 "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                 : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

// d += A[64x16] * B[16x128]; A from registers (bf16 pairs), B from shared memory, MN-major.
__device__ __forceinline__ void wgmma_rs(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
                 "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1));
}

__device__ __forceinline__ void reg_fence_u(uint32_t (&r)[8][4])
{
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
            asm volatile("" : "+r"(r[i][j])::"memory");
}

__device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

// Ping-pong between the two consumer warpgroups (named barriers 3 and 4, 256
// threads): a warpgroup issues its wgmma batch only in its turn, then hands the
// turn over, so one warpgroup's softmax runs under the other's matrix products.
__device__ __forceinline__ void turn_wait(int c)
{
    if (PINGPONG) asm volatile("bar.sync %0, 256;\n" ::"r"(3 + c) : "memory");
}

__device__ __forceinline__ void turn_pass(int c)
{
    if (PINGPONG) asm volatile("bar.arrive %0, 256;\n" ::"r"(3 + (c ^ 1)) : "memory");
}

// avo:region qk_issue
// Issues S = Q K^T for this warpgroup's 64 rows (8 wgmma k-steps over d) and
// commits them as one group; the caller waits.
__device__ __forceinline__ void qk_issue(float (&acc_s)[64], uint32_t q_base, uint32_t k_base)
{
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
        const uint32_t off = (kk / 4) * kBoxBytes + (kk % 4) * 32;
        wgmma_ss(acc_s, make_desc(q_base + off, 16, 1024), make_desc(k_base + off, 16, 1024), kk > 0);
    }
    wgmma_commit();
}
// avo:end

// avo:region pv_issue
// Issues O += P V (8 wgmma k-steps over the block's keys, P from registers) as one group.
__device__ __forceinline__ void pv_issue(float (&acc_o)[64], const uint32_t (&pf)[8][4], uint32_t v_base)
{
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk)
        wgmma_rs(acc_o, pf[kk], make_desc(v_base + kk * 16 * 128, kBoxBytes, 1024));
    wgmma_commit();
}
// avo:end

// avo:region softmax_step
// Online softmax of one S block in place (S becomes P, unnormalized): when asked,
// masks keys past lim[r], the last key row r may see (the diagonal, or the end of the
// sequence); updates the running max and sum, and returns in alpha the factor by
// which O must be rescaled. Row r of this thread is row0 + 8r.
template <bool MASK>
__device__ __forceinline__ void softmax_step(float (&acc_s)[64], float (&row_max)[2], float (&row_sum)[2],
                                             float (&alpha)[2], const int (&lim)[2], int col0, int t,
                                             float scale_log2)
{
    if (MASK) {
#pragma unroll
        for (int nt = 0; nt < kBlockN / 8; ++nt) {
            const int col = col0 + nt * 8 + 2 * t;
            if (col > lim[0]) acc_s[4 * nt + 0] = -INFINITY;
            if (col + 1 > lim[0]) acc_s[4 * nt + 1] = -INFINITY;
            if (col > lim[1]) acc_s[4 * nt + 2] = -INFINITY;
            if (col + 1 > lim[1]) acc_s[4 * nt + 3] = -INFINITY;
        }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float mx = row_max[r];
#pragma unroll
        for (int nt = 0; nt < kBlockN / 8; ++nt)
            mx = fmaxf(mx, fmaxf(acc_s[4 * nt + 2 * r], acc_s[4 * nt + 2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        // Every row sees key 0 in block 0, so mx is finite from the first block on.
        alpha[r] = fast_exp2((row_max[r] - mx) * scale_log2);
        row_max[r] = mx;
        const float m_scaled = mx * scale_log2;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < kBlockN / 8; ++nt) {
            float &x0 = acc_s[4 * nt + 2 * r], &x1 = acc_s[4 * nt + 2 * r + 1];
            x0 = fast_exp2(fmaf(x0, scale_log2, -m_scaled));
            x1 = fast_exp2(fmaf(x1, scale_log2, -m_scaled));
            sum += x0 + x1;
        }
        row_sum[r] = row_sum[r] * alpha[r] + sum;
    }
}
// avo:end

// avo:region rescale_pack
// O *= alpha per row; P (fp32, C layout) -> bf16 A fragments for the P V wgmma.
__device__ __forceinline__ void rescale_pack(float (&acc_o)[64], uint32_t (&pf)[8][4], const float (&acc_s)[64],
                                             const float (&alpha)[2])
{
#pragma unroll
    for (int nt = 0; nt < kD / 8; ++nt) {
        acc_o[4 * nt + 0] *= alpha[0];
        acc_o[4 * nt + 1] *= alpha[0];
        acc_o[4 * nt + 2] *= alpha[1];
        acc_o[4 * nt + 3] *= alpha[1];
    }
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk) {
        pf[kk][0] = pack_bf16(acc_s[8 * kk + 0], acc_s[8 * kk + 1]);
        pf[kk][1] = pack_bf16(acc_s[8 * kk + 2], acc_s[8 * kk + 3]);
        pf[kk][2] = pack_bf16(acc_s[8 * kk + 4], acc_s[8 * kk + 5]);
        pf[kk][3] = pack_bf16(acc_s[8 * kk + 6], acc_s[8 * kk + 7]);
    }
}
// avo:end

template <bool CAUSAL>
__device__ __forceinline__ void sm90_body(const CUtensorMap &tm_q, const CUtensorMap &tm_k,
                                          const CUtensorMap &tm_v, __nv_bfloat16 *__restrict__ o, int s,
                                          int hq, int group, float scale_log2)
{
    extern __shared__ unsigned char smem_raw[];
    // The 128-byte swizzle repeats every 1024 bytes: align the tiles to it.
    Smem &sm = *reinterpret_cast<Smem *>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~(uintptr_t)1023);

    const int tid = threadIdx.x, wg = tid / 128;
    // avo:region tile_setup
    const int mblk = CAUSAL ? (int)(gridDim.x - 1 - blockIdx.x) : (int)blockIdx.x;
    const int h = blockIdx.y, b = blockIdx.z;
    const int hkv = hq / group;
    const int m0 = mblk * kBlockM;
    const int q_head = b * hq + h;                       // in the [b*hq, s, d] view
    const int kv_head = b * hkv + h / group;             // in the [b*hkv, s, d] view
    // BLOCK_M == BLOCK_N; the last block may run past s (TMA fills it with zeros).
    const int n_blocks = CAUSAL ? mblk + 1 : (s + kBlockN - 1) / kBlockN;
    // avo:end

    if (tid == 0) {
        mbar_init(&sm.q_full, 1);
#pragma unroll
        for (int i = 0; i < STAGES; ++i) {
            mbar_init(&sm.k_full[i], 1);
            mbar_init(&sm.v_full[i], 1);
            mbar_init(&sm.k_empty[i], kConsumers);
            mbar_init(&sm.v_empty[i], kConsumers);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (wg == 0) {
        // avo:region producer
        asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(PRODUCER_REGS));
        if (tid == 0) {
            mbar_expect_tx(&sm.q_full, kTileBytes);
            tma_load(sm.q, &tm_q, &sm.q_full, 0, m0, q_head);
            tma_load(sm.q + kBoxBytes, &tm_q, &sm.q_full, 64, m0, q_head);
            for (int j = 0; j < n_blocks; ++j) {
                const int st = j % STAGES, parity = ((j / STAGES) & 1) ^ 1;
                const int row = j * kBlockN;
                mbar_wait(&sm.k_empty[st], parity);
                mbar_expect_tx(&sm.k_full[st], kTileBytes);
                tma_load(sm.k[st], &tm_k, &sm.k_full[st], 0, row, kv_head);
                tma_load(sm.k[st] + kBoxBytes, &tm_k, &sm.k_full[st], 64, row, kv_head);
                mbar_wait(&sm.v_empty[st], parity);
                mbar_expect_tx(&sm.v_full[st], kTileBytes);
                tma_load(sm.v[st], &tm_v, &sm.v_full[st], 0, row, kv_head);
                tma_load(sm.v[st] + kBoxBytes, &tm_v, &sm.v_full[st], 64, row, kv_head);
            }
        }
        // avo:end
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(CONSUMER_REGS));
        const int c = wg - 1;                  // consumer index: rows c*64 .. c*64+63
        const int ctid = tid - 128 * wg;       // thread within the warpgroup
        const int warp = ctid / 32, lane = ctid % 32, g = lane / 4, t = lane % 4;
        const int row0 = m0 + c * 64 + warp * 16 + g; // this thread's rows: row0, row0 + 8
        const uint32_t q_base = smem_addr(sm.q) + c * 64 * 128;

        float acc_o[64], acc_s[64];
#pragma unroll
        for (int i = 0; i < 64; ++i) acc_o[i] = 0.f;
        float row_max[2] = {-INFINITY, -INFINITY};
        float row_sum[2] = {0.f, 0.f};

        mbar_wait(&sm.q_full, 0);
        uint32_t pf[kBlockN / 16][4];
        float alpha[2];
        // avo:region mainloop
        // Consumer 0 takes the first turn. Every batch below passes the turn on,
        // except consumer 1's last, so that arrivals match waits on both barriers.
        if (c == 1) turn_pass(c);
        // Only the last block needs a mask: the diagonal (causal) or the end of s.
        const bool mask_last = CAUSAL || s % kBlockN != 0;
        const int lim[2] = {CAUSAL ? min(row0, s - 1) : s - 1, CAUSAL ? min(row0 + 8, s - 1) : s - 1};
        // Block 0: S_0, softmax, P_0.
        mbar_wait(&sm.k_full[0], 0);
        turn_wait(c);
        qk_issue(acc_s, q_base, smem_addr(sm.k[0]));
        turn_pass(c);
        wgmma_wait<0>();
        reg_fence(acc_s);
        if (ctid == 0) mbar_arrive(&sm.k_empty[0]);
        if (mask_last && n_blocks == 1)
            softmax_step<true>(acc_s, row_max, row_sum, alpha, lim, 0, t, scale_log2);
        else
            softmax_step<false>(acc_s, row_max, row_sum, alpha, lim, 0, t, scale_log2);
        rescale_pack(acc_o, pf, acc_s, alpha);
        // Block j: S_j = Q K_j and O += P_{j-1} V_{j-1} go to the tensor cores back
        // to back; the softmax of S_j runs while P_{j-1} V_{j-1} is in flight.
        for (int j = 1; j < n_blocks; ++j) {
            const int st = j % STAGES, parity = (j / STAGES) & 1;
            const int pst = (j - 1) % STAGES, pparity = ((j - 1) / STAGES) & 1;
            mbar_wait(&sm.k_full[st], parity);
            mbar_wait(&sm.v_full[pst], pparity);
            turn_wait(c);
            qk_issue(acc_s, q_base, smem_addr(sm.k[st]));
            pv_issue(acc_o, pf, smem_addr(sm.v[pst]));
            turn_pass(c);
            wgmma_wait<1>(); // S_j done (groups complete in order)
            reg_fence(acc_s);
            if (ctid == 0) mbar_arrive(&sm.k_empty[st]);
            if (mask_last && j == n_blocks - 1)
                softmax_step<true>(acc_s, row_max, row_sum, alpha, lim, j * kBlockN, t, scale_log2);
            else
                softmax_step<false>(acc_s, row_max, row_sum, alpha, lim, j * kBlockN, t, scale_log2);
            wgmma_wait<0>(); // P_{j-1} V_{j-1} done: O and P may change now
            reg_fence(acc_o);
            reg_fence_u(pf);
            if (ctid == 0) mbar_arrive(&sm.v_empty[pst]);
            rescale_pack(acc_o, pf, acc_s, alpha);
        }
        {
            const int st = (n_blocks - 1) % STAGES, parity = ((n_blocks - 1) / STAGES) & 1;
            mbar_wait(&sm.v_full[st], parity);
            turn_wait(c);
            pv_issue(acc_o, pf, smem_addr(sm.v[st]));
            if (c == 0) turn_pass(c);
            wgmma_wait<0>();
            reg_fence(acc_o);
            reg_fence_u(pf);
            if (ctid == 0) mbar_arrive(&sm.v_empty[st]);
        }
        // avo:end

        // avo:region epilogue
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
            row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
        }
        const float inv0 = 1.f / row_sum[0], inv1 = 1.f / row_sum[1];
        // Stage through this consumer's own 64 rows of the Q tile (same swizzled
        // layout: box d/64, row r at r*128 B, 16-byte chunk (d%64/8) ^ (r%8)).
        unsigned char *q_tile = sm.q;
        const int r_lo = c * 64 + warp * 16 + g, r_hi = r_lo + 8;
#pragma unroll
        for (int nt = 0; nt < kD / 8; ++nt) {
            const int box = nt / 8, chunk = nt % 8;
            *reinterpret_cast<uint32_t *>(q_tile + box * kBoxBytes + r_lo * 128 +
                                          ((chunk ^ (r_lo & 7)) << 4) + 4 * t) =
                pack_bf16(acc_o[4 * nt] * inv0, acc_o[4 * nt + 1] * inv0);
            *reinterpret_cast<uint32_t *>(q_tile + box * kBoxBytes + r_hi * 128 +
                                          ((chunk ^ (r_hi & 7)) << 4) + 4 * t) =
                pack_bf16(acc_o[4 * nt + 2] * inv1, acc_o[4 * nt + 3] * inv1);
        }
        asm volatile("bar.sync %0, 128;\n" ::"r"(1 + c) : "memory");
        // Rows past s are computed on zeros and not stored.
        __nv_bfloat16 *o_g = o + ((size_t)q_head * s + m0 + c * 64) * kD;
        const int rows = min(64, s - m0 - c * 64);
#pragma unroll
        for (int i = ctid; i < 64 * (kD / 8); i += 128) {
            const int r = i / (kD / 8), nt = i % (kD / 8), rr = c * 64 + r;
            const int box = nt / 8, chunk = nt % 8;
            if (r < rows)
                *reinterpret_cast<uint4 *>(o_g + (size_t)r * kD + nt * 8) =
                    *reinterpret_cast<const uint4 *>(q_tile + box * kBoxBytes + rr * 128 +
                                                     ((chunk ^ (rr & 7)) << 4));
        }
        // avo:end
    }
}

template <bool CAUSAL>
__global__ void __launch_bounds__(kThreads, 1)
    attention_sm90_kernel(const __grid_constant__ CUtensorMap tm_q,
                          const __grid_constant__ CUtensorMap tm_k,
                          const __grid_constant__ CUtensorMap tm_v, __nv_bfloat16 *__restrict__ o,
                          int s, int hq, int group, float scale_log2)
{
    if constexpr (AVO_SM90_DEVICE)
        sm90_body<CAUSAL>(tm_q, tm_k, tm_v, o, s, hq, group, scale_log2);
    else
        __trap();
}

PFN_cuTensorMapEncodeTiled_v12000 get_encode()
{
    static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
    if (!fn) {
        cudaDriverEntryPointQueryResult res;
        void *p = nullptr;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault,
                                             &res) == cudaSuccess &&
            res == cudaDriverEntryPointSuccess)
            fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
    }
    return fn;
}

// avo:region launch
// [heads, s, 128] bf16 viewed as 3-D; boxes of 128 rows x 64 columns of one head, so a
// box that runs past s reads zeros, never the next head.
bool make_map(CUtensorMap *map, const void *ptr, uint64_t heads, uint64_t s)
{
    PFN_cuTensorMapEncodeTiled_v12000 encode = get_encode();
    if (!encode) return false;
    const cuuint64_t dims[3] = {kD, s, heads};
    const cuuint64_t strides[2] = {kD * sizeof(__nv_bfloat16), s * kD * sizeof(__nv_bfloat16)};
    const cuuint32_t box[3] = {64, 128, 1};
    const cuuint32_t elem[3] = {1, 1, 1};
    return encode(map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, const_cast<void *>(ptr), dims, strides,
                  box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                  CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <bool CAUSAL>
int launch(const avo_attention_params *p, cudaStream_t stream)
{
    CUtensorMap tq, tk, tv;
    if (!make_map(&tq, p->q, (uint64_t)p->b * p->hq, p->s) || !make_map(&tk, p->k, (uint64_t)p->b * p->hkv, p->s) ||
        !make_map(&tv, p->v, (uint64_t)p->b * p->hkv, p->s))
        return AVO_ATTENTION_EINVAL;
    constexpr size_t smem = sizeof(Smem) + 1024; // + alignment slack
    auto kernel = attention_sm90_kernel<CAUSAL>;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) !=
        cudaSuccess)
        return AVO_ATTENTION_ECUDA;
    const dim3 grid((p->s + kBlockM - 1) / kBlockM, p->hq, p->b);
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)kD);
    kernel<<<grid, kThreads, smem, stream>>>(tq, tk, tv, static_cast<__nv_bfloat16 *>(p->o), p->s,
                                            p->hq, p->hq / p->hkv, scale_log2);
    return cudaPeekAtLastError() == cudaSuccess ? 0 : AVO_ATTENTION_ECUDA;
}

// avo:end

// avo:region dispatch
// The shapes the Hopper kernel serves (any s: ragged tiles are masked); the rest run
// the sm_80 kernel.
bool sm90_serves(const avo_attention_params *p)
{
    return p->d == kD;
}
// avo:end

// The sm_80 kernel's tile shape (tuned with attention.cu's knobs).
int fa2_forward(const avo_attention_params *p, cudaStream_t stream)
{
    return avo_fa2::forward<4, 64, 2, 2>(p, stream);
}

// Compute capability of the current device, major * 10 + minor; 0 when unknown.
int current_cc()
{
    static int cached[64];
    int dev = 0, major = 0, minor = 0;
    if (cudaGetDevice(&dev) != cudaSuccess)
        return 0;
    if (dev >= 0 && dev < 64 && cached[dev])
        return cached[dev];
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess)
        return 0;
    if (dev >= 0 && dev < 64)
        cached[dev] = major * 10 + minor;
    return major * 10 + minor;
}

const char kSm90[] = "sm90-wgmma-tma-ws", kFa2[] = "fa2-mma-sync";

} // namespace

extern "C" const char *avo_attention_kernel_for(const avo_attention_params *p, int cc)
{
    if (!avo_fa2::serves(p) || cc < 80)
        return nullptr;
    return cc == 90 && sm90_serves(p) ? kSm90 : kFa2;
}

extern "C" int avo_attention_forward(const avo_attention_params *p, cudaStream_t stream)
{
    if (!avo_fa2::serves(p))
        return AVO_ATTENTION_EINVAL;
    const int cc = current_cc();
    if (cc == 0)
        return AVO_ATTENTION_ECUDA; // no device: cudaPeekAtLastError() says why
    const char *k = avo_attention_kernel_for(p, cc);
    if (!k)
        return AVO_ATTENTION_EINVAL; // a device older than sm_80
    if (k == kFa2)
        return fa2_forward(p, stream);
    return p->causal ? launch<true>(p, stream) : launch<false>(p, stream);
}

extern "C" const char *avo_attention_variant(void)
{
    return "sm90-wgmma-tma-ws-overlap+fa2";
}
