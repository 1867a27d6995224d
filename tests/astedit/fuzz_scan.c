/* libFuzzer target: the marker scanner and the edit-text lexer on arbitrary bytes. Whatever
 * they accept must be self-consistent. */
#include "astedit_int.h"
#include "avo_base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	avo_astedit_unit *u = NULL;
	if (avo_astedit_scan(&u, "fuzz.cu", s, size) == 0) {
		for (size_t i = 0; i < u->nregions; i++) {
			const avo_astedit_region *r = &u->regions[i];
			if (r->begin.offset > r->end.offset || r->end.offset > size || r->marker.offset >= r->begin.offset)
				abort();
			if (strlen(r->hash) != 32)
				abort();
			char *t = avo_astedit_region_text(u, r);
			free(t);
		}
		for (size_t i = 0; i < u->nknobs; i++) {
			const avo_astedit_knob *k = &u->knobs[i];
			if (k->value_pos.offset + k->value_len > size || memcmp(s + k->value_pos.offset, k->value, k->value_len))
				abort();
			if (!k->is_range && !k->nvalues)
				abort();
		}
		avo_astedit_unit_free(u);
	}
	avo_astedit__lex lx;
	if (avo_astedit__lex_run(&lx, s, size, 1) == 0) {
		if (lx.problem && lx.problem_off > size)
			abort();
		for (size_t i = 0; i < lx.ncomments; i++)
			if (lx.comments[i].start >= lx.comments[i].end || lx.comments[i].end > size)
				abort();
		avo_astedit__lex_dispose(&lx);
	}
	return 0;
}
