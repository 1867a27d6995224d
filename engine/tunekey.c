/* The tuning key (RUNS.md "Tuning key"). No libclang, no timestamps, no absolute paths:
 * paths that enter the key are rewritten relative to named roots (the spec's directory,
 * the kernel's directory, and the "_key_roots" a generated spec carries), so the same
 * project built in another directory or on another machine gets the same key. */
#include "tunekey.h"
#include "avo_base.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TUNEKEY_PROTOCOL "1"
#define COMPILER_NS "compiler" /* local-only namespace for compiler identities */

/* ---- compiler identity ------------------------------------------------------------ */

/* The compiler's file: `compiler` itself when it has a slash, else the first match in
 * $PATH, then symlinks resolved (so /usr/bin/cc and gcc-12 share one entry). */
static char *resolve_compiler(const char *compiler)
{
	char *found = NULL, *real;

	if (strchr(compiler, '/')) {
		found = avo_strdup(compiler);
	} else {
		const char *path = getenv("PATH");
		char *copy = avo_strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
			char *p = avo_path_join(*d ? d : ".", compiler);
			if (p && access(p, X_OK) == 0) {
				found = p;
				break;
			}
			free(p);
		}
		free(copy);
	}
	if (!found)
		return NULL;
	real = realpath(found, NULL);
	if (real) {
		free(found);
		return real;
	}
	return found;
}

/* "nvcc 13.0.88" from nvcc's banner, whose first line names no version; else line one. */
static char *identity_from_version(const char *text)
{
	const char *eol = strchr(text, '\n');
	size_t len = eol ? (size_t)(eol - text) : strlen(text);

	if (strstr(text, "Cuda compiler driver")) {
		const char *v = strstr(text, ", V");
		if (v) {
			size_t n = strcspn(v + 3, " \r\n");
			return avo_sprintf("nvcc %.*s", (int)n, v + 3);
		}
	}
	while (len && (text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	return avo_strndup(text, len);
}

static int run_version(char **out, const char *compiler)
{
	const char *argv[] = {compiler, "--version", NULL};
	avo_proc_options o = {0};
	avo_proc_result r;
	int error;

	o.argv = argv;
	o.timeout_s = 60;
	o.scrub_secrets = 1;
	if ((error = avo_proc_run(&r, &o)) < 0) {
		avo_proc_result_dispose(&r);
		return avo_error_wrap(error, "compiler '%s'", compiler);
	}
	if (!r.exited || r.exit_code != 0 || r.out.size == 0) {
		char *how = avo_proc_describe(&r, o.timeout_s);
		error = avo_error_set(AVO_EIO, "'%s --version' failed (%s)", compiler, how ? how : "?");
		free(how);
		avo_proc_result_dispose(&r);
		return error;
	}
	*out = identity_from_version(avo_buf_cstr(&r.out));
	avo_proc_result_dispose(&r);
	return *out ? 0 : avo_error_set(AVO_ERROR, "out of memory");
}

int avo_tunekey_compiler_identity(char **out, const char *compiler, avo_cache *cache)
{
	char *resolved = NULL, key[AVO_CACHE_HEX];
	avo_cache *local = NULL;
	avo_cache_key *k;
	avo_buf b = AVO_BUF_INIT;
	struct stat st;
	int error;

	*out = NULL;
	if (!compiler || !*compiler)
		return avo_error_set(AVO_EINVALID, "no compiler named");
	resolved = resolve_compiler(compiler);
	if (!resolved || stat(resolved, &st) < 0) {
		free(resolved);
		return avo_error_set(AVO_ENOTFOUND, "compiler '%s' not found", compiler);
	}
	if (!cache) {
		error = run_version(out, resolved);
		free(resolved);
		return error;
	}

	/* A local-only handle on the same directory: this entry is about this machine's
	 * files, so it must never travel to the remote. */
	avo_cache_options o = AVO_CACHE_OPTIONS_INIT;
	o.dir = avo_cache_dir(cache);
	o.remote_url = "";
	o.quiet = 1;
	if ((error = avo_cache_open(&local, &o)) < 0)
		goto done;

	if ((error = avo_cache_key_new(&k, "compiler")) < 0)
		goto done;
	avo_cache_key_adds(k, "path", resolved);
	avo_cache_key_add(k, "size", &st.st_size, sizeof(st.st_size));
	avo_cache_key_add(k, "mtime_s", &st.st_mtim.tv_sec, sizeof(st.st_mtim.tv_sec));
	avo_cache_key_add(k, "mtime_ns", &st.st_mtim.tv_nsec, sizeof(st.st_mtim.tv_nsec));
	avo_cache_key_final(k, key);

	if (avo_cache_get_local(local, COMPILER_NS, key, &b) == 0 && b.size > 0) {
		*out = avo_strndup(b.ptr, b.size);
		error = *out ? 0 : avo_error_set(AVO_ERROR, "out of memory");
		goto done;
	}
	avo_error_clear();
	if ((error = run_version(out, resolved)) < 0)
		goto done;
	/* Failing to remember it only costs the next build a compiler spawn. */
	if (avo_cache_put(local, COMPILER_NS, key, *out, strlen(*out)) < 0)
		avo_error_clear();

done:
	avo_buf_dispose(&b);
	avo_cache_free(local);
	free(resolved);
	return error;
}

/* ---- path roots ------------------------------------------------------------------- */

typedef struct {
	const char *label;
	char *dir; /* owned, no trailing slash */
} root;

#define MAX_ROOTS 8

typedef struct {
	root r[MAX_ROOTS];
	size_t n;
} roots;

static void roots_add(roots *rs, const char *label, const char *dir)
{
	size_t len;

	if (!dir || dir[0] != '/' || rs->n == MAX_ROOTS)
		return;
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len <= 1) /* "/" would swallow every path */
		return;
	rs->r[rs->n].label = label;
	rs->r[rs->n].dir = avo_strndup(dir, len);
	if (rs->r[rs->n].dir)
		rs->n++;
}

static void roots_dispose(roots *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->r[i].dir);
}

