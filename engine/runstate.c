#include "runstate.h"
#include "avo_base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


static void host_name(char *b, size_t n)
{
	if (gethostname(b, n - 1) < 0)
		snprintf(b, n, "?");
	b[n - 1] = 0;
	for (char *p = b; *p; p++) /* a name part: no '/' */
		if (*p == '/')
			*p = '_';
}

/* ---- the lock ------------------------------------------------------------------------ */

/* Take <dir>/lock or say who holds it. flock dies with its holder, so the lock of a
 * killed run is free and simply taken over; the file's text is only for the message. */
static int lock_run(avo_runstate *rs)
{
	char *path = avo_path_join(rs->dir, "lock");
	int rc = 0;
	if (!path)
		return avo_oom();
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = avo_error_set(AVO_EIO, "%s: cannot open the run lock: %s", path, strerror(errno));
		goto done;
	}
	int r;
	while ((r = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		char who[256] = "";
		ssize_t n = pread(fd, who, sizeof(who) - 1, 0);
		who[n > 0 ? n : 0] = 0;
		who[strcspn(who, "\n")] = 0;
		close(fd);
		rc = avo_error_set(AVO_EIO, "%s: another avo is running this tune (%s); wait for it or stop it",
				   rs->dir, *who ? who : "holder unknown");
		goto done;
	}
	char host[128] = "?", when[32] = "?";
	host_name(host, sizeof(host));
	time_t now = time(NULL);
	struct tm tm;
	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char *text = avo_sprintf("pid %ld on %s since %s\n", (long)getpid(), host, when);
	if (!text || ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) < 0)
		fprintf(stderr, "avo: warning: %s: could not record the lock holder\n", path);
	free(text);
	rs->lock_fd = fd;
done:
	free(path);
	return rc;
}

/* ---- leftovers of a killed run ----------------------------------------------------- */

/* "<name>.tmp.<pid>.<n>" is what avo_file_write_atomic() leaves when killed mid-write.
 * Holding the lock, no other avo writes here; a live pid of ours is only this process. */
