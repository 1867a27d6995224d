/* avo_astedit: the clang arguments for a kernel: the CUDA toolkit, the resource dir, the
 * CUDA 13 stand-ins, and the flags kept from a compile command or compile_commands.json. */
#include "astedit_int.h"
#include "avo_base.h"

#include <clang-c/CXCompilationDatabase.h>
#include <clang-c/Index.h>
#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define strv_add avo_astedit__strv_add
#define strv_dispose avo_astedit__strv_dispose
#ifndef AVO_ASTEDIT_CUDA13_SRC
#define AVO_ASTEDIT_CUDA13_SRC ""
#endif
#ifndef AVO_LLVM_ROOT_DIR
#define AVO_LLVM_ROOT_DIR "/usr/lib/llvm-19"
#endif

/* ---- small helpers --------------------------------------------------------------------- */

int avo_astedit__strv_add(strv *s, const char *x)
{
	if (s->n + 1 >= s->a) {
		size_t na = s->a ? 2 * s->a : 32;
		char **p = realloc(s->v, na * sizeof(*p));
		if (!p)
			return avo_oom();
		s->v = p;
		s->a = na;
	}
	if (!(s->v[s->n] = avo_strdup(x)))
		return avo_oom();
	s->n++;
	s->v[s->n] = NULL;
	return 0;
}

void avo_astedit__strv_dispose(strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int has_prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

const char *avo_astedit__ext(const char *path)
{
	const char *b = avo_path_basename(path), *d = strrchr(b, '.');
	return d ? d : "";
}

static int is_dir(const char *p) { return p && *p && avo_path_exists(p); }

/* ---- finding things: CUDA, the resource dir, the CUDA 13 stand-ins ----------------------- */

static char *cuda_has(const char *root)
{
	if (!root || !*root)
		return NULL;
	char *h = avo_path_join(root, "include/cuda_runtime.h");
	int ok = h && avo_path_exists(h);
	free(h);
	return ok ? avo_strdup(root) : NULL;
}

/* Like CMake's FindCUDAToolkit: $CUDAToolkit_ROOT, $CUDA_PATH, nvcc in PATH, /usr/local/cuda. */
static char *find_cuda(void)
{
	char *r;
	if ((r = cuda_has(getenv("CUDAToolkit_ROOT"))) || (r = cuda_has(getenv("CUDA_PATH"))))
		return r;
	const char *path = getenv("PATH");
	if (path) {
		char *copy = avo_strdup(path), *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); d && !r; d = strtok_r(NULL, ":", &save)) {
			char *nvcc = avo_path_join(d, "nvcc"), real[PATH_MAX];
			if (nvcc && access(nvcc, X_OK) == 0 && realpath(nvcc, real)) {
				char *bin = avo_path_dirname(real), *root = bin ? avo_path_dirname(bin) : NULL;
				r = cuda_has(root);
				free(bin);
				free(root);
			}
			free(nvcc);
		}
		free(copy);
		if (r)
			return r;
	}
	return cuda_has("/usr/local/cuda");
}

static int clang_major(void)
{
	CXString v = clang_getClangVersion();
	const char *vs = clang_getCString(v), *p = vs ? strstr(vs, "version ") : NULL;
	int major = p ? atoi(p + 8) : 0;
	clang_disposeString(v);
	return major;
}

/* The resource dir of the libclang we are linked with: <libdir>/clang/<major>. */
static char *find_resource_dir(void)
{
	const char *env = getenv("AVO_CLANG_RESOURCE_DIR");
	if (env && *env)
		return avo_strdup(env);
	int major = clang_major();
	Dl_info info;
	char real[PATH_MAX];
	if (major > 0 && dladdr((void *)clang_getClangVersion, &info) && info.dli_fname &&
	    realpath(info.dli_fname, real)) {
		char *libdir = avo_path_dirname(real);
		char *cand = libdir ? avo_sprintf("%s/clang/%d", libdir, major) : NULL;
		free(libdir);
		if (is_dir(cand))
			return cand;
		free(cand);
	}
	char *cand = avo_sprintf("%s/lib/clang/%d", AVO_LLVM_ROOT_DIR, major > 0 ? major : 19);
	if (is_dir(cand))
		return cand;
	free(cand);
	return NULL;
}

