/* Tiny check macros for the astedit tests: count failures, print file:line, exit 1 at the end. */
#ifndef AVO_ASTEDIT_T_H
#define AVO_ASTEDIT_T_H

#include "avo_astedit.h"
#include "avo_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			t_failures++;                                                            \
		}                                                                                \
	} while (0)

#define CHECK_STR(a, b)                                                                               \
	do {                                                                                          \
		const char *a_ = (a), *b_ = (b);                                                      \
		if (!a_ || !b_ || strcmp(a_, b_)) {                                                   \
			fprintf(stderr, "%s:%d: '%s' != '%s'\n", __FILE__, __LINE__, a_ ? a_ : "(null)", \
				b_ ? b_ : "(null)");                                                   \
			t_failures++;                                                                 \
		}                                                                                     \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                  \
	do {                                                                                         \
		const char *h_ = (hay), *n_ = (needle);                                              \
		if (!h_ || !strstr(h_, n_)) {                                                        \
			fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__,      \
				h_ ? h_ : "(null)", n_);                                                 \
			t_failures++;                                                                \
		}                                                                                    \
	} while (0)

static inline int t_done(void)
{
	if (t_failures)
		fprintf(stderr, "%d check(s) failed\n", t_failures);
	return t_failures ? 1 : 0;
}

static inline avo_astedit_unit *t_parse(const char *path)
{
	avo_astedit_unit *u = NULL;
	if (avo_astedit_parse(&u, path, NULL, 0, NULL) < 0) {
		fprintf(stderr, "parse %s failed: %s\n", path, avo_error_last());
		exit(1);
	}
	return u;
}

#endif
