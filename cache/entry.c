/* The entry format: a header line that names the entry and hashes its payload, optionally
 * signed (HMAC-SHA256, OpenSSL's libcrypto), then the payload. */
#include "cache_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define MAC_HEX 64

static void mac_hex(char out[MAC_HEX + 1], const char *mac_key, const char *line, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char digits[] = "0123456789abcdef";
	HMAC(EVP_sha256(), mac_key, (int)strlen(mac_key), (const unsigned char *)line, n, md, &mdlen);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[MAC_HEX] = '\0';
}

int avo_cache__header(char hdr[AVO_CACHE__HDR_MAX], const char *ns, const char *key,
		      const void *data, size_t len, const char *mac_key)
{
	char hash[AVO_CACHE_HEX];
	avo_cache_hash_hex(hash, data ? data : "", len);
	int n = snprintf(hdr, AVO_CACHE__HDR_MAX, "avo2 %s %s %s %zu", ns, key, hash, len);
	if (mac_key && *mac_key) {
		char mac[MAC_HEX + 1];
		mac_hex(mac, mac_key, hdr, (size_t)n);
		n += snprintf(hdr + n, AVO_CACHE__HDR_MAX - (size_t)n, " %s", mac);
	}
	n += snprintf(hdr + n, AVO_CACHE__HDR_MAX - (size_t)n, "\n");
	return n;
}

/* Next space-separated field of the header line: [*p, end) up to a single ' ' or the end. */
static size_t field(const char **p, const char *end, const char **start)
{
	*start = *p;
	const char *s = memchr(*p, ' ', (size_t)(end - *p));
	size_t n = (size_t)((s ? s : end) - *p);
	*p = s ? s + 1 : end;
	return n;
}

static int parse_len(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

#define BAD(reason) do { *why = (reason); return AVO_ECORRUPT; } while (0)

int avo_cache__parse(const char *buf, size_t size, const char *ns, const char *key,
		     const char *mac_key, int mac_required, int legacy_ok, size_t *off, size_t *len,
		     const char **why)
{
	if (size == 0)
		BAD("empty file");
	int v1 = size >= 5 && !memcmp(buf, "avo1 ", 5);
	if (!v1 && (size < 5 || memcmp(buf, "avo2 ", 5)))
		BAD("bad header");
	const char *nl = memchr(buf, '\n', size < AVO_CACHE__HDR_MAX ? size : AVO_CACHE__HDR_MAX);
	if (!nl)
		BAD("truncated header");
	const char *p = buf + 5, *f;
	size_t n;
	if (!v1) {
		n = field(&p, nl, &f);
		if (n != strlen(ns) || memcmp(f, ns, n))
			BAD("filed under another namespace: the entry names a different one");
		n = field(&p, nl, &f);
		if (n != 32 || memcmp(f, key, 32))
			BAD("filed under another key: the key stored in the entry differs");
	}
	const char *hash;
	if (field(&p, nl, &hash) != 32 || !avo_cache__is_hex(hash, 32))
		BAD("bad header");
	uint64_t want;
	n = field(&p, nl, &f);
	if (parse_len(f, n, &want) < 0)
		BAD("bad header");
	const char *mac = NULL;
	size_t signed_len = (size_t)(f + n - buf);
	if (!v1 && p < nl && (field(&p, nl, &mac) != MAC_HEX || !avo_cache__is_hex(mac, MAC_HEX)))
		BAD("bad header");
	if (p < nl)
		BAD("bad header");
	size_t hdr = (size_t)(nl - buf) + 1;
	if ((uint64_t)(size - hdr) != want)
		BAD((uint64_t)(size - hdr) < want ? "truncated" : "length mismatch");
	char got[AVO_CACHE_HEX];
	avo_cache_hash_hex(got, buf + hdr, (size_t)want);
	if (memcmp(got, hash, 32))
		BAD("content hash mismatch");
	if (v1 && !legacy_ok && strcmp(ns, "obj"))
		BAD("old format that does not name its key");
	if (!strcmp(ns, "obj") && memcmp(got, key, 32))
		BAD("object content does not match its key");
	if ((mac_required || mac) && mac_key && *mac_key) {
		char expect[MAC_HEX + 1];
		if (!mac)
			BAD("not signed (the cache requires an HMAC)");
		mac_hex(expect, mac_key, buf, signed_len);
		if (CRYPTO_memcmp(expect, mac, MAC_HEX))
			BAD("bad signature (HMAC does not match the shared secret)");
	} else if (mac_required) {
		BAD("not signed (the cache requires an HMAC)");
	}
	*off = hdr;
	*len = (size_t)want;
	return 0;
}
