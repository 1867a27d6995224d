/* The command operator with a small python script as the external agent: a good
 * proposal, garbage output, a crash, a timeout, refused proposals, and no secrets in the
 * agent's environment. */
#include "fake.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <unistd.h>

static avo_agent_op *make_op(const char *mode, double timeout)
{
	cJSON *o = cJSON_CreateObject(), *argv = cJSON_CreateArray();
	cJSON_AddItemToArray(argv, cJSON_CreateString(AVO_PYTHON3));
	cJSON_AddItemToArray(argv, cJSON_CreateString(AVO_TEST_SRC_DIR "/fake_agent.py"));
	cJSON_AddItemToArray(argv, cJSON_CreateString(mode));
	cJSON_AddItemToObject(o, "argv", argv);
	cJSON_AddNumberToObject(o, "timeout", timeout);
	cJSON_AddStringToObject(o, "scratch_dir", ".");
	avo_agent_op *op = NULL;
	CHECK(avo_agent_command_new(&op, o) == 0);
	cJSON_Delete(o);
	return op;
}

static void run(const char *mode, double timeout, fake *f, avo_agent_step_result *r)
{
	avo_agent_context ctx = demo_context(f);
	avo_agent_op *op = make_op(mode, timeout);
	CHECK(avo_agent_step(op, &ctx, r) == 0);
	avo_agent_op_free(op);
}

static void test_good(void)
{
	fake f = {0};
	f.commit_good = 1;
	avo_agent_context ctx = demo_context(&f);
	avo_astedit_knob_edit ke = {"UNROLL", "2"};
	avo_agent_version v = {"v1", NULL, "knob", 1.0, NULL, 0, NULL, 0, &ke, 1, "first"};
	ctx.lineage = &v;
	ctx.nlineage = 1;
	ctx.base = &v;
	ctx.hint = "HINT_77";
	ctx.feedback = "FEEDBACK_88";
	ctx.knowledge_dir = ".";
	avo_agent_op *op = make_op("good", 20);
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0);
	CHECK(r.outcome == AVO_AGENT_COMMITTED && r.committed && r.evaluated && r.evaluations == 1);
	CHECK(!r.error);
	CHECK(result_region(&r, "body") && !strcmp(result_region(&r, "body"), "  acc += GOOD;\n"));
	CHECK(result_knob(&r, "BLOCK") && !strcmp(result_knob(&r, "BLOCK"), "128"));
	CHECK(result_knob(&r, "UNROLL") && !strcmp(result_knob(&r, "UNROLL"), "4"));
	cJSON *info = r.note ? cJSON_Parse(r.note) : NULL;
	CHECK(info != NULL);
	if (info) {
		char here[PATH_MAX];
		CHECK(getcwd(here, sizeof(here)) != NULL);
		const char *cwd = cJSON_GetStringValue(cJSON_GetObjectItem(info, "cwd"));
		CHECK(cwd && strstr(cwd, "/avo-agent-") && strcmp(cwd, here));
		CHECK(cwd && access(cwd, F_OK) != 0); /* the scratch directory is gone */
		CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(info, "secrets")) == 0);
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(info, "body")), demo_regions[0].text));
		const cJSON *block = cJSON_GetObjectItem(info, "block"), *unroll = cJSON_GetObjectItem(info, "unroll");
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(block, "value")), "64"));
		CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(block, "values")) == 3);
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(unroll, "value")), "2")); /* the base's */
		CHECK(cJSON_GetObjectItem(unroll, "hi") && cJSON_GetObjectItem(unroll, "hi")->valuedouble == 8);
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(info, "hint")), "HINT_77"));
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(info, "feedback")), "FEEDBACK_88"));
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(info, "base")), "v1"));
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(info, "lineage"), 0)), "v1"));
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(info, "knowledge_dir")), here));
		CHECK(cJSON_GetObjectItem(info, "protocol")->valuedouble == 1);
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(info, "source")), "/* new source */\n"));
	}
	cJSON_Delete(info);
	avo_agent_step_result_dispose(&r);
	avo_agent_op_free(op);
}