/* Replace every occurrence of a root (followed by '/' or the end of a path) with its label,
 * longest root first, so "-I/src/proj/include" keys as "-I@source/include". */
static char *relativize(const roots *rs, const char *s)
{
	avo_buf b = AVO_BUF_INIT;
	const char *p = s;

	if (!s)
		return avo_strdup("");
	while (*p) {
		const root *best = NULL;
		size_t best_len = 0;
		if (*p == '/') {
			for (size_t i = 0; i < rs->n; i++) {
				size_t len = strlen(rs->r[i].dir);
				if (len > best_len && !strncmp(p, rs->r[i].dir, len) &&
				    (p[len] == '/' || p[len] == '\0' || p[len] == ' ' || p[len] == ':')) {
					best = &rs->r[i];
					best_len = len;
				}
			}
		}
		if (best) {
			avo_buf_printf(&b, "@%s", best->label);
			p += best_len;
		} else {
			avo_buf_put(&b, p, 1);
			p++;
		}
	}
	return avo_buf_detach(&b);
}

/* "_key_roots": {"source": "/abs", "build": "/abs"} in a spec written by avo_tune() (the
 * leading "_" keeps the spec loader from warning about a field it does not know). */
static void roots_from_json(roots *rs, const char *json)
{
	static const char *const names[] = {"source", "build", "project_source", "project_build"};
	cJSON *j, *kr;

	if (!json || !(j = cJSON_Parse(json)))
		return;
	kr = cJSON_GetObjectItemCaseSensitive(j, "_key_roots");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cJSON *v = cJSON_GetObjectItemCaseSensitive(kr, names[i]);
		if (cJSON_IsString(v))
			roots_add(rs, names[i], v->valuestring);
	}
	cJSON_Delete(j);
}

/* ---- the key ---------------------------------------------------------------------- */

static void add_list(avo_cache_key *k, const roots *rs, const char *field, char **v, size_t n)
{
	char count[32];

	snprintf(count, sizeof(count), "%zu", n);
	avo_cache_key_adds(k, field, count);
	for (size_t i = 0; i < n; i++) {
		char *rel = relativize(rs, v[i]);
		avo_cache_key_adds(k, field, rel ? rel : v[i]);
		free(rel);
	}
}

int avo_tunekey_compute(char out[AVO_CACHE_HEX], const avo_spec *spec, avo_cache *cache)
{
	avo_buf kernel = AVO_BUF_INIT, harness = AVO_BUF_INIT;
	char *compiler_id = NULL, *kdir = NULL, count[32];
	avo_cache_key *k = NULL;
	roots rs = {0};
	int error;

	out[0] = '\0';
	if ((error = avo_file_read(&kernel, spec->kernel)) < 0 ||
	    (error = avo_file_read(&harness, spec->harness)) < 0 ||
	    (error = avo_tunekey_compiler_identity(&compiler_id, spec->compiler, cache)) < 0)
		goto done;

	roots_from_json(&rs, spec->json);
	roots_add(&rs, "spec", spec->dir);
	kdir = avo_path_dirname(spec->kernel);
	roots_add(&rs, "kernel", kdir);

	if ((error = avo_cache_key_new(&k, "tune")) < 0)
		goto done;
	avo_cache_key_adds(k, "protocol", TUNEKEY_PROTOCOL);
	avo_cache_key_add(k, "kernel", kernel.ptr ? kernel.ptr : "", kernel.size);
	avo_cache_key_adds(k, "kernel_name", avo_path_basename(spec->kernel));
	avo_cache_key_add(k, "harness", harness.ptr ? harness.ptr : "", harness.size);
	snprintf(count, sizeof(count), "%zu", spec->nconfigs);
	avo_cache_key_adds(k, "configs", count);
	for (size_t i = 0; i < spec->nconfigs; i++) {
		avo_cache_key_adds(k, "config", spec->configs[i].name);
		add_list(k, &rs, "args", spec->configs[i].args, spec->configs[i].nargs);
	}
	avo_cache_key_adds(k, "arch", spec->arch);
	avo_cache_key_adds(k, "compiler", compiler_id);
	add_list(k, &rs, "flags", spec->flags, spec->nflags);
	add_list(k, &rs, "include_dirs", spec->include_dirs, spec->ninclude_dirs);
	add_list(k, &rs, "defines", spec->defines, spec->ndefines);
	avo_cache_key_final(k, out);

done:
	roots_dispose(&rs);
	free(kdir);
	free(compiler_id);
	avo_buf_dispose(&kernel);
	avo_buf_dispose(&harness);
	return error;
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

	if ((error = cache_fetch(cache, "tune", key, &entry, allow_remote, &out->from_remote)) < 0)
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
