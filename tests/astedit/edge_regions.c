/* Proves: the harder accepted cases (lambda bodies, empty regions, macro definitions and macro
 * statements inside regions, switch cases, namespace-scope declarations, extern "C", a .cuh
 * header) are found with the right kind and function, and each round-trips. */
#include "t.h"

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	avo_astedit_unit *u = t_parse(argv[1]);
	static const struct {
		const char *name;
		avo_astedit_region_kind kind;
		const char *function;
	} want[] = {
		{"decls", AVO_ASTEDIT_REGION_FUNCTION, "twice"},
		{"in_lambda", AVO_ASTEDIT_REGION_STATEMENTS, "lambda_host"},
		{"empty", AVO_ASTEDIT_REGION_STATEMENTS, "empty_and_macros"},
		{"with_macros", AVO_ASTEDIT_REGION_STATEMENTS, "empty_and_macros"},
		{"cases", AVO_ASTEDIT_REGION_STATEMENTS, "empty_and_macros"},
		{"c_api", AVO_ASTEDIT_REGION_FUNCTION, "edge_entry"},
	};
	CHECK(u->nregions == sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const avo_astedit_region *r = avo_astedit_region_find(u, want[i].name);
		CHECK(r != NULL);
		if (!r)
			continue;
		if (r->kind != want[i].kind || strcmp(r->function, want[i].function))
			fprintf(stderr, "%s: kind %d function '%s'\n", r->name, (int)r->kind, r->function);
		CHECK(r->kind == want[i].kind);
		CHECK_STR(r->function, want[i].function);
		char *t = avo_astedit_region_text(u, r);
		avo_astedit_region_edit e = {r->name, t};
		char *out = NULL;
		size_t n = 0;
		avo_astedit_error err;
		CHECK(avo_astedit_apply(&out, &n, u, &e, 1, NULL, 0, &err) == 0);
		CHECK(out && n == u->source_len && !memcmp(out, u->source, n));
		free(out);
		free(t);
		avo_astedit_error_dispose(&err);
	}
	const avo_astedit_region *r = avo_astedit_region_find(u, "empty");
	CHECK(r && r->begin.offset == r->end.offset);
	/* an empty region can be filled */
	avo_astedit_region_edit fill = {"empty", "\tx[4] = 4.f;\n"};
	char *out = NULL;
	avo_astedit_error err;
	CHECK(avo_astedit_apply(&out, NULL, u, &fill, 1, NULL, 0, &err) == 0);
	CHECK_CONTAINS(out, "\t// avo:region empty\n\tx[4] = 4.f;\n\t// avo:end\n");
	free(out);
	avo_astedit_error_dispose(&err);
	avo_astedit_unit_free(u);
	return t_done();
}
