/* The warm hold of protocol avo-harness-1 (engine/proto_avoh.c, included here so production
 * code carries no hook): which run calls avo times, and the refusal of a variant that idles
 * through the hold. Each case plays a candidate's records with chosen send times (the
 * kernel's stamps in a real run) and reads avo's answers as the library would. */
#include "../../engine/proto_avoh.c"

enum { COUNT = 8 }; /* outputs per call, float32 */

static int failures;
#define CHECK(cond, ...)                                                                     \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                 \
			fprintf(stderr, __VA_ARGS__);                                        \
			fputc('\n', stderr);                                                 \
			failures++;                                                          \
		}                                                                            \
	} while (0)

typedef struct {
	chan c;
	int sv[2];
	double t; /* the stamp of the next record (s) */
	float out[COUNT];
} play;

static void play_open(play *p, double hold_ms)
{
	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->sv) < 0)
		abort();
	fcntl(p->sv[1], F_SETFL, O_NONBLOCK);
	chan *c = &p->c;
	c->ctl = p->sv[0];
	c->want = AVO_HREC_HELLO;
	c->phase = AVO_HPHASE_CHECK;
	c->check_rep[0] = -1;
	c->check_rep[1] = 3;
	c->check_rep[2] = 7;
	c->rng = 42;
	c->dtype = 1;
	c->count = COUNT;
	c->setup_ref = 0.0005;
	c->hold_ms = hold_ms;
	for (int k = 0; k < NREF; k++) {
		c->ref[k] = calloc(COUNT, sizeof(float));
		for (int i = 0; i < COUNT; i++)
			c->ref[k][i] = 0.5f;
	}
	for (int i = 0; i < COUNT; i++)
		p->out[i] = 0.5f;
	p->t = 1.0;
}

/* One record, sent `dt` ms after the previous one; returns avo's one-byte answer (0: none). */
static char put(play *p, double dt, uint32_t type, uint32_t a, uint32_t b, double x, int with_output)
{
	char buf[sizeof(avo_harness_rec) + sizeof(p->out)], ans[16];
	avo_harness_rec r = {AVO_HARNESS_MAGIC, type, a, b, x, 0};
	if (type == AVO_HREC_HELLO)
		r = (avo_harness_rec){AVO_HARNESS_MAGIC, type, 1, AVO_HARNESS_VERSION, 1e6, COUNT};
	if (type == AVO_HREC_CALL)
		r.n = avo_harness_digest(p->out, sizeof(p->out));
	if (with_output)
		r.n = sizeof(p->out);
	memcpy(buf, &r, sizeof(r));
	memcpy(buf + sizeof(r), p->out, sizeof(p->out));
	p->t += dt * 1e-3;
	feed(&p->c, buf, sizeof(r) + (with_output ? sizeof(p->out) : 0), p->t);
	ssize_t n = recv(p->sv[1], ans, sizeof(ans), MSG_DONTWAIT);
	return n == 1 ? ans[0] : 0;
}

/* A whole run: every run call takes `ms` (reported and between PRE and CALL), or `light_ms`
 * for the first `nlight` calls, which then idle for `ms` before the next one. The first
 * run call's PRE comes `wait_ms` after its READY (avo comparing the checked output before
 * it answers). Returns the timing verdict (NULL: accepted; the caller frees) and the
 * number of warm calls. */