static void expect_fail(const char *mode, double timeout, const char *want)
{
	fake f = {0};
	avo_agent_step_result r;
	run(mode, timeout, &f, &r);
	CHECK(r.outcome == AVO_AGENT_FAILED);
	CHECK(r.error && strstr(r.error, want));
	if (!r.error || !strstr(r.error, want))
		fprintf(stderr, "%s: error was: %s\n", mode, r.error ? r.error : "(none)");
	CHECK(f.evaluations == 0 && r.evaluations == 0);
	avo_agent_step_result_dispose(&r);
}

static void test_garbage(void) { expect_fail("garbage", 20, "printed no JSON proposal on stdout"); }
static void test_crash(void)
{
	expect_fail("crash", 20, "exit 3");
	expect_fail("crash", 20, "agent crashed: CUDA_OOPS");
}
static void test_timeout(void) { expect_fail("sleep", 0.5, "timed out"); }
static void test_refused(void)
{
	expect_fail("badregion", 20, "no region named \"harness_main\"");
	expect_fail("badknob", 20, "knob BLOCK: value \"100\" is not allowed (allowed: 32 64 128)");
	expect_fail("syntax", 20, "proposal refused: region body, line 2: kernel.cu:14:3");
	expect_fail("nothing", 20, "changes nothing");
}

static void test_options(void)
{
	avo_agent_op *op = NULL;
	cJSON *o = cJSON_Parse("{\"argv\": []}");
	CHECK(avo_agent_command_new(&op, o) == AVO_EINVALID && !op);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"argv\": [\"x\", 3]}");
	CHECK(avo_agent_op_new(&op, "command", o) == AVO_EINVALID && !op);
	cJSON_Delete(o);
	CHECK(avo_agent_command_new(&op, NULL) == AVO_EINVALID);
	o = cJSON_Parse("{\"argv\": [\"./no_such_agent.py\"], \"base_dir\": \"" AVO_TEST_SRC_DIR "\"}");
	CHECK(avo_agent_command_new(&op, o) == AVO_ENOTFOUND && !op);
	CHECK(strstr(avo_error_last(), "./no_such_agent.py not found in"));
	cJSON_Delete(o);
	/* a relative program path works although the agent runs in its scratch directory */
	o = cJSON_Parse("{\"argv\": [\"./fake_agent.py\", \"nothing\"], \"base_dir\": \"" AVO_TEST_SRC_DIR "\"}");
	CHECK(avo_agent_command_new(&op, o) == 0 && op);
	if (op) {
		fake f0 = {0};
		avo_agent_context c0 = demo_context(&f0);
		avo_agent_step_result r0;
		CHECK(avo_agent_step(op, &c0, &r0) == 0);
		CHECK(r0.error && strstr(r0.error, "changes nothing")); /* it ran and answered */
		avo_agent_step_result_dispose(&r0);
		avo_agent_op_free(op);
	}
	cJSON_Delete(o);
	o = cJSON_Parse("{\"argv\": [\"/nonexistent/agent\"], \"timeout\": 5}");
	CHECK(avo_agent_command_new(&op, o) == 0);
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0);
	CHECK(r.outcome == AVO_AGENT_FAILED && r.error);
	avo_agent_step_result_dispose(&r);
	avo_agent_op_free(op);
	cJSON_Delete(o);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{"good", test_good},       {"garbage", test_garbage}, {"crash", test_crash},
		{"timeout", test_timeout}, {"refused", test_refused}, {"options", test_options},
	};
	if (access(AVO_PYTHON3, X_OK) != 0) {
		fprintf(stderr, "python3 not found: skipping\n");
		return 77;
	}
	/* secrets the agent must not see */
	setenv("OPENAI_API_KEY", "sk-command-secret-1", 1);
	setenv("ANTHROPIC_API_KEY", "sk-command-secret-2", 1);
	setenv("MY_SERVICE_TOKEN", "tok-command-secret-3", 1);
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
