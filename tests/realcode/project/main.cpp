#include <cstdio>
#ifndef CXX_ONLY
#error "the C++ option of the genex did not reach main.cpp"
#endif
int main() { std::puts("gx built"); return 0; }
