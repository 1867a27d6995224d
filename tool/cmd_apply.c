/* avo apply SPEC -o OUT: write the best known variant of a spec's kernel to OUT.
 *
 * Runs in every build that uses avo_tune(), so it must stay in milliseconds: no libclang,
 * no compiler spawn on a warm cache (the compiler identity is remembered), no network when
 * the local cache answers. Sources, in order: a shipped tuned file whose manifest matches
 * the current original and arch, the local cache, the remote cache, the original. */
#include "cli.h"
#include "apply_check.h"
#include "avo_base.h"
#include "avo_cache.h"
#include "spec.h"
#include "tunekey.h"
#include "runrec.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: avo apply SPEC -o OUT [--json] [--no-remote] [--quiet] [--depfile FILE] [--touch]\n\n"
		"Write the best known variant of SPEC's kernel to OUT, taken from (in order):\n"
		"  1. a shipped tuned file <shipped_dir>/<arch or cpu>/<kernel> whose manifest\n"
		"     matches the current kernel and arch (see 'avo export'),\n"
		"  2. the local cache (the tuning key's \"tune\" entry and its variant),\n"
		"  3. the remote cache ($AVO_CACHE_REMOTE),\n"
		"  4. otherwise the original kernel.\n"
		"Prints one status line saying which. OUT is written atomically and only when its\n"
		"content changes (its mtime stays put otherwise). OUT may not be the kernel itself.\n\n"
		"options:\n"
		"  -o, --output OUT  the file to write (required)\n"
		"  --json            print the outcome as one JSON object instead of the status line\n"
		"  --no-remote       do not ask the remote cache\n"
		"  --quiet           no status line (warnings still go to stderr)\n"
		"  --depfile FILE    write a make-style depfile naming the shipped file and the cache\n"
		"                    directory consulted, so a new tuned result re-runs apply\n"
		"  --touch           update OUT's mtime even when its content is unchanged (for\n"
		"                    build tools without ninja's restat)\n");
}

typedef enum { SRC_ORIGINAL, SRC_SHIPPED, SRC_LOCAL, SRC_REMOTE } source_kind;

static const char *const source_names[] = {"original", "shipped", "local", "remote"};

typedef struct {
	source_kind kind;
	char key[AVO_CACHE_HEX];
	char variant[AVO_CACHE_HEX];
	double fitness, baseline_fitness;
	avo_runrec_interval speedup;  /* measured by the tune run's final measurement */
	char *objective;    /* owned */
	char *shipped_path; /* owned */
	avo_buf text;       /* what goes to OUT */
	int written;        /* OUT changed */
} outcome;

/* OUT names the kernel (or the harness) itself: refuse, whatever the spelling. */
static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static char *json_str(cJSON *j, const char *name)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double json_num(cJSON *j, const char *name)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A shipped file is used only when its manifest was made from this very original, for
 * this arch, and the file is still the variant the manifest names. Anything else is stale:
 * one warning, then ignored. Returns 1 when `o` was filled. */
static int try_shipped(outcome *o, const avo_spec *spec, const char *orig_hash)
{
	const char *arch = spec->arch && *spec->arch ? spec->arch : "cpu";
	const char *name = avo_path_basename(spec->kernel);
	char *path = avo_sprintf("%s/%s/%s", spec->shipped_dir, arch, name);
	char *mpath = avo_sprintf("%s.avo.json", path ? path : "");
	avo_buf file = AVO_BUF_INIT, man = AVO_BUF_INIT;
	char hash[AVO_CACHE_HEX];
	const char *why = NULL, *s;
	cJSON *j = NULL;
	int used = 0;

	if (!path || !mpath || !avo_path_exists(path))
		goto done;
	if (avo_file_read(&file, path) < 0) {
		why = "it cannot be read";
		goto done;
	}
	if (avo_file_read(&man, mpath) < 0) {
		why = "its manifest (.avo.json) is missing";
		goto done;
	}
	if (!(j = cJSON_ParseWithLength(avo_buf_cstr(&man), man.size))) {
		why = "its manifest is not valid JSON";
		goto done;
	}
	if (!(s = json_str(j, "original_hash")) || strcmp(s, orig_hash)) {
		why = "it was tuned for another version of the kernel";
		goto done;
	}
	if (!(s = json_str(j, "arch")) || strcmp(s, arch)) {
		why = "it was tuned for another arch";
		goto done;
	}
	avo_cache_hash_hex(hash, avo_buf_cstr(&file), file.size);
	if (!(s = json_str(j, "variant_hash")) || strcmp(s, hash)) {
		why = "it was edited after export (its hash is not the manifest's variant_hash)";
		goto done;
	}
	o->kind = SRC_SHIPPED;
	memcpy(o->variant, hash, AVO_CACHE_HEX);
	if ((s = json_str(j, "tuning_key")) && strlen(s) == AVO_CACHE_HEX - 1)
		memcpy(o->key, s, AVO_CACHE_HEX);
	o->fitness = json_num(j, "fitness");
	o->baseline_fitness = json_num(j, "baseline_fitness");
	avo_runrec_manifest mm;
	if (avo_runrec_manifest_parse(&mm, j) == 0)
		o->speedup = mm.speedup;
	avo_runrec_manifest_dispose(&mm);
	o->objective = avo_strdup(json_str(j, "objective"));
	o->shipped_path = path;
	path = NULL;
	avo_buf_clear(&o->text);
	avo_buf_put(&o->text, avo_buf_cstr(&file), file.size);
	used = 1;

done:
	if (why)
		fprintf(stderr, "avo: warning: %s: ignoring the shipped file: %s\n", path, why);
	cJSON_Delete(j);
	avo_buf_dispose(&file);
	avo_buf_dispose(&man);
	free(path);
	free(mpath);
	return used;
}

