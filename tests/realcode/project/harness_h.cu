// The harness of scale_h.cuh (runs only with a GPU; avo's tests only build it).
#include <cstdio>
extern "C" int avo_halve(float *out, const float *in, int n);
int main() { std::printf("{\"correct\":false}\n"); return avo_halve(nullptr, nullptr, 0) ? 1 : 0; }
