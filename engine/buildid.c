/* The build identity (buildid.h): the memo, the compiler and device identities, the
 * command lines. The header digest, the avo_buildid bundle and the keys: buildid_keys.c. */
#include "buildid.h"
#include "avo_base.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define COMPILER_NS "compiler"  /* local-only cache namespace for compiler identities */

/* ---- the memo ----------------------------------------------------------------------- */

typedef struct memo {
	struct memo *next;
	char *key, *val;
	size_t len;
} memo;

static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;
static memo *memos; /* lives until exit */

int avo_buildid_memo_get(const char *key, char **out, size_t *len)
{
	int rc = AVO_ENOTFOUND;
	pthread_mutex_lock(&memo_lock);
	for (memo *m = memos; m; m = m->next)
		if (!strcmp(m->key, key)) {
			if ((*out = malloc(m->len + 1))) {
				memcpy(*out, m->val, m->len);
				(*out)[m->len] = '\0';
				if (len)
					*len = m->len;
				rc = 0;
			}
			break;
		}
	pthread_mutex_unlock(&memo_lock);
	return rc;
}

void avo_buildid_memo_put(const char *key, const char *val, size_t len)
{
	memo *m = calloc(1, sizeof(*m));
	if (!m || !(m->key = avo_strdup(key)) || !(m->val = malloc(len + 1))) {
		if (m)
			free(m->key);
		free(m);
		return;
	}
	memcpy(m->val, val, len);
	m->val[len] = '\0';
	m->len = len;
	pthread_mutex_lock(&memo_lock);
	m->next = memos;
	memos = m;
	pthread_mutex_unlock(&memo_lock);
}

/* ---- the compiler ------------------------------------------------------------------- */

/* The compiler's file: `compiler` itself when it has a slash, else the first match in
 * $PATH, then symlinks resolved (so /usr/bin/cc and gcc-12 share one identity). */
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

static int run_version(char **out, const char *shown, const char *compiler)
{
	const char *argv[] = {compiler, "--version", NULL};
	avo_proc_options o = {0};
	avo_proc_result r;
	o.argv = argv;
	o.timeout_s = 60;
	o.scrub_secrets = 1;
	int rc = avo_proc_run(&r, &o);
	if (rc < 0) {
		avo_proc_result_dispose(&r);
		return avo_error_wrap(rc, "compiler \"%s\"", shown);
	}
	if (!r.exited || r.exit_code != 0 || r.out.size == 0) {
		char *how = avo_proc_describe(&r, o.timeout_s);
		rc = avo_error_set(AVO_EIO, "compiler \"%s\" does not answer --version (%s)", shown, how ? how : "?");
		free(how);
		avo_proc_result_dispose(&r);
		return rc;
	}
	*out = identity_from_version(avo_buf_cstr(&r.out));
	avo_proc_result_dispose(&r);
	return *out ? 0 : avo_oom();
}

int avo_buildid_compiler(char **out, const char *compiler, avo_cache *cache)
{
	char *resolved = NULL, key[AVO_CACHE_HEX], *mkey = NULL;
	avo_cache *local = NULL;
	avo_cache_key *k;
	avo_buf b = AVO_BUF_INIT;
	struct stat st;
	int rc;

	*out = NULL;
	if (!compiler || !*compiler)
		return avo_error_set(AVO_EINVALID, "no compiler named");
	resolved = resolve_compiler(compiler);
	if (!resolved || stat(resolved, &st) < 0) {
		free(resolved);
		return avo_error_set(AVO_ENOTFOUND, "compiler \"%s\" not found: is it installed and on PATH?", compiler);
	}
	if ((rc = avo_cache_key_new(&k, "compiler")) < 0)
		goto done;
	avo_cache_key_adds(k, "path", resolved);
	avo_cache_key_add(k, "size", &st.st_size, sizeof(st.st_size));
	avo_cache_key_add(k, "mtime_s", &st.st_mtim.tv_sec, sizeof(st.st_mtim.tv_sec));
	avo_cache_key_add(k, "mtime_ns", &st.st_mtim.tv_nsec, sizeof(st.st_mtim.tv_nsec));
	avo_cache_key_final(k, key);
	mkey = avo_sprintf("cc:%s", key);
	if (mkey && avo_buildid_memo_get(mkey, out, NULL) == 0)
		goto done;
	if (cache) {
		/* A local-only handle on the same directory: this entry is about this machine's
		 * files, so it must never travel to the remote. */
		avo_cache_options o = AVO_CACHE_OPTIONS_INIT;
		o.dir = avo_cache_dir(cache);
		o.remote_url = "";
		o.quiet = 1;
		if (avo_cache_open(&local, &o) == 0 && avo_cache_get_local(local, COMPILER_NS, key, &b) == 0 &&
		    b.size > 0) {
			*out = avo_strndup(b.ptr, b.size);
			rc = *out ? 0 : avo_oom();
			goto remember;
		}
		avo_error_clear();
	}
	if ((rc = run_version(out, compiler, resolved)) < 0)
		goto done;
	/* Failing to remember it only costs the next build a compiler spawn. */
	if (local && avo_cache_put(local, COMPILER_NS, key, *out, strlen(*out)) < 0)
		avo_error_clear();
remember:
	if (rc == 0 && mkey)
		avo_buildid_memo_put(mkey, *out, strlen(*out));
done:
	avo_buf_dispose(&b);
	avo_cache_free(local);
	free(resolved);
	free(mkey);
	return rc;
}

