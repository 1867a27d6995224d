/* The llm operator: an agent loop over an HTTP chat API with tool calls. Two wire formats:
 * OpenAI-compatible chat completions (tools / tool_calls) and Anthropic Messages
 * (tools / tool_use / tool_result). The model works on a private copy of the edits and
 * reaches the kernel only through the tools below. */
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
#define MAX_SOURCE (256u << 10) /* read_kernel shows at most this much */

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

/* ---- tools ---------------------------------------------------------------------------- */

static const struct {
	const char *name, *description, *schema;
} tools[] = {
	{"read_regions", "The current text of every editable region and every knob with its value and allowed values.",
	 "{\"type\":\"object\",\"properties\":{}}"},
	{"read_kernel", "The whole kernel source with your working edits applied. Only the regions and knobs can change.",
	 "{\"type\":\"object\",\"properties\":{}}"},
	{"read_lineage", "The committed versions so far: id, parent, operator, fitness, per-config scores, note, and what each changed.",
	 "{\"type\":\"object\",\"properties\":{}}"},
	{"read_knowledge", "Without a name: list the knowledge base notes. With a name: read one note.",
	 "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"description\":\"note file name, e.g. tiling.md\"}}}"},
	{"read_feedback", "The feedback of the last evaluation: compiler errors, wrong results, timings.",
	 "{\"type\":\"object\",\"properties\":{}}"},
	{"edit_region", "Replace the whole text of one region in the working copy. The edit is validated at once.",
	 "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"text\":{\"type\":\"string\",\"description\":\"the new region text, whole lines\"}},\"required\":[\"name\",\"text\"]}"},
	{"set_knob", "Set one knob of the working copy to one of its allowed values.",
	 "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"value\":{\"type\":\"string\"}},\"required\":[\"name\",\"value\"]}"},
	{"evaluate", "Compile, check and time the working copy. A correct variant as fast as the best is committed and ends the step.",
	 "{\"type\":\"object\",\"properties\":{}}"},
	{"submit", "End the step with the working copy (evaluated first if needed).",
	 "{\"type\":\"object\",\"properties\":{\"note\":{\"type\":\"string\",\"description\":\"what you changed and why\"}}}"},
};
#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

typedef struct {
	const llm_op *o;
	const avo_agent_context *ctx;
	avo_agent_step_result *out;
	agent_edits work;
	char eval_hash[33];  /* hash of the last evaluated working copy */
	char base_hash[33];  /* hash of the version the step started from */
	int end;             /* 1: submitted, 2: committed, 3: the caller said stop */
	int fatal;           /* <0: a callback failed, the step stops */
} llm_step;

