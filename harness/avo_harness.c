/* avo_harness: the protocol side of the harness library (see avo_harness.h). Written in
 * the common subset of C and C++: avo_harness_cuda.cu includes this file with
 * AVO_HARNESS_CUDA defined and supplies the device half (alloc, poison, copy, timing). */
#ifndef AVO_HARNESS_CUDA
#define _POSIX_C_SOURCE 200809L
#endif
#include "avo_harness.h"
#include "avo_harness_proto.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the memory the callbacks see: host here, device in the CUDA build --------------- */

#ifdef AVO_HARNESS_CUDA
static int timed_call(const avo_harness *h, void *out, double *ms);
#endif

#ifndef AVO_HARNESS_CUDA
static void *mem_alloc(size_t n) { return malloc(n ? n : 1); }
static void mem_free(void *p) { free(p); }
static void mem_poison(void *p, size_t n) { memset(p, 0xff, n); }
static int mem_to_host(void *dst, const void *src, size_t n) { memcpy(dst, src, n); return 0; }
static int mem_copy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); return 0; }
static int mem_digest(const void *p, size_t n, uint64_t *out) { *out = avo_harness_digest(p, n); return 0; }
static void dev_sync(void) {}
static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
/* One call, timed: the library's own clock around it. */
static int timed_call(const avo_harness *h, void *out, double *ms)
{
	double t0 = now_ms();
	int rc = h->call(h->user, out);
	*ms = now_ms() - t0;
	return rc;
}
#endif

uint64_t avo_harness_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

