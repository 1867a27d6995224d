/* Inside avo_cache: the handle and what its files share (keys.c names and hashes,
 * entry.c the entry format, local.c the directory, remote.c HTTP). Not installed. */
#ifndef AVO_CACHE_INT_H
#define AVO_CACHE_INT_H

#include "avo_cache.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#define AVO_CACHE__HDR_MAX 256     /* "avo2 ns key hash len mac\n" fits */
#define AVO_CACHE__TOUCH_SLACK_S 10 /* don't rewrite mtime more often than this (LRU precision) */
#define AVO_CACHE__TEMP_MAX_AGE_S 3600 /* a temporary this old is stray even if its pid lives */

struct avo_cache {
	char *dir;
	char *remote;       /* base URL without trailing '/', NULL: none */
	char *remote_shown; /* the URL with any user:password@ masked, for messages */
	char *auth_header;  /* "Authorization: Bearer ...", NULL: none; never printed */
	char *mac_key;      /* HMAC-SHA256 secret, NULL: none; never printed */
	int readonly;
	long connect_timeout_ms, timeout_ms;
	int quiet;
	pthread_mutex_t lock; /* guards curl */
	CURL *curl;
	struct curl_slist *headers;
	_Atomic uint64_t hits, misses, corrupt, remote_hits, remote_puts, remote_errors,
		temp_removed;
	atomic_int remote_down;   /* after the first failure, this handle skips the remote */
	atomic_int remote_warned; /* one warning per handle (one handle per command) */
};

/* keys.c */
extern const char *const avo_cache__known_ns[4];
int avo_cache__is_hex(const char *s, size_t n);
int avo_cache__valid_ns(const char *ns);
int avo_cache__check_names(const char *ns, const char *key);
int avo_cache__ns_index(const char *ns);

/* entry.c. An entry is "avo2 <ns> <key> <hash> <len>[ <mac>]\n" then the payload: the
 * name it is filed under is inside it, so an entry copied under another name is caught.
 * <mac> is HMAC-SHA256 (hex) of the header line before it, under the shared secret. */
int avo_cache__header(char hdr[AVO_CACHE__HDR_MAX], const char *ns, const char *key,
		      const void *data, size_t len, const char *mac_key);
/* 0 and the payload range [*off, *off + *len), or AVO_ECORRUPT with a reason in *why.
 * mac_required: the entry must carry a MAC valid under mac_key. A MAC that is present is
 * checked whenever mac_key is set. "avo1" entries (no name inside) pass in "obj", whose key
 * is the content hash, and elsewhere only with legacy_ok (the local store: caches written
 * before avo2 keep working; a remote never gets that). */
int avo_cache__parse(const char *buf, size_t size, const char *ns, const char *key,
		     const char *mac_key, int mac_required, int legacy_ok, size_t *off, size_t *len,
		     const char **why);

/* local.c. A read reports and removes a bad entry: AVO_ECORRUPT. */
int avo_cache__read_local(avo_cache *c, const char *ns, const char *key, int touch, avo_buf *out);
int avo_cache__write_local(avo_cache *c, const char *ns, const char *key, const char *hdr,
			   size_t hlen, const void *data, size_t len);

/* remote.c. Failures are warned about once and switch the remote off (never an error). */
void avo_cache__remote_failed(avo_cache *c, const char *what);
int avo_cache__remote_usable(const avo_cache *c);
int avo_cache__remote_get(avo_cache *c, const char *ns, const char *key, avo_buf *entry,
			  size_t *off, size_t *len);
void avo_cache__remote_put(avo_cache *c, const char *ns, const char *key, const char *hdr,
			   size_t hlen, const void *data, size_t len);
int avo_cache__remote_has(avo_cache *c, const char *ns, const char *key); /* 1, 0 */
void avo_cache__remote_close(avo_cache *c);

#endif
