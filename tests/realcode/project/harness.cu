// The harness of scale.cu (runs only with a GPU; avo's tests only build it).
#include <cstdio>
#include <cuda_runtime.h>
extern "C" int avo_scale4(float4 *out, const float4 *in, int n);
int main() { std::printf("{\"correct\":false}\n"); return avo_scale4(nullptr, nullptr, 0) ? 1 : 0; }
