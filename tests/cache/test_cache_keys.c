/* Keys: same fields give the same key; changing any field (kind, name, data, order) changes
 * it; field boundaries cannot alias. */
#include "t.h"

#include <ctype.h>
#include <xxhash.h>

typedef struct {
	const char *name, *data;
} field;

static void key_of(char out[AVO_CACHE_HEX], const char *kind, const field *f, int n)
{
	avo_cache_key *k;
	CHECK_RC(avo_cache_key_new(&k, kind), 0);
	for (int i = 0; i < n; i++)
		avo_cache_key_adds(k, f[i].name, f[i].data);
	avo_cache_key_final(k, out);
}

static int well_formed(const char *h)
{
	if (strlen(h) != 32)
		return 0;
	for (int i = 0; i < 32; i++)
		if (!isxdigit((unsigned char)h[i]) || isupper((unsigned char)h[i]))
			return 0;
	return 1;
}

int main(void)
{
	char a[AVO_CACHE_HEX], b[AVO_CACHE_HEX];
	const field base[] = {{"variant", "v1"}, {"harness", "h1"}, {"compiler", "nvcc 13.0"},
			      {"flags", "-O3"}, {"gpu", "H100 sm_90"}};
	const int n = (int)(sizeof(base) / sizeof(base[0]));

	/* Same fields, same key; and it is well formed. */
	key_of(a, "eval", base, n);
	key_of(b, "eval", base, n);
	CHECK(!strcmp(a, b));
	CHECK(well_formed(a));

	/* Kind matters. */
	key_of(b, "tune", base, n);
	CHECK(strcmp(a, b));

	/* Changing any one field's data or name changes the key. */
	for (int i = 0; i < n; i++) {
		field f[5];
		memcpy(f, base, sizeof(f));
		f[i].data = "changed";
		key_of(b, "eval", f, n);
		CHECK(strcmp(a, b));
		memcpy(f, base, sizeof(f));
		f[i].name = "renamed";
		key_of(b, "eval", f, n);
		CHECK(strcmp(a, b));
	}
	/* Order matters; a dropped field matters; an extra empty field matters. */
	{
		field f[5];
		memcpy(f, base, sizeof(f));
		f[0] = base[1];
		f[1] = base[0];
		key_of(b, "eval", f, n);
		CHECK(strcmp(a, b));
		key_of(b, "eval", base, n - 1);
		CHECK(strcmp(a, b));
		field g[6];
		memcpy(g, base, sizeof(base));
		g[5] = (field){"", ""};
		key_of(b, "eval", g, 6);
		CHECK(strcmp(a, b));
	}
	/* Boundary aliasing: the same bytes split differently never collide. */
	{
		char k[6][AVO_CACHE_HEX];
		key_of(k[0], "eval", (field[]){{"x", "ab"}, {"y", "c"}}, 2);
		key_of(k[1], "eval", (field[]){{"x", "a"}, {"y", "bc"}}, 2);
		key_of(k[2], "eval", (field[]){{"xa", "b"}, {"y", "c"}}, 2);
		key_of(k[3], "eval", (field[]){{"x", "abyc"}}, 1);
		key_of(k[4], "evalx", (field[]){{"", "ab"}, {"y", "c"}}, 2);
		key_of(k[5], "eval", (field[]){{"x", "ab"}, {"y", "c"}, {"", ""}}, 3);
		for (int i = 0; i < 6; i++)
			for (int j = i + 1; j < 6; j++)
				CHECK(strcmp(k[i], k[j]));
	}
	/* Binary data with NULs: the length, not a terminator, delimits a field. */
	{
		avo_cache_key *k1, *k2;
		CHECK_RC(avo_cache_key_new(&k1, "bin"), 0);
		CHECK_RC(avo_cache_key_new(&k2, "bin"), 0);
		avo_cache_key_add(k1, "blob", "a\0b", 3);
		avo_cache_key_add(k2, "blob", "a\0c", 3);
		avo_cache_key_final(k1, a);
		avo_cache_key_final(k2, b);
		CHECK(strcmp(a, b));
	}
	/* NULL string is the empty string. */
	key_of(a, "eval", (field[]){{"x", ""}}, 1);
	{
		avo_cache_key *k;
		CHECK_RC(avo_cache_key_new(&k, "eval"), 0);
		avo_cache_key_adds(k, "x", NULL);
		avo_cache_key_final(k, b);
		CHECK(!strcmp(a, b));
	}
	/* A failed _new (NULL) finalises to "". */
	avo_cache_key_final(NULL, b);
	CHECK(b[0] == '\0');

	/* Content hash: the XXH3-128 of the bytes, canonical (big-endian) hex. */
	{
		const char *s = "hello avo";
		avo_cache_hash_hex(a, s, strlen(s));
		XXH128_canonical_t c;
		XXH128_canonicalFromHash(&c, XXH3_128bits(s, strlen(s)));
		char want[AVO_CACHE_HEX];
		for (int i = 0; i < 16; i++)
			snprintf(want + 2 * i, 3, "%02x", c.digest[i]);
		CHECK(!strcmp(a, want));
		CHECK(well_formed(a));
		avo_cache_hash_hex(b, "hello avO", 9);
		CHECK(strcmp(a, b));
	}
	return t_done("test_cache_keys");
}
