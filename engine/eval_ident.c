/* Facts an evaluation keys on, computed once per process (memoised): the compiler's
 * identity, the device's, the digest of the headers next to the sources; and the eval key
 * built from them. See eval.h for what each covers. */
#include "eval_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* A child was not started at all: avo_proc_run's child exits 127 with this message. */
int avo_eval__not_started(const avo_proc_result *r)
{
	return r->exited && r->exit_code == 127 && strstr(avo_buf_cstr(&r->err), "avo: cannot run ");
}

/* ---- process-wide memo: facts computed once per process ------------------------------ */

typedef struct memo {
	struct memo *next;
	char *key;
	char *val;
	size_t len;
} memo;

static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;
static memo *memos; /* lives until exit */

/* Copy of the memoised value into *out (caller frees), or AVO_ENOTFOUND. */
int avo_eval__memo_get(const char *key, char **out, size_t *len)
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

void avo_eval__memo_put(const char *key, const char *val, size_t len)
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

char *avo_eval__rel_to(const char *path, const char *dir)
{
	size_t dl = strlen(dir);
	if (!strncmp(path, dir, dl) && path[dl] == '/')
		return avo_strdup(path + dl + 1);
	return avo_strdup(path);
}

/* ---- identities ---------------------------------------------------------------------- */

/* Compiler name and its whole `--version` text (nvcc's first line says nothing about the
 * version, its last lines do). Memoised per process. Environment error when it won't run. */
int avo_eval__compiler_identity(char **out, const char *compiler)
{
	char *key = avo_sprintf("cc:%s", compiler);
	if (!key)
		return avo_error_set(AVO_ERROR, "out of memory");
	if (avo_eval__memo_get(key, out, NULL) == 0) {
		free(key);
		return 0;
	}
	const char *argv[] = {compiler, "--version", NULL};
	avo_proc_options po = {0};
	po.argv = argv;
	po.scrub_secrets = 1;
	po.timeout_s = 60;
	avo_proc_result r;
	int rc = avo_proc_run(&r, &po);
	if (rc == 0 && (avo_eval__not_started(&r) || !r.exited || r.exit_code != 0)) {
		char *how = avo_proc_describe(&r, po.timeout_s);
		rc = avo_error_set(AVO_EIO, "compiler \"%s\" %s (%s)", compiler,
				   avo_eval__not_started(&r) ? "not found: is it installed and on PATH?"
						   : "does not answer --version", how ? how : "?");
		free(how);
	}
	if (rc == 0) {
		*out = avo_sprintf("%s\n%s", compiler, avo_buf_cstr(&r.out));
		if (*out)
			avo_eval__memo_put(key, *out, strlen(*out));
		else
			rc = avo_error_set(AVO_ERROR, "out of memory");
	}
	avo_proc_result_dispose(&r);
	free(key);
	return rc;
}

static char *first_line(const char *s)
{
	return avo_strndup(s, strcspn(s, "\n"));
}

/* The GPU index whose identity counts: --gpu, else the first CUDA_VISIBLE_DEVICES entry. */
int avo_eval__effective_gpu(int gpu)
{
	if (gpu >= 0)
		return gpu;
	const char *v = getenv("CUDA_VISIBLE_DEVICES");
	if (v && *v >= '0' && *v <= '9')
		return atoi(v);
	return 0;
}

/* "gpu <name>, <cc>, <driver>" from nvidia-smi; "cpu <machine> <model>" for C kernels. */
char *avo_eval__device_identity(int is_cuda, int gpu)
{
	char key[64];
	char *out = NULL;
	snprintf(key, sizeof(key), "dev:%d:%d", is_cuda, is_cuda ? avo_eval__effective_gpu(gpu) : 0);
	if (avo_eval__memo_get(key, &out, NULL) == 0)
		return out;
	if (is_cuda) {
		char idx[16];
		snprintf(idx, sizeof(idx), "%d", avo_eval__effective_gpu(gpu));
		const char *argv[] = {"nvidia-smi", "--query-gpu=name,compute_cap,driver_version",
				      "--format=csv,noheader", "-i", idx, NULL};
		avo_proc_options po = {0};
		po.argv = argv;
		po.scrub_secrets = 1;
		po.timeout_s = 30;
		avo_proc_result r;
		if (avo_proc_run(&r, &po) == 0 && r.exited && r.exit_code == 0 && r.out.size) {
			char *l = first_line(avo_buf_cstr(&r.out));
			out = avo_sprintf("gpu %s", l ? l : "?");
			free(l);
		} else {
			/* Without nvidia-smi, results stay with this machine rather than match any GPU. */
			char host[256] = "?";
			gethostname(host, sizeof(host) - 1);
			out = avo_sprintf("gpu unknown on %s", host);
		}
		avo_proc_result_dispose(&r);
	} else {
		struct utsname u;
		char model[256] = "unknown";
		FILE *f = fopen("/proc/cpuinfo", "r");
		char line[512];
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
		out = avo_sprintf("cpu %s %s", uname(&u) == 0 ? u.machine : "?", model);
	}
	if (out)
		avo_eval__memo_put(key, out, strlen(out));
	return out;
}

