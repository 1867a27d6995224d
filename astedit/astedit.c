/* avo_astedit: parse with libclang, check regions and knobs against the AST, apply edits.
 *
 * Policy on clang diagnostics: errors (and fatal errors) located in the parsed file itself,
 * in a header of the user's (not a system header), or with no location (driver errors)
 * refuse the file. Errors inside system headers (the CUDA toolkit, clang's wrappers) are
 * ignored: they are clang-versus-nvcc differences, and when they do break the file the
 * breakage shows up as an error in the file itself. `-ferror-limit=0` keeps clang from
 * stopping before it reaches the file's own errors. Warnings never count. */
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

#ifndef AVO_ASTEDIT_CUDA13_SRC
#define AVO_ASTEDIT_CUDA13_SRC ""
#endif
#ifndef AVO_LLVM_ROOT_DIR
#define AVO_LLVM_ROOT_DIR "/usr/lib/llvm-19"
#endif

/* ---- small helpers --------------------------------------------------------------------- */

typedef struct {
	char **v;
	size_t n, a;
} strv;

static int strv_add(strv *s, const char *x)
{
	if (s->n + 1 >= s->a) {
		size_t na = s->a ? 2 * s->a : 32;
		char **p = realloc(s->v, na * sizeof(*p));
		if (!p)
			return avo_error_set(AVO_ERROR, "out of memory");
		s->v = p;
		s->a = na;
	}
	if (!(s->v[s->n] = avo_strdup(x)))
		return avo_error_set(AVO_ERROR, "out of memory");
	s->n++;
	s->v[s->n] = NULL;
	return 0;
}

