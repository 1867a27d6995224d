/* The llm operator: an agent loop over an HTTP chat API with tool calls. Two wire formats:
 * OpenAI-compatible chat completions (tools / tool_calls) and Anthropic Messages
 * (tools / tool_use / tool_result). The model works on a private copy of the edits and
 * reaches the kernel only through the tools below. */
#include "avo_agent_tools.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_BODY (32u << 20)    /* largest response body kept */
#define MAX_NO_TOOL 3           /* replies without a tool call before the step fails */

typedef enum { API_OPENAI, API_ANTHROPIC } api_kind;

typedef struct {
	avo_agent_op op;
	api_kind api;
	char *base_url, *model, *key_env, *anthropic_version, *max_tokens_field;
	char *system_prompt; /* NULL: the embedded one */
	char **headers;      /* extra "Name: value" lines (OpenRouter's X-Title, ...) */
	size_t nheaders;
	long max_turns;
	double max_request_bytes;
	long long max_tokens;
	long max_output_tokens;
	int has_temperature;
	double temperature;
	double timeout, retry_base, retry_cap;
	long retries;
	double price_in, price_out;
	avo_agent_memory mem; /* the agent's attempts and notes, across steps */
} llm_op;

/* ---- HTTP --------------------------------------------------------------------------- */

typedef struct {
	long status;
	avo_buf body;
	double retry_after; /* seconds, -1 when absent */
	int truncated;
} http_resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	http_resp *r = ud;
	size_t len = sz * n;
	if (r->body.size + len > MAX_BODY) {
		r->truncated = 1;
		return 0;
	}
	return avo_buf_put(&r->body, p, len) < 0 ? 0 : len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	http_resp *r = ud;
	size_t len = sz * n;
	if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		char tmp[64];
		size_t m = len - 12 < sizeof(tmp) - 1 ? len - 12 : sizeof(tmp) - 1;
		memcpy(tmp, p + 12, m);
		tmp[m] = '\0';
		char *end;
		double v = strtod(tmp, &end);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		/* Only the delay-seconds form; an HTTP date falls back to our own backoff. */
		if (end != tmp && *end == '\0' && v >= 0 && isfinite(v))
			r->retry_after = v;
	}
	return len;
}

/* One POST. 0: a response arrived (any status). <0: transport failure, message set. */
static int http_post(const llm_op *o, const char *url, const char *body, const char *key, http_resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL, *t;
	char *hdr = NULL;
	int rc = 0;
	r->status = 0;
	r->retry_after = -1;
	r->truncated = 0;
	avo_buf_clear(&r->body);
	if (!c)
		return avo_error_set(AVO_ENET, "cannot start an HTTP request (curl_easy_init)");
#define ADD_HEADER(s)                                                       \
	do {                                                                \
		if (!(t = curl_slist_append(h, (s)))) {                     \
			rc = avo_error_set(AVO_ERROR, "out of memory");     \
			goto done;                                          \
		}                                                           \
		h = t;                                                      \
	} while (0)
	ADD_HEADER("Content-Type: application/json");
	if (o->api == API_ANTHROPIC) {
		char *v = avo_sprintf("anthropic-version: %s", o->anthropic_version);
		if (!v) {
			rc = avo_error_set(AVO_ERROR, "out of memory");
			goto done;
		}
		t = curl_slist_append(h, v);
		free(v);
		if (!t) {
			rc = avo_error_set(AVO_ERROR, "out of memory");
			goto done;
		}
		h = t;
	}
	if (key && *key) {
		hdr = o->api == API_ANTHROPIC ? avo_sprintf("x-api-key: %s", key)
					      : avo_sprintf("Authorization: Bearer %s", key);
		if (!hdr) {
			rc = avo_error_set(AVO_ERROR, "out of memory");
			goto done;
		}
		ADD_HEADER(hdr);
	}
	for (size_t i = 0; i < o->nheaders; i++)
		ADD_HEADER(o->headers[i]);
	ADD_HEADER("Expect:"); /* no 100-continue round trip on large bodies */
#undef ADD_HEADER
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1000));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->timeout < 30 ? o->timeout * 1000 : 30000));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "avo/" AVO_VERSION_STRING);
	CURLcode cr = curl_easy_perform(c);
	if (cr == CURLE_OPERATION_TIMEDOUT)
		rc = avo_error_set(AVO_ETIMEOUT, "LLM request to %s timed out after %.1f s", url, o->timeout);
	else if (cr == CURLE_WRITE_ERROR && r->truncated)
		rc = avo_error_set(AVO_ENET, "LLM response from %s is larger than %u MiB", url, MAX_BODY >> 20);
	else if (cr != CURLE_OK)
		rc = avo_error_set(AVO_ENET, "LLM request to %s failed: %s", url, curl_easy_strerror(cr));
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
done:
	curl_slist_free_all(h);
	if (hdr) {
		memset(hdr, 0, strlen(hdr)); /* do not leave the key in freed memory */
		free(hdr);
	}
	curl_easy_cleanup(c);
	return rc;
}

