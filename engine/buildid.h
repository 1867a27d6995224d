/* The build identity: what a compiled variant, an evaluation and a tuning result depend on,
 * written once. Every other module asks here for:
 *   - the compiler identity (`<compiler> --version`, remembered in the cache by the compiler
 *     file's path, size and mtime, and per process), the device identity (nvidia-smi name,
 *     compute capability, driver; "cpu <machine> <model>" for C) and the header digest;
 *   - the spec -> flags mapping: the compile and link command lines and the libclang
 *     arguments, built from the same list (include dirs, defines, -I/-D/-U/-std in flags);
 *   - the cache keys (DESIGN.md "Cache keys"), built from ONE field list: object = the
 *     variant's bytes; "bin" = a compiled TU; "eval" = an evaluation; "tune" = a tuning run.
 *
 * Header digest: every header that the kernel or the harness includes (quoted or angled,
 * followed recursively) and that resolves in the includer's directory, the kernel's, the
 * harness's or an include dir, plus every header directly in those directories (a header
 * named through a macro is still seen). Headers found nowhere there are the toolchain's,
 * pinned by the compiler identity. Computed once per process per spec.
 *
 * No libclang here: `avo apply` computes the tuning key within milliseconds.
 *
 * Ownership: strings returned through `out` are the caller's (free()); an avo_buildid is
 * released with avo_buildid_dispose(), an argv with avo_buildid_argv_dispose().
 */
#ifndef AVO_BUILDID_H
#define AVO_BUILDID_H

#include "avo_cache.h"
#include "spec.h"

/* ---- identities --------------------------------------------------------------------- */

/* "nvcc 13.0.88" / "cc (Debian 12.2.0-14) 12.2.0". `cache` may be NULL (then the compiler
 * runs once per process). AVO_ENOTFOUND when the compiler is not on PATH. */
int avo_buildid_compiler(char **out, const char *compiler, avo_cache *cache);
/* "gpu <name>, <cc>, <driver>" (GPU `gpu`, or the first of CUDA_VISIBLE_DEVICES when < 0),
 * "cpu <machine> <model>" for a C kernel. NULL only when out of memory. */
char *avo_buildid_device(int is_cuda, int gpu);
/* The GPU index whose identity counts: `gpu`, else the first CUDA_VISIBLE_DEVICES entry. */
int avo_buildid_gpu_index(int gpu);
/* The header digest (above), 32 hex digits. */
int avo_buildid_headers(char out[AVO_CACHE_HEX], const avo_spec *s);

typedef struct {
	char *compiler;                /* avo_buildid_compiler() */
	char *device;                  /* avo_buildid_device() */
	char headers[AVO_CACHE_HEX];   /* avo_buildid_headers() */
} avo_buildid;

/* All three for one spec. `cache` may be NULL. */
int avo_buildid_init(avo_buildid *out, const avo_spec *s, int gpu, avo_cache *cache);
void avo_buildid_dispose(avo_buildid *id);

/* ---- command lines ------------------------------------------------------------------ */

typedef struct {
	const char **v;                /* NULL-terminated */
	size_t n, cap;
	char **owned;                  /* strings built for this line */
	size_t nowned, cap_owned;
} avo_buildid_argv;

#define AVO_BUILDID_ARGV_INIT {NULL, 0, 0, NULL, 0, 0}

void avo_buildid_argv_dispose(avo_buildid_argv *a);
/* Append a borrowed string (it must outlive the argv). */
int avo_buildid_argv_push(avo_buildid_argv *a, const char *s);
/* compiler, arch, -O3 unless the spec names a level, flags, -I<kernel dir>, -I include
 * dirs, -D defines, -c src -o obj. */
int avo_buildid_compile_argv(avo_buildid_argv *a, const avo_spec *s, const char *src, const char *obj);
/* compiler, arch, -O3?, flags, hobj vobj -o exe, link flags. */
int avo_buildid_link_argv(avo_buildid_argv *a, const avo_spec *s, const char *hobj, const char *vobj,
			  const char *exe);
/* The arguments libclang needs to parse the kernel as the compiler builds it: the same
 * include dirs and defines, the -I/-D/-U/-std=/-include of the flags, and for CUDA the
 * arch as --cuda-gpu-arch. */
int avo_buildid_clang_argv(avo_buildid_argv *a, const avo_spec *s);

/* ---- keys --------------------------------------------------------------------------- */

/* "bin": a compiled TU named `name` with content `src`. */
void avo_buildid_bin_key(char out[AVO_CACHE_HEX], const avo_spec *s, const avo_buildid *id,
			 const char *name, const char *src, size_t len);
/* "eval": the variant with hash `variant_hash`, the harness with hash `harness_hash`. */
void avo_buildid_eval_key(char out[AVO_CACHE_HEX], const avo_spec *s, const avo_buildid *id,
			  const char *variant_hash, const char *harness_hash);
/* "tune": the original kernel and harness (read from the spec's files), the configs, the
 * build identity less the device. `legacy` (may be NULL) gets the key that avo recorded
 * before headers and link flags entered it (protocol 1), so older runs still resume and
 * older published results still apply. */
int avo_buildid_tune_key(char out[AVO_CACHE_HEX], char legacy[AVO_CACHE_HEX], const avo_spec *s,
			 avo_cache *cache);

/* ---- a process-wide memo (identities, the harness object) ---------------------------- */

/* A copy of the value (caller frees) or AVO_ENOTFOUND. Thread-safe. */
int avo_buildid_memo_get(const char *key, char **out, size_t *len);
void avo_buildid_memo_put(const char *key, const char *val, size_t len);

#endif
