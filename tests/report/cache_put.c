/* Test helper: store FILE's bytes as an object in the cache at $AVO_CACHE_DIR and print its
 * key (what 'avo tune' does for every committed variant). */
#include "avo_cache.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	avo_cache_options o = AVO_CACHE_OPTIONS_INIT;
	avo_cache *c = NULL;
	avo_buf b = AVO_BUF_INIT;
	char key[AVO_CACHE_HEX];
	o.remote_url = "";
	if (argc != 2 || avo_file_read(&b, argv[1]) < 0 || avo_cache_open(&c, &o) < 0 ||
	    avo_cache_put_object(c, key, b.ptr ? b.ptr : "", b.size) < 0) {
		fprintf(stderr, "report_cache_put: %s\n", argc == 2 ? avo_error_last() : "usage: report_cache_put FILE");
		avo_buf_dispose(&b);
		avo_cache_free(c);
		return 1;
	}
	printf("%s\n", key);
	avo_buf_dispose(&b);
	avo_cache_free(c);
	return 0;
}
