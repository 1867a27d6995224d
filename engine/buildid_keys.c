/* The header digest, the avo_buildid bundle and the cache keys (buildid.h). One field
 * list (`fields` below) says which input enters which key, so the keys cannot drift apart
 * again. Paths that enter a key are rewritten relative to named roots, so the same project
 * in another directory or on another machine gets the same keys. */
#include "buildid.h"
#include "avo_base.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KEY_PROTOCOL "2"        /* bin, eval and tune keys */
#define TUNE_V1_PROTOCOL "1"    /* the tuning key before headers and link flags entered it */
#define MAX_HEADERS 4096

/* ---- path roots ----------------------------------------------------------------------- */

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

/* The spec's "_key_roots" (a generated spec's source and build trees), its directory and
 * the kernel's. */
static void roots_init(roots *rs, const avo_spec *s)
{
	memset(rs, 0, sizeof(*rs));
	for (size_t i = 0; i < s->nkey_roots; i++)
		roots_add(rs, s->key_roots[i].label, s->key_roots[i].dir);
	roots_add(rs, "spec", s->dir);
	char *kdir = avo_path_dirname(s->kernel);
	roots_add(rs, "kernel", kdir);
	free(kdir);
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

/* ---- headers ---------------------------------------------------------------------------- */

typedef struct {
	char **paths;
	size_t n, cap;
} pathset;

static int pathset_has(const pathset *p, const char *path)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->paths[i], path))
			return 1;
	return 0;
}

/* Takes `path`. */
static void pathset_add(pathset *p, char *path)
{
	if (!path || p->n >= MAX_HEADERS || pathset_has(p, path)) {
		free(path);
		return;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		char **np = realloc(p->paths, cap * sizeof(*np));
		if (!np) {
			free(path);
			return;
		}
		p->paths = np;
		p->cap = cap;
	}
	p->paths[p->n++] = path;
}

static void pathset_dispose(pathset *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->paths[i]);
	free(p->paths);
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

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directories an #include is looked up in, after the includer's own (quoted form). */
static void search_dirs(pathset *d, const avo_spec *s)
{
	pathset_add(d, avo_path_dirname(s->kernel));
	pathset_add(d, avo_path_dirname(s->harness));
	for (size_t i = 0; i < s->ninclude_dirs; i++)
		pathset_add(d, avo_strdup(s->include_dirs[i]));
	for (size_t i = 0; i < s->nflags; i++) {
		const char *f = s->flags[i];
		const char *dir = !strcmp(f, "-I") && i + 1 < s->nflags ? s->flags[i + 1]
				  : !strncmp(f, "-I", 2) ? f + 2 : NULL;
		if (dir && *dir)
			pathset_add(d, dir[0] == '/' ? avo_strdup(dir) : avo_path_join(s->dir, dir));
	}
}

/* Every `#include "x"` / `#include <x>` of `text` that resolves in the project, added to
 * `found` (which the caller walks on, so the closure is followed). */
