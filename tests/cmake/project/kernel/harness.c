/* Harness (harness/avo_harness.h): the output is kern_value() % 42, which the reference
 * says is 0; a call spins for a time falling with the square of kern_value(), so the
 * largest SCALE is clearly the fastest. */
#include "app.h"
#include "avo_harness.h"

static int inputs(void *u, uint64_t seed)
{
	(void)u, (void)seed;
	return 0;
}

static int reference(void *u, float *ref)
{
	(void)u;
	ref[0] = 0.0f;
	return 0;
}

static int call(void *u, void *out)
{
	(void)u;
	int v = kern_value();
	volatile unsigned long spin = 0;
	for (unsigned long i = 0, n = 4000000000ul / ((unsigned long)v * (unsigned long)v); i < n; i++)
		spin += i;
	((float *)out)[0] = (float)(v % 42);
	return 0;
}

int main(void)
{
	avo_harness h = AVO_HARNESS_INIT;
	h.out_count = 1;
	h.inputs = inputs;
	h.reference = reference;
	h.call = call;
	return avo_harness_main(&h);
}
