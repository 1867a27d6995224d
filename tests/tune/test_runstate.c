/* Proves the run state survives a kill: a torn last line is dropped (and the file repaired)
 * when the run is opened again, complete records are kept, and a fresh start refuses to
 * clobber an existing run. */
#include "runstate.h"
#include "avo_base.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

static cJSON *rec(int n, double elapsed)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddNumberToObject(r, "n", n);
	cJSON_AddNumberToObject(r, "elapsed_s", elapsed);
	cJSON_AddStringToObject(r, "note", "a \"quoted\"\nnote");
	return r;
}

int main(void)
{
	char *dir = NULL;
	CHECK(avo_mkdtemp(&dir, "/tmp", "avo-test-run") == 0);
	avo_runstate *rs = NULL;
	CHECK(avo_runstate_open(&rs, dir, 1) == 0);
	CHECK(avo_runstate_add_attempt(rs, rec(1, 1.5)) == 0);
	CHECK(avo_runstate_add_attempt(rs, rec(2, 7.25)) == 0);
	CHECK(avo_runstate_add_version(rs, rec(0, 1.5)) == 0);
	CHECK(avo_runstate_save(rs) == 0);
	avo_runstate_free(rs);

	/* Simulate a kill in the middle of the third append. */
	char *ap = avo_path_join(dir, "attempts.jsonl");
	int fd = open(ap, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, "{\"n\":3,\"elap", 12) == 12);
	close(fd);

	CHECK(avo_runstate_open(&rs, dir, 1) == AVO_EINVALID); /* a run exists */
	CHECK(strstr(avo_error_last(), "--resume") != NULL);
	CHECK(avo_runstate_open(&rs, dir, 0) == 0);
	CHECK(rs->dropped_lines == 1);
	CHECK(cJSON_GetArraySize(rs->attempts) == 2);
	CHECK(cJSON_GetArraySize(rs->lineage) == 1);
	CHECK(rs->elapsed_before >= 7.25);
	const cJSON *note = cJSON_GetObjectItem(cJSON_GetArrayItem(rs->attempts, 0), "note");
	CHECK(cJSON_IsString(note) && !strcmp(note->valuestring, "a \"quoted\"\nnote"));
	/* The repaired file ends on a complete line, so the next append is a clean record. */
	CHECK(avo_runstate_add_attempt(rs, rec(3, 9)) == 0);
	avo_runstate_free(rs);
	cJSON *arr = NULL;
	int dropped = -1;
	CHECK(avo_runstate_read_jsonl(&arr, ap, &dropped) == 0);
	CHECK(dropped == 0 && cJSON_GetArraySize(arr) == 3);
	cJSON_Delete(arr);

	avo_rm_rf(dir);
	free(ap);
	free(dir);
	return failures ? 1 : 0;
}