static void strv_dispose(strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int has_prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

static const char *ext_of(const char *path)
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

/* The resource dir of the libclang we are linked with: <libdir>/clang/<major>. */
static char *find_resource_dir(void)
{
	const char *env = getenv("AVO_CLANG_RESOURCE_DIR");
	if (env && *env)
		return avo_strdup(env);
	CXString v = clang_getClangVersion();
	const char *vs = clang_getCString(v), *p = vs ? strstr(vs, "version ") : NULL;
	int major = p ? atoi(p + 8) : 0;
	clang_disposeString(v);
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
	const char *env = getenv("AVO_ASTEDIT_CUDA13_DIR");
	if (env && *env)
		return avo_strdup(env);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *bin = avo_path_dirname(exe);
		char *cand = bin ? avo_sprintf("%s/../share/avo/cuda13", bin) : NULL;
		free(bin);
		char real[PATH_MAX];
		if (cand && realpath(cand, real)) {
			free(cand);
			return avo_strdup(real);
		}
		free(cand);
	}
	return is_dir(AVO_ASTEDIT_CUDA13_SRC) ? avo_strdup(AVO_ASTEDIT_CUDA13_SRC) : NULL;
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

/* Keep the flags that change what the file means (defines, include paths, language
 * standard, the GPU arch); drop the compiler, -c, -o, dependency-file, warning and
 * optimisation flags, nvcc's own flags, and the file. */
static int db_args(strv *out, const char *db_dir, const char *path)
{
	CXCompilationDatabase_Error err;
	CXCompilationDatabase db = clang_CompilationDatabase_fromDirectory(db_dir, &err);
	if (err != CXCompilationDatabase_NoError || !db)
		return avo_error_set(AVO_ENOTFOUND, "%s: no readable compile_commands.json", db_dir);
	char real[PATH_MAX];
	const char *key = realpath(path, real) ? real : path;
	CXCompileCommands cmds = clang_CompilationDatabase_getCompileCommands(db, key);
	strv raw = {0};
	char *dir = NULL;
	int rc = 0, have_arch = 0;
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
	static const char *with_value[] = {"-I", "-isystem", "-iquote", "-idirafter", "-include", "-imacros", NULL};
	for (size_t i = 0; i < raw.n && rc == 0; i++) {
		const char *a = raw.v[i], *next = i + 1 < raw.n ? raw.v[i + 1] : NULL;
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

static int build_args(strv *args, const char *path, const avo_astedit_options *o)
{
	int rc = 0;
	strv extra = {0};
	if (o && o->compile_db_dir && (rc = db_args(&extra, o->compile_db_dir, path)) < 0)
		goto done;
	for (size_t i = 0; o && i < o->nclang_args; i++)
		if ((rc = strv_add(&extra, o->clang_args[i])) < 0)
			goto done;
	const char *ext = ext_of(path);
	int cuda = !strcmp(ext, ".cu") || !strcmp(ext, ".cuh");
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
			if (rc == 0 && !avo_path_exists(tex)) {
				char *stubs = find_cuda13_dir();
				if (stubs && (rc = strv_add(args, "-idirafter")) == 0)
					rc = strv_add(args, stubs);
				free(stubs);
			}
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
	} else if (!strcmp(ext, ".hpp")) {
		if ((rc = strv_add(args, "-x")) == 0)
			rc = strv_add(args, "c++");
	} else if (!strcmp(ext, ".h")) {
		if ((rc = strv_add(args, "-x")) == 0)
			rc = strv_add(args, "c");
	}
	for (size_t i = 0; rc == 0 && i < extra.n; i++)
		rc = strv_add(args, extra.v[i]);
done:
	strv_dispose(&extra);
	return rc;
}

/* ---- the AST walk --------------------------------------------------------------------------- */

typedef struct {
	size_t b, e;
} rng;

typedef struct {
	rng r;
	char *func; /* enclosing named function, borrowed from the walk's names */
	size_t first_child, nchildren;
} compound;

typedef struct {
	rng r;
	int compound;
} child;

typedef struct {
	rng r;
	int container;
	int ok; /* a function declaration/definition (or extern "C" of only those) */
	int definition;
	char *name;
} tdecl;

typedef struct {
	rng r;
	char *name;
	int integer;
} vdecl;

typedef struct {
	const char *s;
	size_t len;
	CXFile main;
	compound *comp;
	size_t ncomp, acomp;
	child *kids;
	size_t nkids, akids;
	tdecl *decls;
	size_t ndecls, adecls;
	rng *conts;
	size_t nconts, aconts;
	vdecl *vars;
	size_t nvars, avars;
	strv names; /* owns the strings the arrays point to */
	int oom;
} walk;

typedef struct {
	walk *w;
	int in_decls;  /* children are declarations of `container` (-1: the file) */
	int container;
	int comp;      /* children are statements of this compound, or -1 */
	const char *func;
} frame;

static int grow_arr(void **p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t na = *cap ? 2 * *cap : 64;
	void *q = realloc(*p, na * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = na;
	return 0;
}

static int extent(walk *w, CXCursor c, rng *out)
{
	CXSourceRange r = clang_getCursorExtent(c);
	CXFile f1, f2;
	unsigned o1, o2;
	clang_getFileLocation(clang_getRangeStart(r), &f1, NULL, NULL, &o1);
	clang_getFileLocation(clang_getRangeEnd(r), &f2, NULL, NULL, &o2);
	if (!f1 || !f2 || !clang_File_isEqual(f1, w->main) || !clang_File_isEqual(f2, w->main) || o2 < o1 || o2 > w->len)
		return 0;
	out->b = o1;
	out->e = o2;
	return 1;
}

/* Skip blanks and comments from `i`; returns the next code byte's offset (or len). */
static size_t skip_blank(const char *s, size_t len, size_t i)
{
	for (;;) {
		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i + 1 < len && s[i] == '/' && s[i + 1] == '/') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
			const char *e = strstr(s + i + 2, "*/");
			i = e ? (size_t)(e - s) + 2 : len;
		} else {
			return i;
		}
	}
}

static char *intern(walk *w, const char *x)
{
	if (strv_add(&w->names, x ? x : "") < 0) {
		w->oom = 1;
		return NULL;
	}
	return w->names.v[w->names.n - 1];
}

static int is_function_kind(enum CXCursorKind k)
{
	return k == CXCursor_FunctionDecl || k == CXCursor_CXXMethod || k == CXCursor_Constructor ||
	       k == CXCursor_Destructor || k == CXCursor_ConversionFunction || k == CXCursor_FunctionTemplate;
}

static int is_container_kind(enum CXCursorKind k)
{
	return k == CXCursor_Namespace || k == CXCursor_LinkageSpec || k == CXCursor_StructDecl ||
	       k == CXCursor_ClassDecl || k == CXCursor_UnionDecl || k == CXCursor_ClassTemplate;
}

static enum CXChildVisitResult attr_visit(CXCursor c, CXCursor parent, CXClientData data)
{
	(void)parent;
	void **d = data;
	walk *w = d[0];
	rng *r = d[1];
	rng a;
	if (clang_isAttribute(clang_getCursorKind(c)) && extent(w, c, &a) && a.b < r->b)
		r->b = a.b;
	return CXChildVisit_Continue;
}

static enum CXChildVisitResult linkage_visit(CXCursor c, CXCursor parent, CXClientData data)
{
	(void)parent;
	int *ok = data;
	if (!is_function_kind(clang_getCursorKind(c)))
		*ok = 0;
	return CXChildVisit_Continue;
}

static enum CXChildVisitResult visit(CXCursor c, CXCursor parent, CXClientData data)
{
	(void)parent;
	frame *fr = data;
	walk *w = fr->w;
	rng r;
	if (w->oom || !extent(w, c, &r))
		return CXChildVisit_Continue; /* outside the file: skip the whole subtree */
	enum CXCursorKind k = clang_getCursorKind(c);
	frame sub = {w, 0, -1, -1, fr->func};

	/* statements end before their ';' in clang's extents; take it in, unless it is the
	 * next statement (a null statement) */
	rng full = r;
	if (fr->comp >= 0 || fr->in_decls) {
		if (fr->in_decls) {
			void *d[2] = {w, &full};
			clang_visitChildren(c, attr_visit, d);
		}
		if (full.e > 0 && w->s[full.e - 1] != ';' && w->s[full.e - 1] != '}') {
			size_t n = skip_blank(w->s, w->len, full.e);
			if (n < w->len && w->s[n] == ';')
				full.e = n + 1;
		} else if (full.e > 0 && w->s[full.e - 1] == '}' && fr->in_decls) {
			size_t n = skip_blank(w->s, w->len, full.e);
			if (n < w->len && w->s[n] == ';')
				full.e = n + 1;
		}
	}
	if (fr->comp >= 0) {
		if (grow_arr((void **)&w->kids, &w->akids, w->nkids, sizeof(*w->kids)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		/* a ';' taken in must not be the next sibling's null statement */
		if (w->nkids > 0 && w->kids[w->nkids - 1].compound == fr->comp && w->kids[w->nkids - 1].r.e > r.b)
			w->kids[w->nkids - 1].r.e = r.b;
		w->kids[w->nkids].r = full;
		w->kids[w->nkids].compound = fr->comp;
		w->nkids++;
	}
	if (fr->in_decls) {
		if (grow_arr((void **)&w->decls, &w->adecls, w->ndecls, sizeof(*w->decls)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		tdecl *d = &w->decls[w->ndecls++];
		d->r = full;
		d->container = fr->container;
		d->ok = is_function_kind(k);
		d->definition = d->ok && clang_isCursorDefinition(c);
		if (k == CXCursor_LinkageSpec) {
			d->ok = 1;
			clang_visitChildren(c, linkage_visit, &d->ok);
		}
		CXString sp = clang_getCursorSpelling(c);
		d->name = intern(w, clang_getCString(sp));
		clang_disposeString(sp);
	}
	if (is_function_kind(k)) {
		CXString sp = clang_getCursorSpelling(c);
		sub.func = intern(w, clang_getCString(sp));
		clang_disposeString(sp);
	}
	if (k == CXCursor_CompoundStmt) {
		if (grow_arr((void **)&w->comp, &w->acomp, w->ncomp, sizeof(*w->comp)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		w->comp[w->ncomp].r = r;
		w->comp[w->ncomp].func = (char *)fr->func;
		sub.comp = (int)w->ncomp++;
	} else if (is_container_kind(k)) {
		if (grow_arr((void **)&w->conts, &w->aconts, w->nconts, sizeof(*w->conts)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		w->conts[w->nconts] = r;
		sub.in_decls = 1;
		sub.container = (int)w->nconts++;
	} else if (k == CXCursor_VarDecl) {
		if (grow_arr((void **)&w->vars, &w->avars, w->nvars, sizeof(*w->vars)) < 0) {
			w->oom = 1;
			return CXChildVisit_Break;
		}
		vdecl *v = &w->vars[w->nvars++];
		v->r = r;
		CXString sp = clang_getCursorSpelling(c);
		v->name = intern(w, clang_getCString(sp));
		clang_disposeString(sp);
		enum CXTypeKind t = clang_getCanonicalType(clang_getCursorType(c)).kind;
		v->integer = t >= CXType_Bool && t <= CXType_Int128;
	}
	clang_visitChildren(c, visit, &sub);
	return CXChildVisit_Continue;
}

static void walk_dispose(walk *w)
{
	free(w->comp);
	free(w->kids);
	free(w->decls);
	free(w->conts);
	free(w->vars);
	strv_dispose(&w->names);
}

/* ---- region and knob checks against the AST ------------------------------------------------ */

typedef struct {
	const char *path;
	const char *s;
	size_t len;
	astedit__lines lines;
	size_t err_off; /* where the first problem lies, for apply's mapping */
} checker;

static int region_fail(checker *ck, const avo_astedit_region *r, const char *what)
{
	ck->err_off = r->marker.offset;
	return avo_error_setloc(AVO_EINVALID, ck->path, r->marker.line, r->marker.col, "region '%s' %s", r->name, what);
}

static int contains(rng outer, rng inner) { return outer.b <= inner.b && inner.e <= outer.e; }

static int innermost_compound(walk *w, size_t b, size_t e)
{
	int best = -1;
	for (size_t i = 0; i < w->ncomp; i++) {
		rng r = w->comp[i].r;
		if (r.b < b && e + 1 <= r.e && (best < 0 || r.e - r.b < w->comp[best].r.e - w->comp[best].r.b))
			best = (int)i;
	}
	return best;
}

static int check_region(checker *ck, walk *w, avo_astedit_region *reg)
{
	astedit__lex lx;
	size_t rb = reg->begin.offset, re = reg->end.offset;
	if (astedit__lex_run(&lx, ck->s + rb, re - rb, 0) < 0)
		return AVO_ERROR;
	size_t cb = rb + lx.code_begin, ce = rb + lx.code_end;
	int empty = lx.code_begin == re - rb;
	astedit__lex_dispose(&lx);
	if (empty)
		cb = ce = rb;

	int c = innermost_compound(w, cb, empty ? cb : ce - 1);
	if (c >= 0) {
		int c1 = innermost_compound(w, cb, cb), c2 = empty ? c1 : innermost_compound(w, ce - 1, ce - 1);
		for (size_t i = 0; i < w->nkids && !empty; i++) {
			child *k = &w->kids[i];
			if (k->compound != c || k->r.e <= cb || k->r.b >= ce || (k->r.b >= cb && k->r.e <= ce))
				continue;
			char what[256];
			if (c1 >= 0 && c2 >= 0 && !contains(w->comp[c1].r, w->comp[c2].r) &&
			    !contains(w->comp[c2].r, w->comp[c1].r)) {
				avo_astedit_pos p1 = astedit__pos(&ck->lines, w->comp[c1].r.b),
						p2 = astedit__pos(&ck->lines, w->comp[c2].r.b);
				snprintf(what, sizeof(what), "spans two compound statements (begins in the block at %u:%u, ends in the block at %u:%u)",
					 p1.line, p1.col, p2.line, p2.col);
			} else {
				avo_astedit_pos p = astedit__pos(&ck->lines, k->r.b);
				snprintf(what, sizeof(what), "cuts the statement at %u:%u; it must cover whole statements of one block",
					 p.line, p.col);
			}
			return region_fail(ck, reg, what);
		}
		reg->kind = AVO_ASTEDIT_REGION_STATEMENTS;
		free(reg->function);
		reg->function = avo_strdup(w->comp[c].func ? w->comp[c].func : "");
		return reg->function ? 0 : AVO_ERROR;
	}
	/* declaration scope: the innermost container holding the region, else the file */
	int cont = -1;
	for (size_t i = 0; i < w->nconts; i++) {
		rng r = w->conts[i];
		if (r.b < cb && ce < r.e && (cont < 0 || r.e - r.b < w->conts[cont].e - w->conts[cont].b))
			cont = (int)i;
	}
	avo_buf names = AVO_BUF_INIT;
	for (size_t i = 0; i < w->ndecls && !empty; i++) {
		tdecl *d = &w->decls[i];
		if (d->container != cont || d->r.e <= cb || d->r.b >= ce)
			continue;
		if (d->r.b < cb || d->r.e > ce) {
			avo_astedit_pos p = astedit__pos(&ck->lines, d->r.b);
			char what[320];
			snprintf(what, sizeof(what), "cuts the declaration of '%s' at %u:%u; it must cover whole statements of one block or whole function definitions",
				 d->name ? d->name : "", p.line, p.col);
			avo_buf_dispose(&names);
			return region_fail(ck, reg, what);
		}
		if (!d->ok) {
			avo_astedit_pos p = astedit__pos(&ck->lines, d->r.b);
			char what[320];
			snprintf(what, sizeof(what), "covers '%s' at %u:%u, which is not a function; outside a function body a region holds whole function definitions",
				 d->name ? d->name : "", p.line, p.col);
			avo_buf_dispose(&names);
			return region_fail(ck, reg, what);
		}
		if (d->definition && d->name && *d->name)
			avo_buf_printf(&names, "%s%s", names.size ? "," : "", d->name);
	}
	reg->kind = AVO_ASTEDIT_REGION_FUNCTION;
	free(reg->function);
	reg->function = avo_buf_detach(&names);
	return reg->function ? 0 : AVO_ERROR;
}

static int check_knob(checker *ck, walk *w, avo_astedit_knob *k)
{
	if (k->kind != AVO_ASTEDIT_KNOB_VARIABLE)
		return 0;
	for (size_t i = 0; i < w->nvars; i++) {
		vdecl *v = &w->vars[i];
		if (strcmp(v->name, k->name) || v->r.b > k->value_pos.offset || v->r.e < k->value_pos.offset + k->value_len)
			continue;
		if (!v->integer) {
			ck->err_off = k->marker.offset;
			return avo_error_setloc(AVO_EINVALID, ck->path, k->marker.line, k->marker.col,
						"knob marker on '%s', which is not an integer variable", k->name);
		}
		return 0;
	}
	ck->err_off = k->marker.offset;
	return avo_error_setloc(AVO_EINVALID, ck->path, k->marker.line, k->marker.col,
				"knob marker on something that is not a knob: no integer variable '%s' is declared here", k->name);
}

/* ---- parsing ------------------------------------------------------------------------------- */

typedef struct {
	int has_loc;
	size_t off;       /* in the parsed file, when has_loc */
	unsigned line, col;
	char *diagnostic; /* clang's text (parse errors) */
} perr;

static int parse_args(avo_astedit_unit **out, const char *path, const char *src, size_t len, char **args,
		      size_t nargs, perr *pe)
{
	avo_astedit_unit *u = NULL;
	int rc;
	*out = NULL;
	if ((rc = astedit__scan(&u, path, src, len)) < 0) {
		/* the scanner's message carries line:col; find the offset for apply */
		const char *m = avo_error_last(), *p = strstr(m, path);
		unsigned l = 0, col = 0;
		if (p && sscanf(p + strlen(path), ":%u:%u:", &l, &col) == 2) {
			pe->has_loc = 1;
			pe->line = l;
			pe->col = col;
			astedit__lines t;
			if (astedit__lines_init(&t, src, len) == 0) {
				pe->off = l - 1 < t.n ? t.starts[l - 1] + col - 1 : len;
				astedit__lines_dispose(&t);
			}
		}
		return rc;
	}
	for (size_t i = 0; i < nargs; i++) {
		char **na = realloc(u->clang_args, (u->nclang_args + 1) * sizeof(*na));
		if (!na || !(na[u->nclang_args] = avo_strdup(args[i]))) {
			if (na)
				u->clang_args = na;
			avo_astedit_unit_free(u);
			return avo_error_set(AVO_ERROR, "out of memory");
		}
		u->clang_args = na;
		u->nclang_args++;
	}

	CXIndex idx = clang_createIndex(0, 0);
	CXTranslationUnit tu = NULL;
	struct CXUnsavedFile uf = {path, u->source, (unsigned long)len};
	enum CXErrorCode ec = clang_parseTranslationUnit2(
		idx, path, (const char *const *)args, (int)nargs, &uf, 1,
		CXTranslationUnit_KeepGoing | CXTranslationUnit_IgnoreNonErrorsFromIncludedFiles, &tu);
	checker ck = {path, u->source, len, {0}, 0};
	walk w = {0};
	if (ec != CXError_Success || !tu) {
		rc = avo_error_set(AVO_EPARSE, "%s: libclang could not parse the file (error %d)", path, (int)ec);
		goto done;
	}
	if ((rc = astedit__lines_init(&ck.lines, u->source, len)) < 0)
		goto done;

	unsigned nd = clang_getNumDiagnostics(tu), nerr = 0;
	CXDiagnostic first = NULL;
	for (unsigned i = 0; i < nd; i++) {
		CXDiagnostic d = clang_getDiagnostic(tu, i);
		enum CXDiagnosticSeverity sev = clang_getDiagnosticSeverity(d);
		CXSourceLocation loc = clang_getDiagnosticLocation(d);
		CXFile f;
		clang_getFileLocation(loc, &f, NULL, NULL, NULL);
		if (sev >= CXDiagnostic_Error && (!f || !clang_Location_isInSystemHeader(loc))) {
			if (!nerr++) {
				first = d;
				continue;
			}
		}
		clang_disposeDiagnostic(d);
	}
	if (nerr) {
		CXSourceLocation loc = clang_getDiagnosticLocation(first);
		CXFile f;
		unsigned l, col, off;
		clang_getFileLocation(loc, &f, &l, &col, &off);
		CXString sp = clang_getDiagnosticSpelling(first);
		CXString full = clang_formatDiagnostic(first, CXDiagnostic_DisplaySourceLocation | CXDiagnostic_DisplayColumn);
		pe->diagnostic = avo_strdup(clang_getCString(full));
		char more[64] = "";
		if (nerr > 1)
			snprintf(more, sizeof(more), " (and %u more error%s)", nerr - 1, nerr > 2 ? "s" : "");
		if (f && clang_Location_isFromMainFile(loc)) {
			pe->has_loc = 1;
			pe->off = off;
			pe->line = l;
			pe->col = col;
			rc = avo_error_setloc(AVO_EPARSE, path, l, col, "error: %s%s", clang_getCString(sp), more);
		} else if (f) {
			CXString fn = clang_getFileName(f);
			rc = avo_error_set(AVO_EPARSE, "%s:%u:%u: error: %s (in a header included by %s)%s",
					   clang_getCString(fn), l, col, clang_getCString(sp), path, more);
			clang_disposeString(fn);
		} else {
			rc = avo_error_set(AVO_EPARSE, "%s: clang: error: %s%s", path, clang_getCString(sp), more);
		}
		clang_disposeString(sp);
		clang_disposeString(full);
		clang_disposeDiagnostic(first);
		goto done;
	}

	w.s = u->source;
	w.len = len;
	w.main = clang_getFile(tu, path);
	if (!w.main) {
		rc = avo_error_set(AVO_EPARSE, "%s: libclang lost the file", path);
		goto done;
	}
	frame top = {&w, 1, -1, -1, ""}; /* top-level declarations: container -1, the file */
	clang_visitChildren(clang_getTranslationUnitCursor(tu), visit, &top);
	if (w.oom) {
		rc = avo_error_set(AVO_ERROR, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < u->nregions && rc == 0; i++)
		rc = check_region(&ck, &w, &u->regions[i]);
	for (size_t i = 0; i < u->nknobs && rc == 0; i++)
		rc = check_knob(&ck, &w, &u->knobs[i]);
	if (rc < 0) {
		avo_astedit_pos p = astedit__pos(&ck.lines, ck.err_off);
		pe->has_loc = 1;
		pe->off = ck.err_off;
		pe->line = p.line;
		pe->col = p.col;
	}
done:
	walk_dispose(&w);
	astedit__lines_dispose(&ck.lines);
	if (tu)
		clang_disposeTranslationUnit(tu);
	clang_disposeIndex(idx);
	if (rc < 0)
		avo_astedit_unit_free(u);
	else
		*out = u;
	return rc;
}

int avo_astedit_parse(avo_astedit_unit **out, const char *path, const char *source, size_t len,
		      const avo_astedit_options *opts)
{
	avo_buf buf = AVO_BUF_INIT;
	strv args = {0};
	perr pe = {0};
	int rc;
	*out = NULL;
	if (!source) {
		if ((rc = avo_file_read(&buf, path)) < 0)
			return rc;
		source = buf.ptr ? buf.ptr : "";
		len = buf.size;
	}
	const char *ext = ext_of(path);
	static const char *known[] = {".cu", ".cuh", ".c", ".h", ".cpp", ".cc", ".cxx", ".hpp", NULL};
	size_t ki = 0;
	while (known[ki] && strcmp(ext, known[ki]))
		ki++;
	if (!known[ki]) {
		rc = avo_error_set(AVO_EINVALID, "%s: unknown kind of file (want .cu, .cuh, .c, .h, .cpp, .cc, .cxx or .hpp)", path);
		goto done;
	}
	if ((rc = build_args(&args, path, opts)) < 0)
		goto done;
	rc = parse_args(out, path, source, len, args.v, args.n, &pe);
done:
	free(pe.diagnostic);
	strv_dispose(&args);
	avo_buf_dispose(&buf);
	return rc;
}

/* ---- edits ----------------------------------------------------------------------------------- */

void avo_astedit_error_dispose(avo_astedit_error *e)
{
	if (!e)
		return;
	free(e->message);
	free(e->diagnostic);
	free(e->region);
	memset(e, 0, sizeof(*e));
}

static int edit_fail(avo_astedit_error *err, avo_astedit_error_kind kind, const char *region, unsigned line,
		     unsigned col, unsigned rline, const char *diag)
{
	int code = kind == AVO_ASTEDIT_ERR_PARSE ? AVO_EPARSE : kind == AVO_ASTEDIT_ERR_UNKNOWN_NAME ? AVO_ENOTFOUND : AVO_EINVALID;
	if (err) {
		avo_astedit_error_dispose(err);
		err->kind = kind;
		err->message = avo_strdup(avo_error_last());
		err->diagnostic = avo_strdup(diag);
		err->region = avo_strdup(region);
		err->line = line;
		err->col = col;
		err->region_line = rline;
	}
	return code;
}

typedef struct {
	size_t b, e;     /* span in the original */
	const char *text; /* replacement */
	size_t tlen;
	const char *region; /* region name, or NULL for a knob */
	const char *knob;
	size_t nb;       /* where it starts in the new source */
	size_t marker_back; /* regions: bytes from the marker to the region's text */
} span_edit;

static int cmp_span(const void *a, const void *b)
{
	const span_edit *x = a, *y = b;
	return x->b < y->b ? -1 : x->b > y->b;
}

int avo_astedit_apply(char **out, size_t *out_len, const avo_astedit_unit *orig,
		      const avo_astedit_region_edit *redits, size_t nredits,
		      const avo_astedit_knob_edit *kedits, size_t nkedits, avo_astedit_error *err)
{
	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (err)
		memset(err, 0, sizeof(*err));
	size_t n = nredits + nkedits;
	span_edit *sp = calloc(n ? n : 1, sizeof(*sp));
	char **owned = calloc(n ? n : 1, sizeof(*owned));
	avo_buf nsrc = AVO_BUF_INIT;
	avo_astedit_unit *nu = NULL;
	perr pe = {0};
	int rc = 0;
	if (!sp || !owned) {
		rc = avo_error_set(AVO_ERROR, "out of memory");
		goto done;
	}
	const char *path = orig->path;
	for (size_t i = 0; i < nredits; i++) {
		const avo_astedit_region *r = avo_astedit_region_find(orig, redits[i].region);
		if (!r) {
			avo_error_set(AVO_ENOTFOUND, "%s: no region named '%s'", path, redits[i].region ? redits[i].region : "(null)");
			rc = edit_fail(err, AVO_ASTEDIT_ERR_UNKNOWN_NAME, redits[i].region, 0, 0, 0, NULL);
			goto done;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(redits[j].region, r->name)) {
				avo_error_setloc(AVO_EINVALID, path, r->marker.line, r->marker.col, "region '%s' is edited twice", r->name);
				rc = edit_fail(err, AVO_ASTEDIT_ERR_DUPLICATE, r->name, r->marker.line, r->marker.col, 0, NULL);
				goto done;
			}
		const char *t = redits[i].text ? redits[i].text : "";
		size_t tl = strlen(t);
		if (tl && t[tl - 1] != '\n') { /* whole lines: the end marker keeps its own line */
			owned[i] = avo_sprintf("%s\n", t);
			if (!owned[i]) {
				rc = avo_error_set(AVO_ERROR, "out of memory");
				goto done;
			}
			t = owned[i];
			tl++;
		}
		/* refuse text that could reach outside its region, before clang sees it */
		static const char *markers[] = {"avo:region", "avo:end", "avo:knob"};
		for (size_t m = 0; m < 3; m++) {
			const char *hit = strstr(t, markers[m]);
			if (hit) {
				unsigned rl = 1;
				for (const char *q = t; q < hit; q++)
					rl += *q == '\n';
				avo_error_setloc(AVO_EINVALID, path, r->begin.line + rl - 1, 0,
						 "edit of region '%s' contains the marker '%s' (line %u of the new text)", r->name, markers[m], rl);
				rc = edit_fail(err, AVO_ASTEDIT_ERR_ESCAPE, r->name, r->begin.line + rl - 1, 0, rl, NULL);
				goto done;
			}
		}
		astedit__lex lx;
		if ((rc = astedit__lex_run(&lx, t, tl, 1)) < 0)
			goto done;
		if (lx.problem) {
			unsigned rl = 1, col = 1;
			for (size_t q = 0; q < lx.problem_off; q++) {
				if (t[q] == '\n') {
					rl++;
					col = 1;
				} else {
					col++;
				}
			}
			avo_error_setloc(AVO_EINVALID, path, r->begin.line + rl - 1, col,
					 "edit of region '%s' would escape it: %s (line %u of the new text)", r->name, lx.problem_msg, rl);
			astedit__lex_dispose(&lx);
			rc = edit_fail(err, AVO_ASTEDIT_ERR_ESCAPE, r->name, r->begin.line + rl - 1, col, rl, NULL);
			goto done;
		}
		astedit__lex_dispose(&lx);
		sp[i] = (span_edit){r->begin.offset, r->end.offset, t, tl, r->name, NULL, 0, r->begin.offset - r->marker.offset};
	}
	for (size_t i = 0; i < nkedits; i++) {
		const avo_astedit_knob *k = avo_astedit_knob_find(orig, kedits[i].knob);
		if (!k) {
			avo_error_set(AVO_ENOTFOUND, "%s: no knob named '%s'", path, kedits[i].knob ? kedits[i].knob : "(null)");
			rc = edit_fail(err, AVO_ASTEDIT_ERR_UNKNOWN_NAME, NULL, 0, 0, 0, NULL);
			goto done;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(kedits[j].knob, k->name)) {
				avo_error_setloc(AVO_EINVALID, path, k->marker.line, k->marker.col, "knob '%s' is edited twice", k->name);
				rc = edit_fail(err, AVO_ASTEDIT_ERR_DUPLICATE, NULL, k->marker.line, k->marker.col, 0, NULL);
				goto done;
			}
		const char *v = kedits[i].value ? kedits[i].value : "";
		long long val;
		int ok = astedit__knob_literal(v, &val);
		if (ok && k->is_range)
			ok = val >= k->lo && val <= k->hi;
		else if (ok) {
			ok = 0;
			for (size_t j = 0; j < k->nvalues && !ok; j++)
				ok = !strcmp(k->values[j], v);
		}
		if (!ok) {
			avo_error_setloc(AVO_EINVALID, path, k->value_pos.line, k->value_pos.col,
					 "value '%s' is not allowed for knob '%s'", v, k->name);
			rc = edit_fail(err, AVO_ASTEDIT_ERR_VALUE, NULL, k->value_pos.line, k->value_pos.col, 0, NULL);
			goto done;
		}
		sp[nredits + i] = (span_edit){k->value_pos.offset, k->value_pos.offset + k->value_len, v, strlen(v), NULL, k->name, 0, 0};
	}
	qsort(sp, n, sizeof(*sp), cmp_span);

	/* splice */
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		if ((rc = avo_buf_put(&nsrc, orig->source + at, sp[i].b - at)) < 0)
			goto done;
		sp[i].nb = nsrc.size;
		if ((rc = avo_buf_put(&nsrc, sp[i].text, sp[i].tlen)) < 0)
			goto done;
		at = sp[i].e;
	}
	if ((rc = avo_buf_put(&nsrc, orig->source + at, orig->source_len - at)) < 0)
		goto done;

	/* re-parse in memory with the same arguments */
	rc = parse_args(&nu, path, nsrc.ptr ? nsrc.ptr : "", nsrc.size, orig->clang_args, orig->nclang_args, &pe);
	if (rc < 0) {
		const char *region = NULL;
		unsigned rline = 0;
		for (size_t i = 0; i < n && pe.has_loc; i++) {
			if (sp[i].region && pe.off >= sp[i].nb && pe.off < sp[i].nb + sp[i].tlen) {
				region = sp[i].region;
				rline = 1;
				for (size_t q = sp[i].nb; q < pe.off; q++)
					rline += nsrc.ptr[q] == '\n';
			} else if (sp[i].region && pe.off == sp[i].nb - sp[i].marker_back) {
				region = sp[i].region; /* a check of the region as a whole failed */
			}
		}
		if (region && rline && rc == AVO_EPARSE) {
			char *m = avo_strdup(avo_error_last());
			avo_error_set(rc, "%s (line %u of region '%s')", m ? m : "", rline, region);
			free(m);
		}
		rc = edit_fail(err, rc == AVO_EPARSE ? AVO_ASTEDIT_ERR_PARSE : AVO_ASTEDIT_ERR_MARKERS, region,
			       pe.line, pe.col, rline, pe.diagnostic);
		goto done;
	}

	/* the same regions and knobs, where the splice put them */
	int same = nu->nregions == orig->nregions && nu->nknobs == orig->nknobs;
	for (size_t i = 0; same && i < orig->nregions; i++) {
		const avo_astedit_region *o = &orig->regions[i], *r = avo_astedit_region_find(nu, o->name);
		same = r && r->kind == o->kind &&
		       (o->kind != AVO_ASTEDIT_REGION_STATEMENTS || !strcmp(r->function, o->function));
		if (!same) {
			avo_error_setloc(AVO_EINVALID, path, o->marker.line, o->marker.col,
					 "after the edit, region '%s' is not the same kind of region in the same function", o->name);
			rc = edit_fail(err, AVO_ASTEDIT_ERR_MARKERS, o->name, o->marker.line, o->marker.col, 0, NULL);
			goto done;
		}
	}
	for (size_t i = 0; same && i < orig->nknobs; i++) {
		const avo_astedit_knob *o = &orig->knobs[i], *k = avo_astedit_knob_find(nu, o->name);
		same = k != NULL;
	}
	if (!same) {
		avo_error_set(AVO_EINVALID, "%s: after the edit the regions and knobs are not the same", path);
		rc = edit_fail(err, AVO_ASTEDIT_ERR_MARKERS, NULL, 0, 0, 0, NULL);
		goto done;
	}
	/* every byte outside the edited spans is the original's */
	at = 0;
	size_t nat = 0;
	for (size_t i = 0; i <= n; i++) {
		size_t ob = i < n ? sp[i].b : orig->source_len, gap = ob - at;
		if (nat + gap > nsrc.size || memcmp(orig->source + at, nsrc.ptr + nat, gap)) {
			avo_error_set(AVO_EINVALID, "%s: bytes outside the edited spans changed", path);
			rc = edit_fail(err, AVO_ASTEDIT_ERR_OUTSIDE, NULL, 0, 0, 0, NULL);
			goto done;
		}
		nat += gap;
		if (i < n) {
			nat += sp[i].tlen;
			at = sp[i].e;
			const avo_astedit_region *r = sp[i].region ? avo_astedit_region_find(nu, sp[i].region) : NULL;
			const avo_astedit_knob *k = sp[i].knob ? avo_astedit_knob_find(nu, sp[i].knob) : NULL;
			if ((r && (r->begin.offset != sp[i].nb || r->end.offset != sp[i].nb + sp[i].tlen)) ||
			    (k && (k->value_pos.offset != sp[i].nb || k->value_len != sp[i].tlen))) {
				avo_error_set(AVO_EINVALID, "%s: after the edit '%s' is not where the edit put it", path,
					      sp[i].region ? sp[i].region : sp[i].knob);
				rc = edit_fail(err, AVO_ASTEDIT_ERR_MARKERS, sp[i].region, 0, 0, 0, NULL);
				goto done;
			}
		}
	}
	if (nat != nsrc.size) {
		avo_error_set(AVO_EINVALID, "%s: bytes outside the edited spans changed", path);
		rc = edit_fail(err, AVO_ASTEDIT_ERR_OUTSIDE, NULL, 0, 0, 0, NULL);
		goto done;
	}
	if (out_len)
		*out_len = nsrc.size;
	*out = avo_buf_detach(&nsrc);
	rc = *out ? 0 : avo_error_set(AVO_ERROR, "out of memory");
done:
	avo_astedit_unit_free(nu);
	free(pe.diagnostic);
	avo_buf_dispose(&nsrc);
	for (size_t i = 0; owned && i < n; i++)
		free(owned[i]);
	free(owned);
	free(sp);
	return rc;
}
