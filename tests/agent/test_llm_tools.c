/* The llm operator's tools over several steps: the memory of earlier attempts and notes
 * reaches the model, and the kernel and big notes are read in pages (a multi-megabyte note
 * is never sent whole). */
#include "llm_test.h"

/* step 1 edits (BAD), keeps a note and submits; step 2 reads its attempts */
static void memory(const char *api)
{
	static const char script[] =
		"[{\"calls\":[{\"name\":\"edit_region\",\"args\":{\"name\":\"body\",\"text\":\"  acc += BAD;\\n\"}},"
		"            {\"name\":\"write_note\",\"args\":{\"text\":\"NOTE_ONE: BAD does not compile\"}}]},"
		" {\"calls\":[{\"name\":\"submit\",\"args\":{\"note\":\"tried BAD\"}}]},"
		" {\"calls\":[{\"name\":\"read_attempts\",\"args\":{}}]},"
		" {\"calls\":[{\"name\":\"submit\",\"args\":{}}]}]";
	mock m;
	if (mock_start(&m, api, script) < 0) {
		failures++;
		return;
	}
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	avo_agent_op *op = make_op(&m, api, NULL);
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0 && r.outcome == AVO_AGENT_SUBMITTED && r.evaluations == 1);
	avo_agent_step_result_dispose(&r);
	CHECK(avo_agent_step(op, &ctx, &r) == 0 && r.outcome == AVO_AGENT_SUBMITTED);
	avo_agent_step_result_dispose(&r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 4);
	all_auth(log, "ok");
	CHECK(req_has(log, 1, "noted"));
	/* the second step's conversation starts fresh but its tool sees the first step */
	CHECK(!req_has(log, 2, "NOTE_ONE"));
	CHECK(req_has(log, 3, "NOTE_ONE: BAD does not compile"));
	CHECK(req_has(log, 3, "note: tried BAD"));
	CHECK(req_has(log, 3, "changed: region body"));
	CHECK(req_has(log, 3, "undeclared identifier"));
	cJSON_Delete(log);
	avo_agent_op_free(op);
	mock_cleanup(&m);
}

static void test_memory(void)
{
	memory("openai");
	memory("anthropic");
	memory("responses");
}

/* a 2.5 MB note and the kernel, read in pages */
static void paging(const char *api)
{
	static const char script[] =
		"[{\"calls\":[{\"name\":\"read_knowledge\",\"args\":{\"name\":\"big.md\"}}]},"
		" {\"calls\":[{\"name\":\"read_knowledge\",\"args\":{\"name\":\"big.md\",\"offset\":40000,\"limit\":3}}]},"
		" {\"calls\":[{\"name\":\"read_kernel\",\"args\":{\"offset\":2,\"limit\":1}}]},"
		" {\"calls\":[{\"name\":\"read_knowledge\",\"args\":{\"name\":\"oneline.md\"}}]},"
		" {\"calls\":[{\"name\":\"submit\",\"args\":{}}]}]";
	mock m;
	if (mock_start(&m, api, script) < 0) {
		failures++;
		return;
	}
	char *kdir = avo_path_join(m.dir, "knowledge"), *big = avo_path_join(kdir, "big.md"),
	     *one = avo_path_join(kdir, "oneline.md");
	avo_mkdir_p(kdir, 0755);
	avo_buf b = AVO_BUF_INIT;
	avo_buf_puts(&b, "# A big note\n");
	for (int i = 2; i <= 50000; i++)
		avo_buf_printf(&b, "line %05d of the big note, padded to be long enough to add up\n", i);
	avo_file_write_atomic(big, b.ptr, b.size, 0644);
	CHECK(b.size > 2000000);
	avo_buf_clear(&b);
	for (int i = 0; i < 200000; i++)
		avo_buf_puts(&b, "0123456789");
	avo_file_write_atomic(one, b.ptr, b.size, 0644);
	avo_buf_dispose(&b);
	fake f = {0};
	avo_agent_context ctx = demo_context(&f);
	ctx.knowledge_dir = kdir;
	avo_agent_op *op = make_op(&m, api, NULL);
	avo_agent_step_result r;
	CHECK(avo_agent_step(op, &ctx, &r) == 0 && r.outcome == AVO_AGENT_SUBMITTED);
	avo_agent_step_result_dispose(&r);
	mock_stop(&m);
	cJSON *log = mock_log(&m);
	CHECK(cJSON_GetArraySize(log) == 5);
	all_auth(log, "ok");
	CHECK(req_has(log, 1, "[lines 1-200 of 50000]"));
	CHECK(req_has(log, 1, "[more: read_knowledge name=\\\"big.md\\\" with offset 201]"));
	CHECK(req_has(log, 2, "[lines 40000-40002 of 50000]"));
	CHECK(req_has(log, 2, "line 40002 of"));
	CHECK(!req_has(log, 2, "line 40003 of"));
	CHECK(req_has(log, 3, "[no line 2: the text has 1 lines]"));
	CHECK(req_has(log, 4, "[lines 1-1 of 1]"));
	for (int i = 0; i < cJSON_GetArraySize(log); i++) { /* no request carries the note whole */
		char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(log, i), "body"));
		CHECK(t && strlen(t) < 200000);
		free(t);
	}
	cJSON_Delete(log);
	avo_agent_op_free(op);
	free(kdir);
	free(big);
	free(one);
	mock_cleanup(&m);
}

static void test_paging(void)
{
	paging("openai");
	paging("anthropic");
	paging("responses");
}

int main(int argc, char **argv)
{
	static const llm_test_case tests[] = {
		{"memory", test_memory},
		{"paging", test_paging},
	};
	return llm_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
