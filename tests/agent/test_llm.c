/* The llm operator against a scripted mock API server on loopback, in both wire formats:
 * the agent loop (read, edit, evaluate, repair, submit), refusals seen by the model,
 * garbage from the model, retries on 429/5xx with Retry-After, request timeouts, budgets,
 * token and cost accounting, and the API key: sent in the right header, written nowhere. */
#include "llm_test.h"

#include <math.h>

static const char repair_script[] =
	"[{\"calls\":[{\"name\":\"read_regions\",\"args\":{}},{\"name\":\"read_knowledge\",\"args\":{}}],\"usage\":[100,20]},"
	" {\"calls\":[{\"name\":\"read_knowledge\",\"args\":{\"name\":\"tiling.md\"}}],\"usage\":[150,10]},"
	" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"  acc += BAD;\"}}],\"usage\":[200,30]},"
	" {\"calls\":[{\"name\":\"evaluate\",\"args\":{}}],\"usage\":[250,5]},"
	" {\"calls\":[{\"name\":\"read_feedback\",\"args\":{}},{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"  acc += GOOD;\\n\"}},"
	"            {\"name\":\"set_knob\",\"args\":{\"name\":\"BLOCK\",\"value\":\"128\"}}],\"usage\":[300,40]},"
	" {\"calls\":[{\"name\":\"evaluate\",\"args\":{}}],\"usage\":[350,5]},"
	" {\"calls\":[{\"name\":\"submit\",\"args\":{\"note\":\"fused the multiply\"}}],\"usage\":[400,8]}]";

/* read regions and knowledge, edit, evaluate (error), repair, evaluate, submit */
static void repair(const char *api, int commit)
{
	mock m;
	if (mock_start(&m, api, repair_script) < 0) {
		failures++;
		return;
	}
	char *kdir = avo_path_join(m.dir, "knowledge"), *note = avo_path_join(kdir, "tiling.md");
	avo_mkdir_p(kdir, 0755);
	const char *nt = "# Tiling for shared memory\nUse 128x64 tiles: TILE_NOTE_BODY.\n";
	avo_file_write_atomic(note, nt, strlen(nt), 0644);
	fake f = {0};
	f.commit_good = commit;
	avo_agent_context ctx = demo_context(&f);
	ctx.knowledge_dir = kdir;
	ctx.hint = "try HINT_TEXT_42";
	avo_agent_op *op = make_op(&m, api, "{\"price_input\": 3, \"price_output\": 15, \"headers\": {\"X-Title\": \"avo test\"}}");
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0);
	save_result(&m, &r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	int nreq = commit ? 6 : 7;
	CHECK(cJSON_GetArraySize(log) == nreq);
	all_auth(log, "ok");
	CHECK(r.outcome == (commit ? AVO_AGENT_COMMITTED : AVO_AGENT_SUBMITTED));
	CHECK(r.committed == commit);
	CHECK(r.evaluations == 2 && f.evaluations == 2 && r.evaluated);
	CHECK(r.turns == (unsigned)nreq);
	CHECK(result_region(&r, "body") && !strcmp(result_region(&r, "body"), "  acc += GOOD;\n"));
	CHECK(result_knob(&r, "BLOCK") && !strcmp(result_knob(&r, "BLOCK"), "128"));
	CHECK(r.nregions == 1 && r.nknobs == 1);
	CHECK(r.eval.correct && r.eval.fitness == 2.0);
	CHECK(r.nknowledge_read == 1 && !strcmp(r.knowledge_read[0], "tiling.md"));
	if (!commit)
		CHECK(r.note && !strcmp(r.note, "fused the multiply"));
	long long in = 100 + 150 + 200 + 250 + 300 + 350 + (commit ? 0 : 400);
	long long out = 20 + 10 + 30 + 5 + 40 + 5 + (commit ? 0 : 8);
	CHECK(r.input_tokens == in && r.output_tokens == out);
	CHECK(fabs(r.cost_usd - (in * 3.0 + out * 15.0) / 1e6) < 1e-12);
	/* what the model saw */
	CHECK(req_has(log, 0, "HINT_TEXT_42"));                 /* the supervisor's hint */
	CHECK(req_has(log, 0, "mock-model"));
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(log, 0), "body"), "tools")) == 12);
	CHECK(req_has(log, 1, "ORIGINAL"));                     /* read_regions */
	CHECK(req_has(log, 1, "BLOCK = 64   allowed: 32 64 128"));
	CHECK(req_has(log, 1, "tiling.md  Tiling for shared memory")); /* the note list */
	CHECK(req_has(log, 2, "TILE_NOTE_BODY"));              /* the note */
	CHECK(req_has(log, 3, "ok: region body replaced"));
	CHECK(req_has(log, 4, "undeclared identifier"));       /* evaluation feedback */
	CHECK(req_has(log, 5, "knob BLOCK = 128"));
	CHECK(req_has(log, 5, "correct: no")); /* read_feedback: the BAD evaluation */
	if (!commit)
		CHECK(req_has(log, 6, "fitness: 2"));
	if (!strcmp(api, "anthropic"))
		CHECK(!strcmp(req_str(log, 0, "anthropic_version"), "2023-06-01"));
	CHECK(!strcmp(req_str(log, 0, "x_title"), "avo test"));
	CHECK(secret_absent(&m, KEY));
	cJSON_Delete(log);
	avo_agent_step_result_dispose(&r);
	avo_agent_op_free(op);
	free(kdir);
	free(note);
	mock_cleanup(&m);
}

