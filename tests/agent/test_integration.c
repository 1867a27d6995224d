/* The operators on a real kernel: astedit (libclang) parses tests/agent/data/dot.c, the
 * adapters describe it to the operators and validate their edits; the knob search covers
 * its knobs, and an LLM's bad edits are refused with clang's own words. */
#include "mock.h"

#define KEY "sk-avo-integration-SECRET"

static const avo_astedit_unit *unit;

/* evaluate: the edits must produce a source that carries them; fitness from the knobs */
static int real_evaluate(avo_agent_eval *out, const avo_astedit_region_edit *r, size_t nr,
			 const avo_astedit_knob_edit *k, size_t nk, void *payload)
{
	fake *f = payload;
	char *src = NULL;
	avo_agent_apply_error err = {0};
	f->evaluations++;
	if (avo_agent_astedit_apply(&src, &err, r, nr, k, nk, (void *)unit) < 0) {
		out->feedback = avo_sprintf("edit refused: %s", err.message ? err.message : "?");
		avo_agent_apply_error_dispose(&err);
		return 0;
	}
	for (size_t i = 0; i < nk; i++) {
		char want[64];
		snprintf(want, sizeof(want), !strcmp(k[i].knob, "BLOCK") ? "#define BLOCK %s " : "UNROLL = %s;", k[i].value);
		CHECK(strstr(src, want) != NULL);
	}
	for (size_t i = 0; i < nr; i++)
		CHECK(strstr(src, r[i].text) != NULL);
	char key[256];
	knob_key(key, sizeof(key), k, nk, fake_ctx);
	char **p = realloc(f->evaluated, (f->nevaluated + 1) * sizeof(*p));
	if (p) {
		f->evaluated = p;
		p[f->nevaluated++] = avo_strdup(key);
	}
	out->correct = 1;
	out->fitness = (double)strlen(key);
	free(src);
	return 0;
}

/* apply() gets the unit as payload, evaluate() the fake: route them */
static int apply_unit(char **out_source, avo_agent_apply_error *err, const avo_astedit_region_edit *r,
		      size_t nr, const avo_astedit_knob_edit *k, size_t nk, void *payload)
{
	(void)payload;
	return avo_agent_astedit_apply(out_source, err, r, nr, k, nk, (void *)unit);
}

static int setup(avo_astedit_unit **u, avo_agent_unit_view *view, avo_agent_context *ctx, fake *f)
{
	avo_astedit_options o = AVO_ASTEDIT_OPTIONS_INIT;
	if (avo_astedit_parse(u, AVO_TEST_SRC_DIR "/data/dot.c", NULL, 0, &o) < 0) {
		fprintf(stderr, "parse: %s\n", avo_error_last());
		return -1;
	}
	unit = *u;
	CHECK((*u)->nregions == 1 && (*u)->nknobs == 2);
	if (avo_agent_unit_view_init(view, *u) < 0)
		return -1;
	memset(ctx, 0, sizeof(*ctx));
	ctx->kernel_name = "dot.c";
	ctx->regions = view->regions;
	ctx->nregions = view->nregions;
	ctx->knobs = view->knobs;
	ctx->nknobs = view->nknobs;
	ctx->cb.apply = apply_unit;
	ctx->cb.evaluate = real_evaluate;
	ctx->cb.payload = f;
	fake_ctx = ctx;
	return 0;
}

