/* Harness of the CPU attention example, speaking avo's harness protocol (engine/eval.h):
 *
 *   harness --sq N --sk N --d N [--causal 0|1] [--iters N] [--warmup N] [--tol X] [--seed S]
 *
 * Fresh random inputs every run (seeded from the clock and the pid unless --seed; never
 * zeros), a double-precision reference, the output poisoned with a NaN pattern before each
 * checked call so unwritten elements are caught, then the median of --iters timed calls
 * (after --warmup), and one JSON line on stdout:
 *   {"correct":true,"max_rel_err":..,"rel_l2_err":..,"ms":..,"tflops":..}
 * max_rel_err = max|out-ref| / max|ref|; rel_l2_err = ||out-ref||2 / ||ref||2.
 * Exit 0 when correct, 1 when not, 2 on bad arguments or no memory. */
#define _POSIX_C_SOURCE 200809L
#include "attention.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const uint32_t POISON = 0x7fc0deadu; /* a quiet NaN no computation produces */

static uint64_t rng_state;

static uint64_t rng_next(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [-1, 1], never exactly zero. */
static float rand_val(void)
{
	float x = (float)((double)(rng_next() >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
	return x == 0.0f ? 0.5f : x;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int visible(int i, int j, int sq, int sk, int causal)
{
	return !causal || j <= i + (sk - sq);
}

static void reference(const float *q, const float *k, const float *v, double *ref, int sq, int sk, int d,
		      int causal)
{
	double *p = malloc(sizeof(double) * (size_t)sk);
	const double scale = 1.0 / sqrt((double)d);
	for (int i = 0; i < sq; i++) {
		double mx = -INFINITY, sum = 0;
		for (int j = 0; j < sk; j++) {
			double dot = 0;
			for (int c = 0; c < d; c++)
				dot += (double)q[(size_t)i * d + c] * (double)k[(size_t)j * d + c];
			p[j] = visible(i, j, sq, sk, causal) ? dot * scale : -INFINITY;
			if (p[j] > mx)
				mx = p[j];
		}
		for (int j = 0; j < sk; j++) {
			p[j] = mx == -INFINITY ? 0 : exp(p[j] - mx);
			sum += p[j];
		}
		for (int c = 0; c < d; c++) {
			double o = 0;
			for (int j = 0; j < sk; j++)
				o += p[j] * (double)v[(size_t)j * d + c];
			ref[(size_t)i * d + c] = sum > 0 ? o / sum : 0;
		}
	}
	free(p);
}

static void poison(float *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		memcpy(&o[i], &POISON, sizeof(POISON));
}

typedef struct {
	size_t unwritten, nonfinite;
	double max_rel, rel_l2;
} check;

static check compare(const float *o, const double *ref, size_t n)
{
	check c = {0, 0, 0, 0};
	double max_ref = 0, max_diff = 0, sq_diff = 0, sq_ref = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t bits;
		memcpy(&bits, &o[i], sizeof(bits));
		if (bits == POISON) {
			c.unwritten++;
			continue;
		}
		if (!isfinite(o[i])) {
			c.nonfinite++;
			continue;
		}
		double diff = fabs((double)o[i] - ref[i]);
		max_ref = fmax(max_ref, fabs(ref[i]));
		max_diff = fmax(max_diff, diff);
		sq_diff += diff * diff;
		sq_ref += ref[i] * ref[i];
	}
	if (c.unwritten || c.nonfinite) {
		c.max_rel = c.rel_l2 = INFINITY;
	} else {
		c.max_rel = max_ref > 0 ? max_diff / max_ref : max_diff;
		c.rel_l2 = sq_ref > 0 ? sqrt(sq_diff / sq_ref) : sqrt(sq_diff);
	}
	return c;
}

static void print_num(const char *name, double v, int last)
{
	if (isfinite(v))
		printf("\"%s\":%.9g%s", name, v, last ? "" : ",");
	else
		printf("\"%s\":null%s", name, last ? "" : ",");
}

static int usage(void)
{
	fprintf(stderr, "usage: harness --sq N --sk N --d N [--causal 0|1] [--iters N] [--warmup N] "
			"[--tol X] [--seed S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	long sq = 0, sk = 0, d = 0, causal = 0, iters = 25, warmup = 3;
	double tol = 1e-3;
	uint64_t seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() << 16;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--sq"))
			sq = atol(v);
		else if (!strcmp(a, "--sk"))
			sk = atol(v);
		else if (!strcmp(a, "--d"))
			d = atol(v);
		else if (!strcmp(a, "--causal"))
			causal = atol(v);
		else if (!strcmp(a, "--iters"))
			iters = atol(v);
		else if (!strcmp(a, "--warmup"))
			warmup = atol(v);
		else if (!strcmp(a, "--tol"))
			tol = atof(v);
		else if (!strcmp(a, "--seed"))
			seed = strtoull(v, NULL, 0);
		else
			return usage();
	}
	if (argc % 2 == 0 || sq <= 0 || sk <= 0 || d <= 0 || d > AVO_ATTN_MAX_D || sq > 1 << 16 ||
	    sk > 1 << 16 || iters < 20 || warmup < 0)
		return usage(); /* the median of at least 20 runs */
	rng_state = seed;
	fprintf(stderr, "harness: sq=%ld sk=%ld d=%ld causal=%ld seed=%llu\n", sq, sk, d, causal,
		(unsigned long long)seed);

	size_t nq = (size_t)sq * (size_t)d, nk = (size_t)sk * (size_t)d;
	float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nk);
	float *v = malloc(sizeof(float) * nk), *o = malloc(sizeof(float) * nq);
	double *ref = malloc(sizeof(double) * nq), *times = malloc(sizeof(double) * (size_t)iters);
	if (!q || !k || !v || !o || !ref || !times) {
		fprintf(stderr, "harness: out of memory\n");
		return 2;
	}
	for (size_t i = 0; i < nq; i++)
		q[i] = rand_val();
	for (size_t i = 0; i < nk; i++) {
		k[i] = rand_val();
		v[i] = rand_val();
	}
	reference(q, k, v, ref, (int)sq, (int)sk, (int)d, (int)causal);

	/* Checked call on a poisoned output. */
	poison(o, nq);
	int rc = avo_cpu_attention(q, k, v, o, (int)sq, (int)sk, (int)d, (int)causal);
	check c1 = compare(o, ref, nq);

	for (long i = 0; i < warmup; i++)
		avo_cpu_attention(q, k, v, o, (int)sq, (int)sk, (int)d, (int)causal);
	for (long i = 0; i < iters; i++) {
		double t0 = now_ms();
		avo_cpu_attention(q, k, v, o, (int)sq, (int)sk, (int)d, (int)causal);
		times[i] = now_ms() - t0;
	}
	qsort(times, (size_t)iters, sizeof(double), cmp_double);
	double ms = iters % 2 ? times[iters / 2] : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);

	/* Checked again after the timed calls: a kernel must not depend on earlier calls. */
	poison(o, nq);
	avo_cpu_attention(q, k, v, o, (int)sq, (int)sk, (int)d, (int)causal);
	check c2 = compare(o, ref, nq);

	double pairs = 0;
	for (long i = 0; i < sq; i++)
		pairs += causal ? fmax(0.0, fmin((double)sk, (double)(i + (sk - sq) + 1))) : (double)sk;
	double tflops = 4.0 * (double)d * pairs / (ms * 1e-3) / 1e12;

	size_t unwritten = c1.unwritten > c2.unwritten ? c1.unwritten : c2.unwritten;
	size_t nonfinite = c1.nonfinite > c2.nonfinite ? c1.nonfinite : c2.nonfinite;
	double max_rel = fmax(c1.max_rel, c2.max_rel), rel_l2 = fmax(c1.rel_l2, c2.rel_l2);
	int correct = rc == 0 && !unwritten && !nonfinite && max_rel <= tol;
	if (rc != 0)
		fprintf(stderr, "harness: the kernel returned %d\n", rc);
	if (unwritten)
		fprintf(stderr, "harness: %zu of %zu outputs were never written (still poisoned)\n", unwritten, nq);
	if (nonfinite)
		fprintf(stderr, "harness: %zu of %zu outputs are NaN or Inf\n", nonfinite, nq);
	if (!unwritten && !nonfinite && max_rel > tol)
		fprintf(stderr, "harness: max_rel_err %.3g exceeds %.3g\n", max_rel, tol);

	printf("{\"correct\":%s,", correct ? "true" : "false");
	print_num("max_rel_err", max_rel, 0);
	print_num("rel_l2_err", rel_l2, 0);
	print_num("ms", ms, 0);
	print_num("tflops", tflops, 1);
	printf("}\n");
	free(q);
	free(k);
	free(v);
	free(o);
	free(ref);
	free(times);
	return correct ? 0 : 1;
}
