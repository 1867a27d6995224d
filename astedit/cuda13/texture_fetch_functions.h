/* avo: empty stand-in. CUDA 13 removed texture_fetch_functions.h, but clang 19's
 * __clang_cuda_runtime_wrapper.h still includes it. Searched last (-idirafter), and only
 * when the CUDA toolkit in use lacks the real header. */
