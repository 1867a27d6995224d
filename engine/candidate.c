/* Candidates and the book of recent ones (candidate.h). */
#include "candidate.h"
#include "avo_agent.h"
#include "avo_base.h"

#include <stdlib.h>
#include <string.h>

void avo_candidate_free(avo_candidate *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nregions; i++)
		free((char *)c->regions[i].region), free((char *)c->regions[i].text);
	for (size_t i = 0; i < c->nknobs; i++)
		free((char *)c->knobs[i].knob), free((char *)c->knobs[i].value);
	free(c->regions);
	free(c->knobs);
	free(c->source);
	free(c);
}

/* A candidate holding copies of the edits, without a source yet. */
static int with_edits(avo_candidate **out, const avo_astedit_region_edit *re, size_t nre,
		      const avo_astedit_knob_edit *ke, size_t nke)
{
	avo_candidate *c = calloc(1, sizeof(*c));
	*out = NULL;
	if (!c || !(c->regions = calloc(nre + 1, sizeof(*c->regions))) || !(c->knobs = calloc(nke + 1, sizeof(*c->knobs))))
		goto oom;
	c->nregions = nre; /* the arrays are zeroed: a half copy frees cleanly */
	c->nknobs = nke;
	for (size_t i = 0; i < nre; i++)
		if (!(c->regions[i].region = avo_strdup(re[i].region)) || !(c->regions[i].text = avo_strdup(re[i].text)))
			goto oom;
	for (size_t i = 0; i < nke; i++)
		if (!(c->knobs[i].knob = avo_strdup(ke[i].knob)) || !(c->knobs[i].value = avo_strdup(ke[i].value)))
			goto oom;
	avo_agent_edit_hash(c->edit_hash, re, nre, ke, nke);
	*out = c;
	return 0;
oom:
	avo_candidate_free(c);
	return avo_oom();
}

/* The candidate of these edits with the source that `u` (one parse) or `known` gives. */
static int make(avo_candidate **out, avo_astedit_error *err, const avo_astedit_unit *u, const char *known,
		size_t len, const avo_astedit_region_edit *re, size_t nre, const avo_astedit_knob_edit *ke,
		size_t nke)
{
	avo_candidate *c = NULL;
	int rc = with_edits(&c, re, nre, ke, nke);
	*out = NULL;
	if (rc < 0)
		return rc;
	if (u)
		rc = avo_astedit_apply(&c->source, &c->len, u, re, nre, ke, nke, err);
	else if ((c->source = avo_strndup(known, len)))
		c->len = len;
	else
		rc = avo_oom();
	if (rc < 0) {
		avo_candidate_free(c);
		return rc;
	}
	avo_cache_hash_hex(c->hash, c->source, c->len);
	*out = c;
	return 0;
}

int avo_candidate_new(avo_candidate **out, avo_astedit_error *err, const avo_astedit_unit *u,
		      const avo_astedit_region_edit *re, size_t nre, const avo_astedit_knob_edit *ke,
		      size_t nke)
{
	return make(out, err, u, NULL, 0, re, nre, ke, nke);
}

int avo_candidate_known(avo_candidate **out, const char *source, size_t len,
			const avo_astedit_region_edit *re, size_t nre, const avo_astedit_knob_edit *ke,
			size_t nke)
{
	return make(out, NULL, NULL, source, len, re, nre, ke, nke);
}

/* ---- the book ------------------------------------------------------------------------ */

avo_candidate *avo_candidate_book_find(const avo_candidate_book *b, const char *edit_hash)
{
	if (b->pinned && !strcmp(b->pinned->edit_hash, edit_hash))
		return b->pinned;
	for (size_t i = 0; i < sizeof(b->slot) / sizeof(b->slot[0]); i++)
		if (b->slot[i] && !strcmp(b->slot[i]->edit_hash, edit_hash))
			return b->slot[i];
	return NULL;
}

void avo_candidate_book_put(avo_candidate_book *b, avo_candidate *c)
{
	size_t n = sizeof(b->slot) / sizeof(b->slot[0]);
	avo_candidate_free(b->slot[b->next]);
	b->slot[b->next] = c;
	b->next = (b->next + 1) % n;
}

void avo_candidate_book_take(avo_candidate_book *b, const avo_candidate *c)
{
	if (b->pinned == c)
		b->pinned = NULL;
	for (size_t i = 0; i < sizeof(b->slot) / sizeof(b->slot[0]); i++)
		if (b->slot[i] == c)
			b->slot[i] = NULL;
}

void avo_candidate_book_pin(avo_candidate_book *b, avo_candidate *c)
{
	if (b->pinned != c)
		avo_candidate_free(b->pinned);
	b->pinned = c;
}

void avo_candidate_book_dispose(avo_candidate_book *b)
{
	for (size_t i = 0; i < sizeof(b->slot) / sizeof(b->slot[0]); i++)
		avo_candidate_free(b->slot[i]);
	avo_candidate_free(b->pinned);
	memset(b, 0, sizeof(*b));
}
