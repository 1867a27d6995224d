/* The tuning key of a spec (see RUNS.md): what a tuned result is valid for. Computed from
 * file bytes and spec fields only - no libclang, no timestamps, no absolute paths - so that
 * `avo apply` in a build stays within milliseconds.
 *
 * Ownership: the compiler identity string is caller-owned (free()).
 */
#ifndef AVO_TUNEKEY_H
#define AVO_TUNEKEY_H

#include "spec.h"
#include "avo_cache.h"

/* "nvcc 13.0.88" / "cc (Debian 12.2.0-14) 12.2.0": the first line of `<compiler> --version`,
 * remembered in the cache (keyed by the compiler's resolved path, size and mtime) so a
 * build does not spawn the compiler each time. `cache` may be NULL. */
int avo_tunekey_compiler_identity(char **out, const char *compiler, avo_cache *cache);

/* The tuning key of `spec` as 32 hex digits. `kernel_src` may be NULL (read spec->kernel). */
int avo_tunekey_compute(char out[AVO_CACHE_HEX], const avo_spec *spec, avo_cache *cache);

#endif