static void sleep_s(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* A short, printable, key-free excerpt of a response body for error messages. */
static char *excerpt(const avo_buf *b, const char *key)
{
	size_t n = b->size < 300 ? b->size : 300;
	char *s = avo_strndup(b->ptr ? b->ptr : "", n);
	if (!s)
		return NULL;
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 32)
			*p = ' ';
	redact(s, key);
	return s;
}

/* POST with backoff on 429 and 5xx. On 0, r->status is 2xx. */
static int post_retry(const llm_op *o, const char *url, const char *body, const char *key, http_resp *r)
{
	for (long attempt = 0;; attempt++) {
		int rc = http_post(o, url, body, key, r);
		if (rc == AVO_ETIMEOUT)
			return rc; /* a hung server is not retried: it would cost the timeout again */
		int retryable = rc < 0 || r->status == 429 || r->status >= 500;
		if (rc == 0 && r->status >= 200 && r->status < 300)
			return 0;
		if (!retryable || attempt >= o->retries) {
			if (rc < 0)
				return avo_error_wrap(rc, "after %ld attempt(s)", attempt + 1);
			char *ex = excerpt(&r->body, key);
			rc = avo_error_set(AVO_ENET, "LLM API %s answered HTTP %ld%s: %s", url, r->status,
					   retryable ? " (retries exhausted)" : "", ex ? ex : "");
			free(ex);
			return rc;
		}
		double d = r->retry_after >= 0 ? r->retry_after : o->retry_base * pow(2.0, (double)attempt);
		sleep_s(d < o->retry_cap ? d : o->retry_cap);
	}
}

static const char *arg_str(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- wire formats ------------------------------------------------------------------- */

typedef struct {
	char *id, *name;
	cJSON *args;     /* owned; NULL when the arguments were not a JSON object */
	char *args_error;
} tool_call;

typedef struct {
	tool_call *calls;
	size_t ncalls;
	long long in, out;
	cJSON *assistant; /* owned: the message to append to the conversation */
} reply;

static void reply_dispose(reply *r)
{
	for (size_t i = 0; i < r->ncalls; i++) {
		free(r->calls[i].id);
		free(r->calls[i].name);
		cJSON_Delete(r->calls[i].args);
		free(r->calls[i].args_error);
	}
	free(r->calls);
	cJSON_Delete(r->assistant);
	memset(r, 0, sizeof(*r));
}

static cJSON *tools_json(api_kind api)
{
	size_t ntools;
	const avo_agent_tool_def *tools = avo_agent_tools_list(&ntools);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < ntools; i++) {
		cJSON *t = cJSON_CreateObject(), *schema = cJSON_Parse(tools[i].schema);
		if (!t || !schema) {
			cJSON_Delete(t);
			cJSON_Delete(schema);
			cJSON_Delete(arr);
			return NULL;
		}
		if (api == API_OPENAI) {
			cJSON *f = cJSON_CreateObject();
			cJSON_AddStringToObject(t, "type", "function");
			cJSON_AddItemToObject(t, "function", f);
			cJSON_AddStringToObject(f, "name", tools[i].name);
			cJSON_AddStringToObject(f, "description", tools[i].description);
			cJSON_AddItemToObject(f, "parameters", schema);
		} else {
			cJSON_AddStringToObject(t, "name", tools[i].name);
			cJSON_AddStringToObject(t, "description", tools[i].description);
			cJSON_AddItemToObject(t, "input_schema", schema);
		}
		cJSON_AddItemToArray(arr, t);
	}
	return arr;
}

static long long num_field(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	/* A server's token count is untrusted: clamp before the cast (a huge double is UB). */
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0))
		return 0;
	return v->valuedouble < 1e15 ? (long long)v->valuedouble : (long long)1e15;
}

