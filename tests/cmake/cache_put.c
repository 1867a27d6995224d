/* Test helper: publish a tuned result without tuning.
 *   avo_test_cache_put KEY VARIANT_FILE FITNESS BASELINE
 * stores VARIANT_FILE in ns "obj" and {"variant": <its hash>, ...} in ns "tune" under KEY,
 * in the cache $AVO_CACHE_DIR names (and the remote $AVO_CACHE_REMOTE names, if any) -
 * what `avo tune` publishes (RUNS.md). */
#include "avo_base.h"
#include "avo_cache.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	avo_cache_options o = AVO_CACHE_OPTIONS_INIT;
	avo_cache *c = NULL;
	avo_buf src = AVO_BUF_INIT, entry = AVO_BUF_INIT;
	char hash[AVO_CACHE_HEX];
	int error;

	if (argc != 5) {
		fprintf(stderr, "usage: %s KEY VARIANT_FILE FITNESS BASELINE\n", argv[0]);
		return 2;
	}
	if ((error = avo_cache_open(&c, &o)) < 0 ||
	    (error = avo_file_read(&src, argv[2])) < 0 ||
	    (error = avo_cache_put_object(c, hash, avo_buf_cstr(&src), src.size)) < 0 ||
	    (error = avo_buf_printf(&entry,
				    "{\"tuning_key\":\"%s\",\"variant\":\"%s\",\"fitness\":%s,"
				    "\"objective\":\"ms\",\"scores\":[{\"config\":\"c0\",\"correct\":true,"
				    "\"ms\":0.5}],\"baseline_fitness\":%s,\"gpu\":\"cpu\",\"time\":1795000000,"
				    "\"avo_version\":\"" AVO_VERSION_STRING "\"}",
				    argv[1], hash, argv[3], argv[4])) < 0 ||
	    (error = avo_cache_put(c, "tune", argv[1], entry.ptr, entry.size)) < 0) {
		fprintf(stderr, "avo_test_cache_put: %s\n", avo_error_last());
		error = 1;
	}
	printf("%s\n", hash);
	avo_buf_dispose(&src);
	avo_buf_dispose(&entry);
	avo_cache_free(c);
	return error ? 1 : 0;
}
