/* Wire format: OpenAI chat completions (POST {base_url}/chat/completions, tools and
 * tool_calls), also spoken by vLLM, Ollama, llama.cpp's server and OpenRouter. */
#include "llm.h"

#include <stdlib.h>
#include <string.h>

static cJSON *chat_tools(const avo_agent_tool_def *defs, size_t n)
{
	static const avo_llm_tool_shape shape = {"function", "function", "parameters", 0};
	return avo_llm_tool_list(defs, n, &shape);
}

static cJSON *chat_request(const avo_llm_conf *c, cJSON *conv, const cJSON *tools, const char *system)
{
	cJSON *req = cJSON_CreateObject(), *msgs = cJSON_CreateArray(), *m;
	if (!req || !msgs) {
		cJSON_Delete(req);
		cJSON_Delete(msgs);
		return NULL;
	}
	cJSON_AddItemToObject(req, "messages", msgs);
	cJSON_AddItemToArray(msgs, avo_llm_text_message("system", system));
	cJSON_ArrayForEach(m, conv)
		cJSON_AddItemReferenceToArray(msgs, m);
	cJSON_AddItemReferenceToObject(req, "tools", (cJSON *)tools);
	cJSON_AddNumberToObject(req, c->max_tokens_field, (double)c->max_output_tokens);
	/* Reasoning models take tools on chat completions only with the effort set. */
	if (c->reasoning_effort)
		cJSON_AddStringToObject(req, "reasoning_effort", c->reasoning_effort);
	return req;
}

/* The assistant message to echo, rebuilt from the fields the API takes back (servers add
 * reasoning_content, annotations, ... that some refuse on the way in). */
static int chat_parse(avo_llm_reply *r, const cJSON *root)
{
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
	r->in = avo_llm_count(usage, "prompt_tokens");
	r->out = avo_llm_count(usage, "completion_tokens");
	r->cached = avo_llm_count(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"), "cached_tokens");
	const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
	if (!cJSON_IsObject(msg))
		return avo_error_set(AVO_EPARSE, "the LLM API answer has no choices[0].message");
	const char *fr = avo_llm_str(choice, "finish_reason");
	r->truncated = fr && !strcmp(fr, "length");
	cJSON *m = cJSON_CreateObject(), *out_calls = cJSON_CreateArray();
	if (!(r->turn = cJSON_CreateArray()) || !m || !out_calls) {
		cJSON_Delete(m);
		cJSON_Delete(out_calls);
		return avo_oom();
	}
	cJSON_AddItemToArray(r->turn, m);
	cJSON_AddStringToObject(m, "role", "assistant");
	const char *content = avo_llm_str(msg, "content");
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"), *c;
	cJSON_ArrayForEach(c, (cJSON_IsArray(calls) ? calls : NULL)) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "function");
		cJSON *oc = cJSON_CreateObject(), *of = cJSON_CreateObject();
		if (!oc || !of) {
			cJSON_Delete(oc);
			cJSON_Delete(of);
			cJSON_Delete(out_calls);
			return avo_oom();
		}
		cJSON_AddItemToArray(out_calls, oc);
		if (avo_llm_str(c, "id"))
			cJSON_AddStringToObject(oc, "id", avo_llm_str(c, "id"));
		cJSON_AddStringToObject(oc, "type", "function");
		cJSON_AddItemToObject(oc, "function", of);
		const char *name = avo_llm_str(f, "name");
		cJSON_AddStringToObject(of, "name", name ? name : "");
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(f, "arguments");
		char *as = cJSON_IsObject(args) ? cJSON_PrintUnformatted(args) : NULL;
		cJSON_AddStringToObject(of, "arguments", as ? as : cJSON_IsString(args) ? args->valuestring : "{}");
		free(as);
		int rc = avo_llm_add_call(r, oc, "id", name);
		if (rc < 0) {
			cJSON_Delete(out_calls);
			return rc;
		}
		avo_llm_set_args(r, args);
	}
	if (content || !r->ncalls) /* servers differ on null content; echo a string */
		cJSON_AddStringToObject(m, "content", content ? content : "");
	if (r->ncalls)
		cJSON_AddItemToObject(m, "tool_calls", out_calls);
	else
		cJSON_Delete(out_calls);
	return 0;
}

static int chat_results(cJSON *conv, const avo_llm_reply *rp, char **texts, const int *errs)
{
	(void)errs;
	for (size_t i = 0; i < rp->ncalls; i++) {
		cJSON *m = avo_llm_text_message("tool", texts[i]);
		if (!m || !cJSON_AddStringToObject(m, "tool_call_id", rp->calls[i].id)) {
			cJSON_Delete(m);
			return avo_oom();
		}
		cJSON_AddItemToArray(conv, m);
	}
	return 0;
}

static void chat_drop_calls(avo_llm_reply *rp)
{
	cJSON *m = cJSON_GetArrayItem(rp->turn, 0);
	cJSON_DeleteItemFromObjectCaseSensitive(m, "tool_calls");
	if (!avo_llm_str(m, "content"))
		cJSON_AddStringToObject(m, "content", "(cut at the output token limit)");
}

static int chat_elide(cJSON *conv)
{
	return avo_llm_elide_items(conv, "role", "tool", "content");
}

const avo_llm_wire avo_llm_wire_chat = {
	"openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "/chat/completions",
	avo_llm_bearer_headers, chat_tools, chat_request, chat_parse, avo_llm_user_text, chat_results, chat_drop_calls,
	chat_elide,
};
