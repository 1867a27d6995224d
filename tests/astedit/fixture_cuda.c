/* Proves: a real CUDA file (templates, __launch_bounds__, #pragma unroll, inline PTX, macros,
 * host code with <<<>>> launches,
 * lambdas, namespaces, CUDA 13 headers) parses, and its regions and knobs are found with the
 * right kinds, functions, places and hashes, on the device and on the host side. */
#include "t.h"

#include <xxhash.h>

static void hex(char out[33], const char *s, size_t n)
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(s, n));
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", c.digest[i]);
}

static void check_unit(const avo_astedit_unit *u)
{
	CHECK(u->nregions == 4);
	CHECK(u->nknobs == 5);
	if (u->nregions != 4 || u->nknobs != 5)
		return;
	static const struct {
		const char *name;
		avo_astedit_region_kind kind;
		const char *function;
		unsigned marker_line, begin_line, end_line;
	} want[] = {
		{"helpers", AVO_ASTEDIT_REGION_FUNCTION, "warp_max,scale_of", 24, 25, 35},
		{"inner", AVO_ASTEDIT_REGION_STATEMENTS, "attn_fwd", 53, 54, 60},
		{"store", AVO_ASTEDIT_REGION_STATEMENTS, "attn_fwd", 64, 65, 66},
		{"entry_body", AVO_ASTEDIT_REGION_STATEMENTS, "attn_entry", 76, 77, 79},
	};
	for (size_t i = 0; i < 4; i++) {
		const avo_astedit_region *r = avo_astedit_region_find(u, want[i].name);
		CHECK(r != NULL);
		if (!r)
			continue;
		CHECK(r->kind == want[i].kind);
		CHECK_STR(r->function, want[i].function);
		CHECK(r->marker.line == want[i].marker_line);
		CHECK(r->begin.line == want[i].begin_line && r->begin.col == 1);
		CHECK(r->end.line == want[i].end_line && r->end.col == 1);
		/* offsets agree with lines: begin is a line start, end is the end marker's line start */
		CHECK(r->begin.offset == 0 || u->source[r->begin.offset - 1] == '\n');
		CHECK(strstr(u->source + r->end.offset, "// avo:end") != NULL);
		char h[33];
		hex(h, u->source + r->begin.offset, r->end.offset - r->begin.offset);
		CHECK_STR(r->hash, h);
	}
	const avo_astedit_knob *k = avo_astedit_knob_find(u, "BLOCK_M");
	CHECK(k && k->kind == AVO_ASTEDIT_KNOB_DEFINE && !strcmp(k->value, "64") && k->nvalues == 3 && !k->is_range);
	CHECK(k && k->marker.line == 7 && !strncmp(u->source + k->value_pos.offset, "64", k->value_len));
	k = avo_astedit_knob_find(u, "STAGES");
	CHECK(k && k->is_range && k->lo == 1 && k->hi == 4 && !strcmp(k->value, "2"));
	k = avo_astedit_knob_find(u, "kWarps");
	CHECK(k && k->kind == AVO_ASTEDIT_KNOB_VARIABLE && !strcmp(k->value, "4"));
	k = avo_astedit_knob_find(u, "kUnroll");
	CHECK(k && !strcmp(k->value, "8u") && k->nvalues == 4 && !strcmp(k->values[3], "8u"));
	CHECK(avo_astedit_knob_find(u, "CEIL_DIV") == NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	avo_astedit_unit *u = t_parse(argv[1]);
	check_unit(u);
	int device = 0;
	for (size_t i = 0; i < u->nclang_args; i++)
		device |= !strcmp(u->clang_args[i], "--cuda-device-only");
	CHECK(device);
	avo_astedit_unit_free(u);

	avo_astedit_options o = AVO_ASTEDIT_OPTIONS_INIT;
	o.cuda_host_side = 1;
	CHECK(avo_astedit_parse(&u, argv[1], NULL, 0, &o) == 0);
	if (u) {
		check_unit(u);
		avo_astedit_unit_free(u);
	}

	/* the scanner alone finds the same markers */
	avo_buf b = AVO_BUF_INIT;
	CHECK(avo_file_read(&b, argv[1]) == 0);
	CHECK(avo_astedit_scan(&u, argv[1], b.ptr, b.size) == 0);
	CHECK(u && u->nregions == 4 && u->nknobs == 5);
	avo_astedit_unit_free(u);
	avo_buf_dispose(&b);
	return t_done();
}
