/* A tiny CUDA kernel for testing the evaluator's nvcc path: out = a * x + y (device
 * pointers, n elements). Returns 0, or the cudaError_t of the launch. */
#ifndef AVO_TEST_AXPY_H
#define AVO_TEST_AXPY_H

int avo_test_axpy(float a, const float *x, const float *y, float *out, int n);

#endif
