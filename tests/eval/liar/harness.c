/* Harness of the timing tests: the output is 0, 1, 2, ...; each call spins 2 ms. */
#include "avo_harness.h"
#include "spin.h"

static int inputs(void *u, uint64_t seed)
{
	(void)u, (void)seed;
	return 0;
}

static int reference(void *u, float *ref)
{
	(void)u;
	for (int i = 0; i < 64; i++)
		ref[i] = (float)i;
	return 0;
}

static int call(void *u, void *out)
{
	(void)u;
	return avo_test_spin(out, 64, 2.0);
}

int main(void)
{
	avo_harness h = AVO_HARNESS_INIT;
	h.out_count = 64;
	h.inputs = inputs;
	h.reference = reference;
	h.call = call;
	return avo_harness_main(&h);
}