static void test_openai_repair(void) { repair("openai", 0); }
static void test_anthropic_commit(void) { repair("anthropic", 1); }
static void test_responses_repair(void) { repair("responses", 0); }

/* edits outside the regions, unparsable, escaping and disallowed knob values are refused
 * and the model sees why; the working copy stays as it was */
static void test_refusals(void)
{
	static const char script[] =
		"[{\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"harness_main\",\"text\":\"evil();\\n\"}}]},"
		" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"  x = 1\\n  SYNTAX\\n\"}}]},"
		" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"// avo:end\\n\"}}]},"
		" {\"calls\":[{\"name\":\"set_knob\",\"args\":{\"name\":\"BLOCK\",\"value\":\"100\"}},"
		"            {\"name\":\"set_knob\",\"args\":{\"name\":\"UNROLL\",\"value\":9}}]},"
		" {}, {\"calls\":[{\"name\":\"submit\",\"args\":{\"note\":\"gave up\"}}]}]";
	mock m;
	if (mock_start(&m, "refusals", script) < 0) {
		failures++;
		return;
	}
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_agent_op *op = make_op(&m, "anthropic", NULL);
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0);
	save_result(&m, &r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 6);
	all_auth(log, "ok");
	CHECK(req_has(log, 5, "Answer with tool calls only")); /* after an empty answer */
	CHECK(req_has(log, 1, "there is no region named \\\"harness_main\\\""));
	CHECK(req_has(log, 1, "\"is_error\":true"));
	CHECK(req_has(log, 2, "region body, line 2: kernel.cu:14:3: error: expected ';'"));
	CHECK(req_has(log, 3, "avo: markers"));
	CHECK(req_has(log, 4, "knob BLOCK does not allow \\\"100\\\""));
	CHECK(req_has(log, 4, "knob UNROLL does not allow \\\"9\\\""));
	CHECK(r.outcome == AVO_AGENT_SUBMITTED);
	CHECK(r.nregions == 0 && r.nknobs == 0 && r.evaluations == 0 && f.evaluations == 0);
	CHECK(f.applies == 2); /* the name and value checks need no apply() */
	CHECK(r.note && !strcmp(r.note, "gave up"));
	CHECK(secret_absent(&m, KEY));
	cJSON_Delete(log);
	avo_agent_step_result_dispose(&r);
	avo_agent_op_free(op);
	mock_cleanup(&m);
}

