/* avo_cache: the content-addressed store, local directory plus optional remote HTTP.
 *
 * Namespaces (`ns`): "obj" variant sources (key = hash of content), "eval" evaluations,
 * "tune" tuning key -> best variant, "bin" compiled artifacts. Other names made of
 * [a-z0-9_] (at most 32 chars) are accepted too. Keys are 32 lowercase hex chars of
 * XXH3-128. Every entry is stored with the hash of its payload and checked on every read:
 * a corrupt or partial entry is reported, counted as a miss and never served.
 *
 * Local layout: <dir>/<ns>/<key[0..2]>/<key[2..32]>, each file a header line
 * "avo2 <ns> <key> <hash> <len>[ <mac>]\n" then the payload (<hash> = XXH3-128 hex of the
 * payload, <len> its decimal length). The entry names itself: a read checks that <ns> and
 * <key> are the ones asked for, so an entry copied or renamed under another key is reported
 * and never served. The remote uses the same paths under its base URL and the same format.
 * Entries of the older "avo1 <hash> <len>" format name no key: from a remote they are
 * taken only in "obj" (whose key is the content hash); the local store still serves them,
 * so a cache written by an older avo keeps working (`avo apply` re-checks what it writes).
 *
 * Authenticated remote: with a shared secret in $AVO_CACHE_HMAC_KEY (read once, kept out of
 * the environment), every entry written carries <mac> = HMAC-SHA256(secret, the header line
 * before it), and an entry from the remote is served only with a valid <mac>: a remote that
 * anyone can write to cannot feed this cache. Local entries are checked when they carry one.
 *
 * Symlinks: below <dir> no symlink is followed (every level is opened O_NOFOLLOW), so a link
 * planted in the store can neither redirect a write nor make verify/gc touch files outside.
 *
 * Concurrency: many processes (and threads) may share one directory. A writer writes a
 * temporary file "<entry>.tmp.<pid>.<n>" in the entry's own directory, fsyncs it and
 * rename(2)s it over the entry; rename is atomic, so a reader opens either the old inode
 * or the new one, both complete (no torn reads), and the last rename wins (no mixed
 * writes; every writer of one key writes a valid entry, so no write is "lost" in a way that
 * matters). Readers only open exact entry names, so temporaries are never read; a
 * temporary left by a killed writer is removed by the next write to its shard directory and
 * by verify/gc, once its pid is gone (or it is older than an hour). The directory is assumed
 * host-local for that pid test.
 *
 * Thread safety: one avo_cache may be used from several threads; remote requests are
 * serialised on an internal lock.
 *
 * Ownership: avo_cache_open() gives the caller an avo_cache, freed by avo_cache_free().
 * avo_cache_get() fills a caller-owned avo_buf. Errors: 0 ok, negative AVO_E*, message in
 * avo_error_last(). A miss is AVO_ENOTFOUND. A remote failure is never an error for the
 * caller: it gives one warning (stderr, once per cache handle, that is per command) and the local result stands;
 * after it the remote is skipped for the rest of the process.
 */
#ifndef AVO_CACHE_H
#define AVO_CACHE_H

#include "avo_base.h"

#include <stdint.h>

#define AVO_CACHE_HEX 33 /* 32 hex digits + NUL */

/* ---- hashing and keys ------------------------------------------------------------- */

/* XXH3-128 of data as 32 lowercase hex digits. */
void avo_cache_hash_hex(char out[AVO_CACHE_HEX], const void *data, size_t len);

/* A canonical key: the kind, then every field as (name length, name, data length, data),
 * lengths as 64-bit little-endian, so no two different field lists can hash alike.
 * The caller adds fields in a fixed order.
 *
 * Callers' duty: feed only what determines the result. No timestamps, no absolute build
 * paths, no host names, no environment that does not change the output - or the key will
 * differ between machines and builds and the cache will never hit. Feed contents (or their
 * hashes), not file names. */
typedef struct avo_cache_key avo_cache_key;
/* *out is owned by the caller until avo_cache_key_final() (which frees it). */
int avo_cache_key_new(avo_cache_key **out, const char *kind); /* kind: "eval", "tune", ... */
void avo_cache_key_add(avo_cache_key *k, const char *field, const void *data, size_t len);
void avo_cache_key_adds(avo_cache_key *k, const char *field, const char *s); /* NULL -> "" */
/* Writes the hex key and frees `k`. A NULL `k` (failed _new) writes "". */
void avo_cache_key_final(avo_cache_key *k, char out[AVO_CACHE_HEX]);

