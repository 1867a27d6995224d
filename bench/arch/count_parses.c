/* LD_PRELOAD shim for bench/arch/attempt_time.sh: counts the process's libclang parses
 * (clang_parseTranslationUnit2, the one entry avo's astedit uses, before and after issue 13)
 * and appends "<pid> <count>" to $AVO_PARSE_LOG at exit. Only processes that parse write.
 * Measurement only: avo carries no hook; the test tune.parses counts with the linker. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*parse_fn)(void *, const char *, const char *const *, int, void *, unsigned, unsigned, void *);

static long parses;

int clang_parseTranslationUnit2(void *idx, const char *path, const char *const *args, int nargs, void *uf,
				unsigned nuf, unsigned flags, void *out)
{
	static parse_fn real;
	if (!real)
		real = (parse_fn)dlsym(RTLD_NEXT, "clang_parseTranslationUnit2");
	__atomic_add_fetch(&parses, 1, __ATOMIC_SEQ_CST);
	return real(idx, path, args, nargs, uf, nuf, flags, out);
}

__attribute__((destructor)) static void report(void)
{
	const char *log = getenv("AVO_PARSE_LOG");
	FILE *f = parses && log ? fopen(log, "a") : NULL;
	if (f) {
		fprintf(f, "%ld %ld\n", (long)getpid(), parses);
		fclose(f);
	}
}
