/* The llm operator: an agent loop over an HTTP chat API with tool calls. The wire format
 * (OpenAI chat completions, OpenAI Responses, Anthropic Messages) is a table in its own
 * file (llm.h); the tools are avo_agent_tools, shared with avo mcp. The model works on a
 * private copy of the edits and reaches the kernel only through the tools. */
#include "llm.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NO_TOOL 3 /* replies without a tool call (or cut) in a row before the step fails */

typedef struct {
	avo_agent_op op;
	avo_llm_conf c;
	avo_agent_memory mem; /* the agent's attempts and notes, across steps */
} llm_op;

static char *first_message(const avo_agent_context *ctx, const avo_agent_memory *mem)
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
	if (mem->nattempts || mem->nnotes || ctx->nnotes)
		avo_buf_printf(&b, "\nYou made %zu attempt(s) in earlier steps and kept %zu note(s): read_attempts shows them.\n",
			       mem->nattempts, mem->nnotes + ctx->nnotes);
	if (ctx->hint && *ctx->hint)
		avo_buf_printf(&b, "\nSupervisor's direction for this step:\n%s\n", ctx->hint);
	if (ctx->feedback && *ctx->feedback)
		avo_buf_puts(&b, "\nThe last evaluation left feedback (read_feedback).\n");
	avo_buf_puts(&b, "\nMake the kernel faster while keeping it correct. Start with read_regions.");
	return avo_buf_detach(&b);
}

/* extra_body into the request: objects merge key by key, null removes a field, anything
 * else replaces (a referenced part of the conversation is replaced, never changed). */
static int merge(cJSON *dst, const cJSON *src)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, src) {
		cJSON *d = cJSON_GetObjectItemCaseSensitive(dst, it->string);
		if (cJSON_IsNull(it)) {
			cJSON_DeleteItemFromObjectCaseSensitive(dst, it->string);
			continue;
		}
		if (cJSON_IsObject(it) && cJSON_IsObject(d) && !(d->type & cJSON_IsReference)) {
			if (merge(d, it) < 0)
				return -1;
			continue;
		}
		cJSON *copy = cJSON_Duplicate(it, 1);
		if (!copy)
			return -1;
		if (d)
			cJSON_ReplaceItemInObjectCaseSensitive(dst, it->string, copy);
		else
			cJSON_AddItemToObject(dst, it->string, copy);
	}
	return 0;
}

static char *build_request(const avo_llm_conf *c, cJSON *conv, const cJSON *tools)
{
	cJSON *req = c->wire->request(c, conv, tools, c->system_prompt ? c->system_prompt : avo_agent__system_prompt);
	char *s = NULL;
	if (req && cJSON_AddStringToObject(req, "model", c->model) &&
	    (!c->has_temperature || cJSON_AddNumberToObject(req, "temperature", c->temperature)) &&
	    merge(req, c->extra_body) == 0)
		s = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	return s;
}

/* The cost of one answer: cached input at its own price, cache writes at theirs. */
static double reply_cost(const avo_llm_conf *c, const avo_llm_reply *r)
{
	long long plain = r->in - r->cached - r->cache_write;
	return ((double)(plain > 0 ? plain : 0) * c->price_in + (double)r->cached * c->price_cached +
		(double)r->cache_write * c->price_cache_write + (double)r->out * c->price_out) / 1e6;
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
	char *ev = r->evaluations ? avo_agent__eval_describe(&r->eval)
				  : avo_sprintf("not evaluated%s%.500s", r->error ? ": " : "", r->error ? r->error : "");
	/* Feedback can be long (compiler output): the first part is what matters. */
	if (ev && strlen(ev) > 1500)
		strcpy(ev + 1480, "\n[... cut]");
	avo_agent_memory_add(&o->mem, avo_buf_cstr(&sum), ev);
	free(ev);
	avo_buf_dispose(&sum);
}

