/* Tiny test helpers shared by the cache tests: checks that count failures, temp dirs,
 * running the real avo binary. */
#ifndef AVO_CACHE_TEST_H
#define AVO_CACHE_TEST_H

#include "avo_base.h"
#include "avo_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			t_failures++;                                                    \
		}                                                                        \
	} while (0)

#define CHECK_RC(expr, want)                                                             \
	do {                                                                             \
		int t_rc_ = (expr);                                                      \
		if (t_rc_ != (want)) {                                                   \
			fprintf(stderr, "%s:%d: %s returned %d, want %d (%s)\n", __FILE__,     \
				__LINE__, #expr, t_rc_, (want), avo_error_last());       \
			t_failures++;                                                    \
		}                                                                        \
	} while (0)

/* A fresh directory under $TMPDIR (or /tmp); caller frees and removes it. */
static inline char *t_tmpdir(const char *prefix)
{
	const char *base = getenv("TMPDIR");
	char *d = NULL;
	if (avo_mkdtemp(&d, base && *base ? base : "/tmp", prefix) < 0) {
		fprintf(stderr, "cannot make a temp dir: %s\n", avo_error_last());
		exit(1);
	}
	return d;
}

/* Run `avo` with argv (NULL-terminated, argv[0] the binary) and extra env. */
static inline avo_proc_result t_run(const char *const *argv, const char *const *env)
{
	avo_proc_result r;
	avo_proc_options o = {0};
	o.argv = argv;
	o.env_add = env;
	o.timeout_s = 60;
	if (avo_proc_run(&r, &o) < 0) {
		fprintf(stderr, "cannot run %s: %s\n", argv[0], avo_error_last());
		exit(1);
	}
	return r;
}

static inline int t_exit(const avo_proc_result *r) { return r->exited ? r->exit_code : -1; }

static inline int t_done(const char *name)
{
	if (t_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, t_failures);
		return 1;
	}
	printf("%s: all checks passed\n", name);
	return 0;
}

#endif
