/* avo's CUDA compatibility prelude: passed with -include to libclang only (never to a
 * compiler), so that code nvcc accepts parses. Each entry covers a known clang/nvcc
 * difference; the bodies only need to type-check.
 * - __ldcs/__ldcg/__ldca/__ldlu/__ldcv and __stcs/__stcg/__stwb/__stwt: nvcc declares them
 *   for every vector type (sm_32_intrinsics); clang 19 declares none (CUDA's bf16/fp16
 *   headers add a few overloads, so a float4 call then finds "no matching function").
 * - max/min called from host code: nvcc's math_functions.hpp has host overloads for
 *   integers and floating point; clang's are device-only.
 * Narrowing in initializer lists is passed as -Wno-c++11-narrowing (a warning in nvcc). */
#ifndef AVO_CUDA_COMPAT_H
#define AVO_CUDA_COMPAT_H
#if defined(__clang__) && defined(__CUDA__)

#define AVO__LOAD(name)                                                      \
	template <typename T> static __device__ __inline__ T name(const T *p) \
	{                                                                    \
		return *p;                                                   \
	}
#define AVO__STORE(name)                                                           \
	template <typename T> static __device__ __inline__ void name(T *p, T v) \
	{                                                                          \
		*p = v;                                                            \
	}
AVO__LOAD(__ldcs)
AVO__LOAD(__ldcg)
AVO__LOAD(__ldca)
AVO__LOAD(__ldlu)
AVO__LOAD(__ldcv)
AVO__STORE(__stcs)
AVO__STORE(__stcg)
AVO__STORE(__stwb)
AVO__STORE(__stwt)
#undef AVO__LOAD
#undef AVO__STORE

#define AVO__MINMAX(T)                                                     \
	static __host__ __inline__ T max(T a, T b) { return a > b ? a : b; } \
	static __host__ __inline__ T min(T a, T b) { return a < b ? a : b; }
AVO__MINMAX(int)
AVO__MINMAX(unsigned int)
AVO__MINMAX(long)
AVO__MINMAX(unsigned long)
AVO__MINMAX(long long)
AVO__MINMAX(unsigned long long)
AVO__MINMAX(float)
AVO__MINMAX(double)
#undef AVO__MINMAX

#endif
#endif