/* Run the calls of one answer and append their results. <0: the step cannot go on. */
static int run_calls(const avo_llm_conf *c, avo_agent_tools *s, cJSON *conv, const avo_llm_reply *rp)
{
	char **texts = calloc(rp->ncalls, sizeof(*texts));
	int *errs = calloc(rp->ncalls, sizeof(*errs));
	int rc = 0;
	if (!texts || !errs)
		rc = avo_oom();
	for (size_t i = 0; rc == 0 && i < rp->ncalls; i++) {
		const avo_llm_call *tc = &rp->calls[i];
		if (avo_agent_tools_ended(s) || avo_agent_tools_failed(s))
			texts[i] = avo_strdup("not run: the step has ended");
		else if (tc->args_error) {
			errs[i] = 1;
			texts[i] = avo_sprintf("error: %s; call the tool again with a JSON object of arguments", tc->args_error);
		} else
			texts[i] = avo_agent_tools_call(s, tc->name, tc->args, &errs[i]);
		if (!texts[i])
			texts[i] = avo_strdup(avo_agent_tools_failed(s) ? "evaluation failed" : "internal error");
		if (!texts[i])
			rc = avo_oom();
	}
	if (rc == 0)
		rc = c->wire->results(conv, rp, texts, errs);
	for (size_t i = 0; texts && i < rp->ncalls; i++)
		free(texts[i]);
	free(texts);
	free(errs);
	return avo_agent_tools_failed(s) ? avo_agent_tools_failed(s) : rc;
}

/* One request and its answer. 0: *rp filled. <0: the step ends (out->error says why);
 * *fatal: the run should stop too. */
static int turn(avo_llm_reply *rp, int *fatal, const avo_llm_conf *c, const char *url, const char *key, cJSON *conv,
		const cJSON *tools, avo_buf *body)
{
	memset(rp, 0, sizeof(*rp));
	*fatal = 0;
	char *req = build_request(c, conv, tools);
	while (req && (double)strlen(req) > c->max_request_bytes && c->wire->elide(conv)) {
		free(req);
		req = build_request(c, conv, tools);
	}
	if (!req)
		return avo_oom();
	int rc = avo_llm_post(body, fatal, c, url, req, key);
	free(req);
	if (rc < 0)
		return rc;
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(body->ptr ? body->ptr : "", body->size, &end, 0);
	if (!cJSON_IsObject(root))
		rc = avo_error_set(AVO_EPARSE, "the LLM API answered with a body that is not a JSON object (%zu bytes)", body->size);
	else if (avo_llm_body_error(root, fatal)) /* a provider error inside an HTTP 200 */
		rc = AVO_ENET;
	else if ((rc = c->wire->parse(rp, root)) < 0)
		avo_llm_reply_dispose(rp);
	cJSON_Delete(root);
	return rc;
}