/* ---- the store -------------------------------------------------------------------- */

typedef struct avo_cache avo_cache;

typedef struct {
	const char *dir;          /* NULL: $AVO_CACHE_DIR, else $XDG_CACHE_HOME/avo, else ~/.cache/avo */
	const char *remote_url;   /* NULL: $AVO_CACHE_REMOTE; "" disables the remote */
	const char *token_env;    /* env var holding a bearer token; NULL: "AVO_CACHE_TOKEN" */
	int remote_readonly;      /* -1: from $AVO_CACHE_REMOTE_READONLY; 0/1 explicit */
	long connect_timeout_ms;  /* 0: $AVO_CACHE_CONNECT_TIMEOUT_MS, else 2000 */
	long timeout_ms;          /* 0: $AVO_CACHE_TIMEOUT_MS, else 10000 (whole transfer) */
	int quiet;                /* no warnings on stderr */
	const char *hmac_key_env; /* env var holding the shared secret; NULL: "AVO_CACHE_HMAC_KEY" */
} avo_cache_options;

#define AVO_CACHE_OPTIONS_INIT {NULL, NULL, NULL, -1, 0, 0, 0, NULL}

/* Does not create the directory (a put does) and makes no network traffic. */
int avo_cache_open(avo_cache **out, const avo_cache_options *opts);
void avo_cache_free(avo_cache *c);
const char *avo_cache_dir(const avo_cache *c); /* borrowed */
/* The local cache dir when none is given: $AVO_CACHE_DIR, else $XDG_CACHE_HOME/avo, else
 * ~/.cache/avo; NULL when there is no home. Caller frees. */
char *avo_cache_default_dir(void);
/* The remote base URL in use, for display: "user:password@" masked as "***@". NULL when
 * there is none. Borrowed. */
const char *avo_cache_remote(const avo_cache *c);
/* Path of the local entry file for ns/key (it may not exist). Caller frees; NULL on a bad
 * ns/key (error set). For tests and tools. */
char *avo_cache_entry_path(const avo_cache *c, const char *ns, const char *key);

/* Store `data` under ns/key, atomically. Writes through to the remote unless read-only.
 * In "obj" the key must be the hash of `data` (AVO_EINVALID otherwise). */
int avo_cache_put(avo_cache *c, const char *ns, const char *key, const void *data, size_t len);
/* Store a content-addressed object in "obj"; its key (hash of data) goes to `out`. */
int avo_cache_put_object(avo_cache *c, char out[AVO_CACHE_HEX], const void *data, size_t len);
/* Local first, then remote (a remote hit is verified and written through locally).
 * AVO_ENOTFOUND on miss; a corrupt local entry is reported, removed and treated as a miss.
 * A local hit refreshes the entry's mtime (LRU; skipped when it is under 10 s old). */
int avo_cache_get(avo_cache *c, const char *ns, const char *key, avo_buf *out);
/* Local only; no remote traffic. */
int avo_cache_get_local(avo_cache *c, const char *ns, const char *key, avo_buf *out);
/* 1 if present (a valid local entry, else a remote HEAD answering 200), 0 if not,
 * negative on a bad ns/key. Does not refresh mtimes. */
int avo_cache_has(avo_cache *c, const char *ns, const char *key);

typedef struct {
	uint64_t entries, bytes;      /* local store, bytes as stored (header included) */
	uint64_t per_ns_entries[4], per_ns_bytes[4]; /* obj, eval, tune, bin */
	uint64_t temp_files;          /* temporaries present (writers in flight or killed) */
	uint64_t hits, misses, corrupt; /* this process's counters (this handle) */
	uint64_t remote_hits, remote_puts, remote_errors; /* this handle */
	uint64_t temp_removed;        /* stray temporaries removed by verify/gc (this handle) */
} avo_cache_stats;

int avo_cache_stat(avo_cache *c, avo_cache_stats *out);
/* Check every local entry; remove corrupt/partial ones (and stray temporaries).
 * *checked counts entries read, *removed the corrupt ones removed. Does not touch mtimes. */
int avo_cache_verify(avo_cache *c, uint64_t *checked, uint64_t *removed);
/* Evict least-recently-used entries (oldest mtime first) until the store holds at most
 * max_bytes; also removes stray temporaries. Either out pointer may be NULL. */
int avo_cache_gc(avo_cache *c, uint64_t max_bytes, uint64_t *evicted, uint64_t *freed_bytes);

#endif
