/* The requests of the llm operator, in every wire format, type-checked against the request
 * types of the official SDKs (npm openai and @anthropic-ai/sdk, installed in tests/agent/sdk
 * by scripts/setup.sh) with tsc: tests/agent/sdk/check.mjs. Skips (77) without node or
 * without the installed SDKs. */
#include "llm_test.h"

static const char script[] =
	"[{\"calls\":[{\"name\":\"read_regions\",\"args\":{}},{\"name\":\"read_knowledge\",\"args\":{}}],\"usage\":[100,20],\"cached\":50},"
	" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"  acc += BAD;\"}}],\"text\":\"trying\"},"
	" {\"calls\":[{\"name\":\"evaluate\",\"args\":{}}]},"
	" {\"text\":\"a long answer\",\"truncated\":true},"
	" {\"text\":\"prose only\"},"
	" {\"calls\":[{\"name\":\"read_feedback\",\"args\":{}},{\"name\":\"set_knob\",\"args\":{\"name\":\"BLOCK\",\"value\":128}}],\"no_ids\":true},"
	" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"  acc += GOOD;\\n\"}},"
	"            {\"name\":\"write_note\",\"args\":{\"text\":\"GOOD works\"}}]},"
	" {\"calls\":[{\"name\":\"submit\",\"args\":{\"note\":\"fixed\"}}]}]";

static void sdk_check(const char *api, const char *opts)
{
	if (!*AVO_NODE) {
		fprintf(stderr, "node not found: skipping\n");
		exit(77);
	}
	mock m;
	if (mock_start(&m, api, script) < 0) {
		failures++;
		return;
	}
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	char *kdir = avo_path_join(m.dir, "knowledge");
	avo_mkdir_p(kdir, 0755);
	ctx.knowledge_dir = kdir;
	avo_agent_op *op = make_op(&m, api, opts);
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0 && r.outcome == AVO_AGENT_SUBMITTED && r.evaluations == 2);
	avo_agent_step_result_dispose(&r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 8);
	all_auth(log, "ok");
	cJSON_Delete(log);
	char *work = avo_path_join(m.dir, "ts");
	char *cmd = avo_sprintf("'%s' '%s/sdk/check.mjs' '%s' '%s'", AVO_NODE, AVO_TEST_SRC_DIR, m.log, work);
	int st = system(cmd);
	int code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (code == 77) {
		mock_cleanup(&m);
		exit(77);
	}
	CHECK(code == 0);
	/* and the check can fail: a misspelt field in the first request is refused */
	cJSON *bad = mock_log(&m), *first = cJSON_GetArrayItem(bad, 0);
	cJSON_AddStringToObject(cJSON_GetObjectItem(first, "body"), "tool_choise", "auto");
	char *line = cJSON_PrintUnformatted(first), *bad_log = avo_path_join(m.dir, "bad.jsonl");
	avo_file_write_atomic(bad_log, line, strlen(line), 0644);
	free(cmd);
	cmd = avo_sprintf("'%s' '%s/sdk/check.mjs' '%s' '%s-bad' > /dev/null 2>&1", AVO_NODE, AVO_TEST_SRC_DIR, bad_log, work);
	st = system(cmd);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
	free(line);
	free(bad_log);
	cJSON_Delete(bad);
	free(cmd);
	free(work);
	free(kdir);
	avo_agent_op_free(op);
	mock_cleanup(&m);
}

static void test_openai(void) { sdk_check("openai", "{\"reasoning_effort\": \"medium\", \"temperature\": 0.2}"); }
static void test_responses(void) { sdk_check("responses", "{\"reasoning_effort\": \"high\"}"); }
static void test_anthropic(void) { sdk_check("anthropic", "{\"extra_body\": {\"thinking\": {\"type\": \"enabled\", \"budget_tokens\": 1024}}}"); }

int main(int argc, char **argv)
{
	static const llm_test_case tests[] = {
		{"openai", test_openai},
		{"responses", test_responses},
		{"anthropic", test_anthropic},
	};
	return llm_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
