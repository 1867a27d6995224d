/* avo_spec_load: defaults, path resolution, argument conversion and the field errors. */
#include "spec.h"
#include "avo_base.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                      \
		}                                                                        \
	} while (0)

static char dir[PATH_MAX];

static char *write_spec(const char *name, const char *json)
{
	char *p = avo_path_join(dir, name);
	if (!p || avo_file_write_atomic(p, json, strlen(json), 0644) < 0) {
		fprintf(stderr, "cannot write %s: %s\n", name, avo_error_last());
		exit(1);
	}
	return p;
}

/* Load `json`; expect failure with `code` and `msg` in the message (or success when msg is NULL). */
static avo_spec *load(const char *json, int code, const char *msg)
{
	char *p = write_spec("avo.json", json);
	avo_spec *s = NULL;
	int rc = avo_spec_load(&s, p);
	if (msg) {
		CHECK(rc == code);
		CHECK(s == NULL);
		if (!strstr(avo_error_last(), msg)) {
			fprintf(stderr, "expected '%s' in '%s'\n", msg, avo_error_last());
			failures++;
		}
	} else if (rc < 0) {
		fprintf(stderr, "unexpected error: %s\n", avo_error_last());
		failures++;
	}
	free(p);
	return s;
}

int main(void)
{
	char tmpl[] = "/tmp/avo-test-spec-XXXXXX";
	if (!mkdtemp(tmpl) || !realpath(tmpl, dir))
		return 1;
	free(write_spec("k.cu", "// kernel\n"));
	free(write_spec("k.c", "// kernel\n"));
	char *sub = avo_path_join(dir, "inc");
	avo_mkdir_p(sub, 0755);

	/* Defaults, and a .cu kernel means nvcc. */
	avo_spec *s = load("{\"name\":\"a\",\"kernel\":\"k.cu\",\"harness\":\"k.cu\","
			   "\"configs\":[{\"name\":\"c\",\"args\":[\"--s\",4096,0.5]}],"
			   "\"include_dirs\":[\"inc\",\"/abs\"],\"arch\":\"sm_90a\"}",
			   0, NULL);
	if (s) {
		char *k = avo_path_join(dir, "k.cu");
		CHECK(!strcmp(s->kernel, k));
		CHECK(!strcmp(s->dir, dir));
		CHECK(!strcmp(s->compiler, "nvcc") && s->is_cuda);
		CHECK(!strcmp(s->arch, "sm_90a"));
		CHECK(s->tolerance == 1e-2 && s->timeout_s == 120 && s->compile_timeout_s == 300);
		CHECK(!strcmp(s->objective, "ms") && !strcmp(s->op, "knob"));
		CHECK(s->nconfigs == 1 && s->configs[0].nargs == 3);
		CHECK(s->nconfigs == 1 && !strcmp(s->configs[0].args[1], "4096"));
		CHECK(s->nconfigs == 1 && !strcmp(s->configs[0].args[2], "0.5"));
		CHECK(s->ninclude_dirs == 2 && !strcmp(s->include_dirs[0], sub));
		CHECK(s->ninclude_dirs == 2 && !strcmp(s->include_dirs[1], "/abs"));
		CHECK(s->json && strstr(s->json, "\"name\":\"a\""));
		free(k);
		avo_spec_free(s);
	}
	/* A C kernel gets cc; a compiler ending in nvcc is CUDA whatever the kernel. */
	s = load("{\"name\":\"a\",\"kernel\":\"k.c\",\"harness\":\"k.c\",\"configs\":[{\"name\":\"c\"}],"
		 "\"tolerance\":0,\"objective\":\"tflops\",\"budget\":{\"evaluations\":7,\"seconds\":60}}",
		 0, NULL);
	if (s) {
		CHECK(!strcmp(s->compiler, "cc") && !s->is_cuda && !strcmp(s->arch, ""));
		CHECK(s->tolerance == 0 && !strcmp(s->objective, "tflops"));
		CHECK(s->budget_evaluations == 7 && s->budget_seconds == 60 && s->budget_cost_usd == 0);
		CHECK(s->configs[0].nargs == 0);
		avo_spec_free(s);
	}
	s = load("{\"name\":\"a\",\"kernel\":\"k.c\",\"harness\":\"k.c\",\"compiler\":\"/opt/x/bin/nvcc\","
		 "\"configs\":[{\"name\":\"c\"}]}", 0, NULL);
	if (s) {
		CHECK(s->is_cuda);
		avo_spec_free(s);
	}

	/* Errors name the file and the field. */
	const char *base = "\"name\":\"a\",\"kernel\":\"k.c\",\"harness\":\"k.c\"";
	char buf[1024];
#define BAD(extra, code, msg)                                                  \
	do {                                                                   \
		snprintf(buf, sizeof(buf), "{%s%s}", base, extra);             \
		avo_spec_free(load(buf, code, msg));                           \
	} while (0)
	BAD("", AVO_EINVALID, "avo.json: field \"configs\": missing");
	BAD(",\"configs\":{}", AVO_EINVALID, "field \"configs\": must be a non-empty array");
	BAD(",\"configs\":[{\"args\":[]}]", AVO_EINVALID, "field \"configs[0].name\": missing");
	BAD(",\"configs\":[{\"name\":\"x\"},{\"name\":\"x\"}]", AVO_EINVALID, "\"configs[1].name\": duplicate");
	BAD(",\"configs\":[{\"name\":\"x\"}],\"flags\":\"-O3\"", AVO_EINVALID, "field \"flags\": must be an array of strings");
	BAD(",\"configs\":[{\"name\":\"x\"}],\"flags\":[1]", AVO_EINVALID, "field \"flags\": element 0 must be a string");
	BAD(",\"configs\":[{\"name\":\"x\"}],\"timeout\":0", AVO_EINVALID, "field \"timeout\": must be >= 0.001");
	BAD(",\"configs\":[{\"name\":\"x\"}],\"tolerance\":-1", AVO_EINVALID, "field \"tolerance\": must be >= 0");
	BAD(",\"configs\":[{\"name\":\"x\"}],\"arch\":\"sm_90\"", AVO_EINVALID, "field \"arch\": only meaningful for nvcc");
	BAD(",\"configs\":[{\"name\":\"x\"}],\"operator\":\"magic\"", AVO_EINVALID, "field \"operator\"");
	BAD(",\"configs\":[{\"name\":\"x\"}],\"budget\":{\"evaluations\":1.5}", AVO_EINVALID,
	    "avo.json: budget: field \"evaluations\": must be a whole number");
	BAD(",\"configs\":[{\"name\":\"x\"}],\"llm\":[]", AVO_EINVALID, "field \"llm\": must be an object");
	avo_spec_free(load("{\"name\":\"a\",\"kernel\":\"k.c\",\"harness\":\"gone.c\",\"configs\":[{\"name\":\"x\"}]}",
			   AVO_EINVALID, "field \"harness\": cannot read"));
	/* The name names the run dir <spec dir>/.avo/<name>: it cannot lead out of it. */
	avo_spec_free(load("{\"name\":\"../../x\",\"kernel\":\"k.c\",\"harness\":\"k.c\",\"configs\":[{\"name\":\"x\"}]}",
			   AVO_EINVALID, "field \"name\": must be a plain name"));
	avo_spec_free(load("{\"name\":\"..\",\"kernel\":\"k.c\",\"harness\":\"k.c\",\"configs\":[{\"name\":\"x\"}]}",
			   AVO_EINVALID, "field \"name\": must be a plain name"));
	avo_spec_free(load("[1, 2]", AVO_EINVALID, "must be a JSON object"));
	avo_spec_free(load("{\n\"name\": \"a\",\n\n   \"kernel\" \"k.c\"}", AVO_EPARSE, "avo.json:4:13: parse error"));
	avo_spec_free(load("", AVO_EPARSE, "avo.json:1:1: parse error"));

	avo_rm_rf(dir);
	free(sub);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
