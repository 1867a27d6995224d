/* avo_harness: the library a harness uses to speak avo's trusted protocol (C and CUDA).
 *
 * The author writes three callbacks: make the inputs from a seed, compute the reference,
 * call the variant. The library does the rest: it poisons the output before every call,
 * sends the outputs of checked calls to avo, times every call (avo decides which count
 * and which only hold the device warm), and gives every call fresh inputs. avo compares, in its own process, against the reference
 * that a separate process (the harness linked with the original kernel, which never calls
 * it) computed; nothing the harness prints counts. The protocol: README.md ("The harness")
 * and avo_harness_proto.h.
 *
 *   static int inputs(void *u, uint64_t seed) { ... fill q, k, v from seed ... }
 *   static int reference(void *u, float *ref) { ... ref = exact result of the inputs ... }
 *   static int call(void *u, void *out)       { return my_kernel(..., (float *)out); }
 *   int main(int argc, char **argv) {
 *       ... parse the config's arguments, allocate the inputs ...
 *       avo_harness h = AVO_HARNESS_INIT;
 *       h.user = &state; h.out_count = n; h.out_type = AVO_HARNESS_F32; h.flops = 4.0 * ...;
 *       h.inputs = inputs; h.reference = reference; h.call = call;
 *       return avo_harness_main(&h);
 *   }
 *
 * With the C library `out` and `ref` are host memory; with the CUDA library
 * (avo_harness_cuda.cu) they are device memory, and a call may be asynchronous on the
 * default stream: the library synchronises the device around it.
 * Run by hand (no avo), the harness checks one call against the reference and prints
 * the error and the median time on stderr.
 *
 * Ownership: the library allocates `out` and `ref` (and, under avo, two more outputs: the
 * copies of checked calls' outputs, sent after the last call) and frees them before
 * returning.
 */
#ifndef AVO_HARNESS_H
#define AVO_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	AVO_HARNESS_F32 = 1,
	AVO_HARNESS_F64 = 2,
	AVO_HARNESS_BF16 = 3,
	AVO_HARNESS_F16 = 4,
} avo_harness_dtype;

typedef struct {
	void *user;                 /* passed to every callback */
	size_t out_count;           /* elements of one output */
	avo_harness_dtype out_type; /* of the variant's output; the reference is float32 */
	double flops;               /* per call (tflops = flops / time); 0: none */
	/* Fill the inputs from `seed`. Deterministic: the reference process, given the same
	 * seed, must see the same inputs. Called before every call with a fresh seed. */
	int (*inputs)(void *user, uint64_t seed);
	/* The exact output of the current inputs, float32, into `ref` (out_count elements). */
	int (*reference)(void *user, float *ref);
	/* The variant on the current inputs, writing `out`. Non-zero: the variant failed. */
	int (*call)(void *user, void *out);
	/* Optional: right before every call, after the output is poisoned and outside the
	 * timed span (e.g. flush the L2 cache so every call starts cold). */
	int (*prepare)(void *user);
} avo_harness;

#define AVO_HARNESS_INIT {NULL, 0, AVO_HARNESS_F32, 0, NULL, NULL, NULL, NULL}

/* Run the protocol; main returns what it returns (0 ok, 1 the variant failed, 2 usage or
 * environment). */
int avo_harness_main(const avo_harness *h);

/* Small helpers for inputs: a splitmix64 stream and uniform values in [-1, 1], never 0. */
uint64_t avo_harness_next(uint64_t *state);
float avo_harness_uniform(uint64_t *state);

#ifdef __cplusplus
}
#endif

#endif