/* malformed arguments, an unknown tool, prose without a tool call: errors back to the model */
static void test_bad_calls(void)
{
	static const char script[] =
		"[{\"calls\":[{\"name\":\"edit_region\",\"raw_args\":\"{\\\"name\\\": \\\"body\\\", text: oops\"}]},"
		" {\"calls\":[{\"name\":\"rm_rf\",\"args\":{}}]},"
		" {\"text\":\"I think I am done.\"},"
		" {\"calls\":[{\"name\":\"read_regions\",\"raw_args\":\"\"}]},"
		" {\"calls\":[{\"name\":\"submit\",\"args\":{}}]},"
		" {\"text\":\"a\"}, {}, {\"text\":\"c\"}]";
	mock m;
	if (mock_start(&m, "badcalls", script) < 0) {
		failures++;
		return;
	}
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_agent_op *op = make_op(&m, "openai", NULL);
	avo_agent_step_result r, r2;
	CHECK(avo_agent_step(op, &ctx, &r) == 0);
	save_result(&m, &r);
	CHECK(r.outcome == AVO_AGENT_SUBMITTED && r.evaluations == 0 && !r.evaluated);
	/* a model that never calls a tool fails the step cleanly */
	CHECK(avo_agent_step(op, &ctx, &r2) == 0);
	save_result(&m, &r2);
	CHECK(r2.outcome == AVO_AGENT_FAILED);
	CHECK(r2.error && strstr(r2.error, "without a tool call"));
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 8);
	all_auth(log, "ok");
	CHECK(req_has(log, 1, "not a JSON object"));
	CHECK(req_has(log, 2, "unknown tool \\\"rm_rf\\\""));
	CHECK(req_has(log, 2, "read_regions read_kernel read_lineage read_knowledge read_feedback read_attempts write_note edit_region edit_regions set_knob evaluate submit"));
	CHECK(req_has(log, 3, "Answer with tool calls only"));
	CHECK(req_has(log, 4, "ORIGINAL")); /* empty arguments are no arguments */
	CHECK(secret_absent(&m, KEY));
	cJSON_Delete(log);
	avo_agent_step_result_dispose(&r);
	avo_agent_step_result_dispose(&r2);
	avo_agent_op_free(op);
	mock_cleanup(&m);
}

/* a body that is not JSON, or JSON without choices: the step fails cleanly; no key sent
 * when its variable is unset */
static void test_garbage(void)
{
	static const char script[] =
		"[{\"raw\":\"<html>502 Bad Gateway</html>\"}, {\"raw\":\"{\\\"foo\\\": 1}\"},"
		" {\"raw\":\"{\\\"choices\\\": [{\\\"message\\\": {\\\"tool_calls\\\": 7}}]}\"}, {\"raw\":\"\"}]";
	mock m;
	if (mock_start(&m, "garbage", script) < 0) {
		failures++;
		return;
	}
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_agent_op *op = make_op(&m, "openai", "{\"api_key_env\": \"AVO_TEST_UNSET_VARIABLE\"}");
	/* the third answer has no usable tool call: the model is nudged, then the empty body fails */
	const char *want[] = {"not a JSON object (28 bytes)", "no choices[0].message", "not a JSON object (0 bytes)"};
	for (int i = 0; i < 3; i++) {
		avo_agent_step_result r;
		CHECK(avo_agent_step(op, &ctx, &r) == 0);
		save_result(&m, &r);
		CHECK(r.outcome == AVO_AGENT_FAILED);
		CHECK(r.error && strstr(r.error, want[i]));
		avo_agent_step_result_dispose(&r);
	}
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 4);
	all_auth(log, "missing");
	CHECK(secret_absent(&m, KEY));
	cJSON_Delete(log);
	avo_agent_op_free(op);
	mock_cleanup(&m);
}

/* 429 with Retry-After: honoured (the default backoff here would outlast the test's
 * timeout) and capped */
static void test_retry_429(void)
{
	static const char script[] =
		"[{\"status\":429,\"retry_after\":\"1\"}, {\"calls\":[{\"name\":\"submit\",\"args\":{}}],\"usage\":[7,3]},"
		" {\"status\":429,\"retry_after\":\"3600\"}, {\"calls\":[{\"name\":\"submit\",\"args\":{}}],\"usage\":[7,3]}]";
	mock m;
	if (mock_start(&m, "429", script) < 0) {
		failures++;
		return;
	}
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_agent_op *honour = make_op(&m, "openai", "{\"retry_base\": 100, \"retry_cap\": 60}");
	avo_agent_op *capped = make_op(&m, "openai", "{\"retry_base\": 100, \"retry_cap\": 0.2}");
	avo_agent_step_result r;
	CHECK(avo_agent_step(honour, &ctx, &r) == 0);
	CHECK(r.outcome == AVO_AGENT_SUBMITTED && r.turns == 1 && r.input_tokens == 7 && r.output_tokens == 3);
	avo_agent_step_result_dispose(&r);
	CHECK(avo_agent_step(capped, &ctx, &r) == 0);
	CHECK(r.outcome == AVO_AGENT_SUBMITTED && r.turns == 1);
	save_result(&m, &r);
	avo_agent_step_result_dispose(&r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 4);
	all_auth(log, "ok");
	CHECK(secret_absent(&m, KEY));
	cJSON_Delete(log);
	avo_agent_op_free(honour);
	avo_agent_op_free(capped);
	mock_cleanup(&m);
}