static int llm_step_run(avo_agent_op *op, const avo_agent_context *ctx, avo_agent_step_result *out)
{
	llm_op *o = (llm_op *)op;
	const avo_llm_conf *c = &o->c;
	avo_agent_tools *s = NULL;
	const char *key = avo_secret_get(c->key_env); /* avo_secrets_hide() took it out of environ */
	size_t ntools;
	const avo_agent_tool_def *defs = avo_agent_tools_list(&ntools);
	char *url = avo_sprintf("%s%s", c->base_url, c->wire->path);
	cJSON *conv = cJSON_CreateArray(), *tools = c->wire->tools(defs, ntools);
	char *first = first_message(ctx, &o->mem);
	avo_buf body = AVO_BUF_INIT;
	int rc = 0, no_tool = 0, cut = 0, fatal = 0;
	if (!url || !conv || !tools || !first || c->wire->user(conv, first) < 0 || avo_agent_tools_new(&s, ctx, out, &o->mem) < 0) {
		rc = avo_oom();
		goto done;
	}
	for (;;) {
		if ((long)out->turns >= c->max_turns || out->input_tokens + out->output_tokens >= c->max_tokens) {
			out->outcome = AVO_AGENT_BUDGET;
			out->error = avo_sprintf("the step budget ran out (%u requests, %lld tokens) before a submission",
						 out->turns, out->input_tokens + out->output_tokens);
			break;
		}
		avo_llm_reply rp;
		int hr = turn(&rp, &fatal, c, url, key, conv, tools, &body);
		if (hr < 0) {
			out->outcome = AVO_AGENT_FAILED;
			out->error = avo_strdup(avo_error_last());
			break;
		}
		out->turns++;
		out->input_tokens += rp.in;
		out->output_tokens += rp.out;
		out->cost_usd += reply_cost(c, &rp);
		if (rp.truncated) /* a cut answer's calls may be cut too: none is run */
			c->wire->drop_calls(&rp);
		for (cJSON *it; (it = cJSON_DetachItemFromArray(rp.turn, 0));)
			cJSON_AddItemToArray(conv, it);
		if (rp.truncated || rp.ncalls == 0) {
			int was_cut = rp.truncated, n = was_cut ? ++cut : ++no_tool;
			avo_llm_reply_dispose(&rp);
			if (n >= MAX_NO_TOOL) {
				out->outcome = AVO_AGENT_FAILED;
				out->error = cut >= MAX_NO_TOOL
						     ? avo_sprintf("the model's answer was cut at the output token limit %d times "
								   "(max_output_tokens %ld)", cut, c->max_output_tokens)
						     : avo_sprintf("the model answered %d times without a tool call", no_tool);
				break;
			}
			char msg[300];
			snprintf(msg, sizeof(msg), was_cut ? "Your answer was cut at the output token limit (%ld tokens) "
				 "and its tool calls were not run. Send shorter calls: one region per edit_region, brief notes."
				 : "Answer with tool calls only (limit %ld tokens). Use evaluate to measure your working copy and submit to end the step.",
				 c->max_output_tokens);
			if ((rc = c->wire->user(conv, msg)) < 0)
				goto done;
			continue;
		}
		no_tool = cut = 0;
		rc = run_calls(c, s, conv, &rp);
		avo_llm_reply_dispose(&rp);
		if (rc < 0)
			goto done;
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
	avo_agent__redact(out->error, key);
	avo_agent__redact(out->note, key);
	remember(o, out);
	/* Authentication, permission, unknown model, bad request, spent quota: every later
	 * request would fail the same way, so the run stops (the caller exits 4). */
	if (fatal)
		rc = avo_error_set(AVO_ENET, "%s", out->error ? out->error : "the LLM API refused the request");
done:
	avo_agent_tools_free(s);
	avo_buf_dispose(&body);
	cJSON_Delete(conv);
	cJSON_Delete(tools);
	free(first);
	free(url);
	return rc;
}

/* ---- construction ------------------------------------------------------------------- */

static void llm_free(avo_agent_op *op)
{
	llm_op *o = (llm_op *)op;
	avo_llm_conf *c = &o->c;
	free(c->base_url);
	free(c->model);
	free(c->key_env);
	free(c->anthropic_version);
	free(c->max_tokens_field);
	free(c->reasoning_effort);
	free(c->system_prompt);
	for (size_t i = 0; i < c->nheaders; i++)
		free(c->headers[i]);
	free(c->headers);
	cJSON_Delete(c->extra_body);
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
	return (s && !*out) ? avo_oom() : 0;
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

static int opt_headers(avo_llm_conf *c, const cJSON *options)
{
	const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(options, "headers"), *h;
	if (hdrs && !cJSON_IsObject(hdrs))
		return avo_error_set(AVO_EINVALID, "llm options: \"headers\" must be an object of strings");
	if (hdrs && !(c->headers = calloc((size_t)cJSON_GetArraySize(hdrs) + 1, sizeof(*c->headers))))
		return avo_oom();
	cJSON_ArrayForEach(h, hdrs) {
		if (!cJSON_IsString(h) || !*h->string || strpbrk(h->string, ":\r\n") || strpbrk(h->valuestring, "\r\n"))
			return avo_error_set(AVO_EINVALID, "llm options: header \"%s\" must be a one-line string", h->string);
		if (!(c->headers[c->nheaders] = avo_sprintf("%s: %s", h->string, h->valuestring)))
			return avo_oom();
		c->nheaders++;
	}
	return 0;
}

/* The wire format named by "api"; the error lists the registry. */
static int opt_wire(avo_llm_conf *c, const cJSON *options)
{
	char *api = NULL;
	int rc = opt_string(&api, options, "api", "openai");
	if (rc < 0)
		return rc;
	if (!(c->wire = avo_llm_wire_find(api))) {
		avo_buf names = AVO_BUF_INIT;
		for (size_t i = 0; avo_llm_wires[i]; i++)
			avo_buf_printf(&names, "%s\"%s\"", i ? ", " : "", avo_llm_wires[i]->name);
		rc = avo_error_set(AVO_EINVALID, "llm options: \"api\" must be one of %s, not \"%s\"", avo_buf_cstr(&names), api);
		avo_buf_dispose(&names);
	}
	free(api);
	return rc;
}

static int llm_configure(avo_llm_conf *c, const cJSON *options)
{
	char *prompt_file = NULL;
	double d;
	int rc, anth;
	if ((rc = opt_wire(c, options)) < 0)
		return rc;
	anth = c->wire == &avo_llm_wire_anthropic;
	if ((rc = opt_string(&c->base_url, options, "base_url", c->wire->base_url)) < 0 ||
	    (rc = opt_string(&c->model, options, "model", NULL)) < 0 ||
	    (rc = opt_string(&c->key_env, options, "api_key_env", c->wire->key_env)) < 0 ||
	    (rc = opt_string(&c->anthropic_version, options, "anthropic_version", "2023-06-01")) < 0 ||
	    (rc = opt_string(&c->max_tokens_field, options, "max_tokens_field", "max_tokens")) < 0 ||
	    (rc = opt_string(&c->reasoning_effort, options, "reasoning_effort", NULL)) < 0 ||
	    (rc = opt_string(&prompt_file, options, "system_prompt_file", NULL)) < 0)
		goto done;
	if (!c->model || !*c->model) {
		rc = avo_error_set(AVO_EINVALID, "llm options: \"model\" is required");
		goto done;
	}
	for (size_t ul = strlen(c->base_url); ul > 0 && c->base_url[ul - 1] == '/';)
		c->base_url[--ul] = '\0';
	if ((rc = opt_number(&d, options, "max_turns", 30, 1)) < 0)
		goto done;
	c->max_turns = (long)d;
	if ((rc = opt_number(&c->max_request_bytes, options, "max_request_bytes", 600000, 1000)) < 0 ||
	    (rc = opt_number(&d, options, "max_tokens", 400000, 1)) < 0)
		goto done;
	c->max_tokens = (long long)d;
	if ((rc = opt_number(&d, options, "max_output_tokens", 8192, 1)) < 0)
		goto done;
	c->max_output_tokens = (long)d;
	if ((rc = opt_number(&d, options, "retries", 6, 0)) < 0)
		goto done;
	c->retries = (long)d;
	/* Cached input: Anthropic bills reads at 0.1x and writes at 1.25x; OpenAI reads at 0.5x
	 * or less (set price_cached_input for the model). */
	if ((rc = opt_number(&c->timeout, options, "timeout", 300, 0.001)) < 0 ||
	    (rc = opt_number(&c->retry_base, options, "retry_base", 1.0, 0)) < 0 ||
	    (rc = opt_number(&c->retry_cap, options, "retry_cap", 60, 0)) < 0 ||
	    (rc = opt_number(&c->price_in, options, "price_input", 0, 0)) < 0 ||
	    (rc = opt_number(&c->price_out, options, "price_output", 0, 0)) < 0 ||
	    (rc = opt_number(&c->price_cached, options, "price_cached_input", c->price_in * (anth ? 0.1 : 0.5), 0)) < 0 ||
	    (rc = opt_number(&c->price_cache_write, options, "price_cache_write", c->price_in * (anth ? 1.25 : 1), 0)) < 0 ||
	    (rc = opt_headers(c, options)) < 0)
		goto done;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(options, "temperature");
	if ((c->has_temperature = cJSON_IsNumber(v)))
		c->temperature = v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(options, "prompt_cache");
	if (v && !cJSON_IsBool(v)) {
		rc = avo_error_set(AVO_EINVALID, "llm options: \"prompt_cache\" must be true or false");
		goto done;
	}
	c->prompt_cache = v ? cJSON_IsTrue(v) : anth;
	v = cJSON_GetObjectItemCaseSensitive(options, "extra_body");
	if (v && !cJSON_IsNull(v) && !cJSON_IsObject(v)) {
		rc = avo_error_set(AVO_EINVALID, "llm options: \"extra_body\" must be an object of request fields");
		goto done;
	}
	if (cJSON_IsObject(v) && !(c->extra_body = cJSON_Duplicate(v, 1))) {
		rc = avo_oom();
		goto done;
	}
	if (prompt_file) {
		avo_buf b = AVO_BUF_INIT;
		if ((rc = avo_file_read(&b, prompt_file)) < 0) {
			avo_buf_dispose(&b);
			rc = avo_error_wrap(rc, "llm options: system_prompt_file");
			goto done;
		}
		c->system_prompt = avo_buf_detach(&b);
	}
done:
	free(prompt_file);
	return rc;
}

int avo_agent_llm_new(avo_agent_op **out, const struct cJSON *options)
{
	*out = NULL;
	if (!cJSON_IsObject(options))
		return avo_error_set(AVO_EINVALID, "llm options: need a JSON object with at least \"model\"");
	llm_op *o = calloc(1, sizeof(*o));
	if (!o)
		return avo_oom();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(o);
		return avo_error_set(AVO_ENET, "curl_global_init failed");
	}
	o->op.name = "llm";
	o->op.step = llm_step_run;
	o->op.free = llm_free;
	int rc = llm_configure(&o->c, options);
	if (rc < 0) {
		llm_free(&o->op);
		return rc;
	}
	*out = &o->op;
	return 0;
}
