/* Proves the run state survives a kill and belongs to one process: a torn last line is
 * dropped (and the file repaired) when the run is opened again, complete records are kept,
 * a fresh start refuses to clobber an existing run, a second open of a held run fails at
 * once naming the holder, a killed holder's lock is taken over, temp files of a killed
 * writer are removed, and the records read back as they were written (runrec.h). */
#include "runstate.h"
#include "avo_base.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

static avo_runrec_attempt rec(long n, double elapsed)
{
	avo_runrec_attempt a;
	avo_runrec_attempt_init(&a);
	a.n = n;
	a.elapsed_s = elapsed;
	a.status = avo_strdup("slower");
	a.note = avo_strdup("a \"quoted\"\nnote");
	return a;
}

static avo_runrec_version version(long id)
{
	avo_runrec_version v;
	avo_runrec_version_init(&v);
	v.id = id;
	v.parent = id ? id - 1 : -1;
	v.op = avo_strdup("knob");
	v.fitness = 1.5 + (double)id;
	v.gain = (avo_runrec_interval){1.04, 1.01, 1.07, 0.95, 40};
	v.guard.trust = avo_strdup("library");
	size_t cap = 0;
	avo_runrec_pair_add(&v.knobs, &v.nknobs, &cap, "TILE", "64");
	v.has_edits = 1;
	return v;
}

static void test_records(const char *dir)
{
	avo_runstate *rs = NULL;
	CHECK(avo_runstate_open(&rs, dir, AVO_RUNSTATE_NEW) == 0);
	if (!rs)
		return;
	avo_runrec_attempt a = rec(1, 1.5), b = rec(2, 7.25);
	avo_runrec_version v = version(0);
	CHECK(avo_runstate_add_attempt(rs, &a) == 0);
	CHECK(avo_runstate_add_attempt(rs, &b) == 0);
	CHECK(avo_runstate_add_version(rs, &v) == 0);
	CHECK(a.status == NULL && v.op == NULL); /* taken over */
	rs->log.run.speedup = (avo_runrec_interval){1.2, 1.1, 1.3, 0.95, 60};
	CHECK(avo_runstate_save(rs) == 0);
	avo_runstate_free(rs);

	/* Simulate a kill in the middle of the third append. */
	char *ap = avo_path_join(dir, "attempts.jsonl");
	int fd = open(ap, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, "{\"n\":3,\"elap", 12) == 12);
	close(fd);

	CHECK(avo_runstate_open(&rs, dir, AVO_RUNSTATE_NEW) == AVO_EINVALID); /* a run exists */
	CHECK(strstr(avo_error_last(), "--resume") != NULL);
	CHECK(avo_runstate_open(&rs, dir, AVO_RUNSTATE_RESUME) == 0);
	if (!rs)
		return;
	CHECK(rs->dropped_lines == 1);
	CHECK(rs->log.nattempts == 2);
	CHECK(rs->log.nversions == 1);
	CHECK(rs->elapsed_before >= 7.25);
	CHECK(rs->log.attempts[0].note && !strcmp(rs->log.attempts[0].note, "a \"quoted\"\nnote"));
	const avo_runrec_version *rv = avo_runstate_best(rs);
	CHECK(rv && rv->gain.value == 1.04 && rv->gain.lo == 1.01 && rv->gain.samples == 40);
	CHECK(rv && rv->guard.trust && !strcmp(rv->guard.trust, "library"));
	CHECK(rv && rv->nknobs == 1 && !strcmp(avo_runrec_pair_find(rv->knobs, rv->nknobs, "TILE"), "64"));
	CHECK(rs->log.run.speedup.value == 1.2 && rs->log.run.speedup.hi == 1.3);
	/* The repaired file ends on a complete line, so the next append is a clean record. */
	avo_runrec_attempt c = rec(3, 9);
	CHECK(avo_runstate_add_attempt(rs, &c) == 0);
	avo_runstate_free(rs);

	/* One reader, one rule: the report's loader sees the same records. */
	avo_runrec_log log;
	CHECK(avo_runrec_log_load(&log, dir) == 0);
	CHECK(log.nattempts == 3 && log.torn == 0 && log.nversions == 1);
	avo_runrec_log_dispose(&log);

	/* A complete object without its newline is still a torn line, for every reader. */
	fd = open(ap, O_WRONLY | O_APPEND);
	CHECK(write(fd, "{\"n\":4}", 7) == 7);
	close(fd);
	CHECK(avo_runrec_log_load(&log, dir) == 0);
	CHECK(log.nattempts == 3 && log.torn == 1 && log.nwarnings == 1);
	CHECK(log.nwarnings && strstr(log.warnings[0], "attempts.jsonl:4:") && strstr(log.warnings[0], "cut short"));
	avo_runrec_log_dispose(&log);
	free(ap);
}