static int add_call(reply *r, const char *id, const char *name)
{
	/* Without an id the result cannot be matched to the call: the conversation would break. */
	if (!id || !*id || !name || !*name)
		return avo_error_set(AVO_EPARSE, "the LLM API answer has a tool call without %s", (!id || !*id) ? "an id" : "a name");
	tool_call *p = realloc(r->calls, (r->ncalls + 1) * sizeof(*p));
	if (!p)
		return avo_error_set(AVO_ERROR, "out of memory");
	r->calls = p;
	memset(&p[r->ncalls], 0, sizeof(*p));
	p[r->ncalls].id = avo_strdup(id ? id : "");
	p[r->ncalls].name = avo_strdup(name ? name : "");
	r->ncalls++;
	return 0;
}

/* Parse a response body. <0 (AVO_EPARSE) on anything unusable, with a clear message. */
static int parse_reply(reply *r, api_kind api, const avo_buf *body)
{
	memset(r, 0, sizeof(*r));
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(body->ptr ? body->ptr : "", body->size, &end, 0);
	int rc = 0;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return avo_error_set(AVO_EPARSE, "the LLM API answered with a body that is not a JSON object (%zu bytes)", body->size);
	}
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
	if (api == API_OPENAI) {
		r->in = num_field(usage, "prompt_tokens");
		r->out = num_field(usage, "completion_tokens");
		const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "message");
		if (!cJSON_IsObject(msg)) {
			rc = avo_error_set(AVO_EPARSE, "the LLM API answer has no choices[0].message");
			goto done;
		}
		r->assistant = cJSON_Duplicate(msg, 1);
		if (!r->assistant) {
			rc = avo_error_set(AVO_ERROR, "out of memory");
			goto done;
		}
		const cJSON *tcs = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
		if (tcs && (!cJSON_IsArray(tcs) || cJSON_GetArraySize(tcs) == 0)) /* nothing to echo */
			cJSON_DeleteItemFromObjectCaseSensitive(r->assistant, "tool_calls");
		cJSON_DeleteItemFromObjectCaseSensitive(r->assistant, "role");
		cJSON_AddStringToObject(r->assistant, "role", "assistant");
		/* Servers differ on "content": null without tool calls; echo a string instead. */
		const cJSON *mc = cJSON_GetObjectItemCaseSensitive(msg, "content");
		if (!cJSON_IsString(mc) && !cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"))) {
			cJSON_DeleteItemFromObjectCaseSensitive(r->assistant, "content");
			cJSON_AddStringToObject(r->assistant, "content", "");
		}
		/* Some servers send "content": null beside tool calls; that is fine to echo back. */
		const cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"), *c;
		cJSON_ArrayForEach(c, calls) {
			const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "function");
			const char *name = arg_str(f, "name"), *args = arg_str(f, "arguments");
			if ((rc = add_call(r, arg_str(c, "id"), name)) < 0)
				goto done;
			tool_call *tc = &r->calls[r->ncalls - 1];
			const cJSON *aobj = cJSON_GetObjectItemCaseSensitive(f, "arguments");
			if (cJSON_IsObject(aobj)) { /* some servers send an object instead of a string */
				tc->args = cJSON_Duplicate(aobj, 1);
				continue;
			}
			const char *aend = NULL;
			cJSON *a = args ? cJSON_ParseWithLengthOpts(args, strlen(args), &aend, 0) : NULL;
			if (!args || strspn(args, " \t\r\n") == strlen(args)) {
				cJSON_Delete(a); /* absent or empty arguments mean no arguments */
				a = cJSON_CreateObject();
			}
			if (cJSON_IsObject(a))
				tc->args = a;
			else {
				cJSON_Delete(a);
				tc->args_error = avo_sprintf("the arguments of %s are not a JSON object%s%.80s",
							     name ? name : "the tool call", args ? ": " : "", args ? args : "");
			}
		}
	} else {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
		if (cJSON_IsString(type) && !strcmp(type->valuestring, "error")) {
			const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
			rc = avo_error_set(AVO_ENET, "the LLM API answered with an error: %.200s",
					   arg_str(e, "message") ? arg_str(e, "message") : "(no message)");
			goto done;
		}
		r->in = num_field(usage, "input_tokens") + num_field(usage, "cache_creation_input_tokens") +
			num_field(usage, "cache_read_input_tokens");
		r->out = num_field(usage, "output_tokens");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content"), *blk;
		if (!cJSON_IsArray(content)) {
			rc = avo_error_set(AVO_EPARSE, "the LLM API answer has no content array");
			goto done;
		}
		r->assistant = cJSON_CreateObject();
		if (!r->assistant) {
			rc = avo_error_set(AVO_ERROR, "out of memory");
			goto done;
		}
		cJSON_AddStringToObject(r->assistant, "role", "assistant");
		if (cJSON_GetArraySize(content) == 0) /* the API refuses empty content on the way back */
			cJSON_AddItemToObject(r->assistant, "content", cJSON_Parse("[{\"type\":\"text\",\"text\":\"(no answer)\"}]"));
		else
			cJSON_AddItemToObject(r->assistant, "content", cJSON_Duplicate(content, 1));
		cJSON_ArrayForEach(blk, content) {
			const char *bt = arg_str(blk, "type");
			if (!bt || strcmp(bt, "tool_use"))
				continue;
			if ((rc = add_call(r, arg_str(blk, "id"), arg_str(blk, "name"))) < 0)
				goto done;
			tool_call *tc = &r->calls[r->ncalls - 1];
			const cJSON *in = cJSON_GetObjectItemCaseSensitive(blk, "input");
			if (cJSON_IsObject(in))
				tc->args = cJSON_Duplicate(in, 1);
			else
				tc->args_error = avo_sprintf("the input of %s is not a JSON object", tc->name);
		}
	}
