/* The llm operator against what real APIs do, through the mock: errors that no retry fixes
 * stop the run at once (401, 403, 404, 400, a spend-limit 429), a provider error inside an
 * HTTP 200, answers cut at the output token limit, tool calls without ids, cached-token
 * pricing and Anthropic prompt caching, reasoning_effort and extra_body. Each in every
 * wire format; and a reasoning model on chat completions, which refuses tools without
 * reasoning_effort. */
#include "llm_test.h"

static const char *const apis[] = {"openai", "responses", "anthropic"};
#define NAPIS (sizeof(apis) / sizeof(apis[0]))

/* Run one step of `api` against `script`; the log of requests is returned (caller frees). */
static cJSON *one_step(const char *api, const char *script, const char *opts, int *rc, avo_agent_step_result *r,
		       fake *f)
{
	mock m;
	if (mock_start(&m, api, script) < 0) {
		failures++;
		return cJSON_CreateArray();
	}
	avo_agent_context ctx = demo_context(f);
	avo_agent_op *op = make_op(&m, api, opts);
	*rc = avo_agent_step(op, &ctx, r);
	save_result(&m, r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(secret_absent(&m, KEY));
	avo_agent_op_free(op);
	mock_cleanup(&m);
	return log;
}

static void test_fatal(void)
{
	static const struct {
		const char *entry, *want;
	} cases[] = {
		{"{\"status\":401,\"error\":{\"type\":\"authentication_error\",\"message\":\"bad key\"}}", "API key was refused"},
		{"{\"status\":403,\"error\":{\"type\":\"permission_error\",\"message\":\"no\"}}", "access was denied"},
		{"{\"status\":404,\"error\":{\"type\":\"not_found_error\",\"message\":\"model\"}}", "model is unknown"},
		{"{\"status\":400,\"error\":{\"type\":\"invalid_request_error\",\"message\":\"tools need reasoning_effort\"}}",
		 "tools need reasoning_effort"},
		{"{\"status\":429,\"error\":{\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\",\"message\":\"quota\"}}",
		 "spend limit"},
	};
	/* one mock per format: each step meets the next error and stops after one request */
	size_t n = sizeof(cases) / sizeof(cases[0]);
	avo_buf script = AVO_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		avo_buf_printf(&script, "%s%s", i ? "," : "[", cases[i].entry);
	avo_buf_puts(&script, "]");
	for (size_t a = 0; a < NAPIS; a++) {
		mock m;
		if (mock_start(&m, apis[a], script.ptr) < 0) {
			failures++;
			continue;
		}
		fake f = {0};
		avo_agent_context ctx = demo_context(&f);
		avo_agent_op *op = make_op(&m, apis[a], "{\"retries\": 2, \"retry_base\": 0}");
		for (size_t i = 0; i < n; i++) {
			avo_agent_step_result r;
			int rc = avo_agent_step(op, &ctx, &r);
			CHECK(rc == AVO_ENET && r.outcome == AVO_AGENT_FAILED);
			CHECK(strstr(avo_error_last(), cases[i].want));
			CHECK(r.error && strstr(r.error, cases[i].want) && strstr(r.error, "stopping"));
			save_result(&m, &r);
			avo_agent_step_result_dispose(&r);
		}
		mock_stop(&m);
		cJSON *log = mock_log(&m);
		CHECK(cJSON_GetArraySize(log) == (int)n); /* none was retried */
		cJSON_Delete(log);
		CHECK(secret_absent(&m, KEY));
		avo_agent_op_free(op);
		mock_cleanup(&m);
	}
	avo_buf_dispose(&script);
}

/* a rate limit is retried; a provider error inside a 200 fails the step with its message,
 * and stops the run when it is an authentication error */
static void test_error_in_200(void)
{
	for (size_t a = 0; a < NAPIS; a++) {
		fake f = {0};
		avo_agent_step_result r;
		int rc;
		cJSON *log = one_step(apis[a],
				      "[{\"status\":429,\"retry_after\":\"0\"},"
				      " {\"error200\":{\"message\":\"Provider returned error\",\"code\":502}}]",
				      "{\"retries\": 2, \"retry_base\": 0}", &rc, &r, &f);
		CHECK(rc == 0 && r.outcome == AVO_AGENT_FAILED);
		CHECK(cJSON_GetArraySize(log) == 2);
		CHECK(r.error && strstr(r.error, "Provider returned error") && strstr(r.error, "code 502"));
		cJSON_Delete(log);
		avo_agent_step_result_dispose(&r);
		log = one_step(apis[a], "[{\"error200\":{\"message\":\"No auth credentials found\",\"code\":401}}]", NULL, &rc,
			       &r, &f);
		CHECK(rc == AVO_ENET && r.error && strstr(r.error, "No auth credentials found"));
		cJSON_Delete(log);
		avo_agent_step_result_dispose(&r);
	}
}

/* a cut answer's calls are not run; the model is told; three cuts in a row fail the step */
static void test_truncated(void)
{
	static const char script[] =
		"[{\"calls\":[{\"name\":\"edit_region\",\"raw_args\":\"{\\\"name\\\":\\\"body\\\",\\\"text\\\":\\\"  acc +\","
		"             \"raw_input\":{\"name\":\"body\",\"text\":\"  acc +\"}}],\"truncated\":true},"
		" {\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"  acc += GOOD;\\n\"}}]},"
		" {\"calls\":[{\"name\":\"submit\",\"args\":{}}]}]";
	static const char cut3[] = "[{\"text\":\"long\",\"truncated\":true},{\"text\":\"long\",\"truncated\":true},"
				   "{\"text\":\"long\",\"truncated\":true}]";
	for (size_t a = 0; a < NAPIS; a++) {
		fake f = {0};
		avo_agent_step_result r;
		int rc;
		cJSON *log = one_step(apis[a], script, "{\"max_output_tokens\": 512}", &rc, &r, &f);
		CHECK(rc == 0 && r.outcome == AVO_AGENT_SUBMITTED && r.evaluations == 1);
		CHECK(!req_has(log, 1, "region body replaced")); /* the cut edit was never run */
		CHECK(req_has(log, 2, "region body replaced"));
		CHECK(cJSON_GetArraySize(log) == 3);
		all_auth(log, "ok");
		CHECK(req_has(log, 1, "cut at the output token limit (512 tokens)"));
		CHECK(!req_has(log, 1, "not a JSON object"));
		cJSON_Delete(log);
		avo_agent_step_result_dispose(&r);
		log = one_step(apis[a], cut3, NULL, &rc, &r, &f);
		CHECK(rc == 0 && r.outcome == AVO_AGENT_FAILED && r.error && strstr(r.error, "cut at the output token limit 3 times"));
		all_auth(log, "ok");
		cJSON_Delete(log);
		avo_agent_step_result_dispose(&r);
	}
}

/* calls without ids (some local servers) get ids made up, and the results pair with them */
static void test_no_ids(void)
{
	static const char script[] =
		"[{\"calls\":[{\"name\":\"read_regions\",\"args\":{}},{\"name\":\"set_knob\",\"args\":{\"name\":\"BLOCK\",\"value\":\"128\"}}],"
		"  \"no_ids\":true},"
		" {\"calls\":[{\"name\":\"submit\",\"args\":{}}],\"no_ids\":true}]";
	for (size_t a = 0; a < NAPIS; a++) {
		fake f = {0};
		avo_agent_step_result r;
		int rc;
		cJSON *log = one_step(apis[a], script, NULL, &rc, &r, &f);
		CHECK(rc == 0 && r.outcome == AVO_AGENT_SUBMITTED && r.evaluations == 1);
		CHECK(result_knob(&r, "BLOCK") && !strcmp(result_knob(&r, "BLOCK"), "128"));
		CHECK(cJSON_GetArraySize(log) == 2);
		all_auth(log, "ok"); /* the mock checks every call has its result */
		CHECK(req_has(log, 1, "avo_call_"));
		cJSON_Delete(log);
		avo_agent_step_result_dispose(&r);
	}
}

/* cached input is billed at its price; Anthropic requests carry cache breakpoints */
static void test_cache(void)
{
	static const char script[] = "[{\"calls\":[{\"name\":\"read_regions\",\"args\":{}}],\"usage\":[1000,100],"
				     "  \"cached\":600,\"cache_write\":200},"
				     " {\"calls\":[{\"name\":\"submit\",\"args\":{}}],\"usage\":[1000,100],\"cached\":800}]";
	for (size_t a = 0; a < NAPIS; a++) {
		int anth = !strcmp(apis[a], "anthropic");
		fake f = {0};
		avo_agent_step_result r;
		int rc;
		cJSON *log = one_step(apis[a], script, "{\"price_input\": 3, \"price_output\": 15}", &rc, &r, &f);
		CHECK(rc == 0 && r.outcome == AVO_AGENT_SUBMITTED);
		CHECK(r.input_tokens == 2000 && r.output_tokens == 200);
		/* Anthropic: reads 0.1x, writes 1.25x; OpenAI: reads 0.5x (the mock reports no
		 * writes there: cache_write only exists in Anthropic's usage) */
		double want = anth ? (200 * 3 + 600 * 0.3 + 200 * 3.75 + 100 * 15) + (200 * 3 + 800 * 0.3 + 100 * 15)
				   : (400 * 3 + 600 * 1.5 + 100 * 15) + (200 * 3 + 800 * 1.5 + 100 * 15);
		CHECK(fabs(r.cost_usd - want / 1e6) < 1e-12);
		all_auth(log, "ok");
		if (anth) {
			CHECK(req_has(log, 0, "\"system\":[{\"type\":\"text\""));
			CHECK(req_has(log, 0, "\"cache_control\":{\"type\":\"ephemeral\"}"));
			CHECK(req_has(log, 1, "\"is_error\"") || req_has(log, 1, "cache_control"));
		}
		cJSON_Delete(log);
		avo_agent_step_result_dispose(&r);
	}
	/* and an explicit price for cached reads wins; prompt_cache false sends a plain system */
	fake f = {0};
	avo_agent_step_result r;
	int rc;
	cJSON *log = one_step("anthropic", script,
			      "{\"price_input\": 3, \"price_output\": 15, \"price_cached_input\": 0, \"price_cache_write\": 3,"
			      " \"prompt_cache\": false}",
			      &rc, &r, &f);
	CHECK(fabs(r.cost_usd - ((400 * 3 + 100 * 15) + (200 * 3 + 100 * 15)) / 1e6) < 1e-12);
	CHECK(!req_has(log, 0, "cache_control"));
	cJSON_Delete(log);
	avo_agent_step_result_dispose(&r);
}

/* reasoning_effort in each format's own field; extra_body merged, null removes a field */
static void test_extra_body(void)
{
	static const char script[] = "[{\"calls\":[{\"name\":\"submit\",\"args\":{}}]}]";
	static const struct {
		const char *api, *opts, *want[3], *absent;
	} cases[] = {
		{"openai",
		 "{\"reasoning_effort\":\"high\",\"max_tokens_field\":\"max_completion_tokens\","
		 " \"extra_body\":{\"chat_template_kwargs\":{\"enable_thinking\":false},\"options\":{\"num_ctx\":32768}}}",
		 {"\"reasoning_effort\":\"high\"", "\"chat_template_kwargs\":{\"enable_thinking\":false}", "\"num_ctx\":32768"},
		 "\"max_tokens\""},
		{"responses", "{\"reasoning_effort\":\"low\",\"extra_body\":{\"reasoning\":{\"summary\":\"auto\"},\"store\":false}}",
		 {"\"reasoning\":{\"effort\":\"low\",\"summary\":\"auto\"}", "\"store\":false", "\"max_output_tokens\":8192"},
		 "reasoning_effort"},
		{"anthropic", "{\"extra_body\":{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},\"temperature\":null},"
			      " \"temperature\":0.5,\"max_output_tokens\":4096}",
		 {"\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}", "\"max_tokens\":4096", "\"model\":\"mock-model\""},
		 "temperature"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake f = {0};
		avo_agent_step_result r;
		int rc;
		cJSON *log = one_step(cases[i].api, script, cases[i].opts, &rc, &r, &f);
		CHECK(rc == 0 && r.outcome == AVO_AGENT_SUBMITTED);
		all_auth(log, "ok");
		for (int j = 0; j < 3; j++)
			CHECK(req_has(log, 0, cases[i].want[j]));
		CHECK(!req_has(log, 0, cases[i].absent));
		cJSON_Delete(log);
		avo_agent_step_result_dispose(&r);
	}
	avo_agent_op *op = NULL;
	cJSON *o = cJSON_Parse("{\"model\": \"x\", \"extra_body\": [1]}");
	CHECK(avo_agent_llm_new(&op, o) == AVO_EINVALID && !op && strstr(avo_error_last(), "extra_body"));
	cJSON_Delete(o);
	o = cJSON_Parse("{\"model\": \"x\", \"api\": \"gemini\"}");
	CHECK(avo_agent_llm_new(&op, o) == AVO_EINVALID && strstr(avo_error_last(), "\"responses\""));
	cJSON_Delete(o);
}

/* A reasoning model on chat completions: without reasoning_effort the API refuses the tools
 * (a 400: the run stops at once, with the API's reason); with it, the step runs. */
static void test_reasoning_model(void)
{
	static const char script[] = "[{\"calls\":[{\"name\":\"submit\",\"args\":{}}]}]";
	fake f = {0};
	avo_agent_step_result r;
	int rc;
	cJSON *log = one_step("openai", script, "{\"model\":\"gpt-5-mini\",\"retries\":2,\"retry_base\":0}", &rc, &r, &f);
	CHECK(rc == AVO_ENET && r.outcome == AVO_AGENT_FAILED);
	CHECK(r.error && strstr(r.error, "need reasoning_effort") && strstr(r.error, "stopping"));
	CHECK(cJSON_GetArraySize(log) == 1); /* not retried */
	cJSON_Delete(log);
	avo_agent_step_result_dispose(&r);
	log = one_step("openai", script, "{\"model\":\"gpt-5-mini\",\"reasoning_effort\":\"low\"}", &rc, &r, &f);
	CHECK(rc == 0 && r.outcome == AVO_AGENT_SUBMITTED);
	CHECK(req_has(log, 0, "\"reasoning_effort\":\"low\"") && req_has(log, 0, "\"model\":\"gpt-5-mini\""));
	cJSON_Delete(log);
	avo_agent_step_result_dispose(&r);
}

int main(int argc, char **argv)
{
	static const llm_test_case tests[] = {
		{"fatal", test_fatal},         {"error_in_200", test_error_in_200}, {"truncated", test_truncated},
		{"no_ids", test_no_ids},       {"cache", test_cache},               {"extra_body", test_extra_body},
		{"reasoning_model", test_reasoning_model},
	};
	return llm_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
