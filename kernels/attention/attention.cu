// avo attention forward for sm_80 and up (FlashAttention-2 style, mma.sync): the
// kernel of attention_fa2.cuh with its tile shape as knobs. It serves any s >= 1 and
// head dims 64, 128 and 256 (256 with a fixed tile shape, see forward()).
#include "attention_fa2.cuh"

#define NWARPS 4 // avo:knob 4 8
#define BLOCK_N 64 // avo:knob 32 64 128
#define STAGES 2 // avo:knob 2 3
#define MIN_BLOCKS 2 // avo:knob 1 2

extern "C" int avo_attention_forward(const avo_attention_params *p, cudaStream_t stream)
{
    return avo_fa2::forward<NWARPS, BLOCK_N, STAGES, MIN_BLOCKS>(p, stream);
}

extern "C" const char *avo_attention_kernel_for(const avo_attention_params *p, int cc)
{
    return cc >= 80 && avo_fa2::serves(p) ? "fa2-mma-sync" : nullptr;
}

extern "C" const char *avo_attention_variant(void)
{
    return "fa2-mma-sync";
}