/* 500 and 503 then success; then retries exhausted */
static void test_retry_5xx(void)
{
	static const char script[] =
		"[{\"status\":500}, {\"status\":503}, {\"calls\":[{\"name\":\"submit\",\"args\":{}}]},"
		" {\"status\":500}, {\"status\":502}]";
	mock m;
	if (mock_start(&m, "5xx", script) < 0) {
		failures++;
		return;
	}
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_agent_op *op = make_op(&m, "anthropic", "{\"retry_base\": 0.01, \"retries\": 2}");
	avo_agent_op *one = make_op(&m, "anthropic", "{\"retry_base\": 0.01, \"retries\": 1}");
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0);
	CHECK(r.outcome == AVO_AGENT_SUBMITTED);
	avo_agent_step_result_dispose(&r);
	CHECK(avo_agent_step(one, &ctx, &r) == 0);
	save_result(&m, &r);
	CHECK(r.outcome == AVO_AGENT_FAILED);
	CHECK(r.error && strstr(r.error, "HTTP 502 (retries exhausted)"));
	avo_agent_step_result_dispose(&r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 5);
	all_auth(log, "ok");
	CHECK(secret_absent(&m, KEY));
	cJSON_Delete(log);
	avo_agent_op_free(op);
	avo_agent_op_free(one);
	mock_cleanup(&m);
}

/* a server that never answers: the request times out and the step fails */
static void test_timeout(void)
{
	mock m;
	if (mock_start(&m, "timeout", "[{\"hang\": 25}]") < 0) {
		failures++;
		return;
	}
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_agent_op *op = make_op(&m, "openai", "{\"timeout\": 0.5, \"retries\": 3, \"retry_base\": 0.01}");
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0);
	save_result(&m, &r);
	CHECK(r.outcome == AVO_AGENT_FAILED);
	CHECK(r.error && strstr(r.error, "timed out after 0.5 s"));
	CHECK(r.turns == 0);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 1);
	CHECK(secret_absent(&m, KEY));
	cJSON_Delete(log);
	avo_agent_step_result_dispose(&r);
	avo_agent_op_free(op);
	mock_cleanup(&m);
}

/* the step budget: turns, then tokens */
static void test_budget(void)
{
	static const char script[] =
		"[{\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"epilogue\",\"text\":\"  out[0] = 2 * acc;\\n\"}}]},"
		" {\"calls\":[{\"name\":\"read_regions\",\"args\":{}}]},"
		" {\"calls\":[{\"name\":\"read_regions\",\"args\":{}}],\"usage\":[1000,1000]},"
		" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"epilogue\",\"text\":\"  out[0] = 3 * acc;\\n\"}}]},"
		" {\"calls\":[{\"name\":\"evaluate\",\"args\":{}}]},"
		" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"epilogue\",\"text\":\"  out[0] = 3 * acc;\\n\"}}]},"
		" {\"calls\":[{\"name\":\"evaluate\",\"args\":{}}]}, {\"calls\":[{\"name\":\"read_regions\",\"args\":{}}]}]";
	mock m;
	if (mock_start(&m, "budget", script) < 0) {
		failures++;
		return;
	}
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_agent_op *turns = make_op(&m, "openai", "{\"max_turns\": 2}");
	avo_agent_op *tokens = make_op(&m, "openai", "{\"max_tokens\": 1500}");
	avo_agent_step_result r;
	CHECK(avo_agent_step(turns, &ctx, &r) == 0);
	CHECK(r.outcome == AVO_AGENT_BUDGET && r.turns == 2);
	CHECK(r.error && strstr(r.error, "budget"));
	CHECK(result_region(&r, "epilogue") && !r.evaluated); /* the unsubmitted working copy */
	avo_agent_step_result_dispose(&r);
	CHECK(avo_agent_step(tokens, &ctx, &r) == 0);
	CHECK(r.outcome == AVO_AGENT_BUDGET && r.turns == 1 && r.input_tokens == 1000);
	save_result(&m, &r);
	avo_agent_step_result_dispose(&r);
	/* an evaluator that cannot run ends the step with its error */
	f.fail_eval = 1;
	CHECK(avo_agent_step(turns, &ctx, &r) == AVO_EIO);
	avo_agent_step_result_dispose(&r);
	f.fail_eval = 0;
	/* the caller's own budget: an evaluation that says stop ends the step */
	f.stop_at = 1;
	CHECK(avo_agent_step(turns, &ctx, &r) == 0);
	CHECK(r.outcome == AVO_AGENT_BUDGET && r.turns == 2 && r.evaluations == 1);
	CHECK(r.error && strstr(r.error, "stopped by the caller: not evaluated: evaluation budget reached"));
	avo_agent_step_result_dispose(&r);
	mock_stop(&m);
	CHECK(secret_absent(&m, KEY));
	avo_agent_op_free(turns);
	avo_agent_op_free(tokens);
	mock_cleanup(&m);
}

