/* Proves the run state survives a kill and belongs to one process: a torn last line is
 * dropped (and the file repaired) when the run is opened again, complete records are kept,
 * a fresh start refuses to clobber an existing run, a second open of a held run fails at
 * once naming the holder, a killed holder's lock is taken over, temp files of a killed
 * writer are removed (and the scratch dirs of killed evaluations), and the records read back as they were written (runrec.h). */
#include "runstate.h"
#include "avo_base.h"

#include <dirent.h>
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

static void test_scratch(const char *top)
{
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	char *root = avo_path_join(top, "scratch"), *outside = avo_path_join(top, "outside");
	char host[128] = "";
	gethostname(host, sizeof(host) - 1);
	char *d1 = avo_sprintf("%s/eval-%s-%ld-Xk3a9Q", root, host, (long)dead);
	char *d2 = avo_sprintf("%s/batch-%s-%ld-abcdef", root, host, (long)dead);
	char *live = avo_sprintf("%s/eval-%s-%ld-Qq12ab", root, host, (long)getppid());
	char *link = avo_sprintf("%s/eval-%s-%ld-link00", root, host, (long)dead);
	char *other = avo_sprintf("%s/eval-not%s-%ld-Xk3a9Q", root, host, (long)dead);
	char *mine = avo_runstate_scratch_prefix("batch");
	char *want = avo_sprintf("batch-%s-%ld-", host, (long)getpid());
	CHECK(!strcmp(mine, want));
	char *f = avo_sprintf("%s/kernel.c", d1), *keep = avo_sprintf("%s/keep", outside);
	CHECK(avo_mkdir_p(d1, 0700) == 0 && avo_mkdir_p(d2, 0700) == 0 && avo_mkdir_p(live, 0700) == 0);
	CHECK(avo_mkdir_p(other, 0700) == 0);
	CHECK(avo_mkdir_p(outside, 0700) == 0);
	CHECK(avo_file_write_atomic(f, "x", 1, 0644) == 0 && avo_file_write_atomic(keep, "x", 1, 0644) == 0);
	CHECK(symlink(outside, link) == 0);
	CHECK(avo_runstate_clean_scratch(root) == 2);
	CHECK(!avo_path_exists(d1) && !avo_path_exists(d2));
	CHECK(avo_path_exists(live) && avo_path_exists(keep)); /* a live run's, and a link's target */
	CHECK(avo_path_exists(other)); /* another host's */
	CHECK(avo_runstate_clean_scratch("/nonexistent/avo-scratch") == 0);
	free(root), free(outside), free(d1), free(d2), free(live), free(link), free(f), free(keep);
	free(other), free(mine), free(want);
}

static int count_old(const char *dir)
{
	char *parent = avo_path_dirname(dir);
	DIR *d = opendir(parent);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += strstr(e->d_name, ".old-") != NULL;
	if (d)
		closedir(d);
	free(parent);
	return n;
}

static void test_fresh(const char *dir)
{
	avo_runstate *rs = NULL;
	CHECK(count_old(dir) == 0);
	CHECK(avo_runstate_open(&rs, dir, AVO_RUNSTATE_FRESH) == 0);
	CHECK(rs && rs->log.nattempts == 0 && rs->log.nversions == 0);
	avo_runstate_free(rs);
	CHECK(count_old(dir) == 1); /* the old run, moved aside */
	/* A fresh run over an empty (or new) dir moves nothing. */
	CHECK(avo_runstate_open(&rs, dir, AVO_RUNSTATE_FRESH) == 0);
	avo_runstate_free(rs);
	CHECK(count_old(dir) == 1);
}

/* The tune entry and the manifest carry the final speedup and the guard through JSON. */
static void test_entries(void)
{
	avo_runrec_tune t, t2;
	avo_runrec_tune_init(&t);
	t.variant = avo_strdup("997da20538f99d36d0ddc6c71235cf58");
	t.fitness = 2.5;
	t.speedup = (avo_runrec_interval){1.21, 1.18, 1.24, 0.95, 60};
	t.guard.sandbox = avo_strdup("bwrap");
	cJSON *j = avo_runrec_tune_json(&t);
	CHECK(avo_runrec_tune_parse(&t2, j) == 0);
	CHECK(t2.speedup.value == 1.21 && t2.speedup.lo == 1.18 && t2.speedup.samples == 60);
	CHECK(t2.guard.sandbox && !strcmp(t2.guard.sandbox, "bwrap") && !t2.guard.trust);
	CHECK(t2.fitness == 2.5 && isnan(t2.baseline_fitness) && t2.version == -1);
	cJSON_Delete(j);
	avo_runrec_manifest m, m2;
	avo_runrec_manifest_init(&m);
	m.speedup = t2.speedup;
	m.fitness = 2.5;
	j = avo_runrec_manifest_json(&m);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "gpu"))); /* as before: gpu null when unknown */
	CHECK(!cJSON_GetObjectItem(j, "baseline_fitness"));
	CHECK(avo_runrec_manifest_parse(&m2, j) == 0 && m2.speedup.hi == 1.24);
	char b[64];
	CHECK(!strcmp(avo_runrec_interval_text(b, sizeof(b), &m2.speedup), "1.210x [1.180, 1.240]"));
	cJSON_Delete(j);
	avo_runrec_tune_dispose(&t), avo_runrec_tune_dispose(&t2);
	avo_runrec_manifest_dispose(&m), avo_runrec_manifest_dispose(&m2);
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
	test_scratch(dir);
	test_entries();
	avo_rm_rf(dir);
	free(run);
	free(dir);
	return failures ? 1 : 0;
}
