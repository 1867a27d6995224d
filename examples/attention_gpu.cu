// A program using the CUDA attention kernel: whichever variant the build chose.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "attention.h"

int main()
{
    const int b = 1, hq = 8, hkv = 2, s = 512, d = 128;
    const size_t nq = size_t(b) * hq * s * d, nkv = size_t(b) * hkv * s * d;
    std::vector<__nv_bfloat16> hq_(nq), hkv_(nkv), ho(nq);
    for (size_t i = 0; i < nq; i++) hq_[i] = __float2bfloat16(0.01f * float(i % 97));
    for (size_t i = 0; i < nkv; i++) hkv_[i] = __float2bfloat16(0.01f * float(i % 89));

    void *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr;
    if (cudaMalloc(&q, nq * 2) || cudaMalloc(&k, nkv * 2) || cudaMalloc(&v, nkv * 2) ||
        cudaMalloc(&o, nq * 2)) {
        std::fprintf(stderr, "attention_gpu: no GPU memory (%s)\n", cudaGetErrorString(cudaGetLastError()));
        return 1;
    }
    cudaMemcpy(q, hq_.data(), nq * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(k, hkv_.data(), nkv * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(v, hkv_.data(), nkv * 2, cudaMemcpyHostToDevice);

    avo_attention_params p = {q, k, v, o, b, hq, hkv, s, d, 1};
    int rc = avo_attention_forward(&p, 0);
    if (rc != 0 || cudaDeviceSynchronize() != cudaSuccess) {
        std::fprintf(stderr, "attention_gpu: forward failed (%d: %s)\n", rc, cudaGetErrorString(cudaGetLastError()));
        return 1;
    }
    cudaMemcpy(ho.data(), o, nq * 2, cudaMemcpyDeviceToHost);
    double sum = 0;
    for (size_t i = 0; i < nq; i++) sum += __bfloat162float(ho[i]);
    std::printf("attention_gpu (%s): checksum %.4f\n", avo_attention_variant(), sum);
    cudaFree(q), cudaFree(k), cudaFree(v), cudaFree(o);
    return 0;
}