/* read_lineage shows diffs against the parent; evaluating the unchanged start version or
 * an already evaluated copy costs no evaluation */
static void test_lineage(void)
{
	static const char script[] =
		"[{\"calls\":[{\"name\":\"read_lineage\",\"args\":{}},{\"name\":\"evaluate\",\"args\":{}},{\"name\":\"read_kernel\",\"args\":{}}]},"
		" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"epilogue\",\"text\":\"  out[0] = acc; /* v2 */\\n\"}},"
		"            {\"name\":\"evaluate\",\"args\":{}}, {\"name\":\"evaluate\",\"args\":{}}]},"
		" {\"calls\":[{\"name\":\"submit\",\"args\":{\"note\":\"epilogue\"}}]}]";
	mock m;
	if (mock_start(&m, "lineage", script) < 0) {
		failures++;
		return;
	}
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_astedit_region_edit re = {"body", "  acc += a[i] * b[i]; /* ORIGINAL */\n  acc += GOOD_V1;\n"};
	avo_astedit_knob_edit ke = {"BLOCK", "32"};
	avo_agent_score sc = {"small", 1.5};
	avo_agent_version v[2] = {{"v0", NULL, "original", 1.0, &sc, 1, NULL, 0, NULL, 0, NULL},
				  {"v1", "v0", "llm", 1.5, &sc, 1, &re, 1, &ke, 1, "unrolled once"}};
	ctx.lineage = v;
	ctx.nlineage = 2;
	ctx.base = &v[1];
	avo_agent_op *op = make_op(&m, "openai", NULL);
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0);
	save_result(&m, &r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 3);
	all_auth(log, "ok");
	CHECK(req_has(log, 0, "you start from version v1 (fitness 1.5)"));
	CHECK(req_has(log, 1, "version v1 (parent v0, by llm, the version you start from): fitness 1.5"));
	CHECK(req_has(log, 1, "note: unrolled once"));
	CHECK(req_has(log, 1, "knob BLOCK: 64 -> 32"));
	CHECK(req_has(log, 1, "region body changed (diff against the parent):"));
	CHECK(req_has(log, 1, "     acc += a[i] * b[i]; /* ORIGINAL */\\n  +  acc += GOOD_V1;\\n"));
	CHECK(req_has(log, 1, "not evaluated: the working copy is the version you started from"));
	CHECK(req_has(log, 2, "unchanged since the last evaluation"));
	CHECK(req_has(log, 1, "/* new source */")); /* read_kernel: the source from apply() */
	CHECK(f.evaluations == 1 && r.evaluations == 1);
	CHECK(r.outcome == AVO_AGENT_SUBMITTED && r.evaluated);
	CHECK(result_region(&r, "body") && !strcmp(result_region(&r, "body"), re.text));
	CHECK(result_region(&r, "epilogue") && result_knob(&r, "BLOCK") && !strcmp(result_knob(&r, "BLOCK"), "32"));
	CHECK(secret_absent(&m, KEY));
	cJSON_Delete(log);
	avo_agent_step_result_dispose(&r);
	avo_agent_op_free(op);
	mock_cleanup(&m);
}

