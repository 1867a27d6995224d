/* avo_cache: the handle, options, and the store's get/put/has over local.c and remote.c.
 * Layout, format and the concurrency argument are in avo_cache.h. */
#include "cache_int.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- options ---------------------------------------------------------------------- */

char *avo_cache_default_dir(void)
{
	const char *s = getenv("AVO_CACHE_DIR");
	if (s && *s)
		return avo_strdup(s);
	s = getenv("XDG_CACHE_HOME");
	if (s && s[0] == '/') /* the XDG spec says relative values are to be ignored */
		return avo_sprintf("%s/avo", s);
	s = getenv("HOME");
	if (!s || !*s) {
		struct passwd *pw = getpwuid(getuid());
		s = pw ? pw->pw_dir : NULL;
	}
	if (!s || !*s)
		return NULL;
	return avo_sprintf("%s/.cache/avo", s);
}

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return dflt;
	char *end;
	long v = strtol(s, &end, 10);
	return (*end || v <= 0) ? dflt : v;
}

static int env_flag(const char *name)
{
	const char *s = getenv(name);
	return s && *s && strcmp(s, "0") && strcasecmp(s, "false") && strcasecmp(s, "no") &&
	       strcasecmp(s, "off");
}

/* Mask "user:password@" in a URL as "***@": URLs go into warnings. */
static char *mask_url(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return avo_strdup(url);
	p += 3;
	size_t hostlen = strcspn(p, "/?#");
	const char *at = memchr(p, '@', hostlen);
	if (!at)
		return avo_strdup(url);
	return avo_sprintf("%.*s***%s", (int)(p - url), url, at);
}

/* ---- open / free ------------------------------------------------------------------ */

int avo_cache_open(avo_cache **out, const avo_cache_options *opts)
{
	avo_cache_options dflt = AVO_CACHE_OPTIONS_INIT;
	if (!opts)
		opts = &dflt;
	*out = NULL;
	avo_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return avo_oom();
	pthread_mutex_init(&c->lock, NULL);
	c->quiet = opts->quiet;
	c->dir = opts->dir && *opts->dir ? avo_strdup(opts->dir) : avo_cache_default_dir();
	if (!c->dir) {
		avo_cache_free(c);
		return avo_error_set(AVO_EINVALID, "no cache directory: set AVO_CACHE_DIR or HOME");
	}
	size_t dl = strlen(c->dir);
	while (dl > 1 && c->dir[dl - 1] == '/')
		c->dir[--dl] = '\0';

	const char *url = opts->remote_url ? opts->remote_url : avo_secret_get("AVO_CACHE_REMOTE");
	if (url && *url) {
		if (!(c->remote = avo_strdup(url))) {
			avo_cache_free(c);
			return avo_oom();
		}
		size_t ul = strlen(c->remote);
		while (ul > 0 && c->remote[ul - 1] == '/')
			c->remote[--ul] = '\0';
		c->remote_shown = mask_url(c->remote);
		if (!c->remote_shown) {
			avo_cache_free(c);
			return avo_oom();
		}
		if (strncmp(c->remote, "http://", 7) && strncmp(c->remote, "https://", 8))
			avo_cache__remote_failed(c, "not an http:// or https:// URL");
	}
	const char *tok = avo_secret_get(opts->token_env ? opts->token_env : "AVO_CACHE_TOKEN");
	if (tok && *tok)
		c->auth_header = avo_sprintf("Authorization: Bearer %s", tok);
	const char *mac = avo_secret_get(opts->hmac_key_env ? opts->hmac_key_env : "AVO_CACHE_HMAC_KEY");
	if (mac && *mac && !(c->mac_key = avo_strdup(mac))) {
		avo_cache_free(c);
		return avo_oom();
	}
	c->readonly = opts->remote_readonly >= 0 ? !!opts->remote_readonly
						 : env_flag("AVO_CACHE_REMOTE_READONLY");
	c->connect_timeout_ms = opts->connect_timeout_ms > 0
					? opts->connect_timeout_ms
					: env_long("AVO_CACHE_CONNECT_TIMEOUT_MS", 2000);
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : env_long("AVO_CACHE_TIMEOUT_MS", 10000);
	*out = c;
	return 0;
}