static int is_stale_temp(const char *name)
{
	const char *t = strstr(name, ".tmp.");
	if (!t || t == name)
		return 0;
	char *end;
	long pid = strtol(t + 5, &end, 10);
	if (end == t + 5 || *end != '.' || pid <= 0)
		return 0;
	/* A live writer (`avo report -o` into the run dir, say) keeps its temp file. */
	return pid != (long)getpid() && !(kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static int remove_temps(avo_runstate *rs)
{
	DIR *d = opendir(rs->dir);
	struct dirent *e;
	if (!d)
		return avo_error_set(AVO_EIO, "%s: %s", rs->dir, strerror(errno));
	while ((e = readdir(d))) {
		if (!is_stale_temp(e->d_name))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			rs->removed_temps++;
	}
	closedir(d);
	return 0;
}

char *avo_runstate_scratch_prefix(const char *word)
{
	char host[128];
	host_name(host, sizeof(host));
	return avo_sprintf("%s-%s-%ld-", word, host, (long)getpid());
}

/* "<word>-<host>-<pid>-XXXXXX" of this host, with a pid no live process has (not ours).
 * Parsed from the end: host names may hold dashes, words do not. */
static int is_dead_scratch(const char *name)
{
	char host[128];
	const char *w = strchr(name, '-'), *x = strrchr(name, '-');
	if (!w || w == name || x <= w)
		return 0;
	const char *p = x - 1;
	while (p > w && *p >= '0' && *p <= '9')
		p--;
	if (p == x - 1 || *p != '-' || p <= w)
		return 0;
	host_name(host, sizeof(host));
	if ((size_t)(p - (w + 1)) != strlen(host) || strncmp(w + 1, host, strlen(host)))
		return 0; /* another host's (a shared job dir): not ours to judge */
	long pid = strtol(p + 1, NULL, 10);
	if (pid <= 0 || pid == (long)getpid())
		return 0;
	return !(kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

int avo_runstate_clean_scratch(const char *root)
{
	DIR *d = opendir(root);
	struct dirent *e;
	int n = 0;
	if (!d)
		return errno == ENOENT ? 0 : avo_error_set(AVO_EIO, "%s: %s", root, strerror(errno));
	while ((e = readdir(d))) {
		struct stat st;
		/* Only real directories: never follow a link out of the root. */
		if (!is_dead_scratch(e->d_name) || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != getuid())
			continue;
		char *p = avo_path_join(root, e->d_name);
		if (p && avo_rm_rf(p) == 0)
			n++;
		free(p);
	}
	closedir(d);
	return n;
}

/* ---- opening ------------------------------------------------------------------------- */

typedef cJSON *(*rec_json_fn)(const avo_runrec_log *log, size_t i);
static cJSON *version_at(const avo_runrec_log *log, size_t i) { return avo_runrec_version_json(&log->versions[i]); }
static cJSON *attempt_at(const avo_runrec_log *log, size_t i) { return avo_runrec_attempt_json(&log->attempts[i]); }

/* Rewrite a .jsonl with only its complete records, so appends continue from a clean end. */
static int rewrite(const avo_runstate *rs, const char *name, size_t n, rec_json_fn at)
{
	avo_buf b = AVO_BUF_INIT;
	char *path = avo_path_join(rs->dir, name);
	for (size_t i = 0; i < n; i++) {
		cJSON *o = at(&rs->log, i);
		char *s = o ? cJSON_PrintUnformatted(o) : NULL;
		avo_buf_puts(&b, s ? s : "{}");
		avo_buf_puts(&b, "\n");
		free(s);
		cJSON_Delete(o);
	}
	int rc = path ? avo_file_write_atomic(path, avo_buf_cstr(&b), b.size, 0644) : avo_oom();
	avo_buf_dispose(&b);
	free(path);
	return rc;
}

static int has_records(const char *dir)
{
	static const char *const names[] = {"lineage.jsonl", "attempts.jsonl", "run.json"};
	int any = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = avo_path_join(dir, names[i]);
		any |= p && avo_path_exists(p);
		free(p);
	}
	return any;
}

static int move_aside(avo_runstate *rs)
{
	if (!has_records(rs->dir))
		return 0; /* nothing to keep: a new run starts here */
	char *to = avo_sprintf("%s.old-%ld", rs->dir, (long)avo_wall());
	int rc = 0;
	if (!to)
		return avo_oom();
	/* Keep the lock across the rename (it moves with the old run), then take the new one. */
	if (rename(rs->dir, to) < 0)
		rc = avo_error_set(AVO_EIO, "%s: cannot move the old run aside: %s", rs->dir, strerror(errno));
	else
		fprintf(stderr, "avo: the previous run was moved to %s\n", to);
	free(to);
	if (rc == 0) {
		close(rs->lock_fd);
		rs->lock_fd = -1;
		if (avo_mkdir_p(rs->dir, 0755) < 0)
			return AVO_EIO;
		rc = lock_run(rs);
	}
	return rc;
}

int avo_runstate_open(avo_runstate **out, const char *dir, int mode)
{
	*out = NULL;
	if (avo_mkdir_p(dir, 0755) < 0)
		return AVO_EIO;
	struct stat st;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return avo_error_set(AVO_EINVALID, "%s: the run dir is not a directory", dir);
	avo_runstate *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return avo_oom();
	rs->lock_fd = -1;
	avo_runrec_run_init(&rs->log.run);
	rs->dir = avo_strdup(dir);
	rs->session_start = avo_now();
	int rc;
	if (!rs->dir) {
		rc = avo_oom();
		goto fail;
	}
	if ((rc = lock_run(rs)) < 0)
		goto fail;
	if (mode == AVO_RUNSTATE_FRESH && (rc = move_aside(rs)) < 0)
		goto fail;
	if ((rc = remove_temps(rs)) < 0 || (rc = avo_runrec_log_load(&rs->log, dir)) < 0)
		goto fail;
	if (mode == AVO_RUNSTATE_NEW && (rs->log.nversions || rs->log.nattempts)) {
		rc = avo_error_set(AVO_EINVALID,
				   "%s: a run already exists here; continue it with --resume, or "
				   "start over with --fresh-run (the old run is moved aside)", dir);
		goto fail;
	}
	if (rs->log.torn) {
		/* Drop the torn lines on disk too, so appends continue from a clean end. */
		for (size_t i = 0; i < rs->log.nwarnings; i++)
			fprintf(stderr, "avo: %s (left by an interrupted run; dropped)\n", rs->log.warnings[i]);
		rs->dropped_lines = rs->log.torn;
		if (rs->log.has_lineage)
			rc = rewrite(rs, "lineage.jsonl", rs->log.nversions, version_at);
		if (rc == 0 && rs->log.has_attempts)
			rc = rewrite(rs, "attempts.jsonl", rs->log.nattempts, attempt_at);
		if (rc < 0)
			goto fail;
	}
	/* Elapsed time survives kills: the last record carries the run time at that point. */
	double e = rs->log.nattempts ? rs->log.attempts[rs->log.nattempts - 1].elapsed_s : NAN;
	rs->elapsed_before = isfinite(e) ? e : 0;
	if (isfinite(rs->log.run.elapsed_s) && rs->log.run.elapsed_s > rs->elapsed_before)
		rs->elapsed_before = rs->log.run.elapsed_s;
	*out = rs;
	return 0;
fail:
	avo_runstate_free(rs);
	return rc;
}

void avo_runstate_free(avo_runstate *rs)
{
	if (!rs)
		return;
	avo_runrec_log_dispose(&rs->log);
	if (rs->lock_fd >= 0)
		close(rs->lock_fd); /* releases the flock; the file stays, harmless */
	free(rs->dir);
	free(rs);
}

double avo_runstate_elapsed(const avo_runstate *rs)
{
	return rs->elapsed_before + (avo_now() - rs->session_start);
}

static int append(const avo_runstate *rs, const char *name, cJSON *o)
{
	char *path = avo_path_join(rs->dir, name);
	int rc = path && o ? avo_runrec_append(path, o) : avo_oom();
	free(path);
	cJSON_Delete(o);
	return rc;
}

int avo_runstate_add_attempt(avo_runstate *rs, avo_runrec_attempt *rec)
{
	int rc = append(rs, "attempts.jsonl", avo_runrec_attempt_json(rec));
	int arc = avo_runrec_log_add_attempt(&rs->log, rec);
	return rc < 0 ? rc : arc;
}

int avo_runstate_add_version(avo_runstate *rs, avo_runrec_version *rec)
{
	int rc = append(rs, "lineage.jsonl", avo_runrec_version_json(rec));
	int arc = avo_runrec_log_add_version(&rs->log, rec);
	return rc < 0 ? rc : arc;
}

int avo_runstate_add_note(avo_runstate *rs, const char *op, const char *text)
{
	int rc = append(rs, "notes.jsonl", avo_runrec_note_json(op, text, avo_wall()));
	return rc < 0 ? rc : avo_runrec_log_add_note(&rs->log, text);
}

int avo_runstate_save(avo_runstate *rs)
{
	char *path = avo_path_join(rs->dir, "run.json");
	cJSON *o = avo_runrec_run_json(&rs->log.run);
	int rc = path && o ? avo_runrec_write_json(path, o) : avo_oom();
	cJSON_Delete(o);
	free(path);
	return rc;
}

const avo_runrec_version *avo_runstate_best(const avo_runstate *rs)
{
	return rs->log.nversions ? &rs->log.versions[rs->log.nversions - 1] : NULL;
}

const avo_runrec_version *avo_runstate_version(const avo_runstate *rs, long id)
{
	for (size_t i = 0; i < rs->log.nversions; i++)
		if (rs->log.versions[i].id == id)
			return &rs->log.versions[i];
	return NULL;
}