/* odd but parseable bodies in both formats: every step fails cleanly or goes on */
static void garbage_corpus(const char *api)
{
	static const char *const bodies[] = {
		"[1,2,3]", "null", "\"text\"", "{}", "{\"choices\":[]}", "{\"choices\":[{\"message\":null}]}",
		"{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":null}]}}]}",
		"{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":5,\"function\":{\"name\":7,\"arguments\":\"{}\"}}]}}]}",
		"{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"edit_region\",\"arguments\":\"[1]\"}}]}}]}",
		"{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"set_knob\",\"arguments\":{\"name\":\"BLOCK\",\"value\":\"32\"}}}]}}]}",
		"{\"choices\":[{\"message\":{\"tool_calls\":{}}}],\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":\"x\"}}",
		"{\"content\":\"x\"}", "{\"content\":[{\"type\":\"tool_use\"}]}", "{\"content\":[null, 3, {\"type\":7}]}",
		"{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"edit_region\",\"input\":{\"name\":[],\"text\":{}}}]}",
		"{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"read_knowledge\",\"input\":{\"name\":\"../../etc/passwd.md\"}}]}",
		"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
		"{\"type\":\"error\"}", "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"b\",\"function\":{\"name\":\"submit\"}}]}}]}",
		"{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"c\",\"function\":{\"name\":\"submit\",\"arguments\":\"{\\\"note\\\": 5}\"}}]}}]}",
	};
	cJSON *script = cJSON_CreateArray();
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "raw", bodies[i]);
		cJSON_AddItemToArray(script, e);
		cJSON_AddItemToArray(script, cJSON_Parse("{\"calls\":[{\"name\":\"submit\",\"args\":{}}]}"));
	}
	char *text = cJSON_PrintUnformatted(script);
	cJSON_Delete(script);
	mock m;
	if (mock_start(&m, api, text) < 0) {
		free(text);
		failures++;
		return;
	}
	free(text);
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	char *kdir = avo_path_join(m.dir, "knowledge");
	avo_mkdir_p(kdir, 0755);
	ctx.knowledge_dir = kdir;
	avo_agent_op *op = make_op(&m, api, NULL);
	int steps = 0, failed = 0, exhausted = 0;
	while (steps < 200 && !exhausted) {
		avo_agent_step_result r;
		int rc = avo_agent_step(op, &ctx, &r);
		save_result(&m, &r);
		exhausted = r.error && strstr(r.error, "script exhausted");
		/* garbage fails the step; only the mock's final HTTP 400 stops the run */
		CHECK(rc == 0 || (exhausted && rc == AVO_ENET));
		CHECK(r.outcome == AVO_AGENT_FAILED || r.outcome == AVO_AGENT_SUBMITTED);
		CHECK(r.input_tokens >= 0 && r.output_tokens >= 0);
		failed += r.outcome == AVO_AGENT_FAILED;
		if (getenv("AVO_TEST_TRACE"))
			fprintf(stderr, "%.2f s %s %s\n", r.seconds, avo_agent_outcome_name(r.outcome), r.error ? r.error : "");
		avo_agent_step_result_dispose(&r);
		steps++;
	}
	printf("%s: %d steps, %d failed cleanly\n", api, steps, failed);
	CHECK(exhausted && failed >= 5);
	cJSON *log = mock_log(&m);
	all_auth(log, "ok"); /* and no wire-format violation */
	cJSON_Delete(log);
	mock_stop(&m);
	CHECK(secret_absent(&m, KEY));
	avo_agent_op_free(op);
	free(kdir);
	mock_cleanup(&m);
}

static void test_garbage_corpus(void)
{
	garbage_corpus("openai");
	garbage_corpus("anthropic");
	garbage_corpus("responses");
}