static void scan_includes(pathset *found, const pathset *dirs, const char *includer, const char *text)
{
	char *own = avo_path_dirname(includer);
	for (const char *p = text; p && *p;) {
		const char *q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '#') {
			q++;
			while (*q == ' ' || *q == '\t')
				q++;
			if (!strncmp(q, "include", 7)) {
				q += 7;
				while (*q == ' ' || *q == '\t')
					q++;
				char close = *q == '"' ? '"' : *q == '<' ? '>' : 0;
				size_t n = close ? strcspn(q + 1, close == '"' ? "\"\n" : ">\n") : 0;
				if (n && q[1 + n] == close) {
					char *name = avo_strndup(q + 1, n), *hit = NULL;
					if (close == '"' && own) {
						hit = avo_path_join(own, name);
						if (hit && !is_file(hit))
							free(hit), hit = NULL;
					}
					for (size_t i = 0; !hit && i < dirs->n; i++) {
						hit = avo_path_join(dirs->paths[i], name);
						if (hit && !is_file(hit))
							free(hit), hit = NULL;
					}
					free(name);
					pathset_add(found, hit); /* not found: a toolchain header */
				}
			}
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	free(own);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int avo_buildid_headers(char out[AVO_CACHE_HEX], const avo_spec *s)
{
	pathset dirs = {0}, found = {0};
	avo_buf mkey = AVO_BUF_INIT;
	char *cached = NULL;
	roots rs;
	int rc = 0;
	avo_buf_printf(&mkey, "hdr:%s\n%s\n%s\n", s->path, s->kernel, s->harness);
	if (avo_buildid_memo_get(avo_buf_cstr(&mkey), &cached, NULL) == 0) {
		snprintf(out, AVO_CACHE_HEX, "%s", cached);
		free(cached);
		avo_buf_dispose(&mkey);
		return 0;
	}
	roots_init(&rs, s);
	search_dirs(&dirs, s);
	/* The closure of the includes of the kernel and the harness ... */
	const char *tus[] = {s->kernel, s->harness};
	for (size_t t = 0; t < 2; t++) {
		avo_buf b = AVO_BUF_INIT;
		if (avo_file_read(&b, tus[t]) == 0)
			scan_includes(&found, &dirs, tus[t], avo_buf_cstr(&b));
		avo_buf_dispose(&b);
	}
	for (size_t i = 0; i < found.n; i++) {
		avo_buf b = AVO_BUF_INIT;
		if (avo_file_read(&b, found.paths[i]) == 0)
			scan_includes(&found, &dirs, found.paths[i], avo_buf_cstr(&b));
		avo_buf_dispose(&b);
	}
	/* ... and every header directly in the search dirs (one named through a macro). */
	for (size_t d = 0; d < dirs.n; d++) {
		DIR *dir = opendir(dirs.paths[d]);
		struct dirent *e;
		while (dir && (e = readdir(dir)))
			if (is_header(e->d_name))
				pathset_add(&found, avo_path_join(dirs.paths[d], e->d_name));
		if (dir)
			closedir(dir);
	}
	if (found.n)
		qsort(found.paths, found.n, sizeof(*found.paths), cmp_str);
	avo_cache_key *k;
	if ((rc = avo_cache_key_new(&k, "headers")) < 0)
		goto done;
	for (size_t i = 0; i < found.n; i++) {
		avo_buf content = AVO_BUF_INIT;
		if (avo_file_read(&content, found.paths[i]) == 0) {
			char *r = relativize(&rs, found.paths[i]);
			avo_cache_key_adds(k, "path", r);
			avo_cache_key_add(k, "content", content.ptr ? content.ptr : "", content.size);
			free(r);
		}
		avo_buf_dispose(&content);
	}
	avo_cache_key_final(k, out);
	avo_buildid_memo_put(avo_buf_cstr(&mkey), out, strlen(out));
done:
	roots_dispose(&rs);
	pathset_dispose(&dirs);
	pathset_dispose(&found);
	avo_buf_dispose(&mkey);
	return rc;
}

/* ---- the bundle ------------------------------------------------------------------------- */

int avo_buildid_init(avo_buildid *out, const avo_spec *s, int gpu, avo_cache *cache)
{
	int rc;
	memset(out, 0, sizeof(*out));
	if ((rc = avo_buildid_compiler(&out->compiler, s->compiler, cache)) < 0 ||
	    (rc = avo_buildid_headers(out->headers, s)) < 0)
		goto fail;
	if (!(out->device = avo_buildid_device(s->is_cuda, gpu))) {
		rc = avo_oom();
		goto fail;
	}
	return 0;
fail:
	avo_buildid_dispose(out);
	return rc;
}

void avo_buildid_dispose(avo_buildid *id)
{
	free(id->compiler);
	free(id->device);
	memset(id, 0, sizeof(*id));
}

/* ---- the keys: one field list ------------------------------------------------------------ */

enum {
	K_BIN = 1,     /* a compiled TU */
	K_EVAL = 2,    /* an evaluation */
	K_TUNE = 4,    /* a tuning run */
	K_TUNE1 = 8,   /* a tuning run, keyed before protocol 2 (runs and entries of older avo) */
	K_TUNES = K_TUNE | K_TUNE1,
	K_ALL = K_BIN | K_EVAL | K_TUNES,
};

typedef struct {
	unsigned kind;
	const avo_spec *s;
	const avo_buildid *id;
	const roots *rs;
	/* bin: the TU's name and bytes; eval: the variant's name and hash; tune: the
	 * original kernel's name and bytes. */
	const char *name;
	const char *src;
	size_t len;
	const char *harness; /* eval: its hash; tune: its bytes */
	size_t harness_len;
	int native;          /* bin: -march=native / -arch=native code is this machine's only */
} key_in;

static void add_list(avo_cache_key *k, const key_in *in, const char *field, char **v, size_t n)
{
	char count[32];
	snprintf(count, sizeof(count), "%zu", n);
	avo_cache_key_adds(k, field, count);
	for (size_t i = 0; i < n; i++) {
		char *rel = relativize(in->rs, v[i]);
		avo_cache_key_adds(k, field, rel ? rel : v[i]);
		free(rel);
	}
}

static void f_protocol(avo_cache_key *k, const key_in *in)
{
	avo_cache_key_adds(k, "protocol", in->kind == K_TUNE1 ? TUNE_V1_PROTOCOL : KEY_PROTOCOL);
}

static void f_source(avo_cache_key *k, const key_in *in)
{
	static const char *const field[] = {[K_BIN] = "source", [K_EVAL] = "variant", [K_TUNE] = "kernel",
					    [K_TUNE1] = "kernel"};
	avo_cache_key_add(k, field[in->kind], in->src ? in->src : "", in->len);
}

static void f_name(avo_cache_key *k, const key_in *in)
{
	static const char *const field[] = {[K_BIN] = "name", [K_EVAL] = "variant_name", [K_TUNE] = "kernel_name",
					    [K_TUNE1] = "kernel_name"};
	avo_cache_key_adds(k, field[in->kind], in->name);
}

static void f_harness(avo_cache_key *k, const key_in *in)
{
	avo_cache_key_add(k, "harness", in->harness ? in->harness : "", in->harness_len);
}

static void f_configs(avo_cache_key *k, const key_in *in)
{
	char count[32];
	snprintf(count, sizeof(count), "%zu", in->s->nconfigs);
	avo_cache_key_adds(k, "configs", count);
	for (size_t i = 0; i < in->s->nconfigs; i++) {
		avo_cache_key_adds(k, "config", in->s->configs[i].name);
		add_list(k, in, "args", in->s->configs[i].args, in->s->configs[i].nargs);
	}
}

static void f_arch(avo_cache_key *k, const key_in *in) { avo_cache_key_adds(k, "arch", in->s->arch); }
static void f_compiler(avo_cache_key *k, const key_in *in) { avo_cache_key_adds(k, "compiler", in->id->compiler); }
static void f_flags(avo_cache_key *k, const key_in *in) { add_list(k, in, "flags", in->s->flags, in->s->nflags); }
static void f_defines(avo_cache_key *k, const key_in *in) { add_list(k, in, "defines", in->s->defines, in->s->ndefines); }
static void f_headers(avo_cache_key *k, const key_in *in) { avo_cache_key_adds(k, "headers", in->id->headers); }

static void f_include_dirs(avo_cache_key *k, const key_in *in)
{
	add_list(k, in, "include_dirs", in->s->include_dirs, in->s->ninclude_dirs);
}

static void f_link_flags(avo_cache_key *k, const key_in *in)
{
	add_list(k, in, "link_flags", in->s->link_flags, in->s->nlink_flags);
}

/* The compile command line less the scratch paths (bin: everything the compiler is told). */
static void f_command(avo_cache_key *k, const key_in *in)
{
	avo_buildid_argv a = AVO_BUILDID_ARGV_INIT;
	avo_buildid_compile_argv(&a, in->s, "SRC", "OBJ");
	add_list(k, in, "arg", (char **)a.v, a.n);
	avo_buildid_argv_dispose(&a);
}

static void f_device(avo_cache_key *k, const key_in *in)
{
	if (in->kind == K_EVAL || in->native)
		avo_cache_key_adds(k, "device", in->id->device);
}

static void f_judging(avo_cache_key *k, const key_in *in)
{
	char tol[64];
	snprintf(tol, sizeof(tol), "%.17g", in->s->tolerance);
	avo_cache_key_adds(k, "tolerance", tol);
	avo_cache_key_adds(k, "objective", in->s->objective);
}

/* The field list. Order matters (it is hashed in this order); K_TUNE1 must keep the
 * fields and order of tuning keys that older runs recorded. */
static const struct {
	unsigned keys;
	void (*add)(avo_cache_key *k, const key_in *in);
} fields[] = {
	{K_ALL, f_protocol},
	{K_ALL, f_source},
	{K_ALL, f_name},
	{K_EVAL | K_TUNES, f_harness},
	{K_EVAL | K_TUNES, f_configs},
	{K_EVAL | K_TUNES, f_arch},
	{K_ALL, f_compiler},
	{K_EVAL | K_TUNES, f_flags},
	{K_EVAL | K_TUNES, f_include_dirs},
	{K_EVAL | K_TUNES, f_defines},
	{K_EVAL | K_TUNE, f_link_flags},
	{K_BIN | K_EVAL | K_TUNE, f_headers},
	{K_BIN, f_command},
	{K_BIN | K_EVAL, f_device},
	{K_EVAL, f_judging},
};

static const char *key_kind_name(unsigned kind)
{
	return kind == K_BIN ? "bin" : kind == K_EVAL ? "eval" : "tune";
}

static void build_key(char out[AVO_CACHE_HEX], const key_in *in)
{
	avo_cache_key *k;
	if (avo_cache_key_new(&k, key_kind_name(in->kind)) < 0) {
		out[0] = '\0';
		return;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].keys & in->kind)
			fields[i].add(k, in);
	avo_cache_key_final(k, out);
}

void avo_buildid_bin_key(char out[AVO_CACHE_HEX], const avo_spec *s, const avo_buildid *id,
			 const char *name, const char *src, size_t len)
{
	roots rs;
	roots_init(&rs, s);
	key_in in = {K_BIN, s, id, &rs, name, src, len, NULL, 0, 0};
	in.native = strstr(s->arch, "native") != NULL;
	for (size_t i = 0; i < s->nflags; i++)
		in.native |= strstr(s->flags[i], "native") != NULL;
	build_key(out, &in);
	roots_dispose(&rs);
}

void avo_buildid_eval_key(char out[AVO_CACHE_HEX], const avo_spec *s, const avo_buildid *id,
			  const char *variant_hash, const char *harness_hash)
{
	roots rs;
	roots_init(&rs, s);
	key_in in = {K_EVAL, s, id, &rs, avo_path_basename(s->kernel), variant_hash, strlen(variant_hash),
		     harness_hash, strlen(harness_hash), 0};
	build_key(out, &in);
	roots_dispose(&rs);
}

int avo_buildid_tune_key(char out[AVO_CACHE_HEX], char legacy[AVO_CACHE_HEX], const avo_spec *s, avo_cache *cache)
{
	avo_buf kernel = AVO_BUF_INIT, harness = AVO_BUF_INIT;
	avo_buildid id = {0};
	roots rs;
	int rc;
	out[0] = '\0';
	if (legacy)
		legacy[0] = '\0';
	if ((rc = avo_file_read(&kernel, s->kernel)) < 0 || (rc = avo_file_read(&harness, s->harness)) < 0 ||
	    (rc = avo_buildid_compiler(&id.compiler, s->compiler, cache)) < 0 ||
	    (rc = avo_buildid_headers(id.headers, s)) < 0)
		goto done;
	roots_init(&rs, s);
	key_in in = {K_TUNE, s, &id, &rs, avo_path_basename(s->kernel), kernel.ptr, kernel.size,
		     harness.ptr, harness.size, 0};
	build_key(out, &in);
	if (legacy) {
		in.kind = K_TUNE1;
		build_key(legacy, &in);
	}
	roots_dispose(&rs);
done:
	avo_buildid_dispose(&id);
	avo_buf_dispose(&kernel);
	avo_buf_dispose(&harness);
	return rc;
}
