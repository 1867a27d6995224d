/* The remote store over HTTP (libcurl): GET, HEAD and PUT of entry images at the same
 * paths as the local layout. */
#include "cache_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REMOTE_MAX_BYTES ((size_t)1 << 30)

/* ---- process-wide remote state ---------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- a handle's remote state: after the first failure it skips the remote ----------- */

void avo_cache__remote_failed(avo_cache *c, const char *what)
{
	atomic_fetch_add(&c->remote_errors, 1);
	atomic_store(&c->remote_down, 1);
	if (!c->quiet && !atomic_exchange(&c->remote_warned, 1))
		fprintf(stderr,
			"avo: warning: remote cache %s: %s; using the local cache only for the rest of this run\n",
			c->remote_shown ? c->remote_shown : "(none)", what);
}

int avo_cache__remote_usable(const avo_cache *c) { return c->remote && !atomic_load(&c->remote_down); }

/* ---- remote ----------------------------------------------------------------------- */

typedef struct {
	const char *data;
	size_t len, pos;
} upload_state;

static size_t on_read(char *dst, size_t size, size_t nmemb, void *payload)
{
	upload_state *u = payload;
	size_t n = size * nmemb, left = u->len - u->pos;
	if (n > left)
		n = left;
	memcpy(dst, u->data + u->pos, n);
	u->pos += n;
	return n;
}

static size_t on_discard(char *src, size_t size, size_t nmemb, void *payload)
{
	(void)src, (void)payload;
	return size * nmemb; /* error pages of PUT answers must not reach our stdout */
}

static size_t on_write(char *src, size_t size, size_t nmemb, void *payload)
{
	avo_buf *b = payload;
	size_t n = size * nmemb;
	if (b->size + n > REMOTE_MAX_BYTES || avo_buf_put(b, src, n) < 0)
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	return n;
}

/* One request; `method` is "GET", "HEAD" or "PUT". Returns 0 with *status set, or a
 * negative code (transport failure, message set). Caller holds c->lock. */
static int remote_request(avo_cache *c, const char *method, const char *ns, const char *key,
			  const char *up, size_t up_len, avo_buf *down, long *status)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return avo_error_set(AVO_ENET, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
	if (!c->curl) {
		if (!(c->curl = curl_easy_init()))
			return avo_error_set(AVO_ENET, "curl_easy_init failed");
		/* "Expect:" off: no 100-continue round trip before each PUT. */
		struct curl_slist *h = curl_slist_append(NULL, "Expect:");
		if (h && c->auth_header)
			h = curl_slist_append(h, c->auth_header) ? h : NULL;
		if (!h)
			return avo_oom();
		c->headers = h;
	}
	char *url = avo_sprintf("%s/%s/%.2s/%s", c->remote, ns, key, key + 2);
	if (!url)
		return avo_oom();
	CURL *h = c->curl;
	char errbuf[CURL_ERROR_SIZE] = "";
	upload_state u = {up, up_len, 0};
	long low_time = c->timeout_ms / 1000 < 5 ? (c->timeout_ms / 1000 > 0 ? c->timeout_ms / 1000 : 1) : 5;
	curl_easy_reset(h); /* keeps the connection cache: later requests reuse the socket */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L); /* bytes/s ... */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, low_time); /* ... over this many seconds */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "avo/" AVO_VERSION_STRING);
	if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &u);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up_len);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
	} else {
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, down);
	}
	CURLcode rc = curl_easy_perform(h);
	free(url);
	if (rc != CURLE_OK)
		return avo_error_set(rc == CURLE_OPERATION_TIMEDOUT ? AVO_ETIMEOUT : AVO_ENET, "%s %s",
				     method, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* GET or HEAD under the lock: the HTTP status, or 0 when the remote is off or failed
 * (then switched off, warned once). 200 and 404 are answers; anything else a failure. */
static long fetch(avo_cache *c, const char *method, const char *ns, const char *key, avo_buf *down)
{
	if (!avo_cache__remote_usable(c))
		return 0;
	long status = 0;
	pthread_mutex_lock(&c->lock);
	int rc = remote_request(c, method, ns, key, NULL, 0, down, &status);
	pthread_mutex_unlock(&c->lock);
	if (rc < 0) {
		avo_cache__remote_failed(c, avo_error_last());
		return 0;
	}
	if (status != 200 && status != 404) {
		char msg[64];
		snprintf(msg, sizeof(msg), "%s answered HTTP %ld", method, status);
		avo_cache__remote_failed(c, msg);
		return 0;
	}
	return status;
}

/* Remote GET: 0 and the verified entry image in `entry`, AVO_ENOTFOUND, or another
 * negative code after remote_failed(). */
int avo_cache__remote_get(avo_cache *c, const char *ns, const char *key, avo_buf *entry, size_t *off, size_t *len)
{
	long status = fetch(c, "GET", ns, key, entry);
	if (status == 404)
		return avo_error_set(AVO_ENOTFOUND, "%s/%s: not in cache", ns, key);
	if (status != 200)
		return AVO_ENOTFOUND;
	const char *why = NULL;
	/* A remote is trusted no further than its entries check out: the name inside must be
	 * this one, and with a shared secret the signature must be valid. */
	if (avo_cache__parse(entry->ptr ? entry->ptr : "", entry->size, ns, key, c->mac_key,
			     c->mac_key != NULL, 0, off, len, &why) < 0) {
		atomic_fetch_add(&c->corrupt, 1);
		if (!c->quiet)
			fprintf(stderr, "avo: warning: remote cache entry %s/%s/%.2s/%s is corrupt (%s); ignored\n",
				c->remote_shown, ns, key, key + 2, why);
		return avo_error_set(AVO_ENOTFOUND, "%s/%s: remote entry corrupt", ns, key);
	}
	return 0;
}

void avo_cache__remote_put(avo_cache *c, const char *ns, const char *key, const char *hdr, size_t hlen,
		       const void *data, size_t len)
{
	if (!avo_cache__remote_usable(c) || c->readonly)
		return;
	/* One contiguous body; entries are small next to the network cost. */
	avo_buf body = AVO_BUF_INIT;
	if (avo_buf_put(&body, hdr, hlen) < 0 || avo_buf_put(&body, data, len) < 0) {
		avo_buf_dispose(&body);
		return;
	}
	long status = 0;
	pthread_mutex_lock(&c->lock);
	int rc = remote_request(c, "PUT", ns, key, body.ptr, body.size, NULL, &status);
	pthread_mutex_unlock(&c->lock);
	avo_buf_dispose(&body);
	if (rc < 0) {
		avo_cache__remote_failed(c, avo_error_last());
	} else if (status != 200 && status != 201 && status != 204) {
		char msg[64];
		snprintf(msg, sizeof(msg), "PUT answered HTTP %ld", status);
		avo_cache__remote_failed(c, msg);
	} else {
		atomic_fetch_add(&c->remote_puts, 1);
	}
}


int avo_cache__remote_has(avo_cache *c, const char *ns, const char *key)
{
	return fetch(c, "HEAD", ns, key, NULL) == 200;
}

void avo_cache__remote_close(avo_cache *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	c->curl = NULL;
	c->headers = NULL;
}