static int is_header(const char *name)
{
	static const char *const ext[] = {".h", ".hh", ".hpp", ".hxx", ".cuh", ".inc", ".inl", NULL};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && ext[i]; i++)
		if (!strcmp(dot, ext[i]))
			return 1;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Digest of the headers the TUs most likely include: every header file directly in the
 * kernel's directory, the harness's and each include dir (not recursive; a header deeper
 * in a tree such as CUTLASS is taken as pinned). Memoised per process. */
int avo_eval__header_digest(char out[AVO_CACHE_HEX], const avo_spec *s)
{
	avo_buf dirs = AVO_BUF_INIT, mkey = AVO_BUF_INIT;
	char *kd = avo_path_dirname(s->kernel), *hd = avo_path_dirname(s->harness);
	char *cached = NULL;
	int rc = 0;
	avo_buf_printf(&mkey, "hdr:%s\n%s\n", kd, hd);
	for (size_t i = 0; i < s->ninclude_dirs; i++)
		avo_buf_printf(&mkey, "%s\n", s->include_dirs[i]);
	if (avo_eval__memo_get(avo_buf_cstr(&mkey), &cached, NULL) == 0) {
		snprintf(out, AVO_CACHE_HEX, "%s", cached);
		goto done;
	}
	avo_cache_key *k;
	if ((rc = avo_cache_key_new(&k, "headers")) < 0)
		goto done;
	const char *list[64];
	size_t nl = 0;
	list[nl++] = kd;
	if (strcmp(hd, kd))
		list[nl++] = hd;
	for (size_t i = 0; i < s->ninclude_dirs && nl < 64; i++)
		list[nl++] = s->include_dirs[i];
	for (size_t d = 0; d < nl; d++) {
		DIR *dir = opendir(list[d]);
		if (!dir)
			continue;
		char **names = NULL;
		size_t n = 0, cap = 0;
		struct dirent *e;
		while ((e = readdir(dir))) {
			if (!is_header(e->d_name))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				char **nn = realloc(names, cap * sizeof(*names));
				if (!nn)
					break;
				names = nn;
			}
			names[n++] = avo_strdup(e->d_name);
		}
		closedir(dir);
		if (n)
			qsort(names, n, sizeof(*names), cmp_str);
		for (size_t i = 0; i < n; i++) {
			char *p = avo_path_join(list[d], names[i]);
			avo_buf content = AVO_BUF_INIT;
			if (p && avo_file_read(&content, p) == 0) {
				char *r = avo_eval__rel_to(p, s->dir);
				avo_cache_key_adds(k, "path", r);
				avo_cache_key_add(k, "content", content.ptr ? content.ptr : "", content.size);
				free(r);
			}
			avo_buf_dispose(&content);
			free(p);
			free(names[i]);
		}
		free(names);
	}
	avo_cache_key_final(k, out);
	avo_eval__memo_put(avo_buf_cstr(&mkey), out, strlen(out));
done:
	free(cached);
	free(kd);
	free(hd);
	avo_buf_dispose(&dirs);
	avo_buf_dispose(&mkey);
	return rc;
}

/* Eval cache key: everything that can change a verdict or a timing. Paths are taken
 * relative to the spec so equal setups on two machines share entries. */
void avo_eval__key(avo_eval__ctx *e, avo_eval__item *it, const char *harness_hash)
{
	const avo_spec *s = e->spec;
	avo_cache_key *k;
	if (avo_cache_key_new(&k, "eval") < 0) {
		it->key[0] = '\0';
		return;
	}
	char tol[64];
	snprintf(tol, sizeof(tol), "%.17g", s->tolerance);
	avo_cache_key_adds(k, "protocol", AVO_EVAL_PROTOCOL_VERSION);
	avo_cache_key_adds(k, "variant", it->hash);
	avo_cache_key_adds(k, "variant_name", avo_path_basename(s->kernel));
	avo_cache_key_adds(k, "harness", harness_hash);
	avo_cache_key_adds(k, "harness_protocol", e->proto->name);
	avo_cache_key_adds(k, "harness_library", e->libhash);
	avo_cache_key_adds(k, "headers", e->headers);
	avo_cache_key_adds(k, "compiler", e->cc_id);
	avo_cache_key_adds(k, "arch", s->arch);
	for (size_t i = 0; i < s->nflags; i++)
		avo_cache_key_adds(k, "flag", s->flags[i]);
	for (size_t i = 0; i < s->nlink_flags; i++)
		avo_cache_key_adds(k, "link_flag", s->link_flags[i]);
	for (size_t i = 0; i < s->ndefines; i++)
		avo_cache_key_adds(k, "define", s->defines[i]);
	for (size_t i = 0; i < s->ninclude_dirs; i++) {
		char *r = avo_eval__rel_to(s->include_dirs[i], s->dir);
		avo_cache_key_adds(k, "include_dir", r);
		free(r);
	}
	avo_cache_key_adds(k, "device", e->dev_id);
	for (size_t i = 0; i < s->nconfigs; i++) {
		avo_cache_key_adds(k, "config", s->configs[i].name);
		for (size_t j = 0; j < s->configs[i].nargs; j++)
			avo_cache_key_adds(k, "arg", s->configs[i].args[j]);
	}
	avo_cache_key_adds(k, "tolerance", tol);
	avo_cache_key_adds(k, "objective", s->objective);
	avo_cache_key_final(k, it->key);
}

