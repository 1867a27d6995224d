/* The gate's interval with samples from several devices (stats.h groups): a device's speed
 * is removed (both sides of a pair share it), one device is left as it was. */
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N 40 /* samples per side: 4 pairs of 10 */

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "FAIL: %s\n", what);
		failures++;
	}
}

/* Side `b` of pair p, sample i: 1 ms (A) or 1/(1+gain) ms (B), a deterministic 2% spread,
 * times the speed of the pair's device. */
static void fill(double *x, int *g, double gain, int b, const double *device_speed, int ndev)
{
	for (int i = 0; i < N; i++) {
		int pair = i / 10, dev = pair % ndev;
		double spread = 1 + 0.02 * (((i * 7 + b * 3) % 11) - 5) / 5.0;
		x[i] = (b ? 1 / (1 + gain) : 1.0) * spread * device_speed[dev];
		g[i] = dev;
	}
}

static avo_stats_gain interval(double gain, const double *speed, int grouped, int ndev)
{
	static double a[N], b[N];
	static int ga[N], gb[N];
	fill(a, ga, gain, 0, speed, ndev);
	fill(b, gb, gain, 1, speed, ndev);
	avo_stats_config c = {a, N, b, N, grouped ? ga : NULL, grouped ? gb : NULL};
	avo_stats_gain out;
	if (avo_stats_gain_interval(&out, &c, 1, 0.95, 2000, 1) < 0) {
		fprintf(stderr, "FAIL: the interval\n");
		exit(1);
	}
	return out;
}

int main(void)
{
	const double same[2] = {1, 1}, apart[2] = {1, 1.3}; /* device 1: 30% slower */
	/* one device: groups change nothing, to the bit */
	const double one[2] = {1.1, 1.1};
	avo_stats_gain u = interval(0.05, one, 0, 1), v = interval(0.05, one, 1, 1);
	check(u.gain == v.gain && u.lo == v.lo && u.hi == v.hi, "one device: the groups changed the interval");

	/* two devices 30% apart: grouped, the interval is the one of two equal devices */
	avo_stats_gain eq = interval(0.05, same, 1, 2), gr = interval(0.05, apart, 1, 2), pooled = interval(0.05, apart, 0, 2);
	printf("equal devices: %+.4f [%+.4f, %+.4f]; 30%% apart, grouped: %+.4f [%+.4f, %+.4f]; pooled: %+.4f "
	       "[%+.4f, %+.4f]\n",
	       eq.gain, eq.lo, eq.hi, gr.gain, gr.lo, gr.hi, pooled.gain, pooled.lo, pooled.hi);
	check(fabs(gr.gain - eq.gain) < 1e-9 && fabs(gr.lo - eq.lo) < 1e-9 && fabs(gr.hi - eq.hi) < 1e-9,
	      "grouped: the devices' speeds moved the interval");
	check(fabs(gr.gain - 0.05) < 0.005 && gr.lo > 0.03, "grouped: a 5% gain is not confirmed");
	/* pooled, the devices' difference is noise: the same gain, a far wider interval */
	check(fabs(pooled.gain - gr.gain) < 1e-9, "pooled: the point estimate moved");
	check(pooled.hi - pooled.lo > 4 * (gr.hi - gr.lo), "pooled: the interval is not wider");

	/* A/A on two devices apart: centred on zero */
	avo_stats_gain aa = interval(0, apart, 1, 2);
	printf("A/A on devices 30%% apart, grouped: %+.4f [%+.4f, %+.4f]\n", aa.gain, aa.lo, aa.hi);
	check(aa.lo < 0 && aa.hi > 0 && fabs(aa.gain) < 0.005, "A/A on two devices: not centred on zero");
	return failures ? 1 : 0;
}
