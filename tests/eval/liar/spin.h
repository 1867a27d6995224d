/* Timing tests of the harness protocol: a kernel that busy-waits `ms` and writes out[i] = i. */
#ifndef AVO_TEST_SPIN_H
#define AVO_TEST_SPIN_H

int avo_test_spin(float *out, int n, double ms);

#endif
