/* Wire format: Anthropic Messages (POST {base_url}/v1/messages, tool_use / tool_result),
 * with prompt caching: breakpoints on the system prompt, the tools and the newest message. */
#include "llm.h"

#include <stdlib.h>
#include <string.h>

static void anth_headers(char *out[2], const avo_llm_conf *c, const char *key)
{
	out[0] = key ? avo_sprintf("x-api-key: %s", key) : NULL;
	out[1] = avo_sprintf("anthropic-version: %s", c->anthropic_version);
}

static cJSON *anth_tools(const avo_agent_tool_def *defs, size_t n)
{
	static const avo_llm_tool_shape shape = {NULL, NULL, "input_schema", 0};
	return avo_llm_tool_list(defs, n, &shape);
}

static cJSON *ephemeral(void)
{
	cJSON *cc = cJSON_CreateObject();
	cJSON_AddStringToObject(cc, "type", "ephemeral");
	return cc;
}

/* One breakpoint on the last block of the newest message (the conversation so far is then
 * read from the cache on the next request); older marks are removed (at most 4 allowed). */
static void mark_newest(cJSON *conv)
{
	cJSON *m, *blk;
	cJSON_ArrayForEach(m, conv) {
		cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		cJSON_ArrayForEach(blk, (cJSON_IsArray(content) ? content : NULL))
			cJSON_DeleteItemFromObjectCaseSensitive(blk, "cache_control");
	}
	cJSON *last = cJSON_GetArrayItem(conv, cJSON_GetArraySize(conv) - 1);
	cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
	if (cJSON_IsString(content)) { /* a plain text turns into one text block */
		cJSON *arr = cJSON_CreateArray(), *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "text");
		cJSON_AddStringToObject(b, "text", content->valuestring);
		cJSON_AddItemToArray(arr, b);
		cJSON_ReplaceItemInObjectCaseSensitive(last, "content", arr);
		content = arr;
	}
	blk = cJSON_GetArrayItem(content, cJSON_GetArraySize(content) - 1);
	if (cJSON_IsObject(blk))
		cJSON_AddItemToObject(blk, "cache_control", ephemeral());
}

static cJSON *anth_request(const avo_llm_conf *c, cJSON *conv, const cJSON *tools, const char *system)
{
	cJSON *req = cJSON_CreateObject();
	if (!req)
		return NULL;
	if (c->prompt_cache) {
		cJSON *sys = cJSON_CreateArray(), *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "text");
		cJSON_AddStringToObject(b, "text", system);
		cJSON_AddItemToObject(b, "cache_control", ephemeral());
		cJSON_AddItemToArray(sys, b);
		cJSON_AddItemToObject(req, "system", sys);
		/* The tools are the same in every request: a breakpoint on the last one. */
		cJSON *t = cJSON_Duplicate(tools, 1);
		cJSON *lt = cJSON_GetArrayItem(t, cJSON_GetArraySize(t) - 1);
		if (lt)
			cJSON_AddItemToObject(lt, "cache_control", ephemeral());
		cJSON_AddItemToObject(req, "tools", t);
		mark_newest(conv);
	} else {
		cJSON_AddStringToObject(req, "system", system);
		cJSON_AddItemReferenceToObject(req, "tools", (cJSON *)tools);
	}
	cJSON_AddItemReferenceToObject(req, "messages", conv);
	cJSON_AddNumberToObject(req, "max_tokens", (double)c->max_output_tokens);
	return req;
}