float avo_harness_uniform(uint64_t *state)
{
	float x = (float)((double)(avo_harness_next(state) >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
	return x == 0.0f ? 0.5f : x;
}

/* ---- records -------------------------------------------------------------------------- */

/* The data channel is a SOCK_SEQPACKET socket: one write is one message, which the kernel
 * stamps with the time it was sent; payloads go in chunks of at most 32 KiB. */
static int write_all(int fd, const void *p, size_t n)
{
	const char *c = (const char *)p;
	while (n) {
		size_t k = n < 32768 ? n : 32768;
		ssize_t w = write(fd, c, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w != (ssize_t)k)
			return -1;
		c += k;
		n -= k;
	}
	return 0;
}

static int send_rec(uint32_t type, uint32_t a, uint32_t b, double x, uint64_t n, const void *payload)
{
	avo_harness_rec r;
	memset(&r, 0, sizeof(r));
	r.magic = AVO_HARNESS_MAGIC;
	r.type = type;
	r.a = a;
	r.b = b;
	r.x = x;
	r.n = n;
	if (write_all(AVO_HARNESS_DATA_FD, &r, sizeof(r)) < 0 ||
	    (type == AVO_HREC_OUTPUT && write_all(AVO_HARNESS_DATA_FD, payload, (size_t)n) < 0)) {
		fprintf(stderr, "avo_harness: cannot write to avo: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the run -------------------------------------------------------------------------- */

typedef struct {
	const avo_harness *h;
	uint64_t seed;   /* by hand only: avo hands out one seed per call */
	size_t out_bytes;
	void *out;   /* device or host */
	float *ref;  /* device or host */
	char *host;  /* staging for what goes to avo */
	void *kept[AVO_HARNESS_MAX_KEEP]; /* copies of run calls' outputs avo wants at the end */
	uint32_t kept_index[AVO_HARNESS_MAX_KEEP];
	int nkept;
} run;

static int fail(int rc, const char *what)
{
	fprintf(stderr, "avo_harness: %s returned %d\n", what, rc);
	send_rec(AVO_HREC_FAIL, (uint32_t)rc, 0, 0, 0, NULL);
	return 1;
}

static int read_answer(void *p, size_t n)
{
	char *c = (char *)p;
	while (n) {
		ssize_t got = read(AVO_HARNESS_CTL_FD, c, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			fprintf(stderr, "avo_harness: avo stopped answering\n");
			return -1;
		}
		c += got;
		n -= (size_t)got;
	}
	return 0;
}

/* Inputs from `seed`, a poisoned output, one call. timed_rep: -1 untimed, -2 timed by hand,
 * r >= 0 timed call r (PRE before it); the time goes in *ms. */
static int one_call(run *r, uint64_t seed, long timed_rep, double *ms)
{
	int rc = r->h->inputs(r->h->user, seed);
	if (rc)
		return fail(rc, "inputs");
	mem_poison(r->out, r->out_bytes);
	if (r->h->prepare && (rc = r->h->prepare(r->h->user)))
		return fail(rc, "prepare");
	dev_sync();
	if (timed_rep != -1) {
		if (timed_rep >= 0 && send_rec(AVO_HREC_PRE, (uint32_t)timed_rep, 0, 0, 0, NULL) < 0)
			return 2;
		rc = timed_call(r->h, r->out, ms);
	} else {
		rc = r->h->call(r->h->user, r->out);
		dev_sync();
	}
	return rc ? fail(rc, "the variant") : 0;
}

/* READY, then the seed avo answers with, then the call (run calls: timed, PRE before). */
static int avo_call(run *r, uint32_t phase, uint32_t index, double *ms)
{
	uint64_t seed;
	if (send_rec(AVO_HREC_READY, phase, index, 0, 0, NULL) < 0 || read_answer(&seed, sizeof(seed)) < 0)
		return 2;
	return one_call(r, seed, phase == AVO_HPHASE_RUN ? (long)index : -1, ms);
}

static int send_output(run *r, const void *out, uint32_t index)
{
	if (mem_to_host(r->host, out, r->out_bytes) < 0)
		return 2;
	return send_rec(AVO_HREC_OUTPUT, index, 0, 0, r->out_bytes, r->host) < 0 ? 2 : 0;
}

/* A copy of run call i's output, sent at the end (its digest went with its CALL). */
static int keep_output(run *r, uint32_t i)
{
	if (r->nkept == AVO_HARNESS_MAX_KEEP) {
		fprintf(stderr, "avo_harness: avo asked to keep more than %d outputs\n", AVO_HARNESS_MAX_KEEP);
		return 2;
	}
	if (mem_copy(r->kept[r->nkept], r->out, r->out_bytes) < 0)
		return 2;
	r->kept_index[r->nkept++] = i + 1;
	return 0;
}

/* The checked call, then run calls until avo says the run is over, then the outputs avo
 * kept. Every run call is the same sequence; avo alone knows which are timed and which
 * hold the device warm, and the run calls go back to back: no output leaves before the end. */
static int run_candidate(run *r)
{
	double ms = 0;
	int rc;
	for (int k = 0; k < AVO_HARNESS_MAX_KEEP; k++) /* now: no allocation between run calls */
		if (!(r->kept[k] = mem_alloc(r->out_bytes)))
			return 2;
	if ((rc = avo_call(r, AVO_HPHASE_CHECK, 0, &ms)) || (rc = send_output(r, r->out, 0)))
		return rc;
	for (uint32_t i = 0;; i++) {
		char answer;
		uint64_t digest;
		if ((rc = avo_call(r, AVO_HPHASE_RUN, i, &ms)))
			return rc;
		/* The output is committed before avo says whether it wants it. */
		if (mem_digest(r->out, r->out_bytes, &digest) < 0 ||
		    send_rec(AVO_HREC_CALL, i, 0, ms, digest, NULL) < 0 || read_answer(&answer, 1) < 0)
			return 2;
		if ((answer == AVO_HARNESS_KEEP || answer == AVO_HARNESS_KEEP_END) && (rc = keep_output(r, i)))
			return rc;
		if (answer == AVO_HARNESS_END || answer == AVO_HARNESS_KEEP_END)
			break;
		if (answer != AVO_HARNESS_KEEP && answer != AVO_HARNESS_NEXT) {
			fprintf(stderr, "avo_harness: avo answered '%c'\n", answer);
			return 2;
		}
	}
	for (int k = 0; k < r->nkept; k++)
		if ((rc = send_output(r, r->kept[k], r->kept_index[k])))
			return rc;
	return send_rec(AVO_HREC_END, 0, 0, 0, 0, NULL) < 0 ? 2 : 0;
}

/* The reference process: the outputs for the seeds avo names, never a call of the variant. */
static int run_reference(run *r)
{
	const char *seeds = getenv("AVO_HARNESS_SEEDS");
	size_t bytes = r->h->out_count * sizeof(float);
	uint32_t index = 0;
	for (const char *p = seeds ? seeds : ""; *p; index++) {
		char *end;
		uint64_t seed = strtoull(p, &end, 0);
		if (end == p)
			break;
		p = *end == ',' ? end + 1 : end;
		/* READY .. PRE: what one call's inputs, poison and prepare take (see the header) */
		if (send_rec(AVO_HREC_READY, 0, index, 0, 0, NULL) < 0)
			return 2;
		int rc = r->h->inputs(r->h->user, seed);
		if (rc)
			return fail(rc, "inputs");
		mem_poison(r->ref, bytes);
		if (r->h->prepare && (rc = r->h->prepare(r->h->user)))
			return fail(rc, "prepare");
		dev_sync();
		if (send_rec(AVO_HREC_PRE, index, 0, 0, 0, NULL) < 0)
			return 2;
		if ((rc = r->h->reference(r->h->user, r->ref)))
			return fail(rc, "reference");
		dev_sync();
		if (mem_to_host(r->host, r->ref, bytes) < 0 || send_rec(AVO_HREC_OUTPUT, index, 0, 0, bytes, r->host) < 0)
			return 2;
	}
	return send_rec(AVO_HREC_END, 0, 0, 0, 0, NULL) < 0 ? 2 : 0;
}

/* By hand, without avo: one checked call against the reference, then the median time. */
static int run_standalone(run *r)
{
	const avo_harness *h = r->h;
	size_t n = h->out_count;
	unsigned dsz = avo_harness_dtype_size((uint32_t)h->out_type);
	float *ref = (float *)malloc(n * sizeof(float) + 1);
	double times[20], max_diff = 0, max_ref = 0;
	uint64_t seed = r->seed;
	int rc = h->inputs(h->user, seed);
	if (!ref || rc || (rc = h->reference(h->user, r->ref)) || mem_to_host(ref, r->ref, n * sizeof(float)) < 0) {
		free(ref);
		fprintf(stderr, "avo_harness: inputs or reference failed (%d)\n", rc);
		return 2;
	}
	double ms;
	if ((rc = one_call(r, seed, -1, &ms)) || mem_to_host(r->host, r->out, r->out_bytes) < 0) {
		free(ref);
		return rc ? rc : 2;
	}
	for (size_t i = 0; i < n; i++) {
		double o = avo_harness_to_float(r->host + i * dsz, (uint32_t)h->out_type);
		/* no libm: a harness need not link it */
		double d = isfinite(o) ? (o > ref[i] ? o - ref[i] : ref[i] - o) : INFINITY, a = ref[i] < 0 ? -ref[i] : ref[i];
		max_diff = d > max_diff ? d : max_diff;
		max_ref = a > max_ref ? a : max_ref;
	}
	for (int i = 0; i < 20 && rc == 0; i++)
		rc = one_call(r, avo_harness_next(&r->seed), -2, &times[i]);
	for (int i = 1; i < 20; i++) /* insertion sort, 20 values */
		for (int j = i; j > 0 && times[j] < times[j - 1]; j--) {
			double t = times[j];
			times[j] = times[j - 1];
			times[j - 1] = t;
		}
	fprintf(stderr, "avo_harness: max_rel_err %.3g, median %.4f ms%s\n",
		max_ref > 0 ? max_diff / max_ref : max_diff, times[10], rc ? " (a timed call failed)" : "");
	free(ref);
	return rc;
}

int avo_harness_main(const avo_harness *h)
{
	const char *mode = getenv("AVO_HARNESS_MODE");
	unsigned dsz = avo_harness_dtype_size((uint32_t)h->out_type);
	if (!h->inputs || !h->reference || !h->call || !h->out_count || !dsz) {
		fprintf(stderr, "avo_harness: the harness must set out_count, out_type, inputs, reference and call\n");
		return 2;
	}
	run r;
	memset(&r, 0, sizeof(r));
	r.h = h;
	r.seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
	r.out_bytes = h->out_count * dsz;
	int ref_mode = mode && !strcmp(mode, "reference");
	size_t host_bytes = h->out_count * (dsz > sizeof(float) ? dsz : sizeof(float));
	r.out = ref_mode ? NULL : mem_alloc(r.out_bytes);
	r.ref = !mode || ref_mode ? (float *)mem_alloc(h->out_count * sizeof(float)) : NULL;
	r.host = (char *)malloc(host_bytes);
	int rc = 2;
	if ((!ref_mode && !r.out) || ((!mode || ref_mode) && !r.ref) || !r.host) {
		fprintf(stderr, "avo_harness: out of memory for %zu outputs\n", h->out_count);
		goto done;
	}
	if (mode && send_rec(AVO_HREC_HELLO, (uint32_t)h->out_type, AVO_HARNESS_VERSION, h->flops,
			     h->out_count, NULL) < 0)
		goto done;
	rc = !mode ? run_standalone(&r) : ref_mode ? run_reference(&r) : run_candidate(&r);
done:
	if (r.out)
		mem_free(r.out);
	if (r.ref)
		mem_free(r.ref);
	for (int k = 0; k < AVO_HARNESS_MAX_KEEP; k++)
		if (r.kept[k])
			mem_free(r.kept[k]);
	free(r.host);
	return rc;
}
