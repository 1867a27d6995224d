/* Proves: the real `avo regions` command: exit 3 and "avo: file:line:col: reason" on stderr for
 * every refused fixture; a table and --json for a good one; --help; usage errors; flags from
 * compile_commands.json (an nvcc entry with relative -I) and from `-- CLANG_ARGS`. */
#include "t.h"

#include <cjson/cJSON.h>

static const char *avo;

static int run(avo_proc_result *r, const char *const *argv)
{
	avo_proc_options o = {0};
	o.argv = argv;
	o.timeout_s = 120;
	int rc = avo_proc_run(r, &o);
	CHECK(rc == 0 && r->exited);
	return r->exited ? r->exit_code : -1;
}

static void bad_fixture(const char *path)
{
	avo_buf b = AVO_BUF_INIT;
	CHECK(avo_file_read(&b, path) == 0 && !strncmp(b.ptr, "// EXPECT: ", 11));
	char *nl = strchr(b.ptr, '\n');
	char *want = avo_sprintf("avo: %s:%.*s\n", path, (int)(nl - b.ptr - 11), b.ptr + 11);
	avo_proc_result r;
	const char *argv[] = {avo, "regions", path, NULL};
	CHECK(run(&r, argv) == 3);
	CHECK_STR(avo_buf_cstr(&r.err), want);
	CHECK(r.out.size == 0);
	avo_proc_result_dispose(&r);
	free(want);
	avo_buf_dispose(&b);
}

static void good_fixture(const char *path)
{
	avo_proc_result r;
	const char *argv[] = {avo, "regions", "--json", path, NULL};
	CHECK(run(&r, argv) == 0);
	cJSON *j = cJSON_Parse(avo_buf_cstr(&r.out));
	CHECK(j != NULL);
	cJSON *regions = cJSON_GetObjectItem(j, "regions"), *knobs = cJSON_GetObjectItem(j, "knobs");
	CHECK(cJSON_GetArraySize(regions) == 4 && cJSON_GetArraySize(knobs) == 5);
	cJSON *inner = cJSON_GetArrayItem(regions, 1);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(inner, "name")), "inner");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(inner, "kind")), "statements");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(inner, "function")), "attn_fwd");
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(inner, "begin"), "line")) == 54);
	CHECK(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(inner, "hash"))) == 32);
	cJSON *stages = cJSON_GetArrayItem(knobs, 2);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(stages, "name")), "STAGES");
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(stages, "range"), "hi")) == 4);
	cJSON *bm = cJSON_GetArrayItem(knobs, 0);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(bm, "values"), 2)), "128");
	cJSON_Delete(j);
	avo_proc_result_dispose(&r);

	const char *argv2[] = {avo, "regions", path, NULL};
	CHECK(run(&r, argv2) == 0);
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "4 regions, 5 knobs");
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "inner                statements attn_fwd");
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "STAGES               define   2          9      1..4");
	avo_proc_result_dispose(&r);
}

static void usage(void)
{
	avo_proc_result r;
	const char *help[] = {avo, "regions", "--help", NULL};
	CHECK(run(&r, help) == 0);
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "usage: avo regions FILE");
	avo_proc_result_dispose(&r);
	const char *none[] = {avo, "regions", NULL};
	CHECK(run(&r, none) == 2);
	avo_proc_result_dispose(&r);
	const char *bogus[] = {avo, "regions", "--bogus", "x.cu", NULL};
	CHECK(run(&r, bogus) == 2);
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "unknown option '--bogus'");
	avo_proc_result_dispose(&r);
	const char *missing[] = {avo, "regions", "/nonexistent/k.cu", NULL};
	CHECK(run(&r, missing) == 4);
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "avo: ");
	avo_proc_result_dispose(&r);
}

