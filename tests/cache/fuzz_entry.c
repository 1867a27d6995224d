/* libFuzzer target: arbitrary bytes as a local cache entry file. A read either serves
 * exactly the payload of a well-formed, hash-matching entry, or misses and removes the
 * file; it never serves anything else. */
#include "avo_base.h"
#include "avo_cache.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;
static avo_cache *cache;
static char *path;
static const char key[] = "0123456789abcdef0123456789abcdef";

static void cleanup(void)
{
	avo_cache_free(cache);
	avo_rm_rf(dir);
	free(dir);
	free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!cache) {
		const char *t = getenv("TMPDIR");
		if (avo_mkdtemp(&dir, t && *t ? t : "/tmp", "avo-fuzz-entry-") < 0)
			abort();
		avo_cache_options o = AVO_CACHE_OPTIONS_INIT;
		o.dir = dir;
		o.remote_url = "";
		o.quiet = 1;
		if (avo_cache_open(&cache, &o) < 0)
			abort();
		path = avo_cache_entry_path(cache, "eval", key);
		char *d = avo_path_dirname(path);
		avo_mkdir_p(d, 0755);
		free(d);
		atexit(cleanup);
	}
	if (avo_file_write_atomic(path, data, size, 0644) < 0)
		abort();
	avo_buf b = AVO_BUF_INIT;
	int rc = avo_cache_get_local(cache, "eval", key, &b);
	if (rc == 0) {
		char hash[AVO_CACHE_HEX], hdr[128];
		avo_cache_hash_hex(hash, b.ptr ? b.ptr : "", b.size);
		int n = snprintf(hdr, sizeof(hdr), "avo2 eval %s %s %zu", key, hash, b.size);
		if (size >= 5 && !memcmp(data, "avo1 ", 5)) /* the old format, still served locally */
			n = snprintf(hdr, sizeof(hdr), "avo1 %s %zu", hash, b.size);
		size_t h = (size_t)n; /* then "\n", or " <64 hex MAC>\n" (unchecked without a secret) */
		if (h < size && data[h] == ' ' && data[0] == 'a' && data[3] == '2')
			h += 65;
		if (h >= size || data[h] != '\n' || memcmp(data, hdr, (size_t)n) || h + 1 + b.size != size ||
		    (b.size && memcmp(data + h + 1, b.ptr, b.size)))
			abort(); /* served something that is not exactly a valid entry */
	} else if (rc != AVO_ENOTFOUND || avo_path_exists(path)) {
		abort(); /* a bad entry must be a miss, and removed */
	}
	avo_buf_dispose(&b);
	return 0;
}
