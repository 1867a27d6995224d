/* The gate tests' harness (legacy protocol): it times nothing. It reports, per run, 10
 * samples of true_ms * (1 + noise * N(0,1)), true_ms = base_ms * 1000 / SPEED, from a
 * seeded RNG: the seed is the config's --seed plus a counter kept in --state (the run's
 * number), so a trial is reproducible. Without a writable state file it uses the clock.
 *   harness --seed S --noise 0.03 --base-ms 1.0 --state FILE */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int synth_speed(void);
int synth_pad(void);

static uint64_t rng;

static double uniform(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
	return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static unsigned long long next_run(const char *state)
{
	unsigned long long n = 0;
	FILE *f = state ? fopen(state, "r") : NULL;
	if (f) {
		if (fscanf(f, "%llu", &n) != 1)
			n = 0;
		fclose(f);
	}
	f = state ? fopen(state, "w") : NULL;
	if (!f)
		return (unsigned long long)time(NULL) ^ (unsigned long long)clock();
	fprintf(f, "%llu\n", n + 1);
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	double noise = 0.03, base = 1.0;
	unsigned long long seed = 1;
	const char *state = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--noise"))
			noise = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--base-ms"))
			base = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--state"))
			state = argv[i + 1];
	}
	rng = seed * 1000003ull + next_run(state);
	double true_ms = base * 1000.0 / synth_speed() + 0 * synth_pad();
	double s[10], sum = 0;
	printf("{\"correct\":true,\"max_rel_err\":0,\"samples\":[");
	for (int i = 0; i < 10; i++) {
		s[i] = true_ms * (1 + noise * gauss());
		if (s[i] < true_ms * 0.01)
			s[i] = true_ms * 0.01;
		sum += s[i];
		printf("%s%.9g", i ? "," : "", s[i]);
	}
	printf("],\"ms\":%.9g}\n", sum / 10);
	return 0;
}