static char *run_waiting(double hold_ms, double ms, int nlight, double light_ms, double wait_ms, int *nwarm)
{
	play p;
	play_open(&p, hold_ms);
	uint32_t kept[NCHECKED];
	int nkept = 0;
	put(&p, 0, AVO_HREC_HELLO, 0, 0, 0, 0);
	put(&p, 1, AVO_HREC_READY, AVO_HPHASE_CHECK, 0, 0, 0);
	put(&p, 5, AVO_HREC_OUTPUT, 0, 0, 0, 1);
	for (uint32_t i = 0; i < 1000 && !p.c.err[0]; i++) {
		double took = (int)i < nlight ? light_ms : ms;
		put(&p, (int)i < nlight ? ms : 0.05, AVO_HREC_READY, AVO_HPHASE_RUN, i, 0, 0);
		put(&p, i ? 0.5 : wait_ms, AVO_HREC_PRE, i, 0, 0, 0);
		char a = put(&p, took, AVO_HREC_CALL, i, 0, took, 0);
		if ((a == AVO_HARNESS_KEEP || a == AVO_HARNESS_KEEP_END) && nkept < NCHECKED)
			kept[nkept++] = i + 1;
		if (a == AVO_HARNESS_END || a == AVO_HARNESS_KEEP_END)
			break;
		CHECK(a == AVO_HARNESS_NEXT || a == AVO_HARNESS_KEEP, "answer '%c' to call %u", a, i);
	}
	for (int k = 0; k < nkept; k++)
		put(&p, 1, AVO_HREC_OUTPUT, kept[k], 0, 0, 1);
	put(&p, 1, AVO_HREC_END, 0, 0, 0, 0);
	CHECK(p.c.got_end && !p.c.err[0], "the run did not complete: %s", p.c.err);
	CHECK(p.c.nsamples == REPS && p.c.ncompared == NREF && nkept == NCHECKED, "%d timed, %d compared, %d kept",
	      p.c.nsamples, p.c.ncompared, nkept);
	*nwarm = p.c.nwarm;
	char *verdict = check_times(&p.c);
	close(p.sv[0]);
	close(p.sv[1]);
	chan_free(&p.c);
	return verdict;
}

static char *run(double hold_ms, double ms, int nlight, double light_ms, int *nwarm)
{
	return run_waiting(hold_ms, ms, nlight, light_ms, 0.5, nwarm);
}

int main(void)
{
	int nwarm;
	/* No span (CPU): WARMUP calls and 0-2 more at random. */
	char *v = run(0, 2.0, 0, 0, &nwarm);
	CHECK(!v && nwarm >= WARMUP && nwarm <= WARMUP + 2, "no span: %d warm calls (%s)", nwarm, v ? v : "ok");
	free(v);
	/* A 500 ms span of 10 ms calls: the calls until 500 ms have passed are warm. */
	v = run(HOLD_MS, 10.0, 0, 0, &nwarm);
	CHECK(!v && nwarm >= 45 && nwarm <= 51, "500 ms of 10 ms calls: %d warm calls (%s)", nwarm, v ? v : "ok");
	free(v);
	/* A second between the first warm call's READY and its PRE (avo comparing the checked
	 * output, the device idle) is not part of the hold. */
	v = run_waiting(HOLD_MS, 10.0, 0, 0, 1000.0, &nwarm);
	CHECK(!v && nwarm >= 45 && nwarm <= 51, "idle before the hold: %d warm calls (%s)", nwarm, v ? v : "ok");
	free(v);
	/* Calls too short to fill the span: at most MAX_WARM. */
	v = run(HOLD_MS, 0.01, 0, 0, &nwarm);
	CHECK(!v && nwarm == MAX_WARM, "short calls: %d warm calls, %d at most (%s)", nwarm, MAX_WARM, v ? v : "ok");
	free(v);
	/* Idling through most of the hold (the variant returns at once, the device rests): refused. */
	v = run(HOLD_MS, 10.0, 40, 0.01, &nwarm);
	CHECK(v && strstr(v, "work skipped while avo held the device warm"), "idling through the hold: %s",
	      v ? v : "accepted");
	free(v);
	/* The same without a span (CPU: host load stretches timed calls, so no such check). */
	v = run(0, 10.0, 3, 0.01, &nwarm);
	CHECK(!v, "no span, light warm calls: %s", v ? v : "ok");
	free(v);
	/* Warm calls 20% faster than the timed ones (more clock before the power limit): fine. */
	v = run(HOLD_MS, 10.0, 30, 8.0, &nwarm);
	CHECK(!v, "faster warm calls: %s", v ? v : "ok");
	free(v);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures != 0;
}
