/* Proves: every refused file is refused by the library with its exact "file:line:col: reason",
 * taken from the fixture's first line ("// EXPECT: line:col: reason"). */
#include "t.h"

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	for (int i = 1; i < argc; i++) {
		avo_buf b = AVO_BUF_INIT;
		if (avo_file_read(&b, argv[i]) < 0 || strncmp(b.ptr, "// EXPECT: ", 11)) {
			fprintf(stderr, "%s: no EXPECT line\n", argv[i]);
			return 1;
		}
		char *nl = strchr(b.ptr, '\n');
		char *want = avo_sprintf("%s:%.*s", argv[i], (int)(nl - b.ptr - 11), b.ptr + 11);
		avo_astedit_unit *u = NULL;
		int rc = avo_astedit_parse(&u, argv[i], NULL, 0, NULL);
		CHECK(rc == AVO_EINVALID || rc == AVO_EPARSE);
		CHECK(u == NULL);
		CHECK_STR(avo_error_last(), want);
		/* parse errors come from clang, marker errors from avo */
		CHECK((rc == AVO_EPARSE) == (strstr(want, ": error: ") != NULL));
		free(want);
		avo_buf_dispose(&b);
	}
	return t_done();
}
