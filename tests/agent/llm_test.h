/* Shared by the llm operator's tests: the test key, an operator pointed at the mock, and
 * the checks every recorded request must pass. */
#ifndef AVO_TEST_AGENT_LLM_TEST_H
#define AVO_TEST_AGENT_LLM_TEST_H

#include "mock.h"

#include <math.h>

#define KEY "sk-avo-test-SECRET-8c1f0e"
#define KEY_ENV "AVO_TEST_LLM_KEY"

static inline avo_agent_op *make_op(const mock *m, const char *api, const char *extra_json)
{
	cJSON *o = cJSON_Parse(extra_json ? extra_json : "{}");
	char *url = mock_url(m, strcmp(api, "anthropic") ? "/v1" : "");
	cJSON_AddStringToObject(o, "api", api);
	cJSON_AddStringToObject(o, "base_url", url);
	if (!cJSON_GetObjectItem(o, "model"))
		cJSON_AddStringToObject(o, "model", "mock-model");
	if (!cJSON_GetObjectItem(o, "api_key_env"))
		cJSON_AddStringToObject(o, "api_key_env", KEY_ENV);
	if (!cJSON_GetObjectItem(o, "timeout"))
		cJSON_AddNumberToObject(o, "timeout", 10);
	avo_agent_op *op = NULL;
	int rc = avo_agent_llm_new(&op, o);
	if (rc < 0)
		fprintf(stderr, "llm_new: %s\n", avo_error_last());
	CHECK(rc == 0);
	cJSON_Delete(o);
	free(url);
	return op;
}

static inline void all_auth(const cJSON *log, const char *want)
{
	for (int i = 0; i < cJSON_GetArraySize(log); i++) {
		CHECK(!strcmp(req_str(log, i, "auth"), want));
		CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(log, i), "other_auth_headers")) == 0);
		const cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(log, i), "violation");
		if (!cJSON_IsNull(v))
			fprintf(stderr, "request %d: wire-format violation: %s\n", i, cJSON_IsString(v) ? v->valuestring : "?");
		CHECK(cJSON_IsNull(v));
	}
}

typedef struct {
	const char *name;
	void (*fn)(void);
} llm_test_case;

/* Run the case named argv[1] (or all) with the test key set; the exit status of main. */
static inline int llm_test_main(const llm_test_case *tests, size_t n, int argc, char **argv)
{
	setenv(KEY_ENV, KEY, 1);
	setenv("MOCK_EXPECT_KEY", KEY, 1);
	unsetenv("AVO_TEST_UNSET_VARIABLE");
	int ran = 0;
	for (size_t i = 0; i < n; i++)
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

#endif