/* Holds the run in a child; returns its pid once it holds it. */
static pid_t hold_in_child(const char *dir)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		avo_runstate *rs = NULL;
		close(p[0]);
		int rc = avo_runstate_open(&rs, dir, AVO_RUNSTATE_RESUME);
		(void)!write(p[1], rc == 0 ? "y" : "n", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	char c = 0;
	(void)!read(p[0], &c, 1);
	close(p[0]);
	return c == 'y' ? pid : -1;
}

static void test_lock(const char *dir)
{
	pid_t holder = hold_in_child(dir);
	CHECK(holder > 0);
	avo_runstate *rs = NULL;
	double t0 = avo_now();
	CHECK(avo_runstate_open(&rs, dir, AVO_RUNSTATE_RESUME) == AVO_EIO);
	CHECK(avo_now() - t0 < 1.0); /* at once, no waiting */
	char pidtext[32];
	snprintf(pidtext, sizeof(pidtext), "pid %ld on ", (long)holder);
	CHECK(strstr(avo_error_last(), pidtext) != NULL);
	CHECK(strstr(avo_error_last(), " since ") != NULL);
	/* --fresh-run must not move a held run aside either. */
	CHECK(avo_runstate_open(&rs, dir, AVO_RUNSTATE_FRESH) == AVO_EIO);
	CHECK(avo_path_exists(dir));

	/* kill -9 the holder: its lock is stale and taken over. */
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	CHECK(avo_runstate_open(&rs, dir, AVO_RUNSTATE_RESUME) == 0);
	avo_runstate_free(rs);
}

static void test_temps(const char *dir)
{
	/* A dead writer's temp file goes; a live one's stays. */
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	char *stale = avo_sprintf("%s/run.json.tmp.%ld.1", dir, (long)dead);
	char *live = avo_sprintf("%s/report.html.tmp.%ld.1", dir, (long)getppid());
	char *other = avo_sprintf("%s/notes.tmp.txt", dir);
	CHECK(avo_file_write_atomic(stale, "x", 1, 0644) == 0);
	CHECK(avo_file_write_atomic(live, "x", 1, 0644) == 0);
	CHECK(avo_file_write_atomic(other, "x", 1, 0644) == 0);
	avo_runstate *rs = NULL;
	CHECK(avo_runstate_open(&rs, dir, AVO_RUNSTATE_RESUME) == 0);
	CHECK(rs && rs->removed_temps == 1);
	CHECK(!avo_path_exists(stale));
	CHECK(avo_path_exists(live) && avo_path_exists(other));
	avo_runstate_free(rs);
	free(stale), free(live), free(other);
}

static void test_fresh(const char *dir)
{
	avo_runstate *rs = NULL;
	CHECK(avo_runstate_open(&rs, dir, AVO_RUNSTATE_FRESH) == 0);
	CHECK(rs && rs->log.nattempts == 0 && rs->log.nversions == 0);
	avo_runstate_free(rs);
}

int main(void)
{
	char *dir = NULL;
	CHECK(avo_mkdtemp(&dir, "/tmp", "avo-test-run") == 0);
	char *run = avo_path_join(dir, "run");
	test_records(run);
	test_lock(run);
	test_temps(run);
	test_fresh(run);
	avo_rm_rf(dir);
	free(run);
	free(dir);
	return failures ? 1 : 0;
}
