/* The llm operator's HTTP client (libcurl): one POST with backoff on 429 and 5xx, and the
 * errors that must stop a run at once (a wrong key fails every later request too). */
#include "llm.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_BODY (32u << 20) /* largest response body kept */

typedef struct {
	long status;
	avo_buf *body;
	double retry_after; /* seconds, -1 when absent */
	int truncated;
} http_resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	http_resp *r = ud;
	size_t len = sz * n;
	if (r->body->size + len > MAX_BODY) {
		r->truncated = 1;
		return 0;
	}
	return avo_buf_put(r->body, p, len) < 0 ? 0 : len;
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

static int add_header(struct curl_slist **h, const char *s)
{
	struct curl_slist *t = curl_slist_append(*h, s);
	if (!t)
		return avo_oom();
	*h = t;
	return 0;
}

static void wipe(char *s)
{
	if (s) {
		memset(s, 0, strlen(s)); /* do not leave the key in freed memory */
		free(s);
	}
}

/* One POST. 0: a response arrived (any status). <0: transport failure, message set. */
static int http_post(const avo_llm_conf *o, const char *url, const char *body, const char *key, http_resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char *wh[2] = {NULL, NULL};
	int rc = 0;
	r->status = 0;
	r->retry_after = -1;
	r->truncated = 0;
	avo_buf_clear(r->body);
	if (!c)
		return avo_error_set(AVO_ENET, "cannot start an HTTP request (curl_easy_init)");
	o->wire->headers(wh, o, key && *key ? key : NULL);
	if ((rc = add_header(&h, "Content-Type: application/json")) < 0 || (wh[0] && (rc = add_header(&h, wh[0])) < 0) ||
	    (wh[1] && (rc = add_header(&h, wh[1])) < 0))
		goto done;
	for (size_t i = 0; i < o->nheaders; i++)
		if ((rc = add_header(&h, o->headers[i])) < 0)
			goto done;
	if ((rc = add_header(&h, "Expect:")) < 0) /* no 100-continue round trip on large bodies */
		goto done;
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
	wipe(wh[0]);
	wipe(wh[1]);
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
	avo_agent__redact(s, key);
	return s;
}

/* A spend limit, not a rate limit: OpenAI's insufficient_quota (waiting does not help). */
static int quota_spent(const avo_buf *b)
{
	return b->ptr && (strstr(b->ptr, "insufficient_quota") || strstr(b->ptr, "billing_hard_limit"));
}

/* What a status that stops the run means, or NULL when it does not stop it. */
static const char *fatal_reason(long status, const avo_buf *body)
{
	switch (status) {
	case 400: return "the request was rejected (bad request: a wrong option or extra_body field, or a model that does not take tools)";
	case 401: return "the API key was refused (authentication)";
	case 403: return "access was denied (permission: the key may not use this model or endpoint)";
	case 404: return "the endpoint or the model is unknown (check base_url, api and model)";
	case 429: return quota_spent(body) ? "the account's spend limit or quota is reached" : NULL;
	}
	return NULL;
}

int avo_llm_post(avo_buf *body, int *fatal, const avo_llm_conf *o, const char *url, const char *json, const char *key)
{
	http_resp r = {0, body, -1, 0};
	*fatal = 0;
	for (long attempt = 0;; attempt++) {
		int rc = http_post(o, url, json, key, &r);
		if (rc == AVO_ETIMEOUT)
			return rc; /* a hung server is not retried: it would cost the timeout again */
		if (rc == 0 && r.status >= 200 && r.status < 300)
			return 0;
		const char *why = rc == 0 ? fatal_reason(r.status, body) : NULL;
		int retryable = !why && (rc < 0 || r.status == 429 || r.status >= 500);
		if (why || !retryable || attempt >= o->retries) {
			if (rc < 0)
				return avo_error_wrap(rc, "after %ld attempt(s)", attempt + 1);
			char *ex = excerpt(body, key);
			*fatal = why != NULL;
			if (why)
				rc = avo_error_set(AVO_ENET, "LLM API %s (model %s) answered HTTP %ld: %s%s%s%s; stopping: %s",
						   url, o->model, r.status, why, r.status == 401 ? " (the key comes from $" : "",
						   r.status == 401 ? o->key_env : "", r.status == 401 ? ")" : "", ex ? ex : "");
			else
				rc = avo_error_set(AVO_ENET, "LLM API %s answered HTTP %ld%s: %s", url, r.status,
						   retryable ? " (retries exhausted)" : "", ex ? ex : "");
			free(ex);
			return rc;
		}
		double d = r.retry_after >= 0 ? r.retry_after : o->retry_base * pow(2.0, (double)attempt);
		sleep_s(d < o->retry_cap ? d : o->retry_cap);
	}
}

int avo_llm_body_error(const cJSON *root, int *fatal)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	*fatal = 0;
	if (!e || cJSON_IsNull(e))
		return 0;
	const char *msg = cJSON_IsString(e) ? e->valuestring : avo_llm_str(e, "message");
	const char *type = avo_llm_str(e, "type");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	char cs[64] = "";
	if (cJSON_IsNumber(code))
		snprintf(cs, sizeof(cs), "%d", code->valueint);
	else if (cJSON_IsString(code))
		snprintf(cs, sizeof(cs), "%.60s", code->valuestring);
	long st = cJSON_IsNumber(code) ? (long)code->valuedouble : 0;
	int auth = st == 401 || st == 403 || (type && (!strcmp(type, "authentication_error") || !strcmp(type, "permission_error")));
	int quota = (type && !strcmp(type, "insufficient_quota")) || !strcmp(cs, "insufficient_quota");
	*fatal = auth || quota;
	avo_error_set(AVO_ENET, "the LLM API answered with an error%s%s%s: %.300s%s", *cs ? " (code " : "", cs,
		      *cs ? ")" : "", msg ? msg : "(no message)", *fatal ? "; stopping" : "");
	return 1;
}
