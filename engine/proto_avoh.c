/* Protocol "avo-harness-1" (harness/avo_harness_proto.h): the verdict is reached here, in
 * avo, from data the variant's process cannot forge into a pass.
 *
 * Per config: avo draws the seeds of the checked call and of two timed calls it will
 * check (which ones stays in avo until they have run). A reference process (the harness
 * linked with the original kernel, never calling it) computes those outputs. Then the
 * candidate process runs: before every call it asks avo for the inputs' seed, so no input
 * is known before its call; after each call avo answers whether to keep that call's
 * output (sent after the last call) and whether more calls follow. Which calls are timed,
 * and which only hold the device warm (WARMUP below), only avo knows. avo compares
 * outputs with the reference under the spec's tolerance, reads the reported per-call
 * times, and checks them against the kernel's clock: the data channel is a SOCK_SEQPACKET
 * socket with SO_TIMESTAMPNS, so each message carries the time it was sent, and the time
 * between a call's PRE and CALL records is what the call really took (plus two system
 * calls), whenever avo gets to read them. A CALL record carries the
 * digest of its output, sent before avo says whether it wants that output, and an OUTPUT
 * must match it: the work behind a checked output happened before its CALL. The time from
 * a seed to its PRE is bounded by what the reference process (no variant code) took for
 * the same steps, so that work cannot hide before the PRE either. stdout is never read;
 * stderr is kept for the feedback only. */
#include "eval_int.h"
#include "avo_harness_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define REPS 20
/* The warm hold: after the checked call (whose output avo reads and compares while the
 * device idles, up to a second), the run calls are untimed until they have kept the device
 * busy for HOLD_MS (CUDA specs; bench/results/harness-h200 says why) and are at least
 * WARMUP, plus 0-2 more at random, at most MAX_WARM. Then the 20 timed calls follow back to
 * back (the checked ones' outputs are kept and sent at the end), so every timed call runs
 * in the sustained state a kernel called in a loop sees, not with power to spare. The
 * harness cannot tell warm from timed calls: avo decides at each READY and says only,
 * after the call, whether to keep its output and whether the run is over. */
#define WARMUP 3
#define HOLD_MS 500.0
#define MAX_WARM 256
#define NCHECKED 2            /* timed calls whose output is compared */
#define NREF (1 + NCHECKED)   /* reference outputs: the checked call, then those */
#define MAX_OUT_BYTES (1ull << 32)

/* What a channel reader learns; filled by its thread, read after the process ended. */
typedef struct {
	int fd, ctl;            /* data (read end); ctl (avo's end; -1 for the reference) */
	int is_ref;
	volatile int stop;
	/* the trusted side's plan */
	uint64_t seeds[NREF];   /* checked call, checked timed calls */
	int check_rep[NREF];    /* rep of seeds[1..] (seeds[0] is the checked call) */
	uint64_t rng;           /* for the seeds of the unchecked calls */
	/* from the reference (given to the candidate's reader) */
	uint32_t dtype;
	uint64_t count;
	double flops;
	float *ref[NREF];
	double tol;
	/* parser */
	avo_harness_rec h;
	size_t hhave;
	char *payload;
	size_t phave, pcap;
	/* the expected next record; idx counts run calls, nrun the timed ones */
	uint32_t want, phase, idx;
	int nrun, timed;        /* timed: whether the current run call is timed */
	/* the warm hold (see WARMUP): its calls so far (-1: over), the PRE stamp of its first,
	 * its random extra calls; hold_ms: its span (0: WARMUP calls and the extra ones) */
	int holding, hold_extra;
	double hold_t0, hold_ms, pre_stamp;
	/* outputs the harness keeps for the end: which reference, which timed call */
	int keep_ref[NCHECKED], keep_rep[NCHECKED], nkeep, nsent;
	char err[512];          /* the first protocol violation */
	int fail_rc, got_fail, got_end, noutputs;
	/* the checks */
	uint64_t unwritten, nonfinite;
	double max_rel, rel_l2;
	int ncompared;
	char worst[64];         /* which call gave max_rel */
	double stamp;           /* when the message holding the current header was sent (s) */
	double samples[REPS], t_seed[REPS], t_pre[REPS], t_call[REPS];
	uint64_t digest[REPS];  /* committed by each CALL */
	uint32_t idx_of_rep[REPS]; /* the run call of each timed call */
	int nsamples;
	double wsamples[MAX_WARM], wgap[MAX_WARM]; /* warm calls: reported, PRE to CALL (ms) */
	int nwarm;
	/* seed to PRE: the reference's fastest (s; the candidate's reader gets it), and the
	 * reference's current READY stamp */
	double setup_ref, ref_ready;
} chan;