static void test_knob_real(void)
{
	avo_astedit_unit *u = NULL;
	avo_agent_unit_view view;
	avo_agent_context ctx;
	fake f = {0};
	if (setup(&u, &view, &ctx, &f) < 0) {
		failures++;
		return;
	}
	CHECK(!strcmp(view.regions[0].name, "body") && strstr(view.regions[0].text, "acc += a[i] * b[i];"));
	CHECK(view.knobs[1].is_range && view.knobs[1].lo == 1 && view.knobs[1].hi == 4);
	avo_agent_op *op = NULL;
	CHECK(avo_agent_knob_new(&op, NULL) == 0);
	int exhausted = 0;
	for (int s = 0; s < 20 && !exhausted; s++) {
		avo_agent_step_result r;
		CHECK(avo_agent_step(op, &ctx, &r) == 0);
		exhausted = r.outcome == AVO_AGENT_EXHAUSTED;
		avo_agent_step_result_dispose(&r);
	}
	CHECK(exhausted && f.nevaluated == 12); /* 3 x 4 points */
	avo_agent_op_free(op);
	fake_dispose(&f);
	avo_agent_unit_view_dispose(&view);
	avo_astedit_unit_free(u);
}

static void test_llm_real(void)
{
	static const char script[] =
		"[{\"calls\":[{\"name\":\"read_regions\",\"args\":{}},{\"name\":\"read_kernel\",\"args\":{}}]},"
		" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"\\tacc += ;\\n\"}}]},"
		" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"\\tacc = 0; }\\n\\tfloat zz = 0; {\\n\"}}]},"
		" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"\\tfor (int i = 0; i < n; i++)\\n\\t\\tacc += 2 * a[i] * b[i];\\n\"}},"
		"            {\"name\":\"set_knob\",\"args\":{\"name\":\"UNROLL\",\"value\":\"3\"}}]},"
		" {\"calls\":[{\"name\":\"submit\",\"args\":{\"note\":\"doubled\"}}]}]";
	avo_astedit_unit *u = NULL;
	avo_agent_unit_view view;
	avo_agent_context ctx;
	fake f = {0};
	mock m;
	if (setup(&u, &view, &ctx, &f) < 0 || mock_start(&m, "integration", script) < 0) {
		failures++;
		return;
	}
	cJSON *o = cJSON_CreateObject();
	char *url = mock_url(&m, "");
	cJSON_AddStringToObject(o, "api", "anthropic");
	cJSON_AddStringToObject(o, "base_url", url);
	cJSON_AddStringToObject(o, "model", "mock-model");
	cJSON_AddStringToObject(o, "api_key_env", "AVO_TEST_LLM_KEY");
	avo_agent_op *op = NULL;
	CHECK(avo_agent_llm_new(&op, o) == 0);
	avo_agent_step_result r;
	CHECK(op && avo_agent_step(op, &ctx, &r) == 0);
	save_result(&m, &r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 5);
	CHECK(req_has(log, 1, "acc += a[i] * b[i];"));
	CHECK(req_has(log, 1, "float dot(const float *a, const float *b, int n)")); /* read_kernel */
	CHECK(req_has(log, 2, "edit refused"));  /* clang: expected expression */
	CHECK(req_has(log, 2, "expected expression"));
	CHECK(req_has(log, 3, "edit refused"));  /* braces escaping the region */
	CHECK(req_has(log, 4, "ok: region body replaced"));
	CHECK(r.outcome == AVO_AGENT_SUBMITTED && r.evaluated && f.evaluations == 1);
	CHECK(result_knob(&r, "UNROLL") && !strcmp(result_knob(&r, "UNROLL"), "3"));
	CHECK(secret_absent(&m, KEY));
	cJSON_Delete(log);
	avo_agent_step_result_dispose(&r);
	avo_agent_op_free(op);
	cJSON_Delete(o);
	free(url);
	mock_cleanup(&m);
	fake_dispose(&f);
	avo_agent_unit_view_dispose(&view);
	avo_astedit_unit_free(u);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {{"knob_real", test_knob_real}, {"llm_real", test_llm_real}};
	setenv("AVO_TEST_LLM_KEY", KEY, 1);
	setenv("MOCK_EXPECT_KEY", KEY, 1);
	int ran = 0;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (argc < 2 || !strcmp(argv[1], tests[i].name)) {
			tests[i].fn();
			ran++;
		}
	if (!ran) {
		fprintf(stderr, "no test named %s\n", argv[1]);
		return 2;
	}
	return failures ? 1 : 0;
}
