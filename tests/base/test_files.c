/* Proves the file helpers: atomic writes leave the old or the whole new file, errors carry
 * the path, the error slot formats file:line:col. */
#include "avo_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

int main(void)
{
	char *dir = NULL;
	CHECK(avo_mkdtemp(&dir, "/tmp", "avo-test-files") == 0);
	char *sub = avo_sprintf("%s/a/b/c", dir);
	CHECK(avo_mkdir_p(sub, 0755) == 0);
	char *f = avo_path_join(sub, "x.txt");
	CHECK(avo_file_write_atomic(f, "one", 3, 0644) == 0);
	CHECK(avo_file_write_atomic(f, "two!", 4, 0644) == 0);
	avo_buf b = AVO_BUF_INIT;
	CHECK(avo_file_read(&b, f) == 0);
	CHECK(b.size == 4 && !memcmp(b.ptr, "two!", 4));
	/* No temp files left behind. */
	DIR *dh = opendir(sub);
	int n = 0;
	for (struct dirent *e; (e = readdir(dh));)
		n += e->d_name[0] != '.';
	closedir(dh);
	CHECK(n == 1);
	/* Writing into a missing directory fails cleanly and names the path. */
	char *bad = avo_sprintf("%s/missing/y", dir);
	CHECK(avo_file_write_atomic(bad, "z", 1, 0644) == AVO_EIO);
	CHECK(strstr(avo_error_last(), bad) != NULL);
	CHECK(avo_file_read(&b, bad) == AVO_ENOTFOUND);

	avo_error_setloc(AVO_EINVALID, "k.cu", 12, 3, "region '%s' is not closed", "r");
	CHECK(!strcmp(avo_error_last(), "k.cu:12:3: region 'r' is not closed"));
	avo_error_wrap(AVO_EINVALID, "parsing spec");
	CHECK(!strcmp(avo_error_last(), "parsing spec: k.cu:12:3: region 'r' is not closed"));

	char *dn = avo_path_dirname("/x/y/z.cu");
	CHECK(!strcmp(dn, "/x/y"));
	CHECK(!strcmp(avo_path_basename("/x/y/z.cu"), "z.cu"));
	free(dn);

	avo_buf_dispose(&b);
	CHECK(avo_rm_rf(dir) == 0);
	CHECK(!avo_path_exists(dir));
	free(bad), free(f), free(sub), free(dir);
	return failures ? 1 : 0;
}