/* Empty stand-ins for headers CUDA 13 removed: installed to <prefix>/share/avo/cuda13 next to
 * <prefix>/bin/avo; in a build tree, the source dir. */
static char *find_cuda13_dir(void)
{
	return avo_path_share_dir("AVO_ASTEDIT_CUDA13_DIR", "cuda13", AVO_ASTEDIT_CUDA13_SRC);
}

/* ---- compile_commands.json --------------------------------------------------------------- */

static int absolutize(strv *out, const char *flag, const char *val, const char *dir)
{
	if (val[0] == '/' || !dir)
		return strv_add(out, flag) < 0 ? AVO_ERROR : strv_add(out, val);
	char *j = avo_path_join(dir, val);
	int rc = strv_add(out, flag) < 0 ? AVO_ERROR : strv_add(out, j ? j : val);
	free(j);
	return rc;
}

/* Split a response file (nvcc --options-file, @file) into arguments: blanks separate,
 * quotes group, backslash escapes. */
static int split_file(strv *out, const char *file, const char *dir)
{
	char *p = file[0] == '/' ? avo_strdup(file) : avo_path_join(dir ? dir : ".", file);
	avo_buf b = AVO_BUF_INIT, w = AVO_BUF_INIT;
	int rc = p ? avo_file_read(&b, p) : AVO_ERROR;
	free(p);
	if (rc < 0)
		return rc;
	const char *s = avo_buf_cstr(&b);
	for (size_t i = 0; rc == 0;) {
		while (s[i] && isspace((unsigned char)s[i]))
			i++;
		if (!s[i])
			break;
		avo_buf_clear(&w);
		char q = 0;
		for (; s[i] && (q || !isspace((unsigned char)s[i])); i++) {
			if (!q && (s[i] == '"' || s[i] == '\''))
				q = s[i];
			else if (q && s[i] == q)
				q = 0;
			else if (s[i] == '\\' && s[i + 1])
				rc = avo_buf_put(&w, s + ++i, 1);
			else
				rc = avo_buf_put(&w, s + i, 1);
		}
		if (rc == 0)
			rc = strv_add(out, avo_buf_cstr(&w));
	}
	avo_buf_dispose(&w);
	avo_buf_dispose(&b);
	return rc;
}

/* nvcc's -arch=sm_XX, --gpu-architecture sm_XX, -gencode arch=compute_XX,...: the sm_XX. */
static char *nvcc_arch(const char *a, const char *next, int *used_next)
{
	const char *v = NULL;
	*used_next = 0;
	if (has_prefix(a, "-arch=") || has_prefix(a, "--gpu-architecture=") || has_prefix(a, "--generate-code=") ||
	    has_prefix(a, "-gencode="))
		v = strchr(a, '=') + 1;
	else if ((!strcmp(a, "-arch") || !strcmp(a, "--gpu-architecture") || !strcmp(a, "-gencode") ||
		  !strcmp(a, "--generate-code")) && next) {
		v = next;
		*used_next = 1;
	}
	if (!v)
		return NULL;
	const char *d = strstr(v, "sm_");
	if (!d)
		d = strstr(v, "compute_");
	if (!d)
		return NULL;
	d = strchr(d, '_') + 1;
	size_t n = 0;
	while (isalnum((unsigned char)d[n]))
		n++;
	return n ? avo_sprintf("--cuda-gpu-arch=sm_%.*s", (int)n, d) : NULL;
}

/* Keep the flags of a compile command that change what the file means (defines, include
 * paths, language standard, the GPU arch); drop the compiler, -c, -o, dependency-file,
 * warning and optimisation flags, nvcc's own flags, and the file. Relative paths are made
 * absolute against `dir` (when not NULL). */