/* ---- the device --------------------------------------------------------------------- */

/* The GPU index whose identity counts: --gpu, else the first CUDA_VISIBLE_DEVICES entry. */
int avo_buildid_gpu_index(int gpu)
{
	if (gpu >= 0)
		return gpu;
	const char *v = getenv("CUDA_VISIBLE_DEVICES");
	if (v && *v >= '0' && *v <= '9')
		return atoi(v);
	return 0;
}

static char *gpu_identity(int gpu)
{
	char idx[16];
	char *out = NULL;
	snprintf(idx, sizeof(idx), "%d", gpu);
	const char *argv[] = {"nvidia-smi", "--query-gpu=name,compute_cap,driver_version",
			      "--format=csv,noheader", "-i", idx, NULL};
	avo_proc_options po = {0};
	po.argv = argv;
	po.scrub_secrets = 1;
	po.timeout_s = 30;
	avo_proc_result r;
	if (avo_proc_run(&r, &po) == 0 && r.exited && r.exit_code == 0 && r.out.size) {
		const char *s = avo_buf_cstr(&r.out);
		out = avo_sprintf("gpu %.*s", (int)strcspn(s, "\n"), s);
	} else {
		/* Without nvidia-smi, results stay with this machine rather than match any GPU. */
		char host[256] = "?";
		gethostname(host, sizeof(host) - 1);
		out = avo_sprintf("gpu unknown on %s", host);
	}
	avo_proc_result_dispose(&r);
	return out;
}

static char *cpu_identity(void)
{
	struct utsname u;
	char model[256] = "unknown", line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10)) {
			const char *c = strchr(line, ':');
			if (c) {
				snprintf(model, sizeof(model), "%s", c + 1 + (c[1] == ' '));
				model[strcspn(model, "\n")] = '\0';
			}
			break;
		}
	}
	if (f)
		fclose(f);
	return avo_sprintf("cpu %s %s", uname(&u) == 0 ? u.machine : "?", model);
}

char *avo_buildid_device(int is_cuda, int gpu)
{
	char key[64];
	char *out = NULL;
	snprintf(key, sizeof(key), "dev:%d:%d", is_cuda, is_cuda ? avo_buildid_gpu_index(gpu) : 0);
	if (avo_buildid_memo_get(key, &out, NULL) == 0)
		return out;
	out = is_cuda ? gpu_identity(avo_buildid_gpu_index(gpu)) : cpu_identity();
	if (out)
		avo_buildid_memo_put(key, out, strlen(out));
	return out;
}

/* ---- command lines -------------------------------------------------------------------- */