done:
	cJSON_Delete(root);
	if (rc < 0)
		reply_dispose(r);
	return rc;
}

static cJSON *user_message(const char *text)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", text);
	return m;
}

static char *first_message(const avo_agent_context *ctx)
{
	avo_buf b = AVO_BUF_INIT;
	avo_buf_printf(&b, "Kernel: %s\nRegions:", ctx->kernel_name ? ctx->kernel_name : "(unnamed)");
	for (size_t i = 0; i < ctx->nregions; i++)
		avo_buf_printf(&b, " %s", ctx->regions[i].name);
	avo_buf_puts(&b, ctx->nregions ? "\nKnobs:" : " (none)\nKnobs:");
	for (size_t i = 0; i < ctx->nknobs; i++)
		avo_buf_printf(&b, " %s", ctx->knobs[i].name);
	if (!ctx->nknobs)
		avo_buf_puts(&b, " (none)");
	avo_buf_printf(&b, "\nCommitted versions: %zu", ctx->nlineage);
	if (ctx->base)
		avo_buf_printf(&b, "; you start from version %s (fitness %.6g)", ctx->base->id ? ctx->base->id : "?", ctx->base->fitness);
	avo_buf_puts(&b, ".\n");
	if (ctx->hint && *ctx->hint)
		avo_buf_printf(&b, "\nSupervisor's direction for this step:\n%s\n", ctx->hint);
	if (ctx->feedback && *ctx->feedback)
		avo_buf_puts(&b, "\nThe last evaluation left feedback (read_feedback).\n");
	avo_buf_puts(&b, "\nMake the kernel faster while keeping it correct. Start with read_regions.");
	return avo_buf_detach(&b);
}

static char *build_request(const llm_op *o, const cJSON *messages, const cJSON *toolset)
{
	cJSON *req = cJSON_CreateObject();
	if (!req)
		return NULL;
	cJSON_AddStringToObject(req, "model", o->model);
	cJSON_AddNumberToObject(req, o->max_tokens_field, (double)o->max_output_tokens);
	if (o->has_temperature)
		cJSON_AddNumberToObject(req, "temperature", o->temperature);
	if (o->api == API_ANTHROPIC)
		cJSON_AddStringToObject(req, "system", o->system_prompt ? o->system_prompt : avo_agent__system_prompt);
	/* Borrow messages and tools for printing; detach afterwards. */
	cJSON_AddItemReferenceToObject(req, "messages", (cJSON *)messages);
	cJSON_AddItemReferenceToObject(req, "tools", (cJSON *)toolset);
	char *s = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	return s;
}

/* Append the tool results of one reply to the conversation. */
static int append_results(const llm_op *o, cJSON *messages, const reply *rp, char **texts, const int *errs, size_t n)
{
	if (o->api == API_OPENAI) {
		for (size_t i = 0; i < n; i++) {
			cJSON *m = cJSON_CreateObject();
			if (!m)
				return avo_error_set(AVO_ERROR, "out of memory");
			cJSON_AddStringToObject(m, "role", "tool");
			cJSON_AddStringToObject(m, "tool_call_id", rp->calls[i].id);
			cJSON_AddStringToObject(m, "content", texts[i]);
			cJSON_AddItemToArray(messages, m);
		}
		return 0;
	}
	cJSON *m = cJSON_CreateObject(), *content = cJSON_CreateArray();
	if (!m || !content) {
		cJSON_Delete(m);
		cJSON_Delete(content);
		return avo_error_set(AVO_ERROR, "out of memory");
	}
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddItemToObject(m, "content", content);
	for (size_t i = 0; i < n; i++) {
		cJSON *blk = cJSON_CreateObject();
		cJSON_AddStringToObject(blk, "type", "tool_result");
		cJSON_AddStringToObject(blk, "tool_use_id", rp->calls[i].id);
		cJSON_AddStringToObject(blk, "content", texts[i]);
		if (errs[i])
			cJSON_AddBoolToObject(blk, "is_error", 1);
		cJSON_AddItemToArray(content, blk);
	}
	cJSON_AddItemToArray(messages, m);
	return 0;
}