static const char *arg_str(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *tool_read_regions(llm_step *s)
{
	avo_buf b = AVO_BUF_INIT;
	const avo_agent_context *ctx = s->ctx;
	if (ctx->nregions == 0)
		avo_buf_puts(&b, "The kernel has no regions.\n");
	for (size_t i = 0; i < ctx->nregions; i++) {
		const char *t = edits_region(&s->work, ctx, ctx->regions[i].name);
		avo_buf_printf(&b, "=== region %s ===\n%s", ctx->regions[i].name, t);
		if (!*t || t[strlen(t) - 1] != '\n')
			avo_buf_puts(&b, "\n");
		avo_buf_puts(&b, "=== end ===\n\n");
	}
	if (ctx->nknobs)
		avo_buf_puts(&b, "Knobs:\n");
	for (size_t i = 0; i < ctx->nknobs; i++) {
		const avo_agent_knob *k = &ctx->knobs[i];
		avo_buf_printf(&b, "  %s = %s   allowed: ", k->name, edits_knob(&s->work, ctx, k->name));
		if (k->is_range)
			avo_buf_printf(&b, "%lld..%lld", k->lo, k->hi);
		for (size_t j = 0; !k->is_range && j < k->nvalues; j++)
			avo_buf_printf(&b, "%s%s", j ? " " : "", k->values[j]);
		avo_buf_puts(&b, "\n");
	}
	return avo_buf_detach(&b);
}

/* Split into lines (each keeps its '\n'); pointers into s. */
static size_t split_lines(const char *s, const char ***out, size_t **lens)
{
	size_t n = 0, cap = 16;
	*out = malloc(cap * sizeof(**out));
	*lens = malloc(cap * sizeof(**lens));
	while (*out && *lens && *s) {
		if (n == cap) {
			cap *= 2;
			const char **o = realloc(*out, cap * sizeof(**out));
			size_t *l = o ? realloc(*lens, cap * sizeof(**lens)) : NULL;
			if (o)
				*out = o;
			if (!l)
				return 0;
			*lens = l;
		}
		size_t len = strcspn(s, "\n");
		len += s[len] == '\n';
		(*out)[n] = s;
		(*lens)[n++] = len;
		s += len;
	}
	return n;
}

/* A line diff of a -> b (LCS), changed lines with one line of context around them. */
static void line_diff(avo_buf *b, const char *a, const char *c)
{
	const char **la = NULL, **lc = NULL;
	size_t *na = NULL, *nc = NULL;
	size_t n = split_lines(a, &la, &na), m = split_lines(c, &lc, &nc);
	unsigned *t = (n + 1) * (m + 1) <= 4000000 ? calloc((n + 1) * (m + 1), sizeof(*t)) : NULL;
	if (!t) { /* too large to diff: show the new text */
		avo_buf_puts(b, c);
		goto done;
	}
#define T(i, j) t[(i) * (m + 1) + (j)]
#define EQ(i, j) (na[i] == nc[j] && !memcmp(la[i], lc[j], na[i]))
	for (size_t i = n; i-- > 0;)
		for (size_t j = m; j-- > 0;)
			T(i, j) = EQ(i, j) ? T(i + 1, j + 1) + 1 : (T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
	/* ops: 0 same, 1 removed, 2 added; with the line each refers to */
	size_t nops = 0, i = 0, j = 0;
	char *op = malloc(n + m + 1);
	const char **ln = malloc((n + m + 1) * sizeof(*ln));
	size_t *ll = malloc((n + m + 1) * sizeof(*ll));
	if (!op || !ln || !ll) {
		free(op);
		free(ln);
		free(ll);
		free(t);
		avo_buf_puts(b, c);
		goto done;
	}
	while (i < n || j < m) {
		if (i < n && j < m && EQ(i, j)) {
			op[nops] = 0, ln[nops] = la[i], ll[nops++] = na[i];
			i++, j++;
		} else if (j < m && (i == n || T(i, j + 1) >= T(i + 1, j))) {
			op[nops] = 2, ln[nops] = lc[j], ll[nops++] = nc[j];
			j++;
		} else {
			op[nops] = 1, ln[nops] = la[i], ll[nops++] = na[i];
			i++;
		}
	}
#undef T
#undef EQ
	int skipped = 0;
	for (size_t k = 0; k < nops; k++) {
		int near = op[k] || (k > 0 && op[k - 1]) || (k + 1 < nops && op[k + 1]);
		if (!near) {
			if (!skipped)
				avo_buf_puts(b, "   ...\n");
			skipped = 1;
			continue;
		}
		skipped = 0;
		avo_buf_puts(b, op[k] == 1 ? "  -" : op[k] == 2 ? "  +" : "   ");
		avo_buf_put(b, ln[k], ll[k]);
		if (ll[k] == 0 || ln[k][ll[k] - 1] != '\n')
			avo_buf_puts(b, "\n");
	}
	free(op);
	free(ln);
	free(ll);
	free(t);
done:
	free(la);
	free(lc);
	free(na);
	free(nc);
}

static const char *version_region(const avo_agent_context *ctx, const avo_agent_version *v, const char *name)
{
	for (size_t i = 0; v && i < v->nregions; i++)
		if (!strcmp(v->regions[i].region, name))
			return v->regions[i].text;
	const avo_agent_region *r = ctx_region(ctx, name);
	return r ? r->text : "";
}

static const char *version_knob(const avo_agent_context *ctx, const avo_agent_version *v, const char *name)
{
	for (size_t i = 0; v && i < v->nknobs; i++)
		if (!strcmp(v->knobs[i].knob, name))
			return v->knobs[i].value;
	const avo_agent_knob *k = ctx_knob(ctx, name);
	return k && k->value ? k->value : "";
}

static char *tool_read_lineage(llm_step *s)
{
	const avo_agent_context *ctx = s->ctx;
	avo_buf b = AVO_BUF_INIT;
	if (ctx->nlineage == 0)
		avo_buf_puts(&b, "No committed versions yet.\n");
	for (size_t i = 0; i < ctx->nlineage; i++) {
		const avo_agent_version *v = &ctx->lineage[i], *parent = NULL;
		for (size_t j = 0; v->parent && j < ctx->nlineage; j++)
			if (ctx->lineage[j].id && !strcmp(ctx->lineage[j].id, v->parent))
				parent = &ctx->lineage[j];
		/* Diffs for the newest few only: the conversation must stay small. */
		int full = i + 6 >= ctx->nlineage;
		avo_buf_printf(&b, "version %s (parent %s, by %s%s): fitness %.6g\n", v->id ? v->id : "?",
			       v->parent ? v->parent : "none", v->op ? v->op : "?",
			       v == ctx->base ? ", the version you start from" : "", v->fitness);
		for (size_t j = 0; j < v->nscores; j++)
			avo_buf_printf(&b, "  score %s: %.6g\n", v->scores[j].config ? v->scores[j].config : "?", v->scores[j].score);
		if (v->note)
			avo_buf_printf(&b, "  note: %s\n", v->note);
		for (size_t j = 0; j < ctx->nknobs; j++) {
			const char *a = version_knob(ctx, parent, ctx->knobs[j].name), *c = version_knob(ctx, v, ctx->knobs[j].name);
			if (strcmp(a, c))
				avo_buf_printf(&b, "  knob %s: %s -> %s\n", ctx->knobs[j].name, a, c);
		}
		for (size_t j = 0; j < ctx->nregions; j++) {
			const char *a = version_region(ctx, parent, ctx->regions[j].name), *c = version_region(ctx, v, ctx->regions[j].name);
			if (!strcmp(a, c))
				continue;
			avo_buf_printf(&b, "  region %s changed%s\n", ctx->regions[j].name,
				       full ? (parent ? " (diff against the parent):" : " (diff against the original):") : "");
			if (full)
				line_diff(&b, a, c);
		}
	}
	return avo_buf_detach(&b);
}

static char *tool_read_knowledge(llm_step *s, const cJSON *args, int *is_error)
{
	const char *dir = s->ctx->knowledge_dir, *name = arg_str(args, "name");
	avo_buf b = AVO_BUF_INIT;
	if (!dir) {
		*is_error = 1;
		return avo_strdup("There is no knowledge base for this kernel.");
	}
	if (name && *name) {
		if (!knowledge_is_note(name)) {
			*is_error = 1;
			return avo_sprintf("\"%s\" is not a note name (a file name ending in .md, no directories)", name);
		}
		char *p = avo_path_join(dir, name);
		if (!p || avo_file_read(&b, p) < 0) {
			free(p);
			avo_buf_dispose(&b);
			*is_error = 1;
			return avo_sprintf("no note named \"%s\"; call read_knowledge without a name for the list", name);
		}
		free(p);
		result_add_knowledge(s->out, name);
		return avo_buf_detach(&b);
	}
	char **names = NULL;
	size_t n = 0;
	if (knowledge_list(&names, &n, dir) < 0) {
		*is_error = 1;
		return avo_strdup("The knowledge base cannot be read.");
	}
	avo_buf_puts(&b, n ? "Notes (call read_knowledge with a name to read one):\n" : "The knowledge base is empty.\n");
	for (size_t i = 0; i < n; i++) {
		char *title = knowledge_title(dir, names[i]);
		avo_buf_printf(&b, "  %s  %s\n", names[i], title);
		free(title);
	}
	knowledge_list_free(names, n);
	return avo_buf_detach(&b);
}

static char *tool_read_kernel(llm_step *s, int *is_error)
{
	char *src = NULL;
	avo_agent_apply_error err;
	memset(&err, 0, sizeof(err));
	const agent_edits *e = &s->work;
	int rc = s->ctx->cb.apply(&src, &err, e->r, e->nr, e->k, e->nk, s->ctx->cb.payload);
	avo_agent_apply_error_dispose(&err);
	if (rc < 0 || !src) {
		free(src);
		*is_error = 1;
		return avo_strdup("the kernel source is not available; read_regions shows the editable parts");
	}
	if (strlen(src) > MAX_SOURCE) {
		char *cut = avo_sprintf("%.*s\n[... cut at %u bytes]\n", (int)MAX_SOURCE, src, MAX_SOURCE);
		free(src);
		return cut;
	}
	return src;
}

static char *tool_read_feedback(llm_step *s)
{
	const avo_agent_eval *ev = &s->out->eval;
	if (s->out->evaluations)
		return eval_describe(ev);
	if (s->ctx->feedback && *s->ctx->feedback)
		return avo_sprintf("Feedback of the last evaluation before this step:\n%s", s->ctx->feedback);
	return avo_strdup("No evaluation feedback yet.");
}

/* Try edits on a copy; keep them only when apply() accepts them. */
static char *try_edits(llm_step *s, agent_edits *tentative, const char *what, int *is_error)
{
	char *msg = NULL;
	if (step_apply(&msg, s->ctx, tentative) < 0) {
		edits_free(tentative);
		*is_error = 1;
		char *r = avo_sprintf("edit refused, the working copy is unchanged: %s", msg ? msg : "invalid edit");
		free(msg);
		return r;
	}
	edits_free(&s->work);
	s->work = *tentative;
	return avo_sprintf("ok: %s. Call evaluate to measure the working copy.", what);
}

static char *tool_edit_region(llm_step *s, const cJSON *args, int *is_error)
{
	const char *name = arg_str(args, "name"), *text = arg_str(args, "text");
	const avo_agent_context *ctx = s->ctx;
	*is_error = 1;
	if (!name || !text)
		return avo_strdup("edit_region needs string arguments \"name\" and \"text\"");
	if (!ctx_region(ctx, name)) {
		avo_buf b = AVO_BUF_INIT;
		avo_buf_printf(&b, "edit refused: there is no region named \"%s\"; only the marked regions can be edited. Regions:", name);
		for (size_t i = 0; i < ctx->nregions; i++)
			avo_buf_printf(&b, " %s", ctx->regions[i].name);
		return avo_buf_detach(&b);
	}
	*is_error = 0;
	size_t n = strlen(text);
	char *t = (n && text[n - 1] == '\n') ? avo_strdup(text) : avo_sprintf("%s\n", text);
	agent_edits tent;
	if (!t || edits_copy(&tent, &s->work) < 0 || edits_set_region(&tent, ctx, name, t) < 0) {
		if (t)
			edits_free(&tent);
		free(t);
		*is_error = 1;
		return avo_strdup("internal error: out of memory");
	}
	free(t);
	char what[256];
	snprintf(what, sizeof(what), "region %s replaced", name);
	return try_edits(s, &tent, what, is_error);
}

static char *tool_set_knob(llm_step *s, const cJSON *args, int *is_error)
{
	const char *name = arg_str(args, "name");
	const cJSON *jv = cJSON_GetObjectItemCaseSensitive(args, "value");
	char num[64];
	const char *value = cJSON_IsString(jv) ? jv->valuestring : NULL;
	if (cJSON_IsNumber(jv)) {
		snprintf(num, sizeof(num), "%.17g", jv->valuedouble);
		value = num;
	}
	*is_error = 1;
	if (!name || !value)
		return avo_strdup("set_knob needs arguments \"name\" and \"value\"");
	const avo_agent_knob *k = ctx_knob(s->ctx, name);
	if (!k)
		return avo_sprintf("there is no knob named \"%s\"; read_regions lists the knobs", name);
	if (!knob_allows(k, value))
		return avo_sprintf("knob %s does not allow \"%s\"; read_regions lists the allowed values", name, value);
	*is_error = 0;
	agent_edits tent;
	if (edits_copy(&tent, &s->work) < 0 || edits_set_knob(&tent, s->ctx, name, value) < 0) {
		*is_error = 1;
		return avo_strdup("internal error: out of memory");
	}
	char what[256];
	snprintf(what, sizeof(what), "knob %s = %s", name, value);
	return try_edits(s, &tent, what, is_error);
}

static char *evaluate_work(llm_step *s, int *is_error)
{
	char h[33];
	edits_hash(h, &s->work);
	if (!strcmp(h, s->base_hash)) {
		*is_error = 1;
		return avo_strdup("not evaluated: the working copy is the version you started from, which is "
				  "measured already; change a region or a knob first");
	}
	if (s->out->evaluations && !strcmp(h, s->eval_hash)) {
		char *d = eval_describe(&s->out->eval), *r = avo_sprintf("unchanged since the last evaluation:\n%s", d ? d : "");
		free(d);
		return r;
	}
	int rc = step_evaluate(s->out, s->ctx, &s->work);
	if (rc < 0) {
		s->fatal = rc;
		return NULL;
	}
	memcpy(s->eval_hash, h, sizeof(h));
	if (s->out->eval.committed)
		s->end = 2;
	else if (s->out->eval.stop)
		s->end = 3;
	return eval_describe(&s->out->eval);
}

static char *run_tool(llm_step *s, const char *name, const cJSON *args, int *is_error)
{
	*is_error = 0;
	if (!strcmp(name, "read_regions"))
		return tool_read_regions(s);
	if (!strcmp(name, "read_kernel"))
		return tool_read_kernel(s, is_error);
	if (!strcmp(name, "read_lineage"))
		return tool_read_lineage(s);
	if (!strcmp(name, "read_knowledge"))
		return tool_read_knowledge(s, args, is_error);
	if (!strcmp(name, "read_feedback"))
		return tool_read_feedback(s);
	if (!strcmp(name, "edit_region"))
		return tool_edit_region(s, args, is_error);
	if (!strcmp(name, "set_knob"))
		return tool_set_knob(s, args, is_error);
	if (!strcmp(name, "evaluate"))
		return evaluate_work(s, is_error);
	if (!strcmp(name, "submit")) {
		const char *note = arg_str(args, "note");
		free(s->out->note);
		s->out->note = avo_strdup(note);
		char h[33];
		edits_hash(h, &s->work);
		s->end = 1;
		if (!strcmp(h, s->base_hash))
			return avo_strdup("submitted without changes");
		if (s->out->evaluations && !strcmp(h, s->eval_hash))
			return avo_strdup("submitted");
		return evaluate_work(s, is_error);
	}
	*is_error = 1;
	avo_buf b = AVO_BUF_INIT;
	avo_buf_printf(&b, "unknown tool \"%s\"; the tools are:", name);
	for (size_t i = 0; i < NTOOLS; i++)
		avo_buf_printf(&b, " %s", tools[i].name);
	return avo_buf_detach(&b);
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
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < NTOOLS; i++) {
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

static int llm_step_run(avo_agent_op *op, const avo_agent_context *ctx, avo_agent_step_result *out)
{
	llm_op *o = (llm_op *)op;
	llm_step s;
	memset(&s, 0, sizeof(s));
	s.o = o;
	s.ctx = ctx;
	s.out = out;
	const char *key = avo_secret_get(o->key_env); /* avo_secrets_hide() took it out of environ */
	char *url = o->api == API_OPENAI ? avo_sprintf("%s/chat/completions", o->base_url)
					  : avo_sprintf("%s/v1/messages", o->base_url);
	cJSON *messages = cJSON_CreateArray(), *toolset = tools_json(o->api);
	char *first = first_message(ctx);
	http_resp resp = {0, AVO_BUF_INIT, -1, 0};
	int rc = 0, no_tool = 0;
	if (!url || !messages || !toolset || !first || edits_from_base(&s.work, ctx) < 0) {
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
	edits_hash(s.base_hash, &s.work);

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
			if (s.end || s.fatal)
				texts[i] = avo_strdup("not run: the step has ended");
			else if (tc->args_error) {
				errs[i] = 1;
				texts[i] = avo_sprintf("error: %s; call the tool again with a JSON object of arguments", tc->args_error);
			} else
				texts[i] = run_tool(&s, tc->name, tc->args, &errs[i]);
			if (!texts[i])
				texts[i] = avo_strdup(s.fatal ? "evaluation failed" : "internal error");
		}
		int ar = append_results(o, messages, &rp, texts, errs, rp.ncalls);
		for (size_t i = 0; i < rp.ncalls; i++)
			free(texts[i]);
		free(texts);
		free(errs);
		reply_dispose(&rp);
		if (s.fatal) {
			rc = s.fatal;
			goto done;
		}
		if (ar < 0) {
			rc = ar;
			goto done;
		}
		if (s.end) {
			out->outcome = s.end == 2 || out->committed ? AVO_AGENT_COMMITTED
				       : s.end == 3		   ? AVO_AGENT_BUDGET
								   : AVO_AGENT_SUBMITTED;
			if (s.end == 3 && !out->committed)
				out->error = avo_sprintf("stopped by the caller: %s",
							 out->eval.feedback ? out->eval.feedback : "budget spent");
			break;
		}
	}
	{
		char h[33];
		edits_hash(h, &s.work);
		out->evaluated = out->evaluations > 0 && !strcmp(h, s.eval_hash);
	}
	edits_to_result(out, &s.work);
	redact(out->error, key);
	redact(out->note, key);
done:
	edits_free(&s.work);
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
		llm_step s;
		memset(&s, 0, sizeof(s));
		s.ctx = &ctx;
		s.out = &out;
		for (size_t i = 0; i < rp.ncalls && !s.end && !s.fatal; i++) {
			int err = 0;
			if (!rp.calls[i].args_error)
				free(run_tool(&s, rp.calls[i].name, rp.calls[i].args, &err));
		}
		edits_free(&s.work);
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
