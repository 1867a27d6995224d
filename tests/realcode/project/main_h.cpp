// Calls the header kernel through its declaration; never launched here (no GPU needed).
#include <cstdio>
extern "C" int avo_halve(float *out, const float *in, int n);
int main(int argc, char **) { if (argc > 5) avo_halve(nullptr, nullptr, 0); std::puts("hx built"); return 0; }
