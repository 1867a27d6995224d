#include "evalbox.h"
#include "avo_cache.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void push_dir_of(avo_strv *a, const char *path)
{
	char *d = avo_path_dirname(path);
	if (d)
		avo_strv_push(a, d);
	free(d);
}

/* The installation of the compiler (<prefix> of <prefix>/bin/cc) when it is not in the
 * system dirs the sandbox shows anyway (a toolchain under /home or /work, say). */
static void push_compiler(avo_strv *a, const char *compiler)
{
	static const char *const sys[] = {"/usr/", "/bin/", "/sbin/", "/lib", "/etc/", "/opt/", NULL};
	char *found = NULL, real[PATH_MAX];
	if (strchr(compiler, '/')) {
		found = avo_strdup(compiler);
	} else {
		const char *path = getenv("PATH");
		for (const char *p = path ? path : ""; *p && !found;) {
			size_t n = strcspn(p, ":");
			char *c = avo_sprintf("%.*s/%s", (int)n, p, compiler);
			if (c && access(c, X_OK) == 0)
				found = c;
			else
				free(c);
			p += n + (p[n] == ':');
		}
	}
	if (found && realpath(found, real)) {
		int system = 0;
		for (const char *const *s = sys; *s; s++)
			system |= !strncmp(real, *s, strlen(*s));
		char *bin = system ? NULL : avo_path_dirname(real);
		if (bin)
			push_dir_of(a, bin);
		free(bin);
	}
	free(found);
}

const avo_sandbox *avo_evalbox_init(avo_evalbox *box, const avo_spec *s, const char *write_dir,
				    const char *extra_read, const char *hide)
{
	memset(box, 0, sizeof(*box));
	if (!s->sandbox)
		return NULL;
	/* A missing path (out of memory) makes the step fail inside, never run outside. */
	avo_strv_push(&box->reads, s->dir);
	push_dir_of(&box->reads, s->kernel);
	push_dir_of(&box->reads, s->harness);
	for (size_t i = 0; i < s->ninclude_dirs; i++)
		avo_strv_push(&box->reads, s->include_dirs[i]);
	if (extra_read)
		avo_strv_push(&box->reads, extra_read);
	if (s->compiler)
		push_compiler(&box->reads, s->compiler);
	/* Directories the flags name (-I DIR, -IDIR, -isystem DIR, -include FILE) are read too. */
	for (size_t i = 0; i < s->nflags; i++) {
		const char *f = s->flags[i], *next = i + 1 < s->nflags ? s->flags[i + 1] : NULL;
		if (!strncmp(f, "-I", 2) && f[2])
			avo_strv_push(&box->reads, f + 2);
		else if ((!strcmp(f, "-I") || !strcmp(f, "-isystem")) && next)
			avo_strv_push(&box->reads, next);
		else if (!strcmp(f, "-include") && next)
			push_dir_of(&box->reads, next);
	}
	/* What the directories above may hold but a candidate must not read. */
	char *cache = avo_cache_default_dir(), *runs = avo_path_join(s->dir, ".avo");
	const char *hidden[] = {cache, runs, hide};
	for (size_t i = 0; i < 3; i++) {
		char real[PATH_MAX];
		if (hidden[i] && realpath(hidden[i], real)) /* absent: nothing to hide */
			avo_strv_push(&box->hides, real);
	}
	free(cache);
	free(runs);
	box->write_dir = avo_strdup(write_dir);
	box->sb.write_dir = box->write_dir ? box->write_dir : "/nonexistent";
	box->sb.read_paths = (const char *const *)box->reads.v;
	box->sb.hide_paths = (const char *const *)box->hides.v;
	box->sb.gpu = s->is_cuda;
	return &box->sb;
}

const avo_sandbox *avo_evalbox_for_cmd(avo_evalbox *box, const avo_spec *s, const char *const *argv,
				       const char *extra_read, const char *hide)
{
	const char *obj = NULL;
	for (size_t i = 0; argv[i] && argv[i + 1]; i++)
		if (!strcmp(argv[i], "-o"))
			obj = argv[i + 1];
	char *d = obj ? avo_path_dirname(obj) : NULL;
	const avo_sandbox *sb = avo_evalbox_init(box, s, d ? d : "/nonexistent", extra_read, hide);
	free(d);
	return sb;
}

void avo_evalbox_dispose(avo_evalbox *box)
{
	avo_strv_dispose(&box->reads);
	avo_strv_dispose(&box->hides);
	free(box->write_dir);
	memset(box, 0, sizeof(*box));
}