#define ELIDED "(elided to keep the conversation short; call the tool again if you need it)"

/* Replace the oldest long tool result (not among the last 4 messages) by a stub, so a long
 * step stays inside the model's context. 1: one was elided, 0: none left. */
static int elide_oldest(cJSON *messages)
{
	int n = cJSON_GetArraySize(messages);
	for (int i = 0; i < n - 4; i++) {
		cJSON *m = cJSON_GetArrayItem(messages, i), *c = cJSON_GetObjectItemCaseSensitive(m, "content");
		const char *role = arg_str(m, "role");
		if (role && !strcmp(role, "tool") && cJSON_IsString(c) && strlen(c->valuestring) > 200) {
			cJSON_ReplaceItemInObjectCaseSensitive(m, "content", cJSON_CreateString(ELIDED));
			return 1;
		}
		cJSON *blk, *arr = cJSON_IsArray(c) ? c : NULL;
		cJSON_ArrayForEach(blk, arr) {
			const char *t = arg_str(blk, "type");
			const cJSON *bc = cJSON_GetObjectItemCaseSensitive(blk, "content");
			if (t && !strcmp(t, "tool_result") && cJSON_IsString(bc) && strlen(bc->valuestring) > 200) {
				cJSON_ReplaceItemInObjectCaseSensitive(blk, "content", cJSON_CreateString(ELIDED));
				return 1;
			}
		}
	}
	return 0;
}

/* Keep what this step tried and how it measured, for the next steps (read_attempts). */
static void remember(llm_op *o, const avo_agent_step_result *r)
{
	avo_buf sum = AVO_BUF_INIT;
	avo_buf_printf(&sum, "  outcome: %s; changed:", avo_agent_outcome_name(r->outcome));
	for (size_t i = 0; i < r->nregions; i++)
		avo_buf_printf(&sum, " region %s", r->regions[i].region);
	for (size_t i = 0; i < r->nknobs; i++)
		avo_buf_printf(&sum, " %s=%s", r->knobs[i].knob, r->knobs[i].value);
	if (!r->nregions && !r->nknobs)
		avo_buf_puts(&sum, " nothing");
	if (r->note)
		avo_buf_printf(&sum, "\n  note: %.500s", r->note);
	char *ev = r->evaluations ? eval_describe(&r->eval) : avo_sprintf("not evaluated%s%.500s", r->error ? ": " : "",
									  r->error ? r->error : "");
	/* Feedback can be long (compiler output): the first part is what matters. */
	if (ev && strlen(ev) > 1500)
		strcpy(ev + 1480, "\n[... cut]");
	avo_agent_memory_add(&o->mem, avo_buf_cstr(&sum), ev);
	free(ev);
	avo_buf_dispose(&sum);
}

