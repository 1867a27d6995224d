/* Proves: a plain C file works: regions (a function, a loop), a #define knob and a range knob,
 * and an edit of both with the result re-parsed as C. */
#include "t.h"

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	avo_astedit_unit *u = t_parse(argv[1]);
	CHECK(u->nregions == 2 && u->nknobs == 2);
	const avo_astedit_region *r = avo_astedit_region_find(u, "helper");
	CHECK(r && r->kind == AVO_ASTEDIT_REGION_FUNCTION && !strcmp(r->function, "sq"));
	r = avo_astedit_region_find(u, "loop");
	CHECK(r && r->kind == AVO_ASTEDIT_REGION_STATEMENTS && !strcmp(r->function, "saxpy"));
	const avo_astedit_knob *k = avo_astedit_knob_find(u, "kChunk");
	CHECK(k && k->is_range && k->lo == 64 && k->hi == 1024);

	avo_astedit_region_edit re = {"helper", "static float sq(float v) { return v * v * 1.0f; }\n"};
	avo_astedit_knob_edit ke[] = {{"kChunk", "512"}, {"UNROLL", "8"}};
	char *out = NULL;
	size_t n = 0;
	avo_astedit_error err;
	int rc = avo_astedit_apply(&out, &n, u, &re, 1, ke, 2, &err);
	CHECK(rc == 0);
	if (rc < 0)
		fprintf(stderr, "%s\n", err.message);
	CHECK_CONTAINS(out, "#define UNROLL 8 // avo:knob 1 2 4 8\n");
	CHECK_CONTAINS(out, "static const int kChunk = 512; // avo:knob 64..1024\n");
	CHECK_CONTAINS(out, "v * v * 1.0f");
	CHECK(out && n == strlen(out));
	free(out);
	avo_astedit_error_dispose(&err);
	avo_astedit_unit_free(u);
	return t_done();
}
