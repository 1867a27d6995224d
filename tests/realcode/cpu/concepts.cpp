// Pattern from real code (written for avo's tests): a kernel that needs C++20 (concepts,
// requires-clauses, abbreviated templates), so it parses only when the spec's -std=c++20
// reaches libclang. It implements the CPU example's entry point (kernels/cpu/attention.h)
// so the CPU example's harness checks and times it.
#include <cmath>
#include <concepts>
#include <cstddef>

#define ROWS 4 // avo:knob 1 2 4 8

template <typename T>
concept Real = std::floating_point<T>;

template <Real T>
static T dot(const T *a, const T *b, int d)
{
	T s = 0;
	for (int i = 0; i < d; i++)
		s += a[i] * b[i];
	return s;
}

static void row(const Real auto *q, const float *k, const float *v, float *o, int sk, int d, int kend)
	requires(sizeof(*q) == 4)
{
	constexpr int chunk = 2; // avo:knob 1 2 4
	const float scale = 1.0f / std::sqrt((float)d);
	float m = -INFINITY, l = 0.0f;
	for (int c = 0; c < d; c++)
		o[c] = 0.0f;
	// avo:region softmax_row
	for (int j0 = 0; j0 < kend; j0 += chunk) {
		for (int j = j0; j < j0 + chunk && j < kend; j++) {
			const float s = dot(q, k + (std::size_t)j * d, d) * scale;
			const float mn = s > m ? s : m;
			const float a = std::exp(m - mn), p = std::exp(s - mn);
			l = l * a + p;
			for (int c = 0; c < d; c++)
				o[c] = o[c] * a + p * v[(std::size_t)j * d + c];
			m = mn;
		}
	}
	// avo:end
	for (int c = 0; c < d; c++)
		o[c] = l > 0.0f ? o[c] / l : 0.0f;
	(void)sk;
}

extern "C" int avo_cpu_attention(const float *q, const float *k, const float *v, float *o, int sq, int sk,
				 int d, int causal)
{
	if (d <= 0 || d > 256 || sq <= 0 || sk <= 0)
		return -1;
	for (int i0 = 0; i0 < sq; i0 += ROWS)
		for (int i = i0; i < i0 + ROWS && i < sq; i++) {
			int kend = causal ? i + (sk - sq) + 1 : sk;
			kend = kend < 0 ? 0 : kend > sk ? sk : kend;
			row(q + (std::size_t)i * d, k, v, o + (std::size_t)i * d, sk, d, kend);
		}
	return 0;
}
