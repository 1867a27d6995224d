/* Proves: putting each region's own text back (and each knob's own value) gives a
 * byte-identical file, one edit at a time and all at once, for CUDA and C fixtures. */
#include "t.h"

static void roundtrip(const char *path)
{
	avo_astedit_unit *u = t_parse(path);
	avo_astedit_region_edit *re = calloc(u->nregions + 1, sizeof(*re));
	avo_astedit_knob_edit *ke = calloc(u->nknobs + 1, sizeof(*ke));
	char **texts = calloc(u->nregions + 1, sizeof(*texts));
	for (size_t i = 0; i < u->nregions; i++) {
		texts[i] = avo_astedit_region_text(u, &u->regions[i]);
		re[i].region = u->regions[i].name;
		re[i].text = texts[i];
		char *out = NULL;
		size_t n = 0;
		avo_astedit_error err;
		int rc = avo_astedit_apply(&out, &n, u, &re[i], 1, NULL, 0, &err);
		CHECK(rc == 0);
		if (rc < 0)
			fprintf(stderr, "%s: region %s: %s\n", path, re[i].region, err.message);
		CHECK(out && n == u->source_len && !memcmp(out, u->source, n));
		free(out);
		avo_astedit_error_dispose(&err);
	}
	for (size_t i = 0; i < u->nknobs; i++) {
		ke[i].knob = u->knobs[i].name;
		ke[i].value = u->knobs[i].value;
	}
	char *out = NULL;
	size_t n = 0;
	avo_astedit_error err;
	int rc = avo_astedit_apply(&out, &n, u, re, u->nregions, ke, u->nknobs, &err);
	CHECK(rc == 0);
	if (rc < 0)
		fprintf(stderr, "%s: all at once: %s\n", path, err.message);
	CHECK(out && n == u->source_len && !memcmp(out, u->source, n));
	free(out);
	avo_astedit_error_dispose(&err);
	for (size_t i = 0; i < u->nregions; i++)
		free(texts[i]);
	free(texts);
	free(re);
	free(ke);
	avo_astedit_unit_free(u);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		roundtrip(argv[i]);
	return argc < 2 ? 2 : t_done();
}
