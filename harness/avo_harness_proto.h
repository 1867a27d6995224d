/* The records of avo's harness protocol ("avo-harness-1"): what the harness library writes
 * on fd 3 (a SOCK_SEQPACKET socket: the kernel stamps every message with the time it was
 * sent, so avo knows when PRE and CALL were written, however late it reads them) and what
 * avo answers on fd 4. Shared by the library (harness/) and avo (engine/);
 * plain C, also valid C++; native byte order (both ends run on one machine).
 *
 * Every record is a 32-byte header (one message) followed by `n` payload bytes (only
 * OUTPUT has some; in messages of at most 32 KiB):
 *   HELLO   a = output dtype, b = protocol version, x = flops per call, n = output elements
 *   READY   a = phase (0 the checked call, 1 a run call), b = index in the phase; avo
 *           answers 8 bytes: the seed of this call's inputs (so no input is known before
 *           its call)
 *   PRE     a = i: run call i starts now (inputs made, output poisoned, device idle)
 *   CALL    a = i, x = its time in ms, n = the digest of its output (avo_harness_digest),
 *           taken before avo says whether it wants the output: avo answers one byte,
 *           'S' (next call), 'K' (keep a copy of this output, then the next call), 'E'
 *           (the run is over: send the kept OUTPUTs in order, then END) or 'F' (keep this
 *           one, then as 'E'). At most AVO_HARNESS_MAX_KEEP are kept. An OUTPUT must match
 *           its CALL's digest, so work done after CALL cannot make a wanted output right,
 *           however late the OUTPUT comes; sending them at the end keeps the run calls
 *           back to back (no device idle while avo reads and compares 100s of MB).
 *   OUTPUT  a = 0 for the checked call (sent right after it), i + 1 for run call i; in the
 *           reference process the position of the seed in AVO_HARNESS_SEEDS. Payload: the
 *           output (candidate: its dtype; reference: float32)
 *   END     the run is complete
 *   FAIL    a = the value a harness callback returned
 * Every run call is the same sequence; only avo knows which of them are timed and which
 * only hold the device warm after the checked call (engine/proto_avoh.c, "warm hold"),
 * and how many calls there are: it says so with its answers, after each call.
 * The reference process sends, per seed, READY (a = 0, b = its position) before and PRE
 * after making the inputs, poisoning and `prepare`: avo learns how long that takes when
 * no variant runs, and so bounds the time a candidate spends between a seed and its PRE.
 */
#ifndef AVO_HARNESS_PROTO_H
#define AVO_HARNESS_PROTO_H

#include <stdint.h>
#include <string.h>

#define AVO_HARNESS_MAGIC 0x484f5641u /* "AVOH" */
#define AVO_HARNESS_VERSION 2u
#define AVO_HARNESS_DATA_FD 3
#define AVO_HARNESS_CTL_FD 4
#define AVO_HARNESS_NEXT 'S'
#define AVO_HARNESS_KEEP 'K'
#define AVO_HARNESS_END 'E'
#define AVO_HARNESS_KEEP_END 'F'
#define AVO_HARNESS_MAX_KEEP 2

enum {
	AVO_HREC_HELLO = 1,
	AVO_HREC_READY = 2,
	AVO_HREC_PRE = 3,
	AVO_HREC_CALL = 4,
	AVO_HREC_OUTPUT = 5,
	AVO_HREC_END = 6,
	AVO_HREC_FAIL = 7,
};

typedef struct {
	uint32_t magic, type;
	uint32_t a, b;
	double x;
	uint64_t n; /* payload bytes (OUTPUT) or output elements (HELLO) */
} avo_harness_rec;

enum { AVO_HPHASE_CHECK = 0, AVO_HPHASE_RUN = 1 };

static inline unsigned avo_harness_dtype_size(uint32_t dtype)
{
	return dtype == 1 ? 4 : dtype == 2 ? 8 : dtype == 3 || dtype == 4 ? 2 : 0;
}

/* One output element as float: f32, f64, bf16, f16 (f16 subnormals read as 0). */
static inline float avo_harness_to_float(const void *src, uint32_t dtype)
{
	const unsigned char *p = (const unsigned char *)src;
	uint32_t u;
	float f;
	if (dtype == 2) {
		double d;
		memcpy(&d, p, 8);
		return (float)d;
	}
	if (dtype == 1) {
		memcpy(&f, p, 4);
		return f;
	}
	uint16_t v;
	memcpy(&v, p, 2);
	if (dtype == 3) {
		u = (uint32_t)v << 16;
	} else {
		uint32_t s = (uint32_t)(v >> 15) << 31, e = (v >> 10) & 31u, m = v & 1023u;
		u = e == 31 ? (s | 0x7f800000u | m << 13) : e == 0 ? s : (s | (e + 112) << 23 | m << 13);
	}
	memcpy(&f, &u, 4);
	return f;
}

#if defined(__CUDACC__)
#define AVO_HARNESS_HD __host__ __device__
#else
#define AVO_HARNESS_HD
#endif

/* The digest of an output: the sum (mod 2^64) over its 8-byte words (the last one padded
 * with zeros) of a mix of the word and its index. Order-free, so a GPU sums it in any
 * order; any change of any byte changes it (up to a 2^-64 accident). */
static inline AVO_HARNESS_HD uint64_t avo_harness_digest_word(uint64_t w, uint64_t i)
{
	uint64_t x = w ^ (i * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull);
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t avo_harness_digest(const void *src, uint64_t n)
{
	const unsigned char *p = (const unsigned char *)src;
	uint64_t sum = 0, i = 0, w;
	for (; (i + 1) * 8 <= n; i++) {
		memcpy(&w, p + i * 8, 8);
		sum += avo_harness_digest_word(w, i);
	}
	if (i * 8 < n) {
		w = 0;
		memcpy(&w, p + i * 8, (size_t)(n - i * 8));
		sum += avo_harness_digest_word(w, i);
	}
	return sum;
}

/* Poison: every byte 0xff, a NaN no arithmetic produces, in every dtype. */
static inline int avo_harness_is_poison(const void *src, unsigned size)
{
	const unsigned char *p = (const unsigned char *)src;
	for (unsigned i = 0; i < size; i++)
		if (p[i] != 0xff)
			return 0;
	return 1;
}

#endif
