/* The tuning key (RUNS.md "Tuning key"), built by buildid.c from the one field list, and
 * the best known result for it. */
#include "tunekey.h"
#include "avo_base.h"
#include "buildid.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEGACY_MEMO "tunekey-v1:" /* the protocol-1 key of a key computed here */

int avo_tunekey_compute(char out[AVO_CACHE_HEX], const avo_spec *spec, avo_cache *cache)
{
	char legacy[AVO_CACHE_HEX], mkey[AVO_CACHE_HEX + 16];
	int error = avo_buildid_tune_key(out, legacy, spec, cache);
	if (error == 0) {
		snprintf(mkey, sizeof(mkey), LEGACY_MEMO "%s", out);
		avo_buildid_memo_put(mkey, legacy, strlen(legacy));
	}
	return error;
}

int avo_tunekey_legacy(char out[AVO_CACHE_HEX], const char *key)
{
	char mkey[AVO_CACHE_HEX + 16], *v = NULL;
	snprintf(mkey, sizeof(mkey), LEGACY_MEMO "%s", key);
	if (avo_buildid_memo_get(mkey, &v, NULL) < 0)
		return AVO_ENOTFOUND;
	snprintf(out, AVO_CACHE_HEX, "%s", v);
	free(v);
	return 0;
}

/* ---- the best known result -------------------------------------------------------- */

static int cache_fetch(avo_cache *cache, const char *ns, const char *key, avo_buf *out,
		       int allow_remote, int *from_remote)
{
	int error = avo_cache_get_local(cache, ns, key, out);

	if (error == AVO_ENOTFOUND && allow_remote) {
		avo_error_clear();
		if ((error = avo_cache_get(cache, ns, key, out)) == 0)
			*from_remote = 1;
	}
	return error;
}

int avo_tunekey_best_get(avo_tunekey_best *out, avo_cache *cache, const char *key, int allow_remote)
{
	avo_buf entry = AVO_BUF_INIT;
	cJSON *j = NULL, *v;
	char check[AVO_CACHE_HEX];
	int error;

	if ((error = cache_fetch(cache, "tune", key, &entry, allow_remote, &out->from_remote)) == AVO_ENOTFOUND) {
		/* A result that an older avo published under the protocol-1 key. */
		char legacy[AVO_CACHE_HEX];
		if (avo_tunekey_legacy(legacy, key) == 0) {
			avo_error_clear();
			error = cache_fetch(cache, "tune", legacy, &entry, allow_remote, &out->from_remote);
		}
	}
	if (error < 0)
		goto done;
	out->entry = avo_buf_detach(&entry);
	j = cJSON_ParseWithLength(out->entry, strlen(out->entry));
	v = cJSON_GetObjectItemCaseSensitive(j, "variant");
	if (!cJSON_IsString(v) || strlen(v->valuestring) != AVO_CACHE_HEX - 1) {
		error = avo_error_set(AVO_ENOTFOUND, "the tune entry %.12s.. names no variant", key);
		goto done;
	}
	memcpy(out->variant, v->valuestring, AVO_CACHE_HEX);
	if ((error = cache_fetch(cache, "obj", out->variant, &out->source, allow_remote,
				 &out->from_remote)) < 0) {
		error = avo_error_set(AVO_ENOTFOUND,
				      "the tune entry %.12s.. names variant %.12s.., which is not in the cache",
				      key, out->variant);
		goto done;
	}
	/* The cache checks its own entry hash; this checks the entry is the object it names. */
	avo_cache_hash_hex(check, out->source.ptr ? out->source.ptr : "", out->source.size);
	if (strcmp(check, out->variant)) {
		error = avo_error_set(AVO_ENOTFOUND, "variant %.12s.. in the cache does not hash to its name",
				      out->variant);
		goto done;
	}
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(j, "fitness")))
		out->fitness = v->valuedouble;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(j, "baseline_fitness")))
		out->baseline_fitness = v->valuedouble;
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, "objective")))
		out->objective = avo_strdup(v->valuestring);
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, "gpu")))
		out->gpu = avo_strdup(v->valuestring);
	avo_runrec_tune te;
	if (avo_runrec_tune_parse(&te, j) == 0)
		out->speedup = te.speedup;
	avo_runrec_tune_dispose(&te);

done:
	cJSON_Delete(j);
	avo_buf_dispose(&entry);
	return error;
}

void avo_tunekey_best_dispose(avo_tunekey_best *b)
{
	avo_buf_dispose(&b->source);
	free(b->entry);
	free(b->objective);
	free(b->gpu);
	b->entry = b->objective = b->gpu = NULL;
}
