/* The knowledge base: *.md notes in one directory, read by the llm operator's tools and
 * named in the supervisor's hints. */
#include "internal.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

int avo_agent__knowledge_is_note(const char *name)
{
	size_t l = strlen(name);
	return l > 3 && !strcmp(name + l - 3, ".md") && !strchr(name, '/') && name[0] != '.';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int avo_agent__knowledge_list(char ***out, size_t *n, const char *dir)
{
	*out = NULL;
	*n = 0;
	DIR *d = dir ? opendir(dir) : NULL;
	if (!d)
		return avo_error_set(AVO_EIO, "%s: the knowledge base cannot be read", dir ? dir : "(none)");
	for (struct dirent *e; (e = readdir(d));) {
		if (!avo_agent__knowledge_is_note(e->d_name))
			continue;
		char **p = realloc(*out, (*n + 1) * sizeof(**out));
		if (!p)
			break;
		*out = p;
		if (((*out)[*n] = avo_strdup(e->d_name)))
			(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_str);
	return 0;
}

void avo_agent__knowledge_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

char *avo_agent__knowledge_title(const char *dir, const char *name)
{
	/* The note's first heading says what it is about. */
	avo_buf note = AVO_BUF_INIT;
	char *p = avo_path_join(dir, name);
	char *title = NULL;
	if (p && avo_file_read(&note, p) == 0) {
		const char *t = avo_buf_cstr(&note);
		while (*t == '#' || *t == ' ')
			t++;
		title = avo_strndup(t, strcspn(t, "\n"));
	}
	avo_buf_dispose(&note);
	free(p);
	return title ? title : avo_strdup("");
}
