/* avo export SPEC [--dir DIR]: write the best tuned variant and its manifest for shipping.
 *
 *   <DIR>/<arch or "cpu">/<kernel file name>            the variant
 *   <DIR>/<arch or "cpu">/<kernel file name>.avo.json   its manifest
 *
 * `avo apply` uses the file only while the manifest's original_hash and arch match the
 * kernel being built, so a shipped file never outlives the source it was tuned from. */
#include "cli.h"
#include "avo_base.h"
#include "avo_cache.h"
#include "runrec.h"
#include "spec.h"
#include "tunekey.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: avo export SPEC [--dir SHIPPED_DIR] [--json] [--no-remote]\n\n"
		"Write the best tuned variant of SPEC's kernel (from the local, then the remote\n"
		"cache) to <SHIPPED_DIR>/<arch or cpu>/<kernel file name>, with a manifest\n"
		"<kernel file name>.avo.json: tuning key, original hash, variant hash, scores per\n"
		"config, fitness, GPU, date and avo version. Commit both; 'avo apply' (and so\n"
		"avo_tune() builds) use the file while it matches the kernel and arch.\n\n"
		"options:\n"
		"  --dir DIR     where to write (default: the spec's \"shipped_dir\")\n"
		"  --json        print the written paths as JSON\n"
		"  --no-remote   do not ask the remote cache\n\n"
		"exit status 1 when there is no tuned result for the spec.\n");
}