static int llm_step_run(avo_agent_op *op, const avo_agent_context *ctx, avo_agent_step_result *out)
{
	llm_op *o = (llm_op *)op;
	avo_agent_tools *s = NULL;
	const char *key = avo_secret_get(o->key_env); /* avo_secrets_hide() took it out of environ */
	char *url = o->api == API_OPENAI ? avo_sprintf("%s/chat/completions", o->base_url)
					  : avo_sprintf("%s/v1/messages", o->base_url);
	cJSON *messages = cJSON_CreateArray(), *toolset = tools_json(o->api);
	char *first = first_message(ctx);
	http_resp resp = {0, AVO_BUF_INIT, -1, 0};
	int rc = 0, no_tool = 0;
	if (!url || !messages || !toolset || !first || avo_agent_tools_new(&s, ctx, out, &o->mem) < 0) {
		rc = avo_error_set(AVO_ERROR, "out of memory");
		goto done;
	}
	if (o->api == API_OPENAI) {
		cJSON *sys = cJSON_CreateObject();
		cJSON_AddStringToObject(sys, "role", "system");
		cJSON_AddStringToObject(sys, "content", o->system_prompt ? o->system_prompt : avo_agent__system_prompt);
		cJSON_AddItemToArray(messages, sys);
	}
	cJSON_AddItemToArray(messages, user_message(first));

	for (;;) {
		if ((long)out->turns >= o->max_turns || out->input_tokens + out->output_tokens >= o->max_tokens) {
			out->outcome = AVO_AGENT_BUDGET;
			out->error = avo_sprintf("the step budget ran out (%u requests, %lld tokens) before a submission",
						 out->turns, out->input_tokens + out->output_tokens);
			break;
		}
		char *body = build_request(o, messages, toolset);
		while (body && (double)strlen(body) > o->max_request_bytes && elide_oldest(messages)) {
			free(body);
			body = build_request(o, messages, toolset);
		}
		if (!body) {
			rc = avo_error_set(AVO_ERROR, "out of memory");
			goto done;
		}
		int hr = post_retry(o, url, body, key, &resp);
		free(body);
		if (hr < 0) {
			out->outcome = AVO_AGENT_FAILED;
			out->error = avo_strdup(avo_error_last());
			break;
		}
		out->turns++;
		reply rp;
		if (parse_reply(&rp, o->api, &resp.body) < 0) {
			out->outcome = AVO_AGENT_FAILED;
			out->error = avo_strdup(avo_error_last());
			break;
		}
		out->input_tokens += rp.in;
		out->output_tokens += rp.out;
		out->cost_usd = ((double)out->input_tokens * o->price_in + (double)out->output_tokens * o->price_out) / 1e6;
		cJSON_AddItemToArray(messages, rp.assistant);
		rp.assistant = NULL;
		if (rp.ncalls == 0) {
			reply_dispose(&rp);
			if (++no_tool >= MAX_NO_TOOL) {
				out->outcome = AVO_AGENT_FAILED;
				out->error = avo_sprintf("the model answered %d times without a tool call", no_tool);
				break;
			}
			cJSON_AddItemToArray(messages, user_message("Answer with tool calls only. Use evaluate to measure your working copy and submit to end the step."));
			continue;
		}
		no_tool = 0;
		char **texts = calloc(rp.ncalls, sizeof(*texts));
		int *errs = calloc(rp.ncalls, sizeof(*errs));
		if (!texts || !errs) {
			free(texts);
			free(errs);
			reply_dispose(&rp);
			rc = avo_error_set(AVO_ERROR, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < rp.ncalls; i++) {
			tool_call *tc = &rp.calls[i];
			if (avo_agent_tools_ended(s) || avo_agent_tools_failed(s))
				texts[i] = avo_strdup("not run: the step has ended");
			else if (tc->args_error) {
				errs[i] = 1;
				texts[i] = avo_sprintf("error: %s; call the tool again with a JSON object of arguments", tc->args_error);
			} else
				texts[i] = avo_agent_tools_call(s, tc->name, tc->args, &errs[i]);
			if (!texts[i])
				texts[i] = avo_strdup(avo_agent_tools_failed(s) ? "evaluation failed" : "internal error");
		}
		int ar = append_results(o, messages, &rp, texts, errs, rp.ncalls);
		for (size_t i = 0; i < rp.ncalls; i++)
			free(texts[i]);
		free(texts);
		free(errs);
		reply_dispose(&rp);
		if (avo_agent_tools_failed(s)) {
			rc = avo_agent_tools_failed(s);
			goto done;
		}
		if (ar < 0) {
			rc = ar;
			goto done;
		}
		int end = avo_agent_tools_ended(s);
		if (end) {
			out->outcome = end == AVO_AGENT_TOOLS_COMMITTED || out->committed ? AVO_AGENT_COMMITTED
				       : end == AVO_AGENT_TOOLS_STOPPED			    ? AVO_AGENT_BUDGET
												    : AVO_AGENT_SUBMITTED;
			if (end == AVO_AGENT_TOOLS_STOPPED && !out->committed)
				out->error = avo_sprintf("stopped by the caller: %s",
							 out->eval.feedback ? out->eval.feedback : "budget spent");
			break;
		}
	}
	avo_agent_tools_finish(s);
	remember(o, out);
	redact(out->error, key);
	redact(out->note, key);
done:
	avo_agent_tools_free(s);
	avo_buf_dispose(&resp.body);
	cJSON_Delete(messages);
	cJSON_Delete(toolset);
	free(first);
	free(url);
	return rc;
}

/* ---- fuzzing -------------------------------------------------------------------------- */

static int fuzz_apply(char **out_source, avo_agent_apply_error *err, const avo_astedit_region_edit *r, size_t nr,
		      const avo_astedit_knob_edit *k, size_t nk, void *payload)
{
	(void)k;
	(void)nk;
	(void)payload;
	for (size_t i = 0; i < nr; i++)
		if (strstr(r[i].text, "SYNTAX")) {
			err->message = avo_strdup("fuzz.c:1:1: error: bad");
			return AVO_EINVALID;
		}
	if (out_source)
		*out_source = avo_strdup("int x;\n");
	return 0;
}

static int fuzz_evaluate(avo_agent_eval *out, const avo_astedit_region_edit *r, size_t nr,
			 const avo_astedit_knob_edit *k, size_t nk, void *payload)
{
	(void)r;
	(void)k;
	(void)payload;
	out->correct = 1;
	out->fitness = (double)(nr + nk);
	out->committed = nr > 1;
	out->feedback = avo_strdup("ok");
	return 0;
}

int avo_agent__llm_fuzz(const unsigned char *data, size_t len)
{
	static const char *const vals[] = {"1", "2"};
	static const avo_agent_region regions[] = {{"body", "  x = 1;\n"}, {"tail", "  y = 2;\n"}};
	static const avo_agent_knob knobs[] = {{"K", "1", vals, 2, 0, 0, 0}, {"R", "3", NULL, 0, 1, 1, 9}};
	avo_agent_context ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.regions = regions;
	ctx.nregions = 2;
	ctx.knobs = knobs;
	ctx.nknobs = 2;
	ctx.cb.apply = fuzz_apply;
	ctx.cb.evaluate = fuzz_evaluate;
	avo_buf body = AVO_BUF_INIT;
	avo_buf_put(&body, data, len);
	for (int api = 0; api < 2; api++) {
		reply rp;
		if (parse_reply(&rp, api ? API_ANTHROPIC : API_OPENAI, &body) < 0)
			continue;
		avo_agent_step_result out;
		memset(&out, 0, sizeof(out));
		avo_agent_memory mem = {0};
		avo_agent_tools *s = NULL;
		if (avo_agent_tools_new(&s, &ctx, &out, &mem) == 0)
			for (size_t i = 0; i < rp.ncalls && !avo_agent_tools_ended(s) && !avo_agent_tools_failed(s); i++) {
				int err = 0;
				if (!rp.calls[i].args_error)
					free(avo_agent_tools_call(s, rp.calls[i].name, rp.calls[i].args, &err));
			}
		avo_agent_tools_free(s);
		avo_agent_memory_dispose(&mem);
		avo_agent_step_result_dispose(&out);
		reply_dispose(&rp);
	}
	avo_buf_dispose(&body);
	return 0;
}

/* ---- construction ------------------------------------------------------------------- */

static void llm_free(avo_agent_op *op)
{
	llm_op *o = (llm_op *)op;
	free(o->base_url);
	free(o->model);
	free(o->key_env);
	free(o->anthropic_version);
	free(o->max_tokens_field);
	free(o->system_prompt);
	for (size_t i = 0; i < o->nheaders; i++)
		free(o->headers[i]);
	free(o->headers);
	avo_agent_memory_dispose(&o->mem);
	free(o);
	curl_global_cleanup();
}

static int opt_string(char **out, const cJSON *opts, const char *name, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(opts, name);
	if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
		return avo_error_set(AVO_EINVALID, "llm options: \"%s\" must be a string", name);
	const char *s = cJSON_IsString(v) ? v->valuestring : def;
	*out = s ? avo_strdup(s) : NULL;
	return (s && !*out) ? avo_error_set(AVO_ERROR, "out of memory") : 0;
}

static int opt_number(double *out, const cJSON *opts, const char *name, double def, double lo)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(opts, name);
	if (v && !cJSON_IsNull(v) && !cJSON_IsNumber(v))
		return avo_error_set(AVO_EINVALID, "llm options: \"%s\" must be a number", name);
	*out = cJSON_IsNumber(v) ? v->valuedouble : def;
	if (!(*out >= lo) || !isfinite(*out))
		return avo_error_set(AVO_EINVALID, "llm options: \"%s\" must be at least %g", name, lo);
	return 0;
}

