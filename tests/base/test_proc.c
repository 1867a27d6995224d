/* Proves avo_proc_run's guarantees: output capture, exit status, signals, the timeout killing
 * the whole process group (grandchildren too), rlimits, and secret scrubbing. */
#include "avo_base.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

static void run(avo_proc_result *r, const char *script, double timeout)
{
	avo_proc_options o = {0};
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	o.argv = argv;
	o.timeout_s = timeout;
	o.scrub_secrets = 1;
	CHECK(avo_proc_run(r, &o) == 0);
}

int main(void)
{
	avo_proc_result r;

	run(&r, "echo hello; echo oops >&2; exit 3", 0);
	CHECK(r.exited && r.exit_code == 3);
	CHECK(!strcmp(avo_buf_cstr(&r.out), "hello\n"));
	CHECK(!strcmp(avo_buf_cstr(&r.err), "oops\n"));
	char *d = avo_proc_describe(&r, 0);
	CHECK(!strcmp(d, "exit 3"));
	free(d);
	avo_proc_result_dispose(&r);

	run(&r, "kill -SEGV $$", 0);
	CHECK(!r.exited && r.signal == SIGSEGV);
	d = avo_proc_describe(&r, 0);
	CHECK(!strcmp(d, "killed by SIGSEGV"));
	free(d);
	avo_proc_result_dispose(&r);

	/* A grandchild that keeps the pipes open must not stall us past the timeout. */
	double t0 = avo_now();
	run(&r, "sleep 30 & sleep 30; echo never", 0.5);
	CHECK(r.timed_out);
	CHECK(avo_now() - t0 < 10);
	CHECK(strstr(avo_buf_cstr(&r.out), "never") == NULL);
	avo_proc_result_dispose(&r);

	/* The leader exits but leaves a background child holding stdout: group is killed. */
	t0 = avo_now();
	run(&r, "(sleep 30; echo late) & echo early", 5);
	CHECK(r.exited && r.exit_code == 0 && !r.timed_out);
	CHECK(avo_now() - t0 < 4);
	avo_proc_result_dispose(&r);

	setenv("FOO_API_KEY", "sk-secret", 1);
	setenv("AVO_CACHE_TOKEN", "tok", 1);
	setenv("PLAIN_VAR", "visible", 1);
	run(&r, "env", 0);
	CHECK(strstr(avo_buf_cstr(&r.out), "sk-secret") == NULL);
	CHECK(strstr(avo_buf_cstr(&r.out), "AVO_CACHE_TOKEN") == NULL);
	CHECK(strstr(avo_buf_cstr(&r.out), "PLAIN_VAR=visible") != NULL);
	avo_proc_result_dispose(&r);

	/* File-size rlimit: the child cannot write a big file. */
	char dir[] = "/tmp/avo-test-procXXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	avo_proc_options o = {0};
	const char *argv[] = {"/bin/sh", "-c", "head -c 4000000 /dev/zero > big; echo rc=$?", NULL};
	o.argv = argv;
	o.cwd = dir;
	o.rlimit_fsize_mb = 1;
	CHECK(avo_proc_run(&r, &o) == 0);
	CHECK(strstr(avo_buf_cstr(&r.out), "rc=0") == NULL);
	avo_proc_result_dispose(&r);
	avo_rm_rf(dir);

	/* stdin is delivered. */
	const char *cat[] = {"cat", NULL};
	avo_proc_options oc = {0};
	oc.argv = cat;
	oc.stdin_data = "abc";
	oc.stdin_len = 3;
	CHECK(avo_proc_run(&r, &oc) == 0);
	CHECK(!strcmp(avo_buf_cstr(&r.out), "abc"));
	avo_proc_result_dispose(&r);

	/* A missing program exits 127 with a message. */
	const char *nope[] = {"avo-no-such-program", NULL};
	oc.argv = nope;
	oc.stdin_data = NULL;
	CHECK(avo_proc_run(&r, &oc) == 0);
	CHECK(r.exited && r.exit_code == 127);
	CHECK(strstr(avo_buf_cstr(&r.err), "cannot run") != NULL);
	avo_proc_result_dispose(&r);

	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
