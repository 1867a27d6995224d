/* The run records on disk: the one JSONL reader, a run directory read whole, appends and
 * atomic JSON documents (runrec.h). */
#include "runrec.h"
#include "avo_base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* ---- the JSONL reader ---------------------------------------------------------------- */

void avo_runrec_read_info_dispose(avo_runrec_read_info *ri)
{
	for (size_t i = 0; i < ri->nwarnings; i++)
		free(ri->warnings[i]);
	free(ri->warnings);
	memset(ri, 0, sizeof(*ri));
}

static int add_warning(char ***w, size_t *n, char *s)
{
	char **p = s ? realloc(*w, (*n + 1) * sizeof(*p)) : NULL;
	if (!p) {
		free(s);
		return avo_oom();
	}
	*w = p;
	p[(*n)++] = s;
	return 0;
}

int avo_runrec_read_jsonl(const char *path, avo_runrec_line_fn fn, void *payload, avo_runrec_read_info *ri)
{
	avo_buf b = AVO_BUF_INIT;
	memset(ri, 0, sizeof(*ri));
	int rc = avo_file_read(&b, path);
	if (rc < 0) {
		avo_buf_dispose(&b);
		return rc == AVO_ENOTFOUND ? 0 : rc;
	}
	ri->present = 1;
	const char *p = b.ptr ? b.ptr : "", *end = p + b.size;
	for (unsigned line = 1; p < end && rc >= 0; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *q = p;
		while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		p = nl ? nl + 1 : end;
		if (q == le)
			continue;
		/* A record is whole only with its newline: append writes both in one write(2). */
		const char *pe = NULL;
		cJSON *o = nl ? cJSON_ParseWithLengthOpts(q, (size_t)(le - q), &pe, 0) : NULL;
		int ok = o && cJSON_IsObject(o);
		for (const char *r = pe; ok && r && r < le; r++)
			if (*r != ' ' && *r != '\t' && *r != '\r')
				ok = 0;
		if (ok)
			rc = fn(o, line, payload);
		else {
			ri->bad++;
			ri->torn |= !nl;
			rc = add_warning(&ri->warnings, &ri->nwarnings,
					 avo_sprintf(nl ? "%s:%u: skipped a line that is not a whole JSON object"
							: "%s:%u: skipped a line that is not a whole JSON object (the last line, cut short by a killed run)",
						     path, line));
		}
		cJSON_Delete(o);
	}
	avo_buf_dispose(&b);
	return rc;
}

/* ---- a run directory ------------------------------------------------------------------- */

int avo_runrec_log_warn(avo_runrec_log *log, const char *w)
{
	return add_warning(&log->warnings, &log->nwarnings, avo_strdup(w));
}

/* Room for element n (the count before the push): capacity 8, then doubled at powers of two. */
static int grow(void **arr, size_t n, size_t elem)
{
	if (n && (n < 8 || (n & (n - 1))))
		return 0;
	void *p = realloc(*arr, (n ? n * 2 : 8) * elem);
	if (!p)
		return avo_oom();
	*arr = p;
	return 0;
}

int avo_runrec_log_add_version(avo_runrec_log *log, avo_runrec_version *v)
{
	if (grow((void **)&log->versions, log->nversions, sizeof(*v)) < 0) {
		avo_runrec_version_dispose(v);
		return AVO_ERROR;
	}
	log->versions[log->nversions++] = *v;
	avo_runrec_version_init(v);
	return 0;
}

int avo_runrec_log_add_attempt(avo_runrec_log *log, avo_runrec_attempt *a)
{
	if (grow((void **)&log->attempts, log->nattempts, sizeof(*a)) < 0) {
		avo_runrec_attempt_dispose(a);
		return AVO_ERROR;
	}
	log->attempts[log->nattempts++] = *a;
	avo_runrec_attempt_init(a);
	return 0;
}

int avo_runrec_log_add_note(avo_runrec_log *log, const char *text)
{
	char *t = avo_strdup(text);
	if (!t || grow((void **)&log->notes, log->nnotes, sizeof(*log->notes)) < 0) {
		free(t);
		return t ? AVO_ERROR : avo_oom();
	}
	log->notes[log->nnotes++] = t;
	return 0;
}

cJSON *avo_runrec_note_json(const char *op, const char *text, double time)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddNumberToObject(o, "time", time) || !cJSON_AddStringToObject(o, "operator", op ? op : "") ||
	    !cJSON_AddStringToObject(o, "text", text)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int on_note(const cJSON *o, unsigned line, void *payload)
{
	avo_runrec_log *log = payload;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
	if (cJSON_IsString(t))
		return avo_runrec_log_add_note(log, t->valuestring);
	char *w = avo_sprintf("notes.jsonl:%u: no \"text\" string; skipped", line);
	int rc = w ? avo_runrec_log_warn(log, w) : avo_oom();
	free(w);
	return rc;
}

