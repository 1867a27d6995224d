/* The knob search on synthetic fitness landscapes: finds the optimum of a small space in
 * far fewer evaluations than exhaustive search, never evaluates a point twice, skips
 * points the caller has seen, reports exhaustion, and is deterministic for a seed. */
#include "fake.h"

#include <cjson/cJSON.h>
#include <math.h>

static const char *const a_vals[] = {"16", "32", "64", "128", "256", "512", "1024", "2048"};
static const char *const c_vals[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
static const avo_agent_knob space4[] = {
	{"A", "16", a_vals, 8, 0, 0, 0},
	{"B", "0", NULL, 0, 1, 0, 7},
	{"C", "a", c_vals, 8, 0, 0, 0},
	{"D", "1", NULL, 0, 1, 1, 8},
};

/* Index of every knob of space4 in its domain. */
static void indexes(int idx[4], const avo_astedit_knob_edit *k, size_t nk)
{
	for (int j = 0; j < 4; j++) {
		const char *v = space4[j].value;
		for (size_t i = 0; i < nk; i++)
			if (!strcmp(k[i].knob, space4[j].name))
				v = k[i].value;
		if (space4[j].is_range)
			idx[j] = atoi(v) - (int)space4[j].lo;
		else
			for (int i = 0; i < 8; i++)
				if (!strcmp(space4[j].values[i], v))
					idx[j] = i;
	}
}

static const int opt[4] = {5, 2, 7, 3};
static const int trap[4] = {1, 1, 1, 1};

static double bowl(const avo_astedit_knob_edit *k, size_t nk, int *correct, void *ud)
{
	int idx[4];
	(void)ud;
	indexes(idx, k, nk);
	*correct = 1;
	double d = 0;
	for (int j = 0; j < 4; j++)
		d += (idx[j] - opt[j]) * (idx[j] - opt[j]);
	return 200 - d;
}

/* A broad local hill near the start and a narrow, higher peak far away; points with
 * A=2048 and D=8 are "incorrect" (the kernel would not launch). */
static double two_peaks(const avo_astedit_knob_edit *k, size_t nk, int *correct, void *ud)
{
	int idx[4];
	(void)ud;
	indexes(idx, k, nk);
	*correct = !(idx[0] == 7 && idx[3] == 7);
	double dl = 0, dg = 0;
	for (int j = 0; j < 4; j++) {
		dl += (idx[j] - trap[j]) * (idx[j] - trap[j]);
		dg += (idx[j] - opt[j]) * (idx[j] - opt[j]);
	}
	double l = 150 - dl, g = 200 - 8 * dg;
	return l > g ? l : g;
}

typedef struct {
	avo_agent_version v;
	avo_astedit_knob_edit knobs[4];
	char names[4][8], values[4][16];
} best_version;

/* Like the tune loop: a committed step becomes the base of the next. */
static void take_best(best_version *b, const avo_agent_step_result *r)
{
	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < r->nknobs && i < 4; i++) {
		snprintf(b->names[i], sizeof(b->names[i]), "%s", r->knobs[i].knob);
		snprintf(b->values[i], sizeof(b->values[i]), "%s", r->knobs[i].value);
		b->knobs[i].knob = b->names[i];
		b->knobs[i].value = b->values[i];
	}
	b->v.id = "best";
	b->v.op = "knob";
	b->v.fitness = r->eval.fitness;
	b->v.knobs = b->knobs;
	b->v.nknobs = r->nknobs < 4 ? r->nknobs : 4;
}

static int no_repeats(const fake *f)
{
	for (size_t i = 0; i < f->nevaluated; i++)
		for (size_t j = i + 1; j < f->nevaluated; j++)
			if (!strcmp(f->evaluated[i], f->evaluated[j])) {
				fprintf(stderr, "point evaluated twice: %s\n", f->evaluated[i]);
				return 0;
			}
	return 1;
}

/* Run steps until `target` fitness is evaluated, exhaustion, or max_steps. Returns the
 * number of evaluations it took (or -1 when the target was not reached). */
static int search(fake *f, const char *opts_json, double target, int max_steps, int follow_base)
{
	avo_agent_context ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.knobs = space4;
	ctx.nknobs = 4;
	ctx.cb = fake_callbacks(f);
	fake_ctx = &ctx;
	cJSON *opts = opts_json ? cJSON_Parse(opts_json) : NULL;
	avo_agent_op *op = NULL;
	CHECK(avo_agent_knob_new(&op, opts) == 0);
	cJSON_Delete(opts);
	best_version best;
	int found = -1;
	for (int s = 0; s < max_steps && found < 0; s++) {
		avo_agent_step_result r;
		int rc = avo_agent_step(op, &ctx, &r);
		CHECK(rc == 0);
		if (rc < 0 || r.outcome == AVO_AGENT_EXHAUSTED) {
			avo_agent_step_result_dispose(&r);
			break;
		}
		CHECK(r.evaluations == 1 && r.evaluated);
		if (r.eval.correct && r.eval.fitness >= target)
			found = f->evaluations;
		if (r.committed && follow_base) {
			take_best(&best, &r);
			ctx.base = &best.v;
			ctx.lineage = &best.v;
			ctx.nlineage = 1;
		}
		avo_agent_step_result_dispose(&r);
	}
	avo_agent_op_free(op);
	fake_ctx = NULL;
	return found;
}

