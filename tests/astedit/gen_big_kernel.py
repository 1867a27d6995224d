#!/usr/bin/env python3
"""Write a ~1000-line CUDA file with regions and knobs, for timing `avo regions`.

usage: gen_big_kernel.py OUT.cu [KERNELS]
Each kernel is ~48 lines: a templated __global__ with __launch_bounds__, #pragma unroll,
inline PTX, a lambda, two statement regions, plus a function region of helpers.
"""
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
lines = [
    "#include <cuda_runtime.h>",
    "#include <cuda_bf16.h>",
    "#include <cstdint>",
    "",
]
for i in range(n):
    lines += [
        f"#define BM_{i} 64 // avo:knob 32 64 128",
        f"constexpr int kStages{i} = 2; // avo:knob 1..4",
        "",
        f"// avo:region helpers_{i}",
        "template <typename T>",
        f"__device__ __forceinline__ T wmax_{i}(T v)",
        "{",
        "#pragma unroll",
        "\tfor (int o = 16; o > 0; o >>= 1)",
        "\t\tv = max(v, __shfl_xor_sync(0xffffffffu, v, o));",
        "\treturn v;",
        "}",
        "// avo:end",
        "",
        f"template <int D>",
        f"__global__ void __launch_bounds__(128) kern_{i}(const __nv_bfloat16 *q, float *out, int n)",
        "{",
        f"\t__shared__ float tile[BM_{i}][D];",
        "\tconst int row = blockIdx.x * blockDim.x + threadIdx.x;",
        "\tfloat acc = 0.f;",
        "\tauto load = [&](int j) { return __bfloat162float(q[(row * D + j) % n]); };",
        f"\tfor (int s = 0; s < kStages{i}; s++) {{",
        f"\t\t// avo:region body_{i}",
        "#pragma unroll 4",
        "\t\tfor (int j = 0; j < D; j++) {",
        "\t\t\tfloat x = load(j);",
        "\t\t\tacc = fmaxf(acc, x * 0.5f);",
        "\t\t}",
        f"\t\ttile[threadIdx.x % BM_{i}][s % D] = acc;",
        "\t\t// avo:end",
        "\t\t__syncthreads();",
        "\t}",
        "\tunsigned lane;",
        "\tasm volatile(\"mov.u32 %0, %%laneid;\" : \"=r\"(lane));",
        "\tif (lane == 0) {",
        f"\t\t// avo:region store_{i}",
        f"\t\tout[row] = wmax_{i}(acc) + tile[0][0];",
        "\t\t// avo:end",
        "\t}",
        "}",
        f"template __global__ void kern_{i}<128>(const __nv_bfloat16 *, float *, int);",
        "",
    ]
open(out, "w").write("\n".join(lines) + "\n")
print(f"{out}: {len(lines)} lines, {3 * n} regions, {2 * n} knobs")