static int anth_parse(avo_llm_reply *r, const cJSON *root)
{
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
	r->cached = avo_llm_count(usage, "cache_read_input_tokens");
	r->cache_write = avo_llm_count(usage, "cache_creation_input_tokens");
	r->in = avo_llm_count(usage, "input_tokens") + r->cached + r->cache_write;
	r->out = avo_llm_count(usage, "output_tokens");
	const char *stop = avo_llm_str(root, "stop_reason");
	r->truncated = stop && !strcmp(stop, "max_tokens");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
	if (!cJSON_IsArray(content))
		return avo_error_set(AVO_EPARSE, "the LLM API answer has no content array");
	cJSON *m = cJSON_CreateObject();
	if (!(r->turn = cJSON_CreateArray()) || !m) {
		cJSON_Delete(m);
		return avo_oom();
	}
	cJSON_AddItemToArray(r->turn, m);
	cJSON_AddStringToObject(m, "role", "assistant");
	cJSON *echo = cJSON_GetArraySize(content) ? cJSON_Duplicate(content, 1)
						  : cJSON_Parse("[{\"type\":\"text\",\"text\":\"(no answer)\"}]");
	cJSON_AddItemToObject(m, "content", echo); /* the API refuses empty content on the way back */
	cJSON *blk;
	cJSON_ArrayForEach(blk, echo) {
		const char *bt = avo_llm_str(blk, "type");
		if (!bt || strcmp(bt, "tool_use"))
			continue;
		int rc = avo_llm_add_call(r, blk, "id", avo_llm_str(blk, "name"));
		if (rc < 0)
			return rc;
		const cJSON *in = cJSON_GetObjectItemCaseSensitive(blk, "input");
		if (cJSON_IsObject(in))
			r->calls[r->ncalls - 1].args = cJSON_Duplicate(in, 1);
		else
			r->calls[r->ncalls - 1].args_error = avo_sprintf("the input of %s is not a JSON object", r->calls[r->ncalls - 1].name);
	}
	return 0;
}

static int anth_user(cJSON *conv, const char *text)
{
	/* Roles must alternate: a text after tool results joins that user message. */
	cJSON *last = cJSON_GetArrayItem(conv, cJSON_GetArraySize(conv) - 1);
	const char *role = avo_llm_str(last, "role");
	cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
	if (role && !strcmp(role, "user") && cJSON_IsArray(content)) {
		cJSON *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "text");
		cJSON_AddStringToObject(b, "text", text);
		cJSON_AddItemToArray(content, b);
		return 0;
	}
	return avo_llm_user_text(conv, text);
}

static int anth_results(cJSON *conv, const avo_llm_reply *rp, char **texts, const int *errs)
{
	cJSON *m = cJSON_CreateObject(), *content = cJSON_CreateArray();
	if (!m || !content) {
		cJSON_Delete(m);
		cJSON_Delete(content);
		return avo_oom();
	}
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddItemToObject(m, "content", content);
	for (size_t i = 0; i < rp->ncalls; i++) {
		cJSON *blk = cJSON_CreateObject();
		cJSON_AddStringToObject(blk, "type", "tool_result");
		cJSON_AddStringToObject(blk, "tool_use_id", rp->calls[i].id);
		cJSON_AddStringToObject(blk, "content", texts[i]);
		if (errs[i])
			cJSON_AddBoolToObject(blk, "is_error", 1);
		cJSON_AddItemToArray(content, blk);
	}
	cJSON_AddItemToArray(conv, m);
	return 0;
}

static void anth_drop_calls(avo_llm_reply *rp)
{
	cJSON *content = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rp->turn, 0), "content");
	for (int i = cJSON_GetArraySize(content) - 1; i >= 0; i--) {
		const char *bt = avo_llm_str(cJSON_GetArrayItem(content, i), "type");
		if (bt && !strcmp(bt, "tool_use"))
			cJSON_DeleteItemFromArray(content, i);
	}
	if (!cJSON_GetArraySize(content)) {
		cJSON *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "text");
		cJSON_AddStringToObject(b, "text", "(cut at the output token limit)");
		cJSON_AddItemToArray(content, b);
	}
}

static int anth_elide(cJSON *conv)
{
	int n = cJSON_GetArraySize(conv);
	for (int i = 0; i < n - 4; i++) {
		cJSON *blk, *content = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(conv, i), "content");
		cJSON_ArrayForEach(blk, (cJSON_IsArray(content) ? content : NULL)) {
			const char *t = avo_llm_str(blk, "type");
			if (t && !strcmp(t, "tool_result") && avo_llm_elide_field(blk, "content"))
				return 1;
		}
	}
	return 0;
}

const avo_llm_wire avo_llm_wire_anthropic = {
	"anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY", "/v1/messages",
	anth_headers, anth_tools, anth_request, anth_parse, anth_user, anth_results, anth_drop_calls, anth_elide,
};