static void test_optimum(void)
{
	fake f = {0};
	f.landscape = bowl;
	int n = search(&f, "{\"seed\": 7}", 200, 4096, 1);
	printf("bowl: optimum found after %d of 4096 points\n", n);
	CHECK(n > 0 && n <= 200); /* exhaustive search would need up to 4096 */
	CHECK(no_repeats(&f));
	fake_dispose(&f);
}

static void test_two_peaks(void)
{
	int worst = 0;
	for (int seed = 1; seed <= 5; seed++) {
		fake f = {0};
		f.landscape = two_peaks;
		char opts[64];
		snprintf(opts, sizeof(opts), "{\"seed\": %d}", seed);
		int n = search(&f, opts, 200, 4096, 1);
		printf("two peaks, seed %d: global optimum found after %d evaluations\n", seed, n);
		CHECK(n > 0 && n <= 410); /* a tenth of the space at most */
		CHECK(no_repeats(&f));
		if (n > worst)
			worst = n;
		fake_dispose(&f);
	}
	printf("two peaks: worst of 5 seeds %d of 4096\n", worst);
}

static const char *const s3[] = {"x", "y", "z"};
static const avo_agent_knob space9[] = {
	{"L", "y", s3, 3, 0, 0, 0},
	{"R", "2", NULL, 0, 1, 1, 3},
};

static int seen_odd(const avo_astedit_knob_edit *k, size_t nk, void *ud)
{
	(void)ud;
	const char *r = "2";
	for (size_t i = 0; i < nk; i++)
		if (!strcmp(k[i].knob, "R"))
			r = k[i].value;
	return atoi(r) != 2; /* R=1 and R=3 are in the cache already */
}

static double flat(const avo_astedit_knob_edit *k, size_t nk, int *correct, void *ud)
{
	(void)k;
	(void)nk;
	(void)ud;
	*correct = 1;
	return 1.0;
}

static void exhaust(int with_seen)
{
	fake f = {0};
	f.landscape = flat;
	if (with_seen)
		f.seen = seen_odd;
	avo_agent_context ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.knobs = space9;
	ctx.nknobs = 2;
	ctx.cb = fake_callbacks(&f);
	fake_ctx = &ctx;
	avo_agent_op *op = NULL;
	CHECK(avo_agent_knob_new(&op, NULL) == 0);
	int exhausted = 0;
	for (int s = 0; s < 20; s++) {
		avo_agent_step_result r;
		CHECK(avo_agent_step(op, &ctx, &r) == 0);
		if (r.outcome == AVO_AGENT_EXHAUSTED) {
			CHECK(r.note && strstr(r.note, "exhausted"));
			CHECK(r.evaluations == 0 && r.nknobs == 0);
			if (exhausted == 0)
				printf("%s\n", r.note);
			exhausted++;
		}
		avo_agent_step_result_dispose(&r);
	}
	CHECK(f.nevaluated == (with_seen ? 3u : 9u));
	CHECK(exhausted == 20 - (int)f.nevaluated); /* and it stays exhausted */
	CHECK(no_repeats(&f));
	for (size_t i = 0; with_seen && i < f.nevaluated; i++)
		CHECK(strstr(f.evaluated[i], "R=2;"));
	if (with_seen)
		CHECK(f.seen_calls >= 6);
	avo_agent_op_free(op);
	fake_ctx = NULL;
	fake_dispose(&f);
}

static void test_exhaust(void) { exhaust(0); }
static void test_seen(void) { exhaust(1); }

static void test_deterministic(void)
{
	fake a = {0}, b = {0}, c = {0};
	a.landscape = b.landscape = c.landscape = two_peaks;
	search(&a, "{\"seed\": 3}", 1e9, 60, 1);
	search(&b, "{\"seed\": 3}", 1e9, 60, 1);
	search(&c, "{\"seed\": 4}", 1e9, 60, 1);
	CHECK(a.nevaluated == 60 && b.nevaluated == 60 && c.nevaluated == 60);
	int same = 1, differs = 0;
	for (size_t i = 0; i < 60 && i < a.nevaluated && i < b.nevaluated && i < c.nevaluated; i++) {
		same &= !strcmp(a.evaluated[i], b.evaluated[i]);
		differs |= strcmp(a.evaluated[i], c.evaluated[i]) != 0;
	}
	CHECK(same);
	CHECK(differs);
	CHECK(!strcmp(a.evaluated[0], "A=16;B=0;C=a;D=1;")); /* starts from the current values */
	fake_dispose(&a);
	fake_dispose(&b);
	fake_dispose(&c);
}