static int on_version(const cJSON *o, unsigned line, void *payload)
{
	avo_runrec_version v;
	int rc = avo_runrec_version_parse(&v, o);
	v.line = line;
	if (rc < 0) {
		avo_runrec_version_dispose(&v);
		return rc;
	}
	return avo_runrec_log_add_version(payload, &v);
}

static int on_attempt(const cJSON *o, unsigned line, void *payload)
{
	avo_runrec_attempt a;
	int rc = avo_runrec_attempt_parse(&a, o);
	a.line = line;
	if (rc < 0) {
		avo_runrec_attempt_dispose(&a);
		return rc;
	}
	return avo_runrec_log_add_attempt(payload, &a);
}

static int load_file(avo_runrec_log *log, const char *dir, const char *name, avo_runrec_line_fn fn, int *present)
{
	char *path = avo_path_join(dir, name);
	avo_runrec_read_info ri;
	if (!path)
		return avo_oom();
	int rc = avo_runrec_read_jsonl(path, fn, log, &ri);
	*present = ri.present;
	log->torn += ri.bad;
	for (size_t i = 0; rc >= 0 && i < ri.nwarnings; i++)
		rc = avo_runrec_log_warn(log, ri.warnings[i]);
	avo_runrec_read_info_dispose(&ri);
	free(path);
	return rc;
}

int avo_runrec_log_load(avo_runrec_log *log, const char *dir)
{
	memset(log, 0, sizeof(*log));
	avo_runrec_run_init(&log->run);
	int rc, has_notes;
	if ((rc = load_file(log, dir, "lineage.jsonl", on_version, &log->has_lineage)) < 0 ||
	    (rc = load_file(log, dir, "attempts.jsonl", on_attempt, &log->has_attempts)) < 0 ||
	    (rc = load_file(log, dir, "notes.jsonl", on_note, &has_notes)) < 0)
		return rc;
	char *path = avo_path_join(dir, "run.json");
	avo_buf b = AVO_BUF_INIT;
	if (!path)
		return avo_oom();
	rc = avo_file_read(&b, path);
	if (rc == 0) {
		cJSON *o = cJSON_ParseWithLengthOpts(b.ptr ? b.ptr : "", b.size, NULL, 0);
		if (cJSON_IsObject(o))
			rc = avo_runrec_run_parse(&log->run, o);
		else {
			char *w = avo_sprintf("%s: not a JSON object; ignored", path);
			rc = w ? avo_runrec_log_warn(log, w) : avo_oom();
			free(w);
		}
		cJSON_Delete(o);
	} else if (rc == AVO_ENOTFOUND)
		rc = 0;
	avo_buf_dispose(&b);
	free(path);
	return rc;
}

void avo_runrec_log_dispose(avo_runrec_log *log)
{
	for (size_t i = 0; i < log->nversions; i++)
		avo_runrec_version_dispose(&log->versions[i]);
	for (size_t i = 0; i < log->nattempts; i++)
		avo_runrec_attempt_dispose(&log->attempts[i]);
	for (size_t i = 0; i < log->nwarnings; i++)
		free(log->warnings[i]);
	for (size_t i = 0; i < log->nnotes; i++)
		free(log->notes[i]);
	free(log->versions), free(log->attempts), free(log->warnings), free(log->notes);
	avo_runrec_run_dispose(&log->run);
	memset(log, 0, sizeof(*log));
	avo_runrec_run_init(&log->run);
}

/* ---- writing ---------------------------------------------------------------------------- */

int avo_runrec_append(const char *path, const cJSON *rec)
{
	char *s = cJSON_PrintUnformatted(rec);
	int rc = 0;
	if (!s)
		return avo_oom();
	size_t len = strlen(s);
	s[len] = '\n'; /* replaces the NUL; the length is tracked explicitly */
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		rc = avo_error_set(AVO_EIO, "%s: %s", path, strerror(errno));
	else {
		ssize_t n = write(fd, s, len + 1);
		if (n != (ssize_t)(len + 1) || fsync(fd) < 0)
			rc = avo_error_set(AVO_EIO, "%s: append failed: %s", path,
					   n >= 0 && n != (ssize_t)(len + 1) ? "short write" : strerror(errno));
		close(fd);
	}
	free(s);
	return rc;
}

int avo_runrec_write_json(const char *path, const cJSON *doc)
{
	char *s = cJSON_Print(doc);
	if (!s)
		return avo_oom();
	size_t n = strlen(s);
	s[n] = '\n';
	int rc = avo_file_write_atomic(path, s, n + 1, 0644);
	free(s);
	return rc;
}
