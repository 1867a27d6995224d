/* The supervisor: watches finished steps and, when they stall (no commit for a while, or
 * the same edits tried again), writes a steering hint naming what has not been tried. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	char **v;
	size_t n;
} strset;

struct avo_agent_supervisor {
	unsigned stall_attempts;
	unsigned since_commit, steps;
	int repeated;              /* the last step repeated an earlier edit set */
	strset hashes, regions, knobs, notes;
	char *last_error;
};

static int set_has(const strset *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], x))
			return 1;
	return 0;
}

static int set_add(strset *s, const char *x)
{
	if (set_has(s, x))
		return 0;
	char **p = realloc(s->v, (s->n + 1) * sizeof(*p));
	if (!p)
		return avo_oom();
	s->v = p;
	if (!(p[s->n] = avo_strdup(x)))
		return avo_oom();
	s->n++;
	return 0;
}

static void set_free(strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

int avo_agent_supervisor_new(avo_agent_supervisor **out, const avo_agent_supervisor_options *opts)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return avo_oom();
	(*out)->stall_attempts = opts && opts->stall_attempts ? opts->stall_attempts : 4;
	return 0;
}

void avo_agent_supervisor_free(avo_agent_supervisor *s)
{
	if (!s)
		return;
	set_free(&s->hashes);
	set_free(&s->regions);
	set_free(&s->knobs);
	set_free(&s->notes);
	free(s->last_error);
	free(s);
}

int avo_agent_supervisor_observe(avo_agent_supervisor *s, const avo_agent_step_result *r)
{
	int rc = 0;
	s->steps++;
	s->since_commit = r->committed ? 0 : s->since_commit + 1;
	s->repeated = 0;
	if (r->edit_hash[0] && r->nregions + r->nknobs > 0) {
		s->repeated = set_has(&s->hashes, r->edit_hash);
		rc = set_add(&s->hashes, r->edit_hash);
	}
	for (size_t i = 0; rc == 0 && i < r->nregions; i++)
		rc = set_add(&s->regions, r->regions[i].region);
	for (size_t i = 0; rc == 0 && i < r->nknobs; i++)
		rc = set_add(&s->knobs, r->knobs[i].knob);
	for (size_t i = 0; rc == 0 && i < r->nknowledge_read; i++)
		rc = set_add(&s->notes, r->knowledge_read[i]);
	free(s->last_error);
	s->last_error = r->outcome == AVO_AGENT_FAILED && r->error ? avo_strdup(r->error) : NULL;
	return rc;
}

int avo_agent_supervisor_stalled(const avo_agent_supervisor *s)
{
	return s->repeated || s->since_commit >= s->stall_attempts;
}

static int in_lineage_regions(const avo_agent_context *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->nlineage; i++)
		for (size_t j = 0; j < ctx->lineage[i].nregions; j++)
			if (!strcmp(ctx->lineage[i].regions[j].region, name))
				return 1;
	return 0;
}

static int in_lineage_knobs(const avo_agent_context *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->nlineage; i++)
		for (size_t j = 0; j < ctx->lineage[i].nknobs; j++)
			if (!strcmp(ctx->lineage[i].knobs[j].knob, name))
				return 1;
	return 0;
}

/* Knowledge notes not read yet, with their first heading (the technique they describe). */
static void unread_notes(avo_buf *b, const avo_agent_supervisor *s, const char *dir)
{
	char **all = NULL;
	size_t n = 0, unread = 0;
	if (avo_agent__knowledge_list(&all, &n, dir) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		unread += !set_has(&s->notes, all[i]);
	if (unread)
		avo_buf_puts(b, "- Knowledge notes not read yet (read_knowledge), techniques to try:\n");
	for (size_t i = 0; i < n; i++) {
		if (set_has(&s->notes, all[i]))
			continue;
		char *title = avo_agent__knowledge_title(dir, all[i]);
		avo_buf_printf(b, "    %s%s%s\n", all[i], *title ? ": " : "", title);
		free(title);
	}
	avo_agent__knowledge_list_free(all, n);
}

int avo_agent_supervisor_hint(char **out, avo_agent_supervisor *s, const avo_agent_context *ctx)
{
	*out = NULL;
	if (!avo_agent_supervisor_stalled(s))
		return 0;
	avo_buf b = AVO_BUF_INIT;
	if (s->repeated)
		avo_buf_puts(&b, "The last attempt repeated edits that were already tried. Do something different.\n");
	if (s->since_commit >= s->stall_attempts)
		avo_buf_printf(&b, "No improvement was committed in the last %u attempts. Change direction:\n", s->since_commit);
	else
		avo_buf_puts(&b, "Directions not explored yet:\n");
	if (s->last_error) {
		size_t n = strcspn(s->last_error, "\n");
		avo_buf_printf(&b, "- The last attempt failed: %.*s\n", (int)(n < 300 ? n : 300), s->last_error);
	}
	size_t before = b.size;
	int first = 1;
	for (size_t i = 0; i < ctx->nregions; i++) {
		const char *n = ctx->regions[i].name;
		if (set_has(&s->regions, n) || in_lineage_regions(ctx, n))
			continue;
		avo_buf_printf(&b, "%s%s", first ? "- Regions never edited: " : ", ", n);
		first = 0;
	}
	if (!first)
		avo_buf_puts(&b, "\n");
	first = 1;
	for (size_t i = 0; i < ctx->nknobs; i++) {
		const char *n = ctx->knobs[i].name;
		if (set_has(&s->knobs, n) || in_lineage_knobs(ctx, n))
			continue;
		avo_buf_printf(&b, "%s%s", first ? "- Knobs never changed: " : ", ", n);
		first = 0;
	}
	if (!first)
		avo_buf_puts(&b, "\n");
	unread_notes(&b, s, ctx->knowledge_dir);
	if (b.size == before)
		avo_buf_puts(&b, "- Every region, knob and note has been tried: combine the best ideas of the "
				 "lineage, or restructure the algorithm (tiling, pipelining, memory layout) instead of "
				 "tuning constants.\n");
	if (b.size == 0)
		avo_buf_puts(&b, "\n");
	*out = avo_buf_detach(&b);
	return *out ? 0 : avo_oom();
}
