#include "evalbox.h"

#include <stdlib.h>
#include <string.h>

static void push_dir_of(avo_strv *a, const char *path)
{
	char *d = avo_path_dirname(path);
	if (d)
		avo_strv_push(a, d);
	free(d);
}

const avo_sandbox *avo_evalbox_init(avo_evalbox *box, const avo_spec *s, const char *write_dir,
				    const char *extra_read)
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
	box->write_dir = avo_strdup(write_dir);
	box->sb.write_dir = box->write_dir ? box->write_dir : "/nonexistent";
	box->sb.read_paths = (const char *const *)box->reads.v;
	box->sb.gpu = s->is_cuda;
	return &box->sb;
}

const avo_sandbox *avo_evalbox_for_cmd(avo_evalbox *box, const avo_spec *s, const char *const *argv)
{
	const char *obj = NULL;
	for (size_t i = 0; argv[i] && argv[i + 1]; i++)
		if (!strcmp(argv[i], "-o"))
			obj = argv[i + 1];
	char *d = obj ? avo_path_dirname(obj) : NULL;
	const avo_sandbox *sb = avo_evalbox_init(box, s, d ? d : "/nonexistent", NULL);
	free(d);
	return sb;
}

void avo_evalbox_dispose(avo_evalbox *box)
{
	avo_strv_dispose(&box->reads);
	free(box->write_dir);
	memset(box, 0, sizeof(*box));
}
