/* Proves: edits that break the file are refused with clang's diagnostic and the line inside
 * the region; edits that try to leave their region are refused before clang sees them;
 * unknown and repeated names are refused; a good edit changes nothing outside its region. */
#include "t.h"

static avo_astedit_unit *u;

static int apply1(avo_astedit_error *err, const char *region, const char *text)
{
	avo_astedit_region_edit e = {region, text};
	char *out = NULL;
	int rc = avo_astedit_apply(&out, NULL, u, &e, 1, NULL, 0, err);
	CHECK((rc == 0) == (out != NULL));
	free(out);
	return rc;
}

static void escape(const char *text, const char *why, unsigned rline)
{
	avo_astedit_error err;
	int rc = apply1(&err, "inner", text);
	CHECK(rc == AVO_EINVALID);
	CHECK(err.kind == AVO_ASTEDIT_ERR_ESCAPE);
	CHECK_CONTAINS(err.message, why);
	CHECK_STR(err.region, "inner");
	CHECK(err.region_line == rline);
	CHECK(err.diagnostic == NULL);
	avo_astedit_error_dispose(&err);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	u = t_parse(argv[1]);
	const avo_astedit_region *inner = avo_astedit_region_find(u, "inner");
	if (!inner)
		return 1;
	avo_astedit_error err;

	/* a missing ';' on the second line of the new text */
	int rc = apply1(&err, "inner",
			"\t\tfor (int j = j0; j < j0 + BLOCK_N && j < seq; j++) {\n"
			"\t\t\tfloat s = dot(j)\n"
			"\t\t\tacc = fmaxf(acc, s);\n"
			"\t\t}\n");
	CHECK(rc == AVO_EPARSE);
	CHECK(err.kind == AVO_ASTEDIT_ERR_PARSE);
	CHECK_STR(err.region, "inner");
	CHECK(err.region_line == 2);
	CHECK(err.line == inner->begin.line + 1);
	CHECK_CONTAINS(err.diagnostic, "error: expected ';' at end of declaration");
	CHECK_CONTAINS(err.message, "attention.cu:55:20: error: expected ';' at end of declaration (line 2 of region 'inner')");
	avo_astedit_error_dispose(&err);

	/* parses, but means nothing */
	rc = apply1(&err, "inner", "\t\tacc = 0.f;\n\t\tacc = not_declared(acc);\n");
	CHECK(rc == AVO_EPARSE && err.kind == AVO_ASTEDIT_ERR_PARSE && err.region_line == 2);
	CHECK_CONTAINS(err.diagnostic, "use of undeclared identifier 'not_declared'");
	avo_astedit_error_dispose(&err);

	/* parses, but a function region may hold only functions */
	char *htext = avo_astedit_region_text(u, avo_astedit_region_find(u, "helpers"));
	char *with_struct = avo_sprintf("struct Pair { float a, b; };\n%s", htext);
	avo_astedit_region_edit notfn = {"helpers", with_struct};
	char *o2 = NULL;
	rc = avo_astedit_apply(&o2, NULL, u, &notfn, 1, NULL, 0, &err);
	CHECK(rc == AVO_EINVALID && err.kind == AVO_ASTEDIT_ERR_MARKERS && o2 == NULL);
	CHECK_STR(err.region, "helpers");
	CHECK_CONTAINS(err.message, "attention.cu:24:1: region 'helpers' covers 'Pair' at 25:1, which is not a function");
	avo_astedit_error_dispose(&err);
	free(with_struct);
	free(htext);

	/* escapes */
	escape("\t\tacc = 1.f;\n\t\t// avo:end\n", "contains the marker 'avo:end'", 2);
	escape("\t\tacc = 1.f; /* avo:region other */\n", "contains the marker 'avo:region'", 1);
	escape("\t\tconst int k = 1; // avo:knob 1 2\n", "contains the marker 'avo:knob'", 1);
	escape("\t\t}\n\t\t{\n", "unbalanced '}'", 1);
	escape("\t\tif (acc > 0.f) {\n\t\t\tacc = 1.f;\n", "unclosed '{'", 1);
	escape("\t\tacc = fmaxf(acc,\n", "unclosed '('", 1);
	escape("\t\tacc = tile[0][0;\n", "unclosed '['", 1);
	escape("\t\tacc = 1.f;\n\t\t/* left open\n", "unterminated comment", 2);
	escape("\t\tconst char *s = \"abc;\n", "unterminated string literal", 1);
	escape("\t\tacc = 1.f; \\\n", "line splice", 1);
	escape("#if 1\n\t\tacc = 1.f;\n", "'#if' without '#endif'", 1);
	escape("\t\tacc = 1.f;\n#endif\n", "'#endif' without '#if'", 2);

	/* braces inside strings, characters, comments and raw strings are not structure */
	rc = apply1(&err, "inner",
		    "\t\tconst char *a = \"}\", *b = R\"x(})\")x\"; char c = '{'; /* } */ // )\n"
		    "\t\tacc = fmaxf(acc, (float)(a[0] + b[0] + c));\n");
	CHECK(rc == 0);
	if (rc < 0)
		fprintf(stderr, "%s\n", err.message);
	avo_astedit_error_dispose(&err);

	/* names */
	rc = apply1(&err, "no_such_region", "\t\tacc = 1.f;\n");
	CHECK(rc == AVO_ENOTFOUND && err.kind == AVO_ASTEDIT_ERR_UNKNOWN_NAME);
	avo_astedit_error_dispose(&err);
	avo_astedit_region_edit twice[] = {{"inner", "\t\tacc = 1.f;\n"}, {"inner", "\t\tacc = 2.f;\n"}};
	char *out = NULL;
	rc = avo_astedit_apply(&out, NULL, u, twice, 2, NULL, 0, &err);
	CHECK(rc < 0 && err.kind == AVO_ASTEDIT_ERR_DUPLICATE && out == NULL);
	avo_astedit_error_dispose(&err);

	/* a good edit of two regions: the new text is in, every other byte is the original's;
	 * text without a final newline gets one */
	avo_astedit_region_edit good[] = {{"store", "\t\tout[row] = acc;"},
					  {"helpers", "__device__ inline float scale_of(int d) { return 1.f / sqrtf((float)d); }\n"
						      "template <typename T> __device__ T warp_max(T v) { return v; }\n"}};
	size_t n = 0;
	rc = avo_astedit_apply(&out, &n, u, good, 2, NULL, 0, &err);
	CHECK(rc == 0);
	if (rc == 0) {
		const avo_astedit_region *h = avo_astedit_region_find(u, "helpers"), *s = avo_astedit_region_find(u, "store");
		size_t t0 = strlen(good[1].text), t1 = strlen(good[0].text) + 1;
		CHECK(!memcmp(out, u->source, h->begin.offset));
		CHECK(!memcmp(out + h->begin.offset, good[1].text, t0));
		CHECK(!memcmp(out + h->begin.offset + t0, u->source + h->end.offset, s->begin.offset - h->end.offset));
		size_t sb = h->begin.offset + t0 + (s->begin.offset - h->end.offset); /* 'store' in the new text */
		CHECK(!memcmp(out + sb, "\t\tout[row] = acc;\n", t1));
		CHECK(n == sb + t1 + (u->source_len - s->end.offset));
		CHECK(n >= sb + t1 && !memcmp(out + sb + t1, u->source + s->end.offset, u->source_len - s->end.offset));
	} else {
		fprintf(stderr, "%s\n", err.message);
	}
	free(out);
	avo_astedit_error_dispose(&err);
	avo_astedit_unit_free(u);
	return t_done();
}
