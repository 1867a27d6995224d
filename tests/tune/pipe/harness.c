/* The pipeline tests' harness (legacy protocol, --trust-harness): a "device" run of known
 * length. It sleeps --sleep-ms (the run occupies its worker, not a CPU), then reports 10
 * samples of true_ms = base_ms * (1 + 0.15 |A - best_a| + step_b |B - best_b|), with a 1%
 * spread that depends only on the knobs: every run of a variant reports the same samples,
 * so the lineage is a function of the proposals alone, whatever device ran them and when.
 * step_b (default 0.1) below the gate's 1% minimum gain: B's steps look better and are
 * confirmed, but never committed (a confirmation that leaves the best as it was).
 *   harness --base-ms 1.0 --sleep-ms 300 --best-a 5 --best-b 2 [--step-b 0.1] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int synth_a(void);
int synth_b(void);

int main(int argc, char **argv)
{
	double base = 1.0, sleep_ms = 0, step_b = 0.1;
	int best_a = 5, best_b = 2;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--base-ms"))
			base = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--sleep-ms"))
			sleep_ms = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--best-a"))
			best_a = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--best-b"))
			best_b = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--step-b"))
			step_b = atof(argv[i + 1]);
	}
	struct timespec ts = {(time_t)(sleep_ms / 1000), (long)((sleep_ms - 1000 * (time_t)(sleep_ms / 1000)) * 1e6)};
	while (nanosleep(&ts, &ts) != 0)
		;
	int a = synth_a(), b = synth_b();
	double true_ms = base * (1 + 0.15 * abs(a - best_a) + step_b * abs(b - best_b)), sum = 0;
	printf("{\"correct\":true,\"max_rel_err\":0,\"samples\":[");
	for (int i = 0; i < 10; i++) {
		double s = true_ms * (1 + 0.01 * (((a * 7 + b * 13 + i * 5) % 11) - 5) / 5.0);
		sum += s;
		printf("%s%.9g", i ? "," : "", s);
	}
	printf("],\"ms\":%.9g}\n", sum / 10);
	return 0;
}