static void compile_commands(void)
{
	char *dir = NULL;
	CHECK(avo_mkdtemp(&dir, "/tmp", "avo-astedit-cdb-") == 0);
	if (!dir)
		return;
	char *inc = avo_path_join(dir, "inc"), *hdr = avo_path_join(dir, "inc/tile.h"),
	     *src = avo_path_join(dir, "k.cu"), *db = avo_path_join(dir, "compile_commands.json");
	CHECK(avo_mkdir_p(inc, 0755) == 0);
	const char *h = "#define TILE_FROM_HEADER 16\n";
	const char *k = "#include \"tile.h\"\n"
			"#define WIDTH 4 // avo:knob 2 4\n"
			"__global__ void k(float *x)\n{\n"
			"\t// avo:region body\n"
			"\tx[0] = TILE_FROM_HEADER * FROM_DB * WIDTH;\n"
			"\t// avo:end\n}\n";
	char *j = avo_sprintf("[{\"directory\": \"%s\", \"file\": \"k.cu\", \"command\": "
			      "\"/usr/local/cuda/bin/nvcc -forward-unknown-to-host-compiler -DFROM_DB=3 -O3 "
			      "--options-file includes.rsp --generate-code=arch=compute_90,code=[compute_90,sm_90] "
			      "-x cu -c k.cu -o k.o -MD -MT k.o -MF k.o.d\"}]\n",
			      dir);
	char *rsp = avo_path_join(dir, "includes.rsp");
	CHECK(avo_file_write_atomic(rsp, "-Iinc\n", 6, 0644) == 0);
	free(rsp);
	CHECK(avo_file_write_atomic(hdr, h, strlen(h), 0644) == 0);
	CHECK(avo_file_write_atomic(src, k, strlen(k), 0644) == 0);
	CHECK(avo_file_write_atomic(db, j, strlen(j), 0644) == 0);

	avo_proc_result r;
	const char *with_db[] = {avo, "regions", "-p", dir, src, NULL};
	CHECK(run(&r, with_db) == 0);
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "1 region, 1 knob");
	if (r.exit_code)
		fprintf(stderr, "%s", avo_buf_cstr(&r.err));
	avo_proc_result_dispose(&r);
	/* the relative -I from the options file, made absolute; nvcc's arch as clang's; no -MF */
	const char *with_db_json[] = {avo, "regions", "--json", "--compile-commands", dir, src, NULL};
	CHECK(run(&r, with_db_json) == 0);
	char *want_inc = avo_sprintf("\"%s\"", inc);
	CHECK_CONTAINS(avo_buf_cstr(&r.out), want_inc);
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "\"--cuda-gpu-arch=sm_90\"");
	CHECK(!strstr(avo_buf_cstr(&r.out), "sm_80") && !strstr(avo_buf_cstr(&r.out), "-MF"));
	free(want_inc);
	avo_proc_result_dispose(&r);

	const char *without[] = {avo, "regions", src, NULL};
	CHECK(run(&r, without) == 3);
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "k.cu:1:10: error: 'tile.h' file not found");
	avo_proc_result_dispose(&r);

	char *iflag = avo_sprintf("-I%s", inc);
	const char *with_args[] = {avo, "regions", "--json", src, "--", iflag, "-DFROM_DB=3", NULL};
	CHECK(run(&r, with_args) == 0);
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "\"-DFROM_DB=3\"");
	avo_proc_result_dispose(&r);

	free(iflag);
	avo_rm_rf(dir);
	free(j);
	free(inc);
	free(hdr);
	free(src);
	free(db);
	free(dir);
}

/* Errors in code nobody marked: warnings on stderr, exit 0; --all-errors lists every error
 * of a refused file; --json prints an object on stdout even on failure; -p without a
 * database says so without libclang's noise. */
static void warnings_and_errors(const char *good)
{
	char *dir = avo_path_dirname(good);
	char *warn = avo_path_join(dir, "warn_outside.cu"), *bad = avo_path_join(dir, "bad/parse_error_knob.cu");
	avo_proc_result r;
	const char *w[] = {avo, "regions", warn, NULL};
	CHECK(run(&r, w) == 0);
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "warn_outside.cu:7:2: error: use of undeclared identifier 'undeclared_thing' (outside the marked code; the parse is still used)");
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "warn_outside.cu:8:2: error: use of undeclared identifier 'other_undeclared'");
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "1 region, 0 knobs");
	avo_proc_result_dispose(&r);
	const char *wj[] = {avo, "regions", "--json", warn, NULL};
	CHECK(run(&r, wj) == 0);
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "\"warnings\":");
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "warn_outside.cu:8:2: error: use of undeclared identifier 'other_undeclared'\"]");
	avo_proc_result_dispose(&r);
	const char *all[] = {avo, "regions", "--all-errors", bad, NULL};
	CHECK(run(&r, all) == 3);
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "parse_error_knob.cu:3:12: error: unknown type name 'nope_t'\n");
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "parse_error_knob.cu:5:9: error: use of undeclared identifier 'also_nope'");
	avo_proc_result_dispose(&r);
	const char *js[] = {avo, "regions", "--json", bad, NULL};
	CHECK(run(&r, js) == 3);
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "\"error\":\"");
	CHECK_CONTAINS(avo_buf_cstr(&r.out), "\"exit_code\":3");
	avo_proc_result_dispose(&r);
	const char *nodb[] = {avo, "regions", "-p", dir, warn, NULL};
	CHECK(run(&r, nodb) != 0);
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "no compile_commands.json there");
	CHECK(!strstr(avo_buf_cstr(&r.err), "LIBCLANG"));
	avo_proc_result_dispose(&r);
	/* knobs that change nothing, markers in a header: said, not silent */
	char *notes = avo_path_join(dir, "notes/notes.cu");
	const char *nt[] = {avo, "regions", notes, "--", "-DOVER=3", NULL};
	CHECK(run(&r, nt) == 0);
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "notes.cu:4:16: knob 'DEAD' is in code the preprocessor skips");
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "notes.cu:6:16: knob 'OVER' is also defined on the command line (-DOVER=3)");
	CHECK_CONTAINS(avo_buf_cstr(&r.err), "tile.h:1: an avo marker in a header the kernel includes");
	avo_proc_result_dispose(&r);
	free(notes);
	free(warn);
	free(bad);
	free(dir);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	avo = argv[1];
	good_fixture(argv[2]);
	warnings_and_errors(argv[2]);
	for (int i = 3; i < argc; i++)
		bad_fixture(argv[i]);
	usage();
	compile_commands();
	return t_done();
}
