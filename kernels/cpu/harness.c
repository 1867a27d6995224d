/* Harness of the CPU attention example, on avo's harness library (harness/avo_harness.h):
 *
 *   harness --sq N --sk N --d N [--causal 0|1]
 *
 * It says how to make inputs from a seed (uniform in [-1, 1], never zero), the reference
 * (double precision) and how to call the variant; the library poisons, checks, times and
 * speaks to avo. */
#include "attention.h"
#include "avo_harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	int sq, sk, d, causal;
	float *q, *k, *v;
} attn;

static int make_inputs(void *u, uint64_t seed)
{
	attn *a = u;
	size_t nq = (size_t)a->sq * (size_t)a->d, nk = (size_t)a->sk * (size_t)a->d;
	for (size_t i = 0; i < nq; i++)
		a->q[i] = avo_harness_uniform(&seed);
	for (size_t i = 0; i < nk; i++) {
		a->k[i] = avo_harness_uniform(&seed);
		a->v[i] = avo_harness_uniform(&seed);
	}
	return 0;
}

static int visible(const attn *a, int i, int j)
{
	return !a->causal || j <= i + (a->sk - a->sq);
}

static int reference(void *u, float *ref)
{
	const attn *a = u;
	int d = a->d;
	double *p = malloc(sizeof(double) * (size_t)a->sk);
	if (!p)
		return -1;
	const double scale = 1.0 / sqrt((double)d);
	for (int i = 0; i < a->sq; i++) {
		double mx = -INFINITY, sum = 0;
		for (int j = 0; j < a->sk; j++) {
			double dot = 0;
			for (int c = 0; c < d; c++)
				dot += (double)a->q[(size_t)i * d + c] * (double)a->k[(size_t)j * d + c];
			p[j] = visible(a, i, j) ? dot * scale : -INFINITY;
			mx = fmax(mx, p[j]);
		}
		for (int j = 0; j < a->sk; j++) {
			p[j] = mx == -INFINITY ? 0 : exp(p[j] - mx);
			sum += p[j];
		}
		for (int c = 0; c < d; c++) {
			double o = 0;
			for (int j = 0; j < a->sk; j++)
				o += p[j] * (double)a->v[(size_t)j * d + c];
			ref[(size_t)i * d + c] = (float)(sum > 0 ? o / sum : 0);
		}
	}
	free(p);
	return 0;
}

static int call(void *u, void *out)
{
	const attn *a = u;
	return avo_cpu_attention(a->q, a->k, a->v, out, a->sq, a->sk, a->d, a->causal);
}

static int usage(void)
{
	fprintf(stderr, "usage: harness --sq N --sk N --d N [--causal 0|1]\n");
	return 2;
}

int main(int argc, char **argv)
{
	attn a = {0, 0, 0, 0, NULL, NULL, NULL};
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i];
		int v = atoi(argv[i + 1]);
		if (!strcmp(o, "--sq"))
			a.sq = v;
		else if (!strcmp(o, "--sk"))
			a.sk = v;
		else if (!strcmp(o, "--d"))
			a.d = v;
		else if (!strcmp(o, "--causal"))
			a.causal = v;
		else
			return usage();
	}
	if (argc % 2 == 0 || a.sq <= 0 || a.sk <= 0 || a.d <= 0 || a.d > AVO_ATTN_MAX_D || a.sq > 1 << 16 ||
	    a.sk > 1 << 16)
		return usage();
	size_t nq = (size_t)a.sq * (size_t)a.d, nk = (size_t)a.sk * (size_t)a.d;
	a.q = malloc(sizeof(float) * nq);
	a.k = malloc(sizeof(float) * nk);
	a.v = malloc(sizeof(float) * nk);
	if (!a.q || !a.k || !a.v) {
		fprintf(stderr, "harness: out of memory\n");
		return 2;
	}
	double pairs = 0;
	for (int i = 0; i < a.sq; i++)
		pairs += a.causal ? fmax(0.0, fmin((double)a.sk, (double)(i + (a.sk - a.sq) + 1))) : (double)a.sk;
	avo_harness h = AVO_HARNESS_INIT;
	h.user = &a;
	h.out_count = nq;
	h.out_type = AVO_HARNESS_F32;
	h.flops = 4.0 * (double)a.d * pairs;
	h.inputs = make_inputs;
	h.reference = reference;
	h.call = call;
	int rc = avo_harness_main(&h);
	free(a.q);
	free(a.k);
	free(a.v);
	return rc;
}