/* Only when the content changes, so an unchanged result leaves OUT's mtime (and whatever
 * was compiled from it) alone. */
static int write_if_changed(const char *out, const avo_buf *text, int touch, int *written)
{
	avo_buf old = AVO_BUF_INIT;
	char *dir;
	int error = 0;

	*written = 0;
	if (avo_file_read(&old, out) == 0 && old.size == text->size &&
	    (text->size == 0 || !memcmp(old.ptr, text->ptr, text->size))) {
		avo_buf_dispose(&old);
		if (touch && utimensat(AT_FDCWD, out, NULL, 0) < 0)
			return avo_error_set(AVO_EIO, "%s: cannot update its mtime", out);
		return 0;
	}
	avo_buf_dispose(&old);
	avo_error_clear();
	dir = avo_path_dirname(out);
	if (dir && (error = avo_mkdir_p(dir, 0755)) == 0)
		error = avo_file_write_atomic(out, avo_buf_cstr(text), text->size, 0644);
	free(dir);
	if (error == 0)
		*written = 1;
	return error;
}

static void depfile_add(avo_buf *b, const char *path)
{
	avo_buf_puts(b, " \\\n  ");
	for (const char *p = path; *p; p++) {
		if (*p == ' ' || *p == '#' || *p == '\\')
			avo_buf_put(b, "\\", 1);
		if (*p == '$')
			avo_buf_put(b, "$", 1);
		avo_buf_put(b, p, 1);
	}
}

/* The deepest existing directory of <dir>/tune/<shard>: its mtime changes when a tuned
 * result for this key (or a neighbour) lands, which re-runs apply. */
static void depfile_cache(avo_buf *b, const char *cache_dir, const char *key)
{
	char *cands[3];

	if (!cache_dir || !*key)
		return;
	(void)avo_mkdir_p(cache_dir, 0755); /* so the depfile has something stable to name */
	avo_error_clear();
	cands[0] = avo_sprintf("%s/tune/%.2s", cache_dir, key);
	cands[1] = avo_sprintf("%s/tune", cache_dir);
	cands[2] = avo_strdup(cache_dir);
	for (int i = 0; i < 3; i++)
		if (cands[i] && avo_path_exists(cands[i])) {
			depfile_add(b, cands[i]);
			break;
		}
	for (int i = 0; i < 3; i++)
		free(cands[i]);
}

/* Built before OUT is written: it may create the cache directory, which must not end up
 * newer than OUT (make would re-run apply on the next build). */
static void depfile_text(avo_buf *b, const char *out, const avo_spec *spec,
			 const char *cache_dir, const char *key)
{
	avo_buf_puts(b, "");
	for (const char *p = out; *p; p++) {
		if (*p == ' ' || *p == ':')
			avo_buf_put(b, "\\", 1);
		avo_buf_put(b, p, 1);
	}
	avo_buf_puts(b, ":");
	if (spec->shipped_dir) {
		/* The files when they exist, and the deepest existing directory on the way to
		 * them, whose mtime changes when `avo export` creates what is missing. */
		const char *arch = spec->arch && *spec->arch ? spec->arch : "cpu";
		char *d = avo_sprintf("%s/%s", spec->shipped_dir, arch);
		char *f = avo_sprintf("%s/%s", d, avo_path_basename(spec->kernel));
		char *m = avo_sprintf("%s.avo.json", f);
		char *parent = avo_path_dirname(spec->shipped_dir);
		if (f && avo_path_exists(f))
			depfile_add(b, f);
		if (m && avo_path_exists(m))
			depfile_add(b, m);
		if (d && avo_path_exists(d))
			depfile_add(b, d);
		else if (avo_path_exists(spec->shipped_dir))
			depfile_add(b, spec->shipped_dir);
		else if (parent && avo_path_exists(parent))
			depfile_add(b, parent);
		free(d), free(f), free(m), free(parent);
	}
	depfile_cache(b, cache_dir, key);
	avo_buf_puts(b, "\n");
}