/* long steps: the oldest long tool results are elided to keep requests under the cap */
static void elide(const char *api)
{
	static const char script[] =
		"[{\"calls\":[{\"name\":\"read_knowledge\",\"args\":{\"name\":\"big.md\"}}]},"
		" {\"calls\":[{\"name\":\"read_knowledge\",\"args\":{\"name\":\"big.md\"}}]},"
		" {\"calls\":[{\"name\":\"read_knowledge\",\"args\":{\"name\":\"big.md\"}}]},"
		" {\"calls\":[{\"name\":\"read_knowledge\",\"args\":{\"name\":\"big.md\"}}]},"
		" {\"calls\":[{\"name\":\"submit\",\"args\":{}}]}]";
	mock m;
	if (mock_start(&m, api, script) < 0) {
		failures++;
		return;
	}
	char *kdir = avo_path_join(m.dir, "knowledge"), *note = avo_path_join(kdir, "big.md");
	avo_mkdir_p(kdir, 0755);
	avo_buf b = AVO_BUF_INIT;
	avo_buf_puts(&b, "# A long note\n");
	for (int i = 0; i < 100; i++)
		avo_buf_printf(&b, "line %03d of a long note about tiles and pipelines.\n", i);
	avo_file_write_atomic(note, b.ptr, b.size, 0644);
	size_t note_len = b.size;
	avo_buf_dispose(&b);
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	ctx.knowledge_dir = kdir;
	/* room for the fixed part and about two copies of the note */
	char opts[64];
	snprintf(opts, sizeof(opts), "{\"max_request_bytes\": %zu}", 9000 + 2 * note_len);
	avo_agent_op *op = make_op(&m, api, opts);
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0);
	CHECK(r.outcome == AVO_AGENT_SUBMITTED);
	save_result(&m, &r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 5);
	all_auth(log, "ok");
	CHECK(req_has(log, 4, "elided to keep the conversation short"));
	CHECK(req_has(log, 4, "line 099 of a long note")); /* the newest copy stays */
	for (int i = 0; i < 5; i++) {
		char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(log, i), "body"));
		CHECK(t && strlen(t) <= 9000 + 2 * note_len + 500);
		free(t);
	}
	CHECK(secret_absent(&m, KEY));
	cJSON_Delete(log);
	avo_agent_step_result_dispose(&r);
	avo_agent_op_free(op);
	free(kdir);
	free(note);
	mock_cleanup(&m);
}

static void test_elide(void)
{
	elide("openai");
	elide("anthropic");
	elide("responses");
}

static void test_options(void)
{
	avo_agent_op *op = NULL;
	cJSON *o = cJSON_Parse("{\"api\": \"openai\"}");
	CHECK(avo_agent_llm_new(&op, o) == AVO_EINVALID && !op);
	CHECK(strstr(avo_error_last(), "\"model\" is required"));
	cJSON_Delete(o);
	o = cJSON_Parse("{\"api\": \"gemini\", \"model\": \"x\"}");
	CHECK(avo_agent_op_new(&op, "llm", o) == AVO_EINVALID && !op);
	CHECK(strstr(avo_error_last(), "gemini"));
	cJSON_Delete(o);
	o = cJSON_Parse("{\"model\": \"x\", \"timeout\": \"soon\"}");
	CHECK(avo_agent_llm_new(&op, o) == AVO_EINVALID && !op);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"model\": \"x\", \"system_prompt_file\": \"/nonexistent/prompt.md\"}");
	CHECK(avo_agent_llm_new(&op, o) < 0 && !op);
	cJSON_Delete(o);
	CHECK(avo_agent_op_new(&op, "genetic", NULL) == AVO_EINVALID);
	o = cJSON_Parse("{\"model\": \"x\", \"headers\": {\"X-Evil\": \"a\\r\\nHost: b\"}}");
	CHECK(avo_agent_llm_new(&op, o) == AVO_EINVALID && !op);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"model\": \"x\"}");
	CHECK(avo_agent_op_new(&op, "llm", o) == 0 && op && !strcmp(op->name, "llm"));
	avo_agent_op_free(op);
	cJSON_Delete(o);
}

int main(int argc, char **argv)
{
	static const llm_test_case tests[] = {
		{"openai_repair", test_openai_repair}, {"anthropic_commit", test_anthropic_commit},
		{"refusals", test_refusals},           {"bad_calls", test_bad_calls},
		{"garbage", test_garbage},             {"retry_429", test_retry_429},
		{"retry_5xx", test_retry_5xx},         {"timeout", test_timeout},
		{"budget", test_budget},               {"options", test_options},
		{"lineage", test_lineage},             {"garbage_corpus", test_garbage_corpus},
		{"elide", test_elide},                 {"responses_repair", test_responses_repair},
	};
	return llm_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
