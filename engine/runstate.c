#include "runstate.h"
#include "avo_base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int avo_runstate_read_jsonl(cJSON **out, const char *path, int *dropped)
{
	avo_buf b = AVO_BUF_INIT;
	int rc = avo_file_read(&b, path);
	*out = cJSON_CreateArray();
	if (dropped)
		*dropped = 0;
	if (rc == AVO_ENOTFOUND) {
		avo_buf_dispose(&b);
		return 0;
	}
	if (rc < 0) {
		avo_buf_dispose(&b);
		return rc;
	}
	const char *p = avo_buf_cstr(&b), *end = p + b.size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/* A line without its newline was cut by a kill: not a record. */
		cJSON *rec = nl ? cJSON_ParseWithLength(p, len) : NULL;
		if (rec && cJSON_IsObject(rec))
			cJSON_AddItemToArray(*out, rec);
		else {
			cJSON_Delete(rec);
			if (len && dropped)
				(*dropped)++;
		}
		p += len + (nl ? 1 : 0);
	}
	avo_buf_dispose(&b);
	return 0;
}

/* Rewrite a .jsonl with only its complete records, so appends continue from a clean end. */
static int rewrite_jsonl(const char *path, const cJSON *arr)
{
	avo_buf b = AVO_BUF_INIT;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		char *s = cJSON_PrintUnformatted(it);
		avo_buf_puts(&b, s);
		avo_buf_puts(&b, "\n");
		free(s);
	}
	int rc = avo_file_write_atomic(path, avo_buf_cstr(&b), b.size, 0644);
	avo_buf_dispose(&b);
	return rc;
}

/* Load a record file; torn lines are repaired only when `repair` (never for a refused open). */
static int load(avo_runstate *rs, const char *name, cJSON **arr, int repair)
{
	char *path = avo_path_join(rs->dir, name);
	int dropped = 0;
	int rc = avo_runstate_read_jsonl(arr, path, &dropped);
	if (rc == 0 && dropped && repair) {
		fprintf(stderr, "avo: %s: dropped %d incomplete line(s) left by an interrupted run\n",
			path, dropped);
		rs->dropped_lines += dropped;
		rc = rewrite_jsonl(path, *arr);
	}
	free(path);
	return rc;
}

int avo_runstate_open(avo_runstate **out, const char *dir, int fresh)
{
	*out = NULL;
	if (avo_mkdir_p(dir, 0755) < 0)
		return AVO_EIO;
	avo_runstate *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return avo_error_set(AVO_ERROR, "out of memory");
	rs->dir = avo_strdup(dir);
	rs->session_start = avo_now();
	int rc;
	if ((rc = load(rs, "lineage.jsonl", &rs->lineage, !fresh)) < 0 ||
	    (rc = load(rs, "attempts.jsonl", &rs->attempts, !fresh)) < 0)
		goto fail;
	if (fresh && (cJSON_GetArraySize(rs->lineage) || cJSON_GetArraySize(rs->attempts))) {
		rc = avo_error_set(AVO_EINVALID,
				   "%s: a run already exists here; continue it with --resume, or "
				   "start over with --fresh-run (the old run is moved aside)", dir);
		goto fail;
	}
	char *rp = avo_path_join(dir, "run.json");
	avo_buf b = AVO_BUF_INIT;
	if (avo_file_read(&b, rp) == 0)
		rs->run = cJSON_ParseWithLength(avo_buf_cstr(&b), b.size);
	avo_buf_dispose(&b);
	free(rp);
	if (!cJSON_IsObject(rs->run)) {
		cJSON_Delete(rs->run);
		rs->run = cJSON_CreateObject();
	}
	/* Elapsed time survives kills: the last record carries the run time at that point. */
	const cJSON *last = cJSON_GetArrayItem(rs->attempts, cJSON_GetArraySize(rs->attempts) - 1);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(last, "elapsed_s");
	const cJSON *re = cJSON_GetObjectItemCaseSensitive(rs->run, "elapsed_s");
	rs->elapsed_before = cJSON_IsNumber(e) ? e->valuedouble : 0;
	if (cJSON_IsNumber(re) && re->valuedouble > rs->elapsed_before)
		rs->elapsed_before = re->valuedouble;
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
	cJSON_Delete(rs->lineage);
	cJSON_Delete(rs->attempts);
	cJSON_Delete(rs->run);
	free(rs->dir);
	free(rs);
}

double avo_runstate_elapsed(const avo_runstate *rs)
{
	return rs->elapsed_before + (avo_now() - rs->session_start);
}

/* One write(2) of the whole line with O_APPEND, then fsync: the record is on disk before
 * the caller acts on it, and a kill can only cut the last line. */
static int append_line(const char *dir, const char *name, const cJSON *rec)
{
	char *path = avo_path_join(dir, name);
	char *s = cJSON_PrintUnformatted(rec);
	int rc = 0;
	if (!path || !s) {
		rc = avo_error_set(AVO_ERROR, "out of memory");
		goto done;
	}
	size_t len = strlen(s);
	s[len] = '\n'; /* replaces the NUL; length is tracked explicitly */
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = avo_error_set(AVO_EIO, "%s: %s", path, strerror(errno));
		goto done;
	}
	ssize_t n = write(fd, s, len + 1);
	if (n != (ssize_t)(len + 1) || fsync(fd) < 0)
		rc = avo_error_set(AVO_EIO, "%s: append failed: %s", path, strerror(errno));
	close(fd);
done:
	free(s);
	free(path);
	return rc;
}

int avo_runstate_add_attempt(avo_runstate *rs, cJSON *rec)
{
	int rc = append_line(rs->dir, "attempts.jsonl", rec);
	cJSON_AddItemToArray(rs->attempts, rec);
	return rc;
}

int avo_runstate_add_version(avo_runstate *rs, cJSON *rec)
{
	int rc = append_line(rs->dir, "lineage.jsonl", rec);
	cJSON_AddItemToArray(rs->lineage, rec);
	return rc;
}

int avo_runstate_save(avo_runstate *rs)
{
	char *path = avo_path_join(rs->dir, "run.json");
	char *s = cJSON_Print(rs->run);
	int rc = s && path ? avo_file_write_atomic(path, s, strlen(s), 0644)
			   : avo_error_set(AVO_ERROR, "out of memory");
	free(s);
	free(path);
	return rc;
}

const cJSON *avo_runstate_best(const avo_runstate *rs)
{
	int n = cJSON_GetArraySize(rs->lineage);
	return n ? cJSON_GetArrayItem(rs->lineage, n - 1) : NULL;
}
