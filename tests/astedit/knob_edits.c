/* Proves: knob edits take allowed values (list and range) and change only the value's bytes;
 * values not allowed by the marker are refused. */
#include "t.h"

static avo_astedit_unit *u;

static void allowed(const char *knob, const char *value)
{
	const avo_astedit_knob *k = avo_astedit_knob_find(u, knob);
	avo_astedit_knob_edit e = {knob, value};
	char *out = NULL;
	size_t n = 0;
	avo_astedit_error err;
	int rc = avo_astedit_apply(&out, &n, u, NULL, 0, &e, 1, &err);
	CHECK(rc == 0 && k);
	if (rc < 0)
		fprintf(stderr, "%s=%s: %s\n", knob, value, err.message);
	if (rc == 0 && k) {
		size_t vl = strlen(value), at = k->value_pos.offset;
		CHECK(n == u->source_len - k->value_len + vl);
		CHECK(!memcmp(out, u->source, at));
		CHECK(!memcmp(out + at, value, vl));
		CHECK(!memcmp(out + at + vl, u->source + at + k->value_len, u->source_len - at - k->value_len));
	}
	free(out);
	avo_astedit_error_dispose(&err);
}

static void refused(const char *knob, const char *value, avo_astedit_error_kind kind)
{
	avo_astedit_knob_edit e = {knob, value};
	char *out = NULL;
	avo_astedit_error err;
	int rc = avo_astedit_apply(&out, NULL, u, NULL, 0, &e, 1, &err);
	CHECK(rc < 0 && out == NULL && err.kind == kind);
	if (kind == AVO_ASTEDIT_ERR_VALUE) {
		char *want = avo_sprintf("value '%s' is not allowed for knob '%s'", value, knob);
		CHECK_CONTAINS(err.message, want);
		free(want);
	}
	avo_astedit_error_dispose(&err);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	u = t_parse(argv[1]);
	allowed("BLOCK_M", "128");
	allowed("BLOCK_N", "32");
	allowed("STAGES", "1");
	allowed("STAGES", "4");
	allowed("kWarps", "8");
	allowed("kUnroll", "2u");
	refused("BLOCK_M", "96", AVO_ASTEDIT_ERR_VALUE);
	refused("BLOCK_M", "64 + 64", AVO_ASTEDIT_ERR_VALUE);
	refused("STAGES", "5", AVO_ASTEDIT_ERR_VALUE);
	refused("STAGES", "0", AVO_ASTEDIT_ERR_VALUE);
	refused("STAGES", "x", AVO_ASTEDIT_ERR_VALUE);
	refused("kUnroll", "2", AVO_ASTEDIT_ERR_VALUE); /* the list says "2u" */
	refused("kWarps", "4; int evil = 1", AVO_ASTEDIT_ERR_VALUE);
	refused("NOT_A_KNOB", "1", AVO_ASTEDIT_ERR_UNKNOWN_NAME);

	/* knobs and a region together; the result parses again with the new values */
	avo_astedit_knob_edit ke[] = {{"BLOCK_M", "32"}, {"STAGES", "3"}};
	avo_astedit_region_edit re = {"store", "\t\tout[row] = acc * (float)STAGES;\n"};
	char *out = NULL;
	size_t n;
	avo_astedit_error err;
	CHECK(avo_astedit_apply(&out, &n, u, &re, 1, ke, 2, &err) == 0);
	CHECK_CONTAINS(out, "#define BLOCK_M 32 // avo:knob 32 64 128\n");
	CHECK_CONTAINS(out, "#define STAGES 3   // avo:knob 1..4\n");
	avo_astedit_unit *nu = NULL;
	CHECK(out && avo_astedit_parse(&nu, u->path, out, n, NULL) == 0);
	const avo_astedit_knob *k = nu ? avo_astedit_knob_find(nu, "STAGES") : NULL;
	CHECK(k && !strcmp(k->value, "3"));
	avo_astedit_unit_free(nu);
	free(out);
	avo_astedit_error_dispose(&err);
	avo_astedit_unit_free(u);
	return t_done();
}
