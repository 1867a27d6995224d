/* avo_cache: the content-addressed store, local directory plus optional remote HTTP.
 *
 * Namespaces (`ns`): "obj" variant sources (key = hash of content), "eval" evaluations,
 * "tune" tuning key -> best variant, "bin" compiled artifacts. Keys are 32 hex chars of
 * XXH3-128. Every entry is stored with the hash of its payload and checked on every read:
 * a corrupt or partial entry is reported, counted as a miss and never served.
 *
 * Ownership: avo_cache_open() gives the caller an avo_cache, freed by avo_cache_free().
 * avo_cache_get() fills a caller-owned avo_buf. Errors: 0 ok, negative AVO_E*, message in
 * avo_error_last(). A miss is AVO_ENOTFOUND. A remote failure is never an error for the
 * caller: it gives one warning (stderr, once per process) and the local result stands.
 */
#ifndef AVO_CACHE_H
#define AVO_CACHE_H

#include "avo_base.h"

#include <stdint.h>

#define AVO_CACHE_HEX 33 /* 32 hex digits + NUL */

/* ---- hashing and keys ------------------------------------------------------------- */

void avo_cache_hash_hex(char out[AVO_CACHE_HEX], const void *data, size_t len);

/* A canonical key: every field is fed as (name, length, bytes), so no two different field
 * lists can hash alike. The caller adds fields in a fixed order. */
typedef struct avo_cache_key avo_cache_key;
int avo_cache_key_new(avo_cache_key **out, const char *kind); /* kind: "eval", "tune", ... */
void avo_cache_key_add(avo_cache_key *k, const char *field, const void *data, size_t len);
void avo_cache_key_adds(avo_cache_key *k, const char *field, const char *s); /* NULL -> "" */
/* Writes the hex key and frees `k`. */
void avo_cache_key_final(avo_cache_key *k, char out[AVO_CACHE_HEX]);

/* ---- the store -------------------------------------------------------------------- */

typedef struct avo_cache avo_cache;

typedef struct {
	const char *dir;          /* NULL: $AVO_CACHE_DIR, else $XDG_CACHE_HOME/avo, else ~/.cache/avo */
	const char *remote_url;   /* NULL: $AVO_CACHE_REMOTE; "" disables the remote */
	const char *token_env;    /* env var holding a bearer token; NULL: "AVO_CACHE_TOKEN" */
	int remote_readonly;      /* -1: from $AVO_CACHE_REMOTE_READONLY; 0/1 explicit */
	long connect_timeout_ms;  /* 0: 2000 */
	long timeout_ms;          /* 0: 10000 */
	int quiet;                /* no warnings on stderr */
} avo_cache_options;

#define AVO_CACHE_OPTIONS_INIT {NULL, NULL, NULL, -1, 0, 0, 0}

int avo_cache_open(avo_cache **out, const avo_cache_options *opts);
void avo_cache_free(avo_cache *c);
const char *avo_cache_dir(const avo_cache *c); /* borrowed */

/* Store `data` under ns/key, atomically. Writes through to the remote unless read-only. */
int avo_cache_put(avo_cache *c, const char *ns, const char *key, const void *data, size_t len);
/* Store a content-addressed object in "obj"; its key (hash of data) goes to `out`. */
int avo_cache_put_object(avo_cache *c, char out[AVO_CACHE_HEX], const void *data, size_t len);
/* Local first, then remote (a remote hit is verified and written through locally).
 * AVO_ENOTFOUND on miss; a corrupt local entry is reported, removed and treated as a miss. */
int avo_cache_get(avo_cache *c, const char *ns, const char *key, avo_buf *out);
/* Local only; no remote traffic. */
int avo_cache_get_local(avo_cache *c, const char *ns, const char *key, avo_buf *out);
int avo_cache_has(avo_cache *c, const char *ns, const char *key);

typedef struct {
	uint64_t entries, bytes;
	uint64_t per_ns_entries[4], per_ns_bytes[4]; /* obj, eval, tune, bin */
	uint64_t hits, misses, corrupt; /* this process's counters */
} avo_cache_stats;

int avo_cache_stat(avo_cache *c, avo_cache_stats *out);
/* Check every entry; remove corrupt/partial ones. *removed counts them. */
int avo_cache_verify(avo_cache *c, uint64_t *checked, uint64_t *removed);
/* Evict least-recently-used entries until the store is under max_bytes. */
int avo_cache_gc(avo_cache *c, uint64_t max_bytes, uint64_t *evicted, uint64_t *freed_bytes);

#endif