static void print_status(const outcome *o, const avo_spec *spec)
{
	const char *name = avo_path_basename(spec->kernel);
	const char *obj = o->objective ? o->objective : spec->objective;
	avo_buf b = AVO_BUF_INIT;

	if (o->kind == SRC_ORIGINAL) {
		if (*o->key)
			printf("avo: %s: no tuned variant for key %.12s..; using the original\n", name, o->key);
		else
			printf("avo: %s: no tuned variant known; using the original\n", name);
		return;
	}
	if (o->fitness > 0) {
		if (obj && !strcmp(obj, "tflops"))
			avo_buf_printf(&b, "fitness %.4g tflops", o->fitness);
		else
			avo_buf_printf(&b, "%.4g ms geomean", 1.0 / o->fitness);
		char iv[96];
		if (avo_runrec_interval_known(&o->speedup)) /* measured, with its interval */
			avo_buf_printf(&b, ", %s the original", avo_runrec_interval_text(iv, sizeof(iv), &o->speedup));
		else if (o->baseline_fitness > 0)
			avo_buf_printf(&b, ", %.2fx baseline", o->fitness / o->baseline_fitness);
	}
	if (o->kind == SRC_SHIPPED)
		printf("avo: %s: using shipped tuned file %s (variant %.12s..%s%s)\n", name,
		       o->shipped_path, o->variant, b.size ? ", " : "", avo_buf_cstr(&b));
	else
		printf("avo: %s: using tuned variant %.12s.. from %s cache%s%s%s\n", name, o->variant,
		       o->kind == SRC_LOCAL ? "local" : "remote", b.size ? " (" : "",
		       avo_buf_cstr(&b), b.size ? ")" : "");
	avo_buf_dispose(&b);
}

static void print_json(const outcome *o, const avo_spec *spec, const char *out)
{
	cJSON *j = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(j, "kernel", avo_path_basename(spec->kernel));
	cJSON_AddStringToObject(j, "source", source_names[o->kind]);
	if (*o->key)
		cJSON_AddStringToObject(j, "tuning_key", o->key);
	else
		cJSON_AddNullToObject(j, "tuning_key");
	if (*o->variant)
		cJSON_AddStringToObject(j, "variant", o->variant);
	else
		cJSON_AddNullToObject(j, "variant");
	if (o->fitness > 0)
		cJSON_AddNumberToObject(j, "fitness", o->fitness);
	if (o->baseline_fitness > 0)
		cJSON_AddNumberToObject(j, "baseline_fitness", o->baseline_fitness);
	if (o->objective)
		cJSON_AddStringToObject(j, "objective", o->objective);
	if (o->shipped_path)
		cJSON_AddStringToObject(j, "shipped_file", o->shipped_path);
	cJSON_AddStringToObject(j, "out", out);
	cJSON_AddBoolToObject(j, "written", o->written);
	text = cJSON_PrintUnformatted(j);
	if (text)
		printf("%s\n", text);
	free(text);
	cJSON_Delete(j);
}

