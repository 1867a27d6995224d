/* Wire format: the OpenAI Responses API (POST {base_url}/responses; function tools,
 * function_call / function_call_output items, reasoning items echoed back so reasoning
 * models keep their chain of thought across tool calls). */
#include "llm.h"

#include <stdlib.h>
#include <string.h>

static cJSON *resp_tools(const avo_agent_tool_def *defs, size_t n)
{
	static const avo_llm_tool_shape shape = {"function", NULL, "parameters", 1};
	return avo_llm_tool_list(defs, n, &shape);
}

static cJSON *resp_request(const avo_llm_conf *c, cJSON *conv, const cJSON *tools, const char *system)
{
	cJSON *req = cJSON_CreateObject();
	if (!req)
		return NULL;
	cJSON_AddStringToObject(req, "instructions", system);
	cJSON_AddItemReferenceToObject(req, "input", conv);
	cJSON_AddItemReferenceToObject(req, "tools", (cJSON *)tools);
	cJSON_AddNumberToObject(req, "max_output_tokens", (double)c->max_output_tokens);
	if (c->reasoning_effort) {
		cJSON *r = cJSON_AddObjectToObject(req, "reasoning");
		cJSON_AddStringToObject(r, "effort", c->reasoning_effort);
	}
	return req;
}

static int resp_parse(avo_llm_reply *r, const cJSON *root)
{
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
	r->in = avo_llm_count(usage, "input_tokens");
	r->out = avo_llm_count(usage, "output_tokens");
	r->cached = avo_llm_count(cJSON_GetObjectItemCaseSensitive(usage, "input_tokens_details"), "cached_tokens");
	const char *status = avo_llm_str(root, "status");
	const char *why = avo_llm_str(cJSON_GetObjectItemCaseSensitive(root, "incomplete_details"), "reason");
	r->truncated = status && !strcmp(status, "incomplete") && why && !strcmp(why, "max_output_tokens");
	const cJSON *output = cJSON_GetObjectItemCaseSensitive(root, "output"), *item;
	if (!cJSON_IsArray(output))
		return avo_error_set(AVO_EPARSE, "the LLM API answer has no output array");
	if (!(r->turn = cJSON_CreateArray()))
		return avo_oom();
	cJSON_ArrayForEach(item, output) {
		const char *type = avo_llm_str(item, "type");
		/* Only what the API takes back as input (other items are hosted tools' records). */
		if (!type || (strcmp(type, "message") && strcmp(type, "function_call") && strcmp(type, "reasoning")))
			continue;
		cJSON *echo = cJSON_Duplicate(item, 1);
		if (!echo)
			return avo_oom();
		cJSON_AddItemToArray(r->turn, echo);
		if (strcmp(type, "function_call"))
			continue;
		int rc = avo_llm_add_call(r, echo, "call_id", avo_llm_str(echo, "name"));
		if (rc < 0)
			return rc;
		avo_llm_set_args(r, cJSON_GetObjectItemCaseSensitive(echo, "arguments"));
	}
	return 0;
}

static int resp_results(cJSON *conv, const avo_llm_reply *rp, char **texts, const int *errs)
{
	(void)errs;
	for (size_t i = 0; i < rp->ncalls; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddStringToObject(o, "type", "function_call_output") ||
		    !cJSON_AddStringToObject(o, "call_id", rp->calls[i].id) || !cJSON_AddStringToObject(o, "output", texts[i])) {
			cJSON_Delete(o);
			return avo_oom();
		}
		cJSON_AddItemToArray(conv, o);
	}
	return 0;
}

static void resp_drop_calls(avo_llm_reply *rp)
{
	for (int i = cJSON_GetArraySize(rp->turn) - 1; i >= 0; i--) {
		const char *t = avo_llm_str(cJSON_GetArrayItem(rp->turn, i), "type");
		if (t && !strcmp(t, "function_call"))
			cJSON_DeleteItemFromArray(rp->turn, i);
	}
}

static int resp_elide(cJSON *conv)
{
	return avo_llm_elide_items(conv, "type", "function_call_output", "output");
}

const avo_llm_wire avo_llm_wire_responses = {
	"responses", "https://api.openai.com/v1", "OPENAI_API_KEY", "/responses",
	avo_llm_bearer_headers, resp_tools, resp_request, resp_parse, avo_llm_user_text, resp_results, resp_drop_calls,
	resp_elide,
};