static int filter_flags(strv *out, const strv *raw, const char *dir)
{
	int rc = 0, have_arch = 0;
	static const char *with_value[] = {"-I", "-isystem", "-iquote", "-idirafter", "-include", "-imacros", NULL};
	for (size_t i = 0; i < raw->n && rc == 0; i++) {
		const char *a = raw->v[i], *next = i + 1 < raw->n ? raw->v[i + 1] : NULL;
		int handled = 0, used_next = 0;
		for (size_t w = 0; with_value[w] && !handled; w++) {
			size_t wl = strlen(with_value[w]);
			if (!strcmp(a, with_value[w]) && next) {
				rc = absolutize(out, a, next, dir);
				i++;
				handled = 1;
			} else if (!strncmp(a, with_value[w], wl) && a[wl] && (wl == 2 || a[wl] == '=')) {
				rc = absolutize(out, with_value[w], a + wl + (a[wl] == '='), dir);
				handled = 1;
			}
		}
		if (handled)
			continue;
		char *arch = nvcc_arch(a, next, &used_next);
		if (arch) {
			if (!have_arch++)
				rc = strv_add(out, arch);
			free(arch);
			i += used_next;
		} else if ((!strcmp(a, "-D") || !strcmp(a, "-U")) && next) {
			if ((rc = strv_add(out, a)) == 0)
				rc = strv_add(out, next);
			i++;
		} else if (has_prefix(a, "-D") || has_prefix(a, "-U") || has_prefix(a, "-std=") ||
			   has_prefix(a, "--cuda-path=") || has_prefix(a, "-march=") || has_prefix(a, "-mtune=") ||
			   !strcmp(a, "-m64") || !strcmp(a, "-m32") || !strcmp(a, "-fopenmp") || !strcmp(a, "-pthread") ||
			   !strcmp(a, "-ffast-math") || !strcmp(a, "-fno-exceptions") || !strcmp(a, "-fno-rtti")) {
			/* these change predefined macros or the language */
			rc = strv_add(out, a);
		} else if (has_prefix(a, "--cuda-gpu-arch=") || has_prefix(a, "--offload-arch=")) {
			if (!have_arch++)
				rc = strv_add(out, a);
		} else if ((!strcmp(a, "-std") || !strcmp(a, "--std")) && next) {
			char *j = avo_sprintf("-std=%s", next);
			rc = strv_add(out, j);
			free(j);
			i++;
		} else if (!strcmp(a, "-o") || !strcmp(a, "-MF") || !strcmp(a, "-MT") || !strcmp(a, "-MQ") ||
			   !strcmp(a, "-x") || !strcmp(a, "-ccbin") || !strcmp(a, "--compiler-bindir") ||
			   !strcmp(a, "-Xcompiler") || !strcmp(a, "-Xptxas") || !strcmp(a, "-Xlinker")) {
			i++; /* and its value */
		}
	}
	return rc;
}

/* compile_commands.json: the first entry's flags, through filter_flags(). */
static int db_args(strv *out, const char *db_dir, const char *path)
{
	CXCompilationDatabase_Error err;
	/* libclang prints its own noise on a missing database: say it ourselves, first */
	char *dbf = avo_path_join(db_dir, "compile_commands.json");
	int have = dbf && avo_path_exists(dbf);
	free(dbf);
	if (!have)
		return avo_error_set(AVO_ENOTFOUND, "%s: no compile_commands.json there (CMake writes one with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)", db_dir);
	CXCompilationDatabase db = clang_CompilationDatabase_fromDirectory(db_dir, &err);
	if (err != CXCompilationDatabase_NoError || !db)
		return avo_error_set(AVO_ENOTFOUND, "%s: no readable compile_commands.json", db_dir);
	char real[PATH_MAX];
	const char *key = realpath(path, real) ? real : path;
	CXCompileCommands cmds = clang_CompilationDatabase_getCompileCommands(db, key);
	strv raw = {0};
	char *dir = NULL;
	int rc = 0;
	if (!cmds || clang_CompileCommands_getSize(cmds) == 0) {
		rc = avo_error_set(AVO_ENOTFOUND, "%s: no entry for %s in %s/compile_commands.json", path, key, db_dir);
		goto done;
	}
	CXCompileCommand cmd = clang_CompileCommands_getCommand(cmds, 0);
	CXString dirs = clang_CompileCommand_getDirectory(cmd);
	dir = avo_strdup(clang_getCString(dirs));
	clang_disposeString(dirs);
	unsigned n = clang_CompileCommand_getNumArgs(cmd);
	for (unsigned i = 1; i < n && rc == 0; i++) { /* argv[0] is the compiler */
		CXString as = clang_CompileCommand_getArg(cmd, i);
		const char *a = clang_getCString(as);
		if ((!strcmp(a, "--options-file") || !strcmp(a, "-optf")) && i + 1 < n) {
			CXString fs = clang_CompileCommand_getArg(cmd, ++i);
			rc = split_file(&raw, clang_getCString(fs), dir);
			clang_disposeString(fs);
		} else if (a[0] == '@' && a[1]) {
			rc = split_file(&raw, a + 1, dir);
		} else {
			rc = strv_add(&raw, a);
		}
		clang_disposeString(as);
	}
	rc = rc < 0 ? rc : filter_flags(out, &raw, dir);
done:
	free(dir);
	strv_dispose(&raw);
	clang_CompileCommands_dispose(cmds);
	clang_CompilationDatabase_dispose(db);
	return rc;
}

