/* The variant replaces the process's clock_gettime (the library's clock): the clock
 * runs 10x fast: every call seems 10x longer than it took. */
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

int clock_gettime(clockid_t id, struct timespec *ts)
{
	long rc = syscall(SYS_clock_gettime, id, ts);
	double t = ((double)ts->tv_sec + (double)ts->tv_nsec * 1e-9) * 10.0;
	ts->tv_sec = (time_t)t;
	ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
	return (int)rc;
}
