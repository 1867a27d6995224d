/* Spins on the system call behind the clock, so a replaced clock_gettime cannot shorten it. */
#define _GNU_SOURCE
#include "spin.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double real_ms(void)
{
	struct timespec ts;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int avo_test_spin(float *out, int n, double ms)
{
	double t0 = real_ms();
	while (real_ms() - t0 < ms)
		;
	for (int i = 0; i < n; i++)
		out[i] = (float)i;
	return 0;
}