/* ---- arguments ----------------------------------------------------------------------------- */

static int any_prefix(char **v, size_t n, const char *p)
{
	for (size_t i = 0; i < n; i++)
		if (has_prefix(v[i], p))
			return 1;
	return 0;
}

int avo_astedit__build_args(strv *args, const char *path, const avo_astedit_options *o)
{
	int rc = 0;
	strv extra = {0};
	if (o && o->compile_db_dir && (rc = db_args(&extra, o->compile_db_dir, path)) < 0)
		goto done;
	if (o && o->ncompile_flags) {
		strv raw = {0};
		for (size_t i = 0; i < o->ncompile_flags && rc == 0; i++)
			rc = strv_add(&raw, o->compile_flags[i]);
		if (rc == 0)
			rc = filter_flags(&extra, &raw, o->flags_dir);
		strv_dispose(&raw);
		if (rc < 0)
			goto done;
	}
	/* the language: the option, else `-x LANG` among the arguments (taken out: avo sets up
	 * CUDA itself), else the extension */
	const char *ext = avo_astedit__ext(path), *lang = o && o->language && *o->language ? o->language : NULL;
	for (size_t i = 0; o && i < o->nclang_args; i++) {
		const char *a = o->clang_args[i];
		if (!strcmp(a, "-x") && i + 1 < o->nclang_args) {
			lang = o->clang_args[++i];
			continue;
		}
		if (has_prefix(a, "-x") && a[2]) {
			lang = a + 2;
			continue;
		}
		if ((rc = strv_add(&extra, a)) < 0)
			goto done;
	}
	/* one GPU arch for the parse: the last named (the caller's, after the compile flags') */
	for (size_t i = extra.n; i-- > 0;) {
		if (!has_prefix(extra.v[i], "--cuda-gpu-arch") && !has_prefix(extra.v[i], "--offload-arch"))
			continue;
		for (size_t j = i; j-- > 0;)
			if (has_prefix(extra.v[j], "--cuda-gpu-arch") || has_prefix(extra.v[j], "--offload-arch")) {
				free(extra.v[j]);
				memmove(extra.v + j, extra.v + j + 1, (extra.n - j) * sizeof(*extra.v));
				extra.n--;
			}
		break;
	}
	/* clang 19 knows GPUs up to sm_90a: parse newer ones (sm_100, sm_120) as sm_90a, the
	 * closest it can check, rather than fail */
	for (size_t i = 0; i < extra.n; i++) {
		const char *a = strstr(extra.v[i], "sm_");
		if ((has_prefix(extra.v[i], "--cuda-gpu-arch=") || has_prefix(extra.v[i], "--offload-arch=")) && a &&
		    atoi(a + 3) >= 100 && clang_major() < 20) {
			free(extra.v[i]);
			if (!(extra.v[i] = avo_strdup("--cuda-gpu-arch=sm_90a"))) {
				rc = avo_oom();
				goto done;
			}
		}
	}
	if (lang && !strcmp(lang, "cu"))
		lang = "cuda";
	if (lang && strcmp(lang, "cuda") && strcmp(lang, "c") && strcmp(lang, "c++")) {
		rc = avo_error_set(AVO_EINVALID, "%s: unknown language '%s' (want cuda, c or c++)", path, lang);
		goto done;
	}
	int cuda = lang ? !strcmp(lang, "cuda") : !strcmp(ext, ".cu") || !strcmp(ext, ".cuh");
	char *res = find_resource_dir();
	if (res) {
		rc = strv_add(args, "-resource-dir");
		if (rc == 0)
			rc = strv_add(args, res);
		free(res);
	}
	if (rc == 0)
		rc = strv_add(args, "-ferror-limit=0");
	if (rc < 0)
		goto done;
	if (cuda) {
		char *cp = NULL;
		if (!any_prefix(extra.v, extra.n, "--cuda-path")) {
			cp = o && o->cuda_path ? avo_strdup(o->cuda_path) : find_cuda();
			if (!cp) {
				rc = avo_error_set(AVO_ERROR, "%s: no CUDA toolkit found (set CUDAToolkit_ROOT or CUDA_PATH)", path);
				goto done;
			}
		}
		const char *side = o && o->cuda_host_side ? "--cuda-host-only" : "--cuda-device-only";
		if ((rc = strv_add(args, "-x")) == 0 && (rc = strv_add(args, "cuda")) == 0 &&
		    (rc = strv_add(args, side)) == 0 && (rc = strv_add(args, "-nocudalib")) == 0 &&
		    (rc = strv_add(args, "-Wno-unknown-cuda-version")) == 0 && cp) {
			char *a = avo_sprintf("--cuda-path=%s", cp);
			rc = strv_add(args, a);
			free(a);
			char *cccl = avo_sprintf("%s/include/cccl", cp);
			if (rc == 0 && is_dir(cccl) && (rc = strv_add(args, "-isystem")) == 0)
				rc = strv_add(args, cccl); /* CUDA 13 keeps cuda/std, cub, thrust here */
			free(cccl);
			char *tex = avo_sprintf("%s/include/texture_fetch_functions.h", cp);
			char *stubs = find_cuda13_dir();
			if (rc == 0 && stubs && !avo_path_exists(tex) && (rc = strv_add(args, "-idirafter")) == 0)
				rc = strv_add(args, stubs);
			/* the prelude for known clang/nvcc differences (avo_cuda_compat.h says which) */
			char *pre = stubs ? avo_sprintf("%s/avo_cuda_compat.h", stubs) : NULL;
			if (rc == 0 && pre && avo_path_exists(pre) && (rc = strv_add(args, "-include")) == 0)
				rc = strv_add(args, pre);
			if (rc == 0)
				rc = strv_add(args, "-Wno-c++11-narrowing");
			free(pre);
			free(stubs);
			free(tex);
		}
		free(cp);
		/* Device side: clang 19 does not tell its device compiler the SDK version of a CUDA it
		 * does not know (13.x), so Sema looks for the pre-9.2 launch function
		 * cudaConfigureCall (gone from CUDA 12+) and refuses every `k<<<...>>>` in host
		 * code. The newest version clang 19 knows selects __cudaPushCallConfiguration. */
		if (rc == 0 && !(o && o->cuda_host_side) && (rc = strv_add(args, "-Xclang")) == 0)
			rc = strv_add(args, "-target-sdk-version=12.5");
		if (rc == 0 && !any_prefix(extra.v, extra.n, "--cuda-gpu-arch") &&
		    !any_prefix(extra.v, extra.n, "--offload-arch"))
			rc = strv_add(args, "--cuda-gpu-arch=sm_80");
	} else if (lang || !strcmp(ext, ".hpp") || !strcmp(ext, ".h")) {
		if ((rc = strv_add(args, "-x")) == 0)
			rc = strv_add(args, lang ? lang : !strcmp(ext, ".hpp") ? "c++" : "c");
	}
	for (size_t i = 0; rc == 0 && i < extra.n; i++)
		rc = strv_add(args, extra.v[i]);
done:
	strv_dispose(&extra);
	return rc;
}