int avo_agent_llm_new(avo_agent_op **out, const struct cJSON *options)
{
	*out = NULL;
	if (!cJSON_IsObject(options))
		return avo_error_set(AVO_EINVALID, "llm options: need a JSON object with at least \"model\"");
	llm_op *o = calloc(1, sizeof(*o));
	if (!o)
		return avo_error_set(AVO_ERROR, "out of memory");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(o);
		return avo_error_set(AVO_ENET, "curl_global_init failed");
	}
	o->op.name = "llm";
	o->op.step = llm_step_run;
	o->op.free = llm_free;
	char *api = NULL, *prompt_file = NULL;
	double d;
	int rc;
	if ((rc = opt_string(&api, options, "api", "openai")) < 0)
		goto fail;
	if (!strcmp(api, "openai"))
		o->api = API_OPENAI;
	else if (!strcmp(api, "anthropic"))
		o->api = API_ANTHROPIC;
	else {
		rc = avo_error_set(AVO_EINVALID, "llm options: \"api\" must be \"openai\" or \"anthropic\", not \"%s\"", api);
		goto fail;
	}
	int anth = o->api == API_ANTHROPIC;
	if ((rc = opt_string(&o->base_url, options, "base_url", anth ? "https://api.anthropic.com" : "https://api.openai.com/v1")) < 0 ||
	    (rc = opt_string(&o->model, options, "model", NULL)) < 0 ||
	    (rc = opt_string(&o->key_env, options, "api_key_env", anth ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY")) < 0 ||
	    (rc = opt_string(&o->anthropic_version, options, "anthropic_version", "2023-06-01")) < 0 ||
	    (rc = opt_string(&o->max_tokens_field, options, "max_tokens_field", "max_tokens")) < 0 ||
	    (rc = opt_string(&prompt_file, options, "system_prompt_file", NULL)) < 0)
		goto fail;
	if (!o->model || !*o->model) {
		rc = avo_error_set(AVO_EINVALID, "llm options: \"model\" is required");
		goto fail;
	}
	size_t ul = strlen(o->base_url);
	while (ul > 0 && o->base_url[ul - 1] == '/')
		o->base_url[--ul] = '\0';
	if ((rc = opt_number(&d, options, "max_turns", 30, 1)) < 0)
		goto fail;
	o->max_turns = (long)d;
	if ((rc = opt_number(&o->max_request_bytes, options, "max_request_bytes", 600000, 1000)) < 0)
		goto fail;
	if ((rc = opt_number(&d, options, "max_tokens", 400000, 1)) < 0)
		goto fail;
	o->max_tokens = (long long)d;
	if ((rc = opt_number(&d, options, "max_output_tokens", 8192, 1)) < 0)
		goto fail;
	o->max_output_tokens = (long)d;
	if ((rc = opt_number(&d, options, "retries", 6, 0)) < 0)
		goto fail;
	o->retries = (long)d;
	if ((rc = opt_number(&o->timeout, options, "timeout", 300, 0.001)) < 0 ||
	    (rc = opt_number(&o->retry_base, options, "retry_base", 1.0, 0)) < 0 ||
	    (rc = opt_number(&o->retry_cap, options, "retry_cap", 60, 0)) < 0 ||
	    (rc = opt_number(&o->price_in, options, "price_input", 0, 0)) < 0 ||
	    (rc = opt_number(&o->price_out, options, "price_output", 0, 0)) < 0)
		goto fail;
	const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(options, "headers"), *h;
	if (hdrs && !cJSON_IsObject(hdrs)) {
		rc = avo_error_set(AVO_EINVALID, "llm options: \"headers\" must be an object of strings");
		goto fail;
	}
	if (hdrs && !(o->headers = calloc((size_t)cJSON_GetArraySize(hdrs) + 1, sizeof(*o->headers)))) {
		rc = avo_error_set(AVO_ERROR, "out of memory");
		goto fail;
	}
	cJSON_ArrayForEach(h, hdrs) {
		if (!cJSON_IsString(h) || !*h->string || strpbrk(h->string, ":\r\n") || strpbrk(h->valuestring, "\r\n")) {
			rc = avo_error_set(AVO_EINVALID, "llm options: header \"%s\" must be a one-line string", h->string);
			goto fail;
		}
		if (!(o->headers[o->nheaders] = avo_sprintf("%s: %s", h->string, h->valuestring))) {
			rc = avo_error_set(AVO_ERROR, "out of memory");
			goto fail;
		}
		o->nheaders++;
	}
	const cJSON *temp = cJSON_GetObjectItemCaseSensitive(options, "temperature");
	if (cJSON_IsNumber(temp)) {
		o->has_temperature = 1;
		o->temperature = temp->valuedouble;
	}
	if (prompt_file) {
		avo_buf b = AVO_BUF_INIT;
		if ((rc = avo_file_read(&b, prompt_file)) < 0) {
			avo_buf_dispose(&b);
			rc = avo_error_wrap(rc, "llm options: system_prompt_file");
			goto fail;
		}
		o->system_prompt = avo_buf_detach(&b);
	}
	free(api);
	free(prompt_file);
	*out = &o->op;
	return 0;
fail:
	free(api);
	free(prompt_file);
	llm_free(&o->op);
	return rc;
}
