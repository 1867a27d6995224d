/* Harness of the CUDA test kernel (axpy.cu), avo's harness protocol (tool/eval.h):
 *   harness --n N
 * Random inputs (never zeros), output poisoned with 0xFF bytes (NaN), a double reference,
 * CUDA-event timing (median of 30 after 5 warm-ups), one JSON line on stdout. */
#include "axpy.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <unistd.h>
#include <vector>

#define CHECK(x)                                                                          \
	do {                                                                              \
		cudaError_t e_ = (x);                                                     \
		if (e_ != cudaSuccess) {                                                  \
			fprintf(stderr, "harness: %s: %s\n", #x, cudaGetErrorString(e_)); \
			return 2;                                                         \
		}                                                                         \
	} while (0)

int main(int argc, char **argv)
{
	int n = 1 << 20;
	for (int i = 1; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--n"))
			n = atoi(argv[i + 1]);
	if (n <= 0)
		return 2;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	std::vector<float> x(n), y(n), out(n);
	for (int i = 0; i < n; i++) {
		x[i] = (float)(rand() % 2000 + 1) / 1000.0f - 1.0005f;
		y[i] = (float)(rand() % 2000 + 1) / 1000.0f - 1.0005f;
	}
	const float a = 1.5f;
	float *dx, *dy, *dout;
	size_t bytes = sizeof(float) * (size_t)n;
	CHECK(cudaMalloc(&dx, bytes));
	CHECK(cudaMalloc(&dy, bytes));
	CHECK(cudaMalloc(&dout, bytes));
	CHECK(cudaMemcpy(dx, x.data(), bytes, cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(dy, y.data(), bytes, cudaMemcpyHostToDevice));
	CHECK(cudaMemset(dout, 0xFF, bytes));
	CHECK((cudaError_t)avo_test_axpy(a, dx, dy, dout, n));
	CHECK(cudaDeviceSynchronize());
	CHECK(cudaMemcpy(out.data(), dout, bytes, cudaMemcpyDeviceToHost));
	double max_diff = 0, max_ref = 0;
	long bad = 0;
	for (int i = 0; i < n; i++) {
		double ref = (double)a * x[i] + y[i];
		if (!std::isfinite(out[i])) {
			bad++;
			continue;
		}
		max_diff = std::max(max_diff, std::fabs(out[i] - ref));
		max_ref = std::max(max_ref, std::fabs(ref));
	}
	double err = bad ? INFINITY : max_diff / max_ref;
	cudaEvent_t e0, e1;
	CHECK(cudaEventCreate(&e0));
	CHECK(cudaEventCreate(&e1));
	for (int i = 0; i < 5; i++)
		avo_test_axpy(a, dx, dy, dout, n);
	std::vector<float> ts(30);
	for (auto &t : ts) {
		CHECK(cudaEventRecord(e0));
		avo_test_axpy(a, dx, dy, dout, n);
		CHECK(cudaEventRecord(e1));
		CHECK(cudaEventSynchronize(e1));
		CHECK(cudaEventElapsedTime(&t, e0, e1));
	}
	std::sort(ts.begin(), ts.end());
	double ms = 0.5 * (ts[14] + ts[15]);
	if (bad)
		fprintf(stderr, "harness: %ld of %d outputs NaN or unwritten\n", bad, n);
	int correct = !bad && err <= 1e-5;
	char ebuf[64];
	snprintf(ebuf, sizeof(ebuf), bad ? "null" : "%.9g", err);
	printf("{\"correct\":%s,\"max_rel_err\":%s,\"ms\":%.6g,\"tflops\":%.6g}\n", correct ? "true" : "false",
	       ebuf, ms, 2.0 * n / (ms * 1e-3) / 1e12);
	return correct ? 0 : 1;
}
