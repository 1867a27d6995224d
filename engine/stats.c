/* Bootstrap interval of a ratio of geometric means (stats.h). */
#include "stats.h"
#include "avo_base.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). The modulo bias is below 2^-40 for the sample counts here. */
static size_t pick(uint64_t *s, size_t n)
{
	return (size_t)(splitmix64(s) % n);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double avo_stats_geomean(const double *x, size_t n)
{
	double s = 0;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		s += log(x[i]);
	return exp(s / (double)n);
}

double avo_stats_rel_sd(const double *x, size_t n)
{
	double m = 0, v = 0;
	if (n < 2)
		return 0;
	for (size_t i = 0; i < n; i++)
		m += x[i];
	m /= (double)n;
	for (size_t i = 0; i < n; i++)
		v += (x[i] - m) * (x[i] - m);
	return m > 0 ? sqrt(v / (double)(n - 1)) / m : 0;
}

/* Mean of logs of a resample of `lx` (or of lx itself when rng is NULL). */
static double mean_log(const double *lx, size_t n, uint64_t *rng)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += rng ? lx[pick(rng, n)] : lx[i];
	return s / (double)n;
}

/* Mean of the logs in group g (all when groups is NULL); *n their count. */
static double group_mean(const double *lx, const int *groups, size_t n, int g, size_t *k)
{
	double s = 0;
	*k = 0;
	for (size_t i = 0; i < n; i++)
		if (!groups || groups[i] == g)
			s += lx[i], ++*k;
	return *k ? s / (double)*k : 0;
}

/* The group of sample i of a config, A's samples first. */
static int group_of(const avo_stats_config *c, size_t i)
{
	return i < c->na ? c->ga[i] : c->gb[i - c->na];
}

/* Centre each group of a config's logs on the group's level (stats.h). Groups are disjoint,
 * so shifting one leaves the others' means as they were. */
static void center_groups(double *la, double *lb, const avo_stats_config *c)
{
	if (!c->ga || !c->gb)
		return;
	size_t n = c->na + c->nb, i = 1;
	while (i < n && group_of(c, i) == group_of(c, 0))
		i++;
	if (i == n)
		return; /* one group: the logs stay as they are */
	for (i = 0; i < n; i++) {
		int g = group_of(c, i);
		size_t first = 0, ka, kb;
		while (group_of(c, first) != g)
			first++;
		if (first < i)
			continue; /* centred at its first sample */
		double ma = group_mean(la, c->ga, c->na, g, &ka), mb = group_mean(lb, c->gb, c->nb, g, &kb);
		if (!ka || !kb)
			continue; /* one side only in this group: nothing to centre it on */
		double o = (ma + mb) / 2;
		for (size_t j = 0; j < c->na; j++)
			la[j] -= c->ga[j] == g ? o : 0;
		for (size_t j = 0; j < c->nb; j++)
			lb[j] -= c->gb[j] == g ? o : 0;
	}
}

int avo_stats_gain_interval(avo_stats_gain *out, const avo_stats_config *cfg, size_t ncfg,
			    double confidence, unsigned replicates, uint64_t seed)
{
	size_t total = 0;
	memset(out, 0, sizeof(*out));
	if (!ncfg)
		return avo_error_set(AVO_EINVALID, "no configs to compare");
	for (size_t c = 0; c < ncfg; c++) {
		if (!cfg[c].na || !cfg[c].nb)
			return avo_error_set(AVO_EINVALID, "config %zu has no samples on one side", c);
		total += cfg[c].na + cfg[c].nb;
	}
	if (replicates < 100)
		replicates = 100;
	if (!(confidence > 0 && confidence < 1))
		confidence = 0.95;
	/* Logs once: every replicate is then sums only. */
	double *logs = malloc(total * sizeof(double)), *reps = malloc(replicates * sizeof(double));
	const double **la = calloc(ncfg, sizeof(*la)), **lb = calloc(ncfg, sizeof(*lb));
	int rc = 0;
	if (!logs || !reps || !la || !lb) {
		rc = avo_oom();
		goto done;
	}
	double *p = logs;
	for (size_t c = 0; c < ncfg; c++) {
		double *first = p;
		la[c] = p;
		for (size_t i = 0; i < cfg[c].na; i++) {
			if (!(cfg[c].a[i] > 0) || !isfinite(cfg[c].a[i])) {
				rc = avo_error_set(AVO_EINVALID, "a sample is not a positive time");
				goto done;
			}
			*p++ = log(cfg[c].a[i]);
		}
		lb[c] = p;
		for (size_t i = 0; i < cfg[c].nb; i++) {
			if (!(cfg[c].b[i] > 0) || !isfinite(cfg[c].b[i])) {
				rc = avo_error_set(AVO_EINVALID, "a sample is not a positive time");
				goto done;
			}
			*p++ = log(cfg[c].b[i]);
		}
		center_groups(first, first + cfg[c].na, &cfg[c]);
	}
	uint64_t rng = seed;
	for (unsigned r = 0; r <= replicates; r++) {
		uint64_t *g = r == replicates ? NULL : &rng; /* the last round: the point estimate */
		double d = 0;
		for (size_t c = 0; c < ncfg; c++)
			d += mean_log(la[c], cfg[c].na, g) - mean_log(lb[c], cfg[c].nb, g);
		double gain = exp(d / (double)ncfg) - 1;
		if (g)
			reps[r] = gain;
		else
			out->gain = gain;
	}
	qsort(reps, replicates, sizeof(double), cmp_double);
	double tail = (1 - confidence) / 2;
	size_t lo = (size_t)floor(tail * (replicates - 1)), hi = (size_t)ceil((1 - tail) * (replicates - 1));
	out->lo = reps[lo];
	out->hi = reps[hi < replicates ? hi : replicates - 1];
	out->confidence = confidence;
	out->samples = total;
done:
	free(logs);
	free(reps);
	free(la);
	free(lb);
	return rc;
}