/* The manifest from the tune entry (both are run records: engine/runrec.h). */
static cJSON *manifest(const avo_spec *spec, const avo_tunekey_best *best, const char *key,
		       const char *orig_hash, const char *arch)
{
	avo_runrec_tune e;
	avo_runrec_manifest m;
	char date[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON *entry = cJSON_Parse(best->entry);
	avo_runrec_tune_parse(&e, entry);
	cJSON_Delete(entry);
	avo_runrec_manifest_init(&m);
	m.kernel = avo_strdup(avo_path_basename(spec->kernel));
	m.arch = avo_strdup(arch);
	m.tuning_key = avo_strdup(key);
	m.original_hash = avo_strdup(orig_hash);
	m.variant_hash = avo_strdup(best->variant);
	m.objective = avo_strdup(best->objective ? best->objective : spec->objective);
	m.fitness = best->fitness;
	m.baseline_fitness = best->baseline_fitness;
	m.s = e.s, e.s = (avo_runrec_scores){0};
	m.gpu = avo_strdup(best->gpu);
	m.tuned_time = e.time;
	m.speedup = e.speedup;
	m.guard = e.guard, e.guard = (avo_runrec_guard){0};
	m.date = avo_strdup(date);
	m.avo_version = avo_strdup(AVO_VERSION_STRING);
	cJSON *j = avo_runrec_manifest_json(&m);
	avo_runrec_manifest_dispose(&m);
	avo_runrec_tune_dispose(&e);
	return j;
}

int avo_cmd_export(int argc, char **argv)
{
	const char *spec_path = NULL, *dir = NULL;
	int json = 0, no_remote = 0, error;
	avo_spec *spec = NULL;
	avo_cache *cache = NULL;
	avo_cache_options co = AVO_CACHE_OPTIONS_INIT;
	avo_tunekey_best best = AVO_TUNEKEY_BEST_INIT;
	avo_buf orig = AVO_BUF_INIT;
	char key[AVO_CACHE_HEX], orig_hash[AVO_CACHE_HEX];
	char *adir = NULL, *file = NULL, *mfile = NULL;
	const char *arch;
	cJSON *m = NULL;

	for (int i = 1; i < argc; i++) {
		if (avo_cli_is_help(argv[i])) {
			usage(stdout);
			return AVO_EXIT_OK;
		} else if (!strcmp(argv[i], "--dir")) {
			if (i + 1 == argc) {
				fprintf(stderr, "avo: export: --dir needs a value\n");
				return AVO_EXIT_USAGE;
			}
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--no-remote")) {
			no_remote = 1;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "avo: export: unknown option '%s' (see 'avo export --help')\n", argv[i]);
			return AVO_EXIT_USAGE;
		} else if (!spec_path) {
			spec_path = argv[i];
		} else {
			fprintf(stderr, "avo: export: unexpected argument '%s'\n", argv[i]);
			return AVO_EXIT_USAGE;
		}
	}
	if (!spec_path) {
		usage(stderr);
		return AVO_EXIT_USAGE;
	}

	if ((error = avo_spec_load(&spec, spec_path)) < 0)
		goto fail;
	if (!dir && !(dir = spec->shipped_dir)) {
		fprintf(stderr, "avo: export: %s has no \"shipped_dir\"; name one with --dir\n", spec_path);
		error = AVO_EXIT_USAGE;
		goto cleanup;
	}
	if (no_remote)
		co.remote_url = "";
	if ((error = avo_cache_open(&cache, &co)) < 0 ||
	    (error = avo_file_read(&orig, spec->kernel)) < 0 ||
	    (error = avo_tunekey_compute(key, spec, cache)) < 0)
		goto fail;
	avo_cache_hash_hex(orig_hash, avo_buf_cstr(&orig), orig.size);

	if ((error = avo_tunekey_best_get(&best, cache, key, !no_remote)) < 0) {
		if (best.entry)
			fprintf(stderr, "avo: export: %s\n", avo_error_last());
		fprintf(stderr,
			"avo: export: no tuned result for %s (tuning key %s); run 'avo tune %s' first\n",
			avo_path_basename(spec->kernel), key, spec_path);
		error = AVO_EXIT_FAIL;
		goto cleanup;
	}

	arch = spec->arch && *spec->arch ? spec->arch : "cpu";
	adir = avo_sprintf("%s/%s", dir, arch);
	file = avo_sprintf("%s/%s", adir ? adir : "", avo_path_basename(spec->kernel));
	mfile = avo_sprintf("%s.avo.json", file ? file : "");
	m = manifest(spec, &best, key, orig_hash, arch);
	if (!adir || !file || !mfile || !m) {
		error = avo_oom();
		goto fail;
	}
	if (avo_path_exists(file) && !strcmp(file, spec->kernel)) {
		error = avo_error_set(AVO_EINVALID, "export: refusing to write over the kernel %s", file);
		goto fail;
	}
	/* The variant first, the manifest last: a manifest never names a file not yet there. */
	if ((error = avo_mkdir_p(adir, 0755)) < 0 ||
	    (error = avo_file_write_atomic(file, avo_buf_cstr(&best.source), best.source.size, 0644)) < 0)
		goto fail;
	if ((error = avo_runrec_write_json(mfile, m)) < 0)
		goto fail;

	if (json) {
		cJSON *j = cJSON_CreateObject();
		char *t;
		cJSON_AddStringToObject(j, "file", file);
		cJSON_AddStringToObject(j, "manifest", mfile);
		cJSON_AddStringToObject(j, "variant", best.variant);
		cJSON_AddStringToObject(j, "tuning_key", key);
		if ((t = cJSON_PrintUnformatted(j)))
			printf("%s\n", t);
		free(t);
		cJSON_Delete(j);
	} else {
		avo_runrec_manifest mm;
		char sp[96] = "";
		avo_runrec_manifest_parse(&mm, m);
		if (avo_runrec_interval_known(&mm.speedup)) {
			char iv[64];
			snprintf(sp, sizeof(sp), ", speedup %s", avo_runrec_interval_text(iv, sizeof(iv), &mm.speedup));
		}
		avo_runrec_manifest_dispose(&mm);
		printf("avo: %s: exported variant %.12s.. to %s (manifest %s%s)\n",
		       avo_path_basename(spec->kernel), best.variant, file, avo_path_basename(mfile), sp);
	}
	error = AVO_EXIT_OK;
	goto cleanup;

fail:
	error = avo_cli_fail(error);
cleanup:
	cJSON_Delete(m);
	free(adir);
	free(file);
	free(mfile);
	avo_tunekey_best_dispose(&best);
	avo_buf_dispose(&orig);
	avo_cache_free(cache);
	avo_spec_free(spec);
	return error;
}
