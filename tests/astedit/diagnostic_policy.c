/* Proves the documented policy on clang diagnostics: errors in a system header are ignored
 * while the file itself is fine; the same errors in the author's own header refuse the
 * file at the header's location; an error in the file is reported even after many errors in
 * system headers (no error limit); warnings never refuse. */
#include "t.h"

static char *dir;

static void write(const char *rel, const char *text)
{
	char *p = avo_path_join(dir, rel);
	CHECK(avo_file_write_atomic(p, text, strlen(text), 0644) == 0);
	free(p);
}

static int parse(avo_astedit_unit **u, const char *file, const char *flag, const char *inc)
{
	char *path = avo_path_join(dir, file), *incdir = avo_path_join(dir, inc);
	const char *args[] = {flag, incdir, "-Wall"};
	avo_astedit_options o = AVO_ASTEDIT_OPTIONS_INIT;
	o.clang_args = args;
	o.nclang_args = 3;
	int rc = avo_astedit_parse(u, path, NULL, 0, &o);
	free(path);
	free(incdir);
	return rc;
}

int main(void)
{
	CHECK(avo_mkdtemp(&dir, "/tmp", "avo-astedit-diag-") == 0);
	if (!dir)
		return 1;
	char *inc = avo_path_join(dir, "inc");
	CHECK(avo_mkdir_p(inc, 0755) == 0);
	avo_buf many = AVO_BUF_INIT;
	for (int i = 0; i < 40; i++) /* more than clang's default error limit of 20 */
		avo_buf_printf(&many, "int broken_%d = ;\n", i);
	avo_buf_puts(&many, "#define FROM_HEADER 2\n");
	write("inc/broken.h", many.ptr);
	write("good.cu", "#include <broken.h>\n"
			 "__global__ void k(float *x)\n{\n"
			 "\tint unused_var; // a warning under -Wall, never a refusal\n"
			 "\t// avo:region body\n"
			 "\tx[0] = FROM_HEADER;\n"
			 "\t// avo:end\n}\n");
	write("bad.cu", "#include <broken.h>\n"
			"__global__ void k(float *x)\n{\n"
			"\tx[0] = FROM_HEADER + nope;\n}\n");

	avo_astedit_unit *u = NULL;
	/* as a system header: ignored */
	int rc = parse(&u, "good.cu", "-isystem", "inc");
	CHECK(rc == 0);
	if (rc < 0)
		fprintf(stderr, "%s\n", avo_error_last());
	CHECK(u && u->nregions == 1);
	avo_astedit_unit_free(u);
	u = NULL;

	/* as the author's header: warnings (code nobody marked), at the header */
	rc = parse(&u, "good.cu", "-I", "inc");
	CHECK(rc == 0 && u && u->nwarnings == 40);
	char *want = avo_sprintf("%s/inc/broken.h:1:16: error: expected expression (in a header included by %s/good.cu)", dir, dir);
	CHECK_STR(u && u->nwarnings ? u->warnings[0] : NULL, want);
	free(want);
	avo_astedit_unit_free(u);
	u = NULL;

	/* the file's own error is found after 40 errors in a system header: outside the marks,
	 * a warning */
	rc = parse(&u, "bad.cu", "-isystem", "inc");
	CHECK(rc == 0 && u && u->nwarnings == 1);
	want = avo_sprintf("%s/bad.cu:4:23: error: use of undeclared identifier 'nope'", dir);
	CHECK_STR(u && u->nwarnings ? u->warnings[0] : NULL, want);
	free(want);
	avo_astedit_unit_free(u);
	u = NULL;

	/* inside the region: refused, with clang's text */
	write("bad_region.cu", "#include <broken.h>\n"
			       "__global__ void k(float *x)\n{\n"
			       "\t// avo:region body\n"
			       "\tx[0] = FROM_HEADER + nope;\n"
			       "\t// avo:end\n}\n");
	rc = parse(&u, "bad_region.cu", "-isystem", "inc");
	CHECK(rc == AVO_EPARSE && u == NULL);
	want = avo_sprintf("%s/bad_region.cu:5:23: error: use of undeclared identifier 'nope'", dir);
	CHECK_STR(avo_error_last(), want);
	free(want);

	avo_rm_rf(dir);
	free(inc);
	free(dir);
	avo_buf_dispose(&many);
	return t_done();
}
