/* Keys and names: XXH3-128 hashes, the canonical key encoding, namespace and key rules. */
#include "cache_int.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

const char *const avo_cache__known_ns[4] = {"obj", "eval", "tune", "bin"};

static void hex128(char out[AVO_CACHE_HEX], XXH128_hash_t h)
{
	XXH128_canonical_t c;
	static const char digits[] = "0123456789abcdef";
	XXH128_canonicalFromHash(&c, h);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = digits[c.digest[i] >> 4];
		out[2 * i + 1] = digits[c.digest[i] & 15];
	}
	out[32] = '\0';
}

void avo_cache_hash_hex(char out[AVO_CACHE_HEX], const void *data, size_t len)
{
	hex128(out, XXH3_128bits(data, len));
}

struct avo_cache_key {
	XXH3_state_t *st;
};

static void feed_len(XXH3_state_t *st, uint64_t n)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(n >> (8 * i));
	XXH3_128bits_update(st, b, sizeof(b));
}

static void feed_field(XXH3_state_t *st, const char *name, const void *data, size_t len)
{
	size_t nl = strlen(name);
	feed_len(st, nl);
	XXH3_128bits_update(st, name, nl);
	feed_len(st, len);
	if (len)
		XXH3_128bits_update(st, data, len);
}

int avo_cache_key_new(avo_cache_key **out, const char *kind)
{
	*out = NULL;
	avo_cache_key *k = calloc(1, sizeof(*k));
	if (!k || !(k->st = XXH3_createState())) {
		free(k);
		return avo_oom();
	}
	XXH3_128bits_reset(k->st);
	/* A version tag first: a change of encoding must change every key. */
	feed_field(k->st, "avo-key", "1", 1);
	feed_field(k->st, "kind", kind ? kind : "", kind ? strlen(kind) : 0);
	*out = k;
	return 0;
}

void avo_cache_key_add(avo_cache_key *k, const char *field, const void *data, size_t len)
{
	if (k)
		feed_field(k->st, field ? field : "", data, data ? len : 0);
}

void avo_cache_key_adds(avo_cache_key *k, const char *field, const char *s)
{
	avo_cache_key_add(k, field, s ? s : "", s ? strlen(s) : 0);
}

void avo_cache_key_final(avo_cache_key *k, char out[AVO_CACHE_HEX])
{
	if (!k) {
		out[0] = '\0';
		return;
	}
	hex128(out, XXH3_128bits_digest(k->st));
	XXH3_freeState(k->st);
	free(k);
}

/* ---- names ------------------------------------------------------------------------ */

int avo_cache__is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int avo_cache__valid_ns(const char *ns)
{
	size_t n = ns ? strlen(ns) : 0;
	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '_'))
			return 0;
	return 1;
}

int avo_cache__check_names(const char *ns, const char *key)
{
	if (!avo_cache__valid_ns(ns))
		return avo_error_set(AVO_EINVALID, "bad cache namespace '%s' (want [a-z0-9_], 1-32 chars)",
				     ns ? ns : "(null)");
	if (!key || strlen(key) != 32 || !avo_cache__is_hex(key, 32))
		return avo_error_set(AVO_EINVALID, "bad cache key '%s' (want 32 lowercase hex digits)",
				     key ? key : "(null)");
	return 0;
}

int avo_cache__ns_index(const char *ns)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(ns, avo_cache__known_ns[i]))
			return i;
	return -1;
}

char *avo_cache_entry_path(const avo_cache *c, const char *ns, const char *key)
{
	if (avo_cache__check_names(ns, key) < 0)
		return NULL;
	char *p = avo_sprintf("%s/%s/%.2s/%s", c->dir, ns, key, key + 2);
	if (!p)
		avo_oom();
	return p;
}