int avo_cmd_apply(int argc, char **argv)
{
	const char *spec_path = NULL, *out = NULL, *depfile = NULL;
	int json = 0, no_remote = 0, quiet = 0, touch = 0, error = 0;
	avo_spec *spec = NULL;
	avo_cache *cache = NULL;
	avo_buf orig = AVO_BUF_INIT, dep = AVO_BUF_INIT;
	char orig_hash[AVO_CACHE_HEX];
	outcome o = {0};
	o.speedup = (avo_runrec_interval)AVO_RUNREC_INTERVAL_NONE;

	for (int i = 1; i < argc; i++) {
		if (avo_cli_is_help(argv[i])) {
			usage(stdout);
			return AVO_EXIT_OK;
		} else if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output") ||
			   !strcmp(argv[i], "--depfile")) {
			if (i + 1 == argc) {
				fprintf(stderr, "avo: apply: %s needs a value\n", argv[i]);
				return AVO_EXIT_USAGE;
			}
			if (!strcmp(argv[i], "--depfile"))
				depfile = argv[++i];
			else
				out = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--no-remote")) {
			no_remote = 1;
		} else if (!strcmp(argv[i], "--quiet")) {
			quiet = 1;
		} else if (!strcmp(argv[i], "--touch")) {
			touch = 1;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "avo: apply: unknown option '%s' (see 'avo apply --help')\n", argv[i]);
			return AVO_EXIT_USAGE;
		} else if (!spec_path) {
			spec_path = argv[i];
		} else {
			fprintf(stderr, "avo: apply: unexpected argument '%s'\n", argv[i]);
			return AVO_EXIT_USAGE;
		}
	}
	if (!spec_path || !out) {
		usage(stderr);
		return AVO_EXIT_USAGE;
	}

	if ((error = avo_spec_load(&spec, spec_path)) < 0)
		goto fail;
	if (same_file(out, spec->kernel) || same_file(out, spec->harness) || same_file(out, spec_path)) {
		error = avo_error_set(AVO_EINVALID, "apply: refusing to write over %s (the output must be a generated file, not an input)", out);
		goto fail;
	}
	if ((error = avo_file_read(&orig, spec->kernel)) < 0)
		goto fail;
	avo_cache_hash_hex(orig_hash, avo_buf_cstr(&orig), orig.size);

	if (!(spec->shipped_dir && try_shipped(&o, spec, orig_hash))) {
		avo_cache_options co = AVO_CACHE_OPTIONS_INIT;
		avo_tunekey_best best = AVO_TUNEKEY_BEST_INIT;

		if (no_remote)
			co.remote_url = "";
		if ((error = avo_cache_open(&cache, &co)) < 0)
			goto fail;
		if (avo_tunekey_compute(o.key, spec, cache) < 0) {
			/* A build must still build: warn and fall back to the original. */
			fprintf(stderr, "avo: warning: %s: cannot compute the tuning key: %s\n",
				avo_path_basename(spec->kernel), avo_error_last());
			o.key[0] = '\0';
		} else if (avo_tunekey_best_get(&best, cache, o.key, !no_remote) == 0) {
			o.kind = best.from_remote ? SRC_REMOTE : SRC_LOCAL;
			memcpy(o.variant, best.variant, AVO_CACHE_HEX);
			o.fitness = best.fitness;
			o.baseline_fitness = best.baseline_fitness;
			o.speedup = best.speedup;
			o.objective = best.objective;
			best.objective = NULL;
			avo_buf_put(&o.text, avo_buf_cstr(&best.source), best.source.size);
		} else if (best.entry) {
			fprintf(stderr, "avo: warning: %s\n", avo_error_last());
		}
		avo_tunekey_best_dispose(&best);
		avo_error_clear();
	}
	/* Whatever the cache or a shipped file holds, only an edit of this kernel is written. */
	if (o.kind != SRC_ORIGINAL &&
	    avo_apply_check_edit(spec->kernel, avo_buf_cstr(&orig), orig.size, avo_buf_cstr(&o.text), o.text.size) < 0) {
		fprintf(stderr, "avo: error: refusing the %s variant %.12s..: it is not an edit of %s: %s; "
			"writing the original\n", source_names[o.kind], o.variant, spec->kernel, avo_error_last());
		o.kind = SRC_ORIGINAL;
		o.fitness = o.baseline_fitness = 0;
	}
	if (o.kind == SRC_ORIGINAL) {
		avo_buf_clear(&o.text);
		avo_buf_put(&o.text, avo_buf_cstr(&orig), orig.size);
	}

	if (depfile)
		depfile_text(&dep, out, spec, cache ? avo_cache_dir(cache) : NULL, o.key);
	if ((error = write_if_changed(out, &o.text, touch, &o.written)) < 0)
		goto fail;
	if (depfile && (error = avo_file_write_atomic(depfile, dep.ptr, dep.size, 0644)) < 0)
		goto fail;
	if (json)
		print_json(&o, spec, out);
	else if (!quiet)
		print_status(&o, spec);
	fflush(stdout);
	goto done;

fail:
	error = avo_cli_fail(error);
	goto cleanup;
done:
	error = AVO_EXIT_OK;
cleanup:
	free(o.objective);
	free(o.shipped_path);
	avo_buf_dispose(&o.text);
	avo_buf_dispose(&orig);
	avo_buf_dispose(&dep);
	avo_cache_free(cache);
	avo_spec_free(spec);
	return error;
}