/* The base's region edits ride along with every knob point; knobs never touch regions. */
static void test_keeps_regions(void)
{
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_astedit_region_edit re = {"body", "  acc += GOOD;\n"};
	avo_astedit_knob_edit ke = {"BLOCK", "128"};
	avo_agent_version v = {"v3", NULL, "llm", 2.0, NULL, 0, &re, 1, &ke, 1, NULL};
	ctx.base = &v;
	ctx.lineage = &v;
	ctx.nlineage = 1;
	avo_agent_op *op = NULL;
	CHECK(avo_agent_knob_new(&op, NULL) == 0);
	for (int s = 0; s < 3; s++) {
		avo_agent_step_result r;
		CHECK(avo_agent_step(op, &ctx, &r) == 0);
		CHECK(r.outcome == AVO_AGENT_SUBMITTED || r.outcome == AVO_AGENT_COMMITTED);
		CHECK(result_region(&r, "body") && !strcmp(result_region(&r, "body"), re.text));
		CHECK(r.nregions == 1);
		/* the base point is in the lineage: the first proposal is a neighbour */
		const char *b = result_knob(&r, "BLOCK"), *u = result_knob(&r, "UNROLL");
		CHECK(!(b && !strcmp(b, "128") && !u));
		avo_agent_step_result_dispose(&r);
	}
	avo_agent_op_free(op);
	cJSON *bad = cJSON_Parse("{\"neighbors\": 0.9, \"crossover\": 0.5}");
	CHECK(avo_agent_knob_new(&op, bad) == AVO_EINVALID && op == NULL);
	CHECK(strstr(avo_error_last(), "neighbors"));
	cJSON_Delete(bad);
}

/* A wide range: the best thread count is 256 of 1..1024; halving and doubling moves
 * cross the range in a few steps where +-1 moves would need hundreds. */
static const char *const v4[] = {"w", "x", "y", "z"};
static const avo_agent_knob wide[] = {
	{"T", "1", NULL, 0, 1, 1, 1024},
	{"V", "w", v4, 4, 0, 0, 0},
};

static double log_peak(const avo_astedit_knob_edit *k, size_t nk, int *correct, void *ud)
{
	(void)ud;
	double t = 1;
	int vi = 0;
	for (size_t i = 0; i < nk; i++) {
		if (!strcmp(k[i].knob, "T"))
			t = atof(k[i].value);
		if (!strcmp(k[i].knob, "V"))
			vi = k[i].value[0] - 'w';
	}
	*correct = 1;
	return 100 - 10 * fabs(log2(t) - 8) - (vi - 2) * (vi - 2);
}

static void test_wide_range(void)
{
	fake f = {0};
	f.landscape = log_peak;
	avo_agent_context ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.knobs = wide;
	ctx.nknobs = 2;
	ctx.cb = fake_callbacks(&f);
	fake_ctx = &ctx;
	avo_agent_op *op = NULL;
	CHECK(avo_agent_knob_new(&op, NULL) == 0);
	int found = -1;
	for (int s = 0; s < 400 && found < 0; s++) {
		avo_agent_step_result r;
		CHECK(avo_agent_step(op, &ctx, &r) == 0);
		if (r.eval.fitness >= 100)
			found = f.evaluations;
		avo_agent_step_result_dispose(&r);
	}
	printf("wide range: T=256 found after %d of 4096 points\n", found);
	CHECK(found > 0 && found <= 200);
	CHECK(no_repeats(&f));
	avo_agent_op_free(op);
	fake_ctx = NULL;
	fake_dispose(&f);
}

/* an evaluator that cannot run stops the step with its error; the point is not remembered */
static void test_eval_error(void)
{
	fake f = {0};
	f.landscape = flat;
	f.fail_eval = 1;
	avo_agent_context ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.knobs = space9;
	ctx.nknobs = 2;
	ctx.cb = fake_callbacks(&f);
	fake_ctx = &ctx;
	avo_agent_op *op = NULL;
	CHECK(avo_agent_knob_new(&op, NULL) == 0);
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == AVO_EIO);
	CHECK(strstr(avo_error_last(), "cannot run the compiler"));
	avo_agent_step_result_dispose(&r);
	f.fail_eval = 0;
	CHECK(avo_agent_step(op, &ctx, &r) == 0);
	CHECK(r.outcome == AVO_AGENT_COMMITTED && f.nevaluated == 1);
	CHECK(!strcmp(f.evaluated[0], "L=y;R=2;")); /* the failed point is proposed again */
	avo_agent_step_result_dispose(&r);
	avo_agent_op_free(op);
	fake_ctx = NULL;
	fake_dispose(&f);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{"optimum", test_optimum},     {"two_peaks", test_two_peaks}, {"exhaust", test_exhaust},
		{"seen", test_seen},           {"deterministic", test_deterministic},
		{"keeps_regions", test_keeps_regions}, {"wide_range", test_wide_range},
		{"eval_error", test_eval_error},
	};
	int ran = 0;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (argc < 2 || !strcmp(argv[1], tests[i].name)) {
			tests[i].fn();
			ran++;
		}
	if (!ran) {
		fprintf(stderr, "no test named %s\n", argv[1]);
		return 2;
	}
	return failures ? 1 : 0;
}