void avo_cache_free(avo_cache *c)
{
	if (!c)
		return;
	avo_cache__remote_close(c);
	if (c->auth_header) {
		memset(c->auth_header, 0, strlen(c->auth_header));
		free(c->auth_header);
	}
	if (c->mac_key) {
		memset(c->mac_key, 0, strlen(c->mac_key));
		free(c->mac_key);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->dir);
	free(c->remote);
	free(c->remote_shown);
	free(c);
}

const char *avo_cache_dir(const avo_cache *c) { return c->dir; }
const char *avo_cache_remote(const avo_cache *c) { return c->remote_shown; }

/* ---- the store -------------------------------------------------------------------- */

int avo_cache_put(avo_cache *c, const char *ns, const char *key, const void *data, size_t len)
{
	int rc;
	if ((rc = avo_cache__check_names(ns, key)) < 0)
		return rc;
	char hash[AVO_CACHE_HEX];
	if (!strcmp(ns, "obj") && (avo_cache_hash_hex(hash, data ? data : "", len), strcmp(hash, key)))
		return avo_error_set(AVO_EINVALID, "obj/%s: key is not the hash of the content (%s)", key, hash);
	char hdr[AVO_CACHE__HDR_MAX];
	int hlen = avo_cache__header(hdr, ns, key, data, len, c->mac_key);
	if ((rc = avo_cache__write_local(c, ns, key, hdr, (size_t)hlen, data ? data : "", len)) < 0)
		return rc;
	avo_cache__remote_put(c, ns, key, hdr, (size_t)hlen, data ? data : "", len);
	return 0;
}

int avo_cache_put_object(avo_cache *c, char out[AVO_CACHE_HEX], const void *data, size_t len)
{
	avo_cache_hash_hex(out, data, len);
	return avo_cache_put(c, "obj", out, data, len);
}

static int get_local(avo_cache *c, const char *ns, const char *key, avo_buf *out, int touch)
{
	int rc = avo_cache__read_local(c, ns, key, touch, out);
	return rc == AVO_ECORRUPT ? AVO_ENOTFOUND : rc; /* reported already; a miss */
}

int avo_cache_get_local(avo_cache *c, const char *ns, const char *key, avo_buf *out)
{
	int rc;
	if ((rc = avo_cache__check_names(ns, key)) < 0)
		return rc;
	rc = get_local(c, ns, key, out, 1);
	if (rc == 0)
		atomic_fetch_add(&c->hits, 1);
	else if (rc == AVO_ENOTFOUND)
		atomic_fetch_add(&c->misses, 1);
	return rc;
}

int avo_cache_get(avo_cache *c, const char *ns, const char *key, avo_buf *out)
{
	int rc;
	if ((rc = avo_cache__check_names(ns, key)) < 0)
		return rc;
	rc = get_local(c, ns, key, out, 1);
	if (rc == 0) {
		atomic_fetch_add(&c->hits, 1);
		return 0;
	}
	if (rc != AVO_ENOTFOUND)
		return rc;
	avo_buf entry = AVO_BUF_INIT;
	size_t off, len;
	rc = avo_cache__remote_get(c, ns, key, &entry, &off, &len);
	if (rc == 0) {
		/* Write through: the image is verified (its name, hash and any signature) and in
		 * entry format. A local write failure (read-only dir, full disk) does not spoil
		 * the hit. */
		avo_cache__write_local(c, ns, key, entry.ptr, off, entry.ptr + off, len);
		avo_buf_clear(out);
		if ((rc = avo_buf_put(out, entry.ptr + off, len)) == 0) {
			atomic_fetch_add(&c->hits, 1);
			atomic_fetch_add(&c->remote_hits, 1);
		}
		avo_buf_dispose(&entry);
		return rc;
	}
	avo_buf_dispose(&entry);
	atomic_fetch_add(&c->misses, 1);
	return avo_error_set(AVO_ENOTFOUND, "%s/%s: not in cache", ns, key);
}

int avo_cache_has(avo_cache *c, const char *ns, const char *key)
{
	int rc;
	if ((rc = avo_cache__check_names(ns, key)) < 0)
		return rc;
	avo_buf tmp = AVO_BUF_INIT;
	rc = get_local(c, ns, key, &tmp, 0);
	avo_buf_dispose(&tmp);
	if (rc == 0)
		return 1;
	return avo_cache__remote_has(c, ns, key);
}
