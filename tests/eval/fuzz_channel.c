/* libFuzzer target: arbitrary messages on the result channel of protocol avo-harness-1
 * (engine/proto_avoh.c, included here so production code carries no hook). The input is
 * a list of messages, each a 2-byte little-endian length and its bytes, stamped 1 ms
 * apart; the first byte picks the reader (odd: the reference's). The parser must never
 * crash, read out of bounds or leak, and a stream it takes as complete must be the whole
 * protocol: every timed call seen and every planned output compared. */
#include "../../engine/proto_avoh.c"

#include <assert.h>
#include <fcntl.h>

enum { COUNT = 8 }; /* outputs per call, float32 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	chan c;
	int sv[2];
	memset(&c, 0, sizeof(c));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	c.is_ref = data[0] & 1;
	c.ctl = c.is_ref ? -1 : sv[0];
	c.want = AVO_HREC_HELLO;
	c.phase = AVO_HPHASE_CHECK;
	c.check_rep[0] = -1;
	c.check_rep[1] = 3;
	c.check_rep[2] = 7;
	for (int k = 0; k < NREF; k++)
		c.seeds[k] = 1000 + (uint64_t)k;
	c.rng = 42;
	c.tol = 1e-3;
	if (!c.is_ref) {
		c.dtype = 1;
		c.count = COUNT;
		c.setup_ref = 0.0005;
		for (int k = 0; k < NREF; k++) {
			c.ref[k] = calloc(COUNT, sizeof(float));
			for (int i = 0; i < COUNT; i++)
				c.ref[k][i] = 0.5f;
		}
	}
	double stamp = 1.0;
	char drain[4096];
	for (size_t at = 1; at + 2 <= size && !c.err[0];) {
		size_t n = (size_t)data[at] | (size_t)data[at + 1] << 8;
		at += 2;
		if (n > size - at)
			n = size - at;
		feed(&c, (const char *)data + at, n, stamp);
		at += n;
		stamp += 0.001;
		while (recv(sv[1], drain, sizeof(drain), MSG_DONTWAIT) > 0) /* avo's answers */
			;
	}
	if (!c.is_ref && c.got_end && !c.err[0] && !c.got_fail) {
		assert(c.nsamples == REPS);
		assert(c.ncompared == NREF);
		free(check_times(&c));
	}
	close(sv[0]);
	close(sv[1]);
	chan_free(&c);
	return 0;
}