void avo_buildid_argv_dispose(avo_buildid_argv *a)
{
	for (size_t i = 0; i < a->nowned; i++)
		free(a->owned[i]);
	free(a->owned);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

int avo_buildid_argv_push(avo_buildid_argv *a, const char *s)
{
	if (!s)
		return avo_oom();
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		const char **nv = realloc(a->v, cap * sizeof(*nv));
		if (!nv)
			return avo_oom();
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

/* Push a string built for this line (taking it). */
static int av_own(avo_buildid_argv *a, char *s)
{
	if (!s)
		return avo_oom();
	if (a->nowned == a->cap_owned) {
		size_t cap = a->cap_owned ? a->cap_owned * 2 : 16;
		char **no = realloc(a->owned, cap * sizeof(*no));
		if (!no) {
			free(s);
			return avo_oom();
		}
		a->owned = no;
		a->cap_owned = cap;
	}
	a->owned[a->nowned++] = s;
	return avo_buildid_argv_push(a, s);
}

static int has_opt_level(const avo_spec *s)
{
	for (size_t i = 0; i < s->nflags; i++)
		if (!strncmp(s->flags[i], "-O", 2))
			return 1;
	return 0;
}

/* Shared by compile and link: the compiler, its arch ("sm_90a" ->
 * "-gencode=arch=compute_90a,code=sm_90a"; "native" -> "-arch=native"), -O3 unless the
 * spec names a level, the spec's flags. */
static int add_common(avo_buildid_argv *a, const avo_spec *s)
{
	int rc = avo_buildid_argv_push(a, s->compiler);
	if (rc == 0 && s->is_cuda && s->arch[0])
		rc = !strcmp(s->arch, "native")
			     ? avo_buildid_argv_push(a, "-arch=native")
			     : av_own(a, avo_sprintf("-gencode=arch=compute_%s,code=%s", s->arch + 3, s->arch));
	if (rc == 0 && !has_opt_level(s))
		rc = avo_buildid_argv_push(a, "-O3");
	for (size_t i = 0; rc == 0 && i < s->nflags; i++)
		rc = avo_buildid_argv_push(a, s->flags[i]);
	return rc;
}

/* The include dirs and defines both the compiler and libclang see. The kernel's own
 * directory comes first: a variant is compiled from a scratch copy and its quoted
 * includes must still find their headers. */
static int add_search(avo_buildid_argv *a, const avo_spec *s)
{
	char *kd = avo_path_dirname(s->kernel);
	int rc = av_own(a, avo_sprintf("-I%s", kd ? kd : "."));
	free(kd);
	for (size_t i = 0; rc == 0 && i < s->ninclude_dirs; i++)
		rc = av_own(a, avo_sprintf("-I%s", s->include_dirs[i]));
	for (size_t i = 0; rc == 0 && i < s->ndefines; i++)
		rc = av_own(a, avo_sprintf("-D%s", s->defines[i]));
	return rc;
}

int avo_buildid_compile_argv(avo_buildid_argv *a, const avo_spec *s, const char *src, const char *obj)
{
	int rc;
	if ((rc = add_common(a, s)) < 0 || (rc = add_search(a, s)) < 0 || (rc = avo_buildid_argv_push(a, "-c")) < 0 ||
	    (rc = avo_buildid_argv_push(a, src)) < 0 || (rc = avo_buildid_argv_push(a, "-o")) < 0 || (rc = avo_buildid_argv_push(a, obj)) < 0)
		return rc;
	return 0;
}

int avo_buildid_link_argv(avo_buildid_argv *a, const avo_spec *s, const char *hobj, const char *vobj,
			  const char *exe)
{
	int rc;
	if ((rc = add_common(a, s)) < 0 || (rc = avo_buildid_argv_push(a, hobj)) < 0 || (rc = avo_buildid_argv_push(a, vobj)) < 0 ||
	    (rc = avo_buildid_argv_push(a, "-o")) < 0 || (rc = avo_buildid_argv_push(a, exe)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < s->nlink_flags; i++)
		rc = avo_buildid_argv_push(a, s->link_flags[i]);
	return rc;
}

/* Flags of the compiler that change what the preprocessor and the parser see. */
static int clang_flag(const char *f, int *takes_next)
{
	static const char *const joined[] = {"-I", "-D", "-U", "-std=", "-include", "-isystem", NULL};
	*takes_next = !strcmp(f, "-I") || !strcmp(f, "-D") || !strcmp(f, "-U") || !strcmp(f, "-include") ||
		      !strcmp(f, "-isystem");
	for (size_t i = 0; joined[i]; i++)
		if (!strncmp(f, joined[i], strlen(joined[i])))
			return 1;
	return 0;
}

int avo_buildid_clang_argv(avo_buildid_argv *a, const avo_spec *s)
{
	int rc = add_search(a, s);
	for (size_t i = 0; rc == 0 && i < s->nflags; i++) {
		int next = 0;
		if (!clang_flag(s->flags[i], &next))
			continue;
		/* A relative -I in the flags means the spec's directory (the compiler runs there). */
		const char *f = s->flags[i];
		if (!next && !strncmp(f, "-I", 2) && f[2] && f[2] != '/')
			rc = av_own(a, avo_sprintf("-I%s/%s", s->dir, f + 2));
		else
			rc = avo_buildid_argv_push(a, f);
		if (rc == 0 && next && i + 1 < s->nflags)
			rc = avo_buildid_argv_push(a, s->flags[++i]);
	}
	/* Parse the device side for the arch we build for: sm_90a-only code is live then. */
	if (rc == 0 && s->is_cuda && s->arch[0] && strcmp(s->arch, "native"))
		rc = av_own(a, avo_sprintf("--cuda-gpu-arch=%s", s->arch));
	return rc;
}

