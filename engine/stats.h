/* Statistics for the gate: is variant B faster than variant A, by how much, how sure.
 *
 * Inputs are per-config samples of run time in ms (lower is faster), one array for A and
 * one for B per config. The gain of B over A is the ratio of geometric means across
 * configs, less one:
 *     gain = exp( mean over configs c of [ mean(log a_c) - mean(log b_c) ] ) - 1
 * (0.05: B is 5% faster; with one config it is the ratio of the two geometric means).
 * Its interval is a percentile bootstrap: each replicate resamples every config's A and B
 * samples with replacement (independently) and recomputes the gain; the interval at
 * confidence C is the [(1-C)/2, (1+C)/2] quantiles of the replicates. The RNG is seeded
 * (splitmix64), so the same samples and seed give the same interval.
 *
 * Ownership: nothing is allocated for the caller.
 */
#ifndef AVO_STATS_H
#define AVO_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	const double *a;     /* A's samples (ms) */
	size_t na;
	const double *b;     /* B's samples (ms) */
	size_t nb;
	/* Optional (NULL: one group): the group of each sample, a device. Samples of several
	 * groups are measured as pairs within a group (A and B on one device); each group's
	 * log samples are then centred on that group's level, (mean log a + mean log b) / 2,
	 * before anything else, so the groups' speeds neither move the gain (equal counts per
	 * side in a group: unchanged) nor widen its interval. One group: left as they are. */
	const int *ga, *gb;
} avo_stats_config;

typedef struct {
	double gain;         /* point estimate */
	double lo, hi;       /* the interval at `confidence` */
	double confidence;   /* e.g. 0.95 */
	size_t samples;      /* every sample used, A and B, all configs */
} avo_stats_gain;

/* AVO_EINVALID when a config has no sample on one side or a sample is not > 0. */
int avo_stats_gain_interval(avo_stats_gain *out, const avo_stats_config *cfg, size_t ncfg,
			    double confidence, unsigned replicates, uint64_t seed);

/* Relative standard deviation (sd / mean) of samples; 0 with fewer than two. */
double avo_stats_rel_sd(const double *x, size_t n);

/* Geometric mean of positive samples; 0 when n is 0. */
double avo_stats_geomean(const double *x, size_t n);

#endif
