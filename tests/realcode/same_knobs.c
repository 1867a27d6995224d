/* Proves (issue 17 point 8): knobs that share a name in two scopes get qualified names
 * (`Cfg<64>::stages`, `scale_a::UNROLL`) and are edited one at a time; `= (3);` is a knob;
 * two knobs of one name in one scope stay refused (tests/astedit/fixtures/bad). */
#include "../astedit/t.h"

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	avo_astedit_unit *u = t_parse(argv[1]);
	CHECK(u->nknobs == 4);
	const char *names[] = {"Cfg<64>::stages", "Cfg<128>::stages", "scale_a::UNROLL", "scale_b::UNROLL"};
	for (size_t i = 0; i < 4 && i < u->nknobs; i++)
		CHECK_STR(u->knobs[i].name, names[i]);
	const avo_astedit_knob *k = avo_astedit_knob_find(u, "Cfg<64>::stages");
	CHECK(k && !strcmp(k->value, "3") && k->value_len == 1);
	avo_astedit_knob_edit ke[2] = {{"Cfg<64>::stages", "4"}, {"scale_b::UNROLL", "4"}};
	char *out = NULL;
	avo_astedit_error err;
	int rc = avo_astedit_apply(&out, NULL, u, NULL, 0, ke, 2, &err);
	if (rc < 0)
		fprintf(stderr, "%s\n", err.message);
	CHECK(rc == 0);
	CHECK_CONTAINS(out, "static constexpr int stages = (4); // avo:knob 2 3 4");
	CHECK_CONTAINS(out, "static constexpr int stages = 2; // avo:knob 1 2 3");
	CHECK_CONTAINS(out, "constexpr int UNROLL = 4; // avo:knob 1 2 4\n\tint i");
	CHECK(strstr(out, "constexpr int UNROLL = 2;") == NULL);
	free(out);
	avo_astedit_error_dispose(&err);
	/* the bare name is ambiguous: not a knob */
	avo_astedit_knob_edit bare = {"UNROLL", "1"};
	rc = avo_astedit_apply(&out, NULL, u, NULL, 0, &bare, 1, &err);
	CHECK(rc == AVO_ENOTFOUND && err.kind == AVO_ASTEDIT_ERR_UNKNOWN_NAME);
	avo_astedit_error_dispose(&err);
	avo_astedit_unit_free(u);
	return t_done();
}