static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void violation(chan *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(chan *c, const char *fmt, ...)
{
	if (c->err[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	if (c->ctl >= 0) { /* the harness blocks on its next answer: end it there */
		shutdown(c->ctl, SHUT_RDWR);
	}
}

static void answer(chan *c, const void *p, size_t n)
{
	if (send(c->ctl, p, n, MSG_NOSIGNAL) != (ssize_t)n)
		violation(c, "the harness stopped reading avo's answers");
}

/* Compare one output with the reference; the worst error and its call are kept. */
static void compare(chan *c, const char *out, const float *ref, const char *which)
{
	unsigned dsz = avo_harness_dtype_size(c->dtype);
	double max_ref = 0, max_diff = 0, sq_diff = 0, sq_ref = 0;
	uint64_t unwritten = 0, nonfinite = 0;
	for (uint64_t i = 0; i < c->count; i++) {
		const char *p = out + i * dsz;
		double r = ref[i];
		max_ref = fmax(max_ref, fabs(r));
		sq_ref += r * r;
		if (avo_harness_is_poison(p, dsz)) {
			unwritten++;
			continue;
		}
		double o = avo_harness_to_float(p, c->dtype);
		if (!isfinite(o)) {
			nonfinite++;
			continue;
		}
		double d = fabs(o - r);
		max_diff = fmax(max_diff, d);
		sq_diff += d * d;
	}
	double rel = unwritten || nonfinite ? INFINITY : max_ref > 0 ? max_diff / max_ref : max_diff;
	double l2 = unwritten || nonfinite ? INFINITY : sq_ref > 0 ? sqrt(sq_diff / sq_ref) : sqrt(sq_diff);
	if (unwritten > c->unwritten || nonfinite > c->nonfinite || (rel > c->max_rel && !c->unwritten && !c->nonfinite))
		snprintf(c->worst, sizeof(c->worst), "%s", which);
	if (unwritten > c->unwritten)
		c->unwritten = unwritten;
	if (nonfinite > c->nonfinite)
		c->nonfinite = nonfinite;
	c->max_rel = fmax(c->max_rel, rel);
	c->rel_l2 = fmax(c->rel_l2, l2);
	c->ncompared++;
}

static const char *rec_name(uint32_t t)
{
	static const char *const n[] = {"?", "HELLO", "READY", "PRE", "CALL", "OUTPUT", "END", "FAIL"};
	return t < sizeof(n) / sizeof(n[0]) ? n[t] : "?";
}

/* The reference's records: HELLO, then per seed k READY k, PRE k, OUTPUT k, then END. */
static void on_ref_record(chan *c)
{
	const avo_harness_rec *h = &c->h;
	if (h->type == AVO_HREC_READY && c->want == AVO_HREC_READY && h->b == (uint32_t)c->noutputs) {
		c->ref_ready = c->stamp;
		c->want = AVO_HREC_PRE;
	} else if (h->type == AVO_HREC_PRE && c->want == AVO_HREC_PRE && h->a == (uint32_t)c->noutputs) {
		double t = c->stamp - c->ref_ready;
		if (c->noutputs == 0 || t < c->setup_ref)
			c->setup_ref = t;
		c->want = AVO_HREC_OUTPUT;
	} else if (h->type == AVO_HREC_HELLO && c->want == AVO_HREC_HELLO) {
		c->dtype = h->a;
		c->count = h->n;
		c->flops = h->x;
		if (!avo_harness_dtype_size(h->a) || h->b != AVO_HARNESS_VERSION || !h->n ||
		    h->n * avo_harness_dtype_size(h->a) > MAX_OUT_BYTES || !isfinite(h->x) || h->x < 0)
			violation(c, "the reference's HELLO is not valid (dtype %u, version %u, %llu elements)", h->a,
				  h->b, (unsigned long long)h->n);
		c->want = AVO_HREC_READY;
	} else if (h->type == AVO_HREC_OUTPUT && c->want == AVO_HREC_OUTPUT && h->a == (uint32_t)c->noutputs) {
		c->ref[c->noutputs] = (float *)c->payload;
		c->payload = NULL;
		c->pcap = 0;
		c->want = ++c->noutputs == NREF ? AVO_HREC_END : AVO_HREC_READY;
	} else if (h->type == AVO_HREC_END && c->want == AVO_HREC_END) {
		c->got_end = 1;
		c->want = 0;
	} else if (h->type == AVO_HREC_FAIL) {
		c->got_fail = 1;
		c->fail_rc = (int)h->a;
		violation(c, "a callback returned %d", (int)h->a);
	} else {
		violation(c, "unexpected %s record", rec_name(h->type));
	}
}

/* At a run call's READY: whether the hold goes on (this call untimed). The span is from
 * the PRE of the hold's first call to this READY, by the kernel's stamps: what its calls
 * took. (Not from its READY: that one is sent before avo has compared the checked output,
 * up to a second with the device idle.) */
static int hold_goes_on(chan *c)
{
	if (c->holding < 0)
		return 0;
	double span = c->holding ? (c->stamp - c->hold_t0) * 1e3 : 0;
	if (c->holding >= MAX_WARM || (c->holding >= WARMUP + c->hold_extra && span >= c->hold_ms)) {
		c->holding = -1;
		return 0;
	}
	c->holding++;
	return 1;
}

/* The candidate's records, in the one order the library writes them (see the header). */
static void on_cand_record(chan *c)
{
	const avo_harness_rec *h = &c->h;
	if (h->type == AVO_HREC_FAIL) {
		c->got_fail = 1;
		c->fail_rc = (int)h->a;
		c->want = 0;
		return;
	}
	if (h->type != c->want) {
		violation(c, "expected a %s record, got %s", rec_name(c->want), rec_name(h->type));
		return;
	}
	switch (h->type) {
	case AVO_HREC_HELLO:
		if (h->a != c->dtype || h->n != c->count || h->b != AVO_HARNESS_VERSION)
			violation(c, "HELLO says %llu outputs of dtype %u; the reference has %llu of dtype %u",
				  (unsigned long long)h->n, h->a, (unsigned long long)c->count, c->dtype);
		c->want = AVO_HREC_READY;
		break;
	case AVO_HREC_READY: {
		if (h->a != c->phase || h->b != c->idx) {
			violation(c, "READY for phase %u call %u, expected phase %u call %u", h->a, h->b, c->phase,
				  c->idx);
			return;
		}
		uint64_t seed = next_rand(&c->rng);
		if (c->phase == AVO_HPHASE_CHECK) {
			seed = c->seeds[0];
		} else if ((c->timed = !hold_goes_on(c))) {
			for (int k = 1; k < NREF; k++)
				if (c->nrun == c->check_rep[k])
					seed = c->seeds[k];
			c->t_seed[c->nrun] = avo_wall(); /* the inputs can be made from now on */
		}
		answer(c, &seed, sizeof(seed));
		c->want = c->phase == AVO_HPHASE_CHECK ? AVO_HREC_OUTPUT : AVO_HREC_PRE;
		break;
	}
	case AVO_HREC_PRE:
		if (h->a != c->idx)
			violation(c, "PRE for call %u during call %u", h->a, c->idx);
		c->pre_stamp = c->stamp;
		if (!c->timed && c->holding == 1) /* the hold's first call starts */
			c->hold_t0 = c->stamp;
		c->want = AVO_HREC_CALL;
		break;
	case AVO_HREC_CALL: {
		if (h->a != c->idx) {
			violation(c, "CALL for call %u during call %u", h->a, c->idx);
			return;
		}
		int keep = 0, last = 0;
		if (!c->timed) {
			c->wsamples[c->nwarm] = h->x;
			c->wgap[c->nwarm++] = (c->stamp - c->pre_stamp) * 1e3;
		} else {
			c->idx_of_rep[c->nrun] = c->idx;
			c->t_pre[c->nrun] = c->pre_stamp;
			c->t_call[c->nrun] = c->stamp;
			c->digest[c->nrun] = h->n;
			c->samples[c->nsamples++] = h->x;
			for (int k = 1; k < NREF; k++)
				if (c->nrun == c->check_rep[k]) {
					c->keep_ref[c->nkeep] = k;
					c->keep_rep[c->nkeep++] = c->nrun;
					keep = 1;
				}
			last = ++c->nrun == REPS;
		}
		char a = keep ? (last ? AVO_HARNESS_KEEP_END : AVO_HARNESS_KEEP) : last ? AVO_HARNESS_END : AVO_HARNESS_NEXT;
		answer(c, &a, 1);
		c->want = !last ? AVO_HREC_READY : c->nkeep ? AVO_HREC_OUTPUT : AVO_HREC_END;
		c->idx++;
		break;
	}
	case AVO_HREC_OUTPUT: {
		char which[64];
		if (c->phase == AVO_HPHASE_CHECK) {
			if (h->a != 0)
				violation(c, "OUTPUT %u for the checked call", h->a);
			compare(c, c->payload, c->ref[0], "the checked call");
			c->phase = AVO_HPHASE_RUN;
			c->want = AVO_HREC_READY;
			c->hold_extra = (int)(next_rand(&c->rng) % 3); /* the hold starts */
			break;
		}
		/* the kept outputs, in order, after the last call */
		int rep = c->keep_rep[c->nsent];
		if (h->a != c->idx_of_rep[rep] + 1)
			violation(c, "OUTPUT %u; expected the output of run call %u", h->a, c->idx_of_rep[rep] + 1);
		snprintf(which, sizeof(which), "timed call %d", rep + 1);
		if (avo_harness_digest(c->payload, h->n) != c->digest[rep]) {
			violation(c, "the output of %s is not the one its CALL record committed to (work done after "
				  "the call was reported)", which);
			return;
		}
		compare(c, c->payload, c->ref[c->keep_ref[c->nsent]], which);
		c->want = ++c->nsent == c->nkeep ? AVO_HREC_END : AVO_HREC_OUTPUT;
		break;
	}
	case AVO_HREC_END:
		c->got_end = 1;
		c->want = 0;
		break;
	default:
		violation(c, "unknown record type %u", h->type);
	}
}

/* Feed bytes from the channel: headers, then payloads of exactly the announced size. */
static void feed(chan *c, const char *p, size_t n, double stamp)
{
	while (n && !c->err[0]) {
		if (c->hhave < sizeof(c->h)) {
			size_t k = sizeof(c->h) - c->hhave < n ? sizeof(c->h) - c->hhave : n;
			memcpy((char *)&c->h + c->hhave, p, k);
			c->hhave += k;
			c->stamp = stamp;
			p += k;
			n -= k;
			if (c->hhave < sizeof(c->h))
				return;
			if (c->h.magic != AVO_HARNESS_MAGIC) {
				violation(c, "a record without the protocol's magic number");
				return;
			}
			uint64_t want = 0;
			if (c->h.type == AVO_HREC_OUTPUT)
				want = c->is_ref ? c->count * sizeof(float) : c->count * avo_harness_dtype_size(c->dtype);
			if (c->h.type == AVO_HREC_OUTPUT && (c->h.n != want || !want)) {
				violation(c, "an OUTPUT of %llu bytes; %llu expected", (unsigned long long)c->h.n,
					  (unsigned long long)want);
				return;
			}
			if (c->h.type != AVO_HREC_OUTPUT && c->h.type != AVO_HREC_HELLO && c->h.type != AVO_HREC_CALL &&
			    c->h.n) {
				violation(c, "a %s record with a payload", rec_name(c->h.type));
				return;
			}
			c->phave = 0;
			if (c->h.type == AVO_HREC_OUTPUT && c->pcap < want) {
				free(c->payload);
				c->pcap = 0;
				if (!(c->payload = malloc(want))) {
					violation(c, "out of memory for %llu bytes", (unsigned long long)want);
					return;
				}
				c->pcap = want;
			}
		}
		size_t need = c->h.type == AVO_HREC_OUTPUT ? (size_t)c->h.n : 0;
		if (c->phave < need) {
			size_t k = need - c->phave < n ? need - c->phave : n;
			memcpy(c->payload + c->phave, p, k);
			c->phave += k;
			p += k;
			n -= k;
			if (c->phave < need)
				return;
		}
		c->hhave = 0;
		if (c->is_ref)
			on_ref_record(c);
		else
			on_cand_record(c);
	}
}

/* The reader thread: until EOF, or until told to stop and nothing is left to read. Each
 * message comes with the kernel's stamp of when it was sent. */
static void *reader(void *arg)
{
	chan *c = arg;
	enum { BUF = 1 << 17 };
	char *buf = malloc(BUF);
	union {
		char b[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;
	if (!buf)
		violation(c, "out of memory");
	for (; buf;) {
		struct pollfd pf = {c->fd, POLLIN, 0};
		int pr = poll(&pf, 1, 20);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0) {
			if (c->stop)
				break;
			continue;
		}
		struct iovec iov = {buf, BUF};
		struct msghdr m;
		memset(&m, 0, sizeof(m));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = ctl.b;
		m.msg_controllen = sizeof(ctl.b);
		ssize_t n = recvmsg(c->fd, &m, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		double stamp = -1;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				stamp = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
			}
		if (m.msg_flags & MSG_TRUNC)
			violation(c, "a message longer than %d bytes", BUF);
		else if (stamp < 0)
			violation(c, "a message without the kernel's time stamp");
		if (!c->err[0])
			feed(c, buf, (size_t)n, stamp); /* after a violation: drain, so the writer never blocks */
	}
	free(buf);
	return NULL;
}

static void chan_free(chan *c)
{
	for (int k = 0; k < NREF; k++)
		free(c->ref[k]);
	free(c->payload);
}

/* One process of the protocol with a reader thread on its channel. *r is its result. */
static int run_one(avo_eval__ctx *e, int gpu, chan *c, const char *exe, const avo_spec_config *cfg, const char *cwd,
		   const char *const *env, avo_proc_result *r)
{
	int data[2] = {-1, -1}, ctl[2] = {-1, -1}, rc;
	avo_buildid_argv a = AVO_BUILDID_ARGV_INIT;
	pthread_t th;
	int on = 1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, data) < 0 ||
	    setsockopt(data[0], SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0 || shutdown(data[0], SHUT_WR) < 0 ||
	    (!c->is_ref && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0)) {
		rc = avo_error_set(AVO_EIO, "socketpair: %s", strerror(errno));
		goto done;
	}
	c->fd = data[0];
	c->ctl = ctl[0];
	int pass[3] = {data[1], c->is_ref ? -1 : ctl[1], -1};
	avo_buildid_argv_push(&a, exe);
	for (size_t j = 0; j < cfg->nargs; j++)
		avo_buildid_argv_push(&a, cfg->args[j]);
	if (pthread_create(&th, NULL, reader, c) != 0) {
		rc = avo_error_set(AVO_EIO, "cannot start a reader thread");
		goto done;
	}
	rc = avo_eval__spawn(e, gpu, a.v, cwd, env, pass, r);
	close(data[1]);
	data[1] = -1;
	if (ctl[1] >= 0)
		close(ctl[1]);
	ctl[1] = -1;
	c->stop = 1;
	pthread_join(th, NULL);
done:
	for (int i = 0; i < 2; i++) {
		if (data[i] >= 0)
			close(data[i]);
		if (ctl[i] >= 0)
			close(ctl[i]);
	}
	avo_buildid_argv_dispose(&a);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[REPS];
	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* The reported times against the kernel's clock. No call may report more than it took
 * (PRE to CALL). A call whose PRE-to-CALL time exceeds its report by more than a quarter
 * of it and 0.5 ms did work where the library's clock did not look (a forged clock, work
 * left on another stream or thread). The work behind a call's output lies between its
 * seed and its CALL (its digest is sent with CALL), so the time from the seed to PRE may
 * not exceed twice what the reference process (no variant code) took for the same steps
 * by more than the report and 5 ms (the process must wake up for its seed: on a loaded
 * machine that alone takes milliseconds).
 * On a loaded machine an honest call is often preempted, which looks the same, so only a
 * majority of such calls is refused: a clock that lies on fewer than half of the calls
 * cannot move the median, the config's time, below the honest ones. NULL when they
 * agree, else why not (caller frees). */
static char *check_times(const chan *c)
{
	int far = 0, worst = -1;
	double worst_out = 0;
	for (int r = 0; r < c->nsamples; r++) {
		double s = c->samples[r], gap = (c->t_call[r] - c->t_pre[r]) * 1e3;
		double setup = (c->t_pre[r] - c->t_seed[r] - 2 * c->setup_ref) * 1e3;
		if (!isfinite(s) || s <= 0)
			return avo_sprintf("timed call %d reports %g ms", r + 1, s);
		if (s > gap * 1.01 + 0.02)
			return avo_sprintf("timed call %d reports %.4g ms, but took %.4g ms", r + 1, s, gap);
		double out = gap - s > 0.25 * s + 0.5 ? gap - s : 0;
		if (setup > s + 5.0)
			out += setup;
		if (out > 0) {
			far++;
			if (worst < 0 || out > worst_out) {
				worst = r;
				worst_out = out;
			}
		}
	}
	/* Warm calls: no more than they took either; and with a hold span (CUDA: device time,
	 * which host load does not stretch as it stretches CPU calls), not skipped work: a
	 * variant that idles through the hold starts its timed calls with power to spare */
	double med = median(c->samples, c->nsamples);
	int light = 0;
	for (int w = 0; w < c->nwarm; w++) {
		if (!isfinite(c->wsamples[w]) || c->wsamples[w] <= 0 || c->wsamples[w] > c->wgap[w] * 1.01 + 0.02)
			return avo_sprintf("warm-up call %d reports %.4g ms, but took %.4g ms", w + 1, c->wsamples[w],
					   c->wgap[w]);
		light += c->wsamples[w] < 0.5 * med;
	}
	if (c->hold_ms > 0 && light > c->nwarm / 2)
		return avo_sprintf("%d of %d warm-up calls took less than half the timed calls' median (%.4g ms): "
				   "work skipped while avo held the device warm", light, c->nwarm, med);
	if (far > c->nsamples / 2)
		return avo_sprintf("%d of %d timed calls did work outside their timed span (call %d: %.4g ms reported, "
				   "%.4g ms more between its seed and its CALL record than the call and the reference's "
				   "input making took)", far, c->nsamples, worst + 1, c->samples[worst], worst_out);
	return NULL;
}

static char *with_stderr(char *msg, const avo_proc_result *r)
{
	const char *tail = avo_eval__tail_of(avo_buf_cstr(&r->err), AVO_EVAL_STDERR_TAIL);
	if (!msg || !*tail)
		return msg;
	char *m = avo_sprintf("%s; stderr:\n%s", msg, tail);
	free(msg);
	return m;
}

/* The verdict of a config from the two runs. */
static void judge(const avo_spec *s, const chan *ref, const avo_proc_result *rr, const chan *c,
		  const avo_proc_result *r, avo_eval_config_result *cr)
{
	const char *name = cr->name;
	char *how = avo_proc_describe(r, s->timeout_s), *msg = NULL;
	avo_eval_status st = AVO_EVAL_OK;
	if (!ref->got_end || !rr->exited || rr->exit_code != 0 || rr->timed_out) {
		char *rhow = avo_proc_describe(rr, s->timeout_s);
		st = AVO_EVAL_PROTOCOL;
		msg = with_stderr(avo_sprintf("%s: the reference run (the harness with the original kernel) failed "
					      "(%s%s%s)", name, rhow ? rhow : "?", ref->err[0] ? ": " : "", ref->err), rr);
		free(rhow);
	} else if (r->timed_out) {
		st = AVO_EVAL_TIMEOUT;
		msg = with_stderr(avo_sprintf("%s: %s", name, how), r);
	} else if (!r->exited) {
		st = AVO_EVAL_CRASH;
		msg = with_stderr(avo_sprintf("%s: %s", name, how), r);
	} else if (c->got_fail) {
		st = AVO_EVAL_INCORRECT;
		msg = with_stderr(avo_sprintf("%s: the kernel returned %d", name, c->fail_rc), r);
	} else if (c->err[0]) {
		st = AVO_EVAL_PROTOCOL;
		msg = with_stderr(avo_sprintf("%s: result channel: %s (%s)", name, c->err, how), r);
	} else if (r->exit_code != 0) {
		st = AVO_EVAL_CRASH;
		msg = with_stderr(avo_sprintf("%s: %s", name, how), r);
	} else if (!c->got_end) {
		st = AVO_EVAL_PROTOCOL;
		msg = with_stderr(avo_sprintf("%s: the harness exited before its protocol was complete (no END "
					      "record; %d timed calls seen)", name, c->nsamples), r);
	} else if (c->unwritten) {
		st = AVO_EVAL_INCORRECT;
		msg = avo_sprintf("%s: %llu of %llu outputs were never written (still poisoned) in %s", name,
				  (unsigned long long)c->unwritten, (unsigned long long)c->count, c->worst);
	} else if (c->nonfinite) {
		st = AVO_EVAL_INCORRECT;
		msg = avo_sprintf("%s: %llu of %llu outputs are NaN or Inf in %s", name,
				  (unsigned long long)c->nonfinite, (unsigned long long)c->count, c->worst);
	} else if (!(c->max_rel <= s->tolerance)) {
		st = AVO_EVAL_INCORRECT;
		msg = avo_sprintf("%s: max_rel_err %g exceeds the tolerance %g in %s", name, c->max_rel,
				  s->tolerance, c->worst);
	} else if ((msg = check_times(c))) {
		char *m = avo_sprintf("%s: timing: %s", name, msg);
		free(msg);
		msg = m;
		st = AVO_EVAL_PROTOCOL;
	}
	if (c->ncompared) {
		cr->max_rel_err = c->max_rel;
		cr->rel_l2_err = c->rel_l2;
	}
	if (st != AVO_EVAL_OK) {
		avo_eval__fail_config(cr, st, msg ? msg : avo_strdup("evaluation failed"));
		free(how);
		return;
	}
	cr->ms = median(c->samples, c->nsamples);
	cr->tflops = ref->flops > 0 ? ref->flops / cr->ms / 1e9 : NAN;
	free(cr->samples);
	cr->samples = malloc(sizeof(double) * (size_t)c->nsamples);
	cr->nsamples = 0;
	for (int i = 0; cr->samples && i < c->nsamples; i++)
		cr->samples[cr->nsamples++] = c->samples[i];
	if (!strcmp(s->objective, "tflops") && !(cr->tflops > 0))
		avo_eval__fail_config(cr, AVO_EVAL_PROTOCOL,
				      avo_sprintf("%s: objective tflops, but the harness gives no flops", name));
	else {
		cr->status = AVO_EVAL_OK;
		cr->correct = 1;
	}
	free(how);
}

static int run_config(avo_eval__ctx *e, avo_eval__item *it, size_t i, const char *cwd, avo_eval_config_result *cr)
{
	const avo_spec_config *cfg = &e->spec->configs[i];
	chan ref, cand;
	avo_proc_result rr = {0}, r = {0};
	uint64_t rng;
	char seeds_env[40 + NREF * 24];
	memset(&ref, 0, sizeof(ref));
	memset(&cand, 0, sizeof(cand));
	if (getrandom(&rng, sizeof(rng), 0) != sizeof(rng))
		rng = (uint64_t)(avo_wall() * 1e6) ^ (uint64_t)getpid() << 32;
	ref.is_ref = 1;
	ref.want = AVO_HREC_HELLO;
	int n = snprintf(seeds_env, sizeof(seeds_env), "AVO_HARNESS_SEEDS=");
	for (int k = 0; k < NREF; k++) {
		ref.seeds[k] = next_rand(&rng);
		n += snprintf(seeds_env + n, sizeof(seeds_env) - (size_t)n, "%s%llu", k ? "," : "",
			      (unsigned long long)ref.seeds[k]);
	}
	ref.check_rep[0] = -1;
	for (int k = 1; k < NREF; k++) { /* distinct timed calls */
		int rep, dup;
		do {
			rep = (int)(next_rand(&rng) % REPS);
			dup = 0;
			for (int m = 1; m < k; m++)
				dup |= ref.check_rep[m] == rep;
		} while (dup);
		ref.check_rep[k] = rep;
	}
	const char *renv[] = {"AVO_HARNESS_MODE=reference", seeds_env, NULL};
	int rc = run_one(e, it->gpu, &ref, e->ref_exe, cfg, cwd, renv, &rr);
	if (rc < 0)
		goto done;
	if (!ref.got_end || ref.err[0] || !rr.exited || rr.exit_code != 0) {
		judge(e->spec, &ref, &rr, &cand, &r, cr);
		goto done;
	}
	memcpy(cand.seeds, ref.seeds, sizeof(ref.seeds));
	memcpy(cand.check_rep, ref.check_rep, sizeof(ref.check_rep));
	memcpy(cand.ref, ref.ref, sizeof(ref.ref));
	memset(ref.ref, 0, sizeof(ref.ref)); /* now the candidate's reader owns them */
	cand.rng = next_rand(&rng);
	cand.dtype = ref.dtype;
	cand.count = ref.count;
	cand.flops = ref.flops;
	cand.setup_ref = ref.setup_ref;
	cand.want = AVO_HREC_HELLO;
	cand.phase = AVO_HPHASE_CHECK;
	cand.hold_ms = e->spec->is_cuda ? HOLD_MS : 0;
	const char *cenv[] = {"AVO_HARNESS_MODE=candidate", NULL};
	if ((rc = run_one(e, it->gpu, &cand, it->exe, cfg, cwd, cenv, &r)) < 0)
		goto done;
	judge(e->spec, &ref, &rr, &cand, &r, cr);
done:
	chan_free(&ref);
	chan_free(&cand);
	avo_proc_result_dispose(&rr);
	avo_proc_result_dispose(&r);
	return rc;
}

const avo_eval_proto avo_eval__proto_avoh = {"avo-harness-1", 1, run_config};
