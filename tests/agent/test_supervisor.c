/* The supervisor: stall detection (no commit in N steps, a repeated edit set) and the
 * steering hint (untried knobs, untouched regions, unread knowledge notes). */
#include "fake.h"

#include <unistd.h>

/* A step result with the given edits; strings are copied so dispose works. */
static void make_result(avo_agent_step_result *r, const char *region, const char *text, const char *knob,
			const char *value, int committed)
{
	memset(r, 0, sizeof(*r));
	if (region) {
		r->regions = calloc(1, sizeof(*r->regions));
		r->regions[0].region = avo_strdup(region);
		r->regions[0].text = avo_strdup(text);
		r->nregions = 1;
	}
	if (knob) {
		r->knobs = calloc(1, sizeof(*r->knobs));
		r->knobs[0].knob = avo_strdup(knob);
		r->knobs[0].value = avo_strdup(value);
		r->nknobs = 1;
	}
	avo_agent_edit_hash(r->edit_hash, r->regions, r->nregions, r->knobs, r->nknobs);
	r->committed = committed;
	r->outcome = committed ? AVO_AGENT_COMMITTED : AVO_AGENT_SUBMITTED;
}

static void observe(avo_agent_supervisor *s, const char *region, const char *text, const char *knob,
		    const char *value, int committed)
{
	avo_agent_step_result r;
	make_result(&r, region, text, knob, value, committed);
	CHECK(avo_agent_supervisor_observe(s, &r) == 0);
	avo_agent_step_result_dispose(&r);
}

static void test_stall(void)
{
	avo_agent_supervisor_options o = AVO_AGENT_SUPERVISOR_OPTIONS_INIT;
	o.stall_attempts = 3;
	avo_agent_supervisor *s = NULL;
	CHECK(avo_agent_supervisor_new(&s, &o) == 0);
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	char *hint = NULL;
	observe(s, "body", "  a1;\n", NULL, NULL, 1);
	observe(s, "body", "  a2;\n", NULL, NULL, 0);
	observe(s, "body", "  a3;\n", NULL, NULL, 0);
	CHECK(!avo_agent_supervisor_stalled(s));
	CHECK(avo_agent_supervisor_hint(&hint, s, &ctx) == 0 && hint == NULL);
	observe(s, "body", "  a4;\n", NULL, NULL, 0);
	CHECK(avo_agent_supervisor_stalled(s));
	CHECK(avo_agent_supervisor_hint(&hint, s, &ctx) == 0 && hint);
	if (hint) {
		printf("hint:\n%s", hint);
		CHECK(strstr(hint, "No improvement was committed in the last 3 attempts"));
		CHECK(strstr(hint, "Regions never edited: epilogue"));
		CHECK(!strstr(hint, "never edited: body"));
		CHECK(strstr(hint, "Knobs never changed: BLOCK, UNROLL"));
	}
	free(hint);
	/* a commit ends the stall */
	observe(s, NULL, NULL, "BLOCK", "32", 1);
	CHECK(!avo_agent_supervisor_stalled(s));
	/* knobs changed in the lineage count as tried */
	avo_astedit_knob_edit ke = {"UNROLL", "4"};
	avo_agent_version v = {"v1", NULL, "knob", 1, NULL, 0, NULL, 0, &ke, 1, NULL};
	ctx.lineage = &v;
	ctx.nlineage = 1;
	for (int i = 0; i < 3; i++) {
		char t[32];
		snprintf(t, sizeof(t), "  b%d;\n", i);
		observe(s, "body", t, NULL, NULL, 0);
	}
	CHECK(avo_agent_supervisor_hint(&hint, s, &ctx) == 0 && hint);
	CHECK(hint && !strstr(hint, "Knobs never changed"));
	CHECK(hint && strstr(hint, "Regions never edited: epilogue"));
	free(hint);
	avo_agent_supervisor_free(s);
}

static void test_repeat(void)
{
	avo_agent_supervisor *s = NULL;
	CHECK(avo_agent_supervisor_new(&s, NULL) == 0);
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	char *hint = NULL;
	observe(s, "body", "  same;\n", "BLOCK", "32", 0);
	CHECK(!avo_agent_supervisor_stalled(s));
	observe(s, "epilogue", "  other;\n", NULL, NULL, 0);
	CHECK(!avo_agent_supervisor_stalled(s));
	observe(s, "body", "  same;\n", "BLOCK", "32", 0); /* tried before */
	CHECK(avo_agent_supervisor_stalled(s));
	CHECK(avo_agent_supervisor_hint(&hint, s, &ctx) == 0 && hint);
	CHECK(hint && strstr(hint, "repeated edits that were already tried"));
	CHECK(hint && strstr(hint, "Knobs never changed: UNROLL"));
	free(hint);
	observe(s, "body", "  new;\n", NULL, NULL, 0);
	/* no longer a repeat, but 4 steps without a commit (the default limit) */
	CHECK(avo_agent_supervisor_stalled(s));
	CHECK(avo_agent_supervisor_hint(&hint, s, &ctx) == 0 && hint);
	CHECK(hint && !strstr(hint, "repeated"));
	CHECK(hint && strstr(hint, "in the last 4 attempts"));
	free(hint);
	avo_agent_supervisor_free(s);
}

static void test_knowledge(void)
{
	char *dir = NULL;
	CHECK(avo_mkdtemp(&dir, ".", "sup-") == 0);
	const char *notes[][2] = {{"pipelining.md", "# Software pipelining with cp.async\n..."},
				  {"tiling.md", "# Tile sizes for sm_90\n..."},
				  {"README.txt", "not a note"}};
	for (int i = 0; i < 3; i++) {
		char *p = avo_path_join(dir, notes[i][0]);
		avo_file_write_atomic(p, notes[i][1], strlen(notes[i][1]), 0644);
		free(p);
	}
	avo_agent_supervisor_options o = {1};
	avo_agent_supervisor *s = NULL;
	CHECK(avo_agent_supervisor_new(&s, &o) == 0);
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	ctx.knowledge_dir = dir;
	avo_agent_step_result r;
	make_result(&r, "body", "  x;\n", NULL, NULL, 0);
	r.outcome = AVO_AGENT_FAILED;
	r.error = avo_strdup("the model answered 3 times without a tool call\nmore");
	r.knowledge_read = calloc(1, sizeof(char *));
	r.knowledge_read[0] = avo_strdup("tiling.md");
	r.nknowledge_read = 1;
	CHECK(avo_agent_supervisor_observe(s, &r) == 0);
	avo_agent_step_result_dispose(&r);
	char *hint = NULL;
	CHECK(avo_agent_supervisor_hint(&hint, s, &ctx) == 0 && hint);
	if (hint) {
		printf("hint:\n%s", hint);
		CHECK(strstr(hint, "pipelining.md: Software pipelining with cp.async"));
		CHECK(!strstr(hint, "tiling.md"));
		CHECK(!strstr(hint, "README"));
		CHECK(strstr(hint, "The last attempt failed: the model answered 3 times without a tool call\n"));
	}
	free(hint);
	avo_agent_supervisor_free(s);
	avo_rm_rf(dir);
	free(dir);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {{"stall", test_stall}, {"repeat", test_repeat}, {"knowledge", test_knowledge}};
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
