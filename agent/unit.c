/* Adapters between avo_astedit and the operators, for the tune loop. Kept in their own
 * object file: programs that do not call them do not need libclang. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void avo_agent_unit_view_dispose(avo_agent_unit_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nregions; i++)
		free((char *)v->regions[i].text);
	free(v->regions);
	free(v->knobs);
	memset(v, 0, sizeof(*v));
}

int avo_agent_unit_view_init(avo_agent_unit_view *out, const avo_astedit_unit *u)
{
	memset(out, 0, sizeof(*out));
	out->regions = calloc(u->nregions ? u->nregions : 1, sizeof(*out->regions));
	out->knobs = calloc(u->nknobs ? u->nknobs : 1, sizeof(*out->knobs));
	if (!out->regions || !out->knobs)
		goto oom;
	for (size_t i = 0; i < u->nregions; i++) {
		char *t = avo_astedit_region_text(u, &u->regions[i]);
		if (!t)
			goto oom;
		out->regions[i].name = u->regions[i].name;
		out->regions[i].text = t;
		out->nregions++;
	}
	for (size_t i = 0; i < u->nknobs; i++) {
		const avo_astedit_knob *k = &u->knobs[i];
		avo_agent_knob *d = &out->knobs[i];
		d->name = k->name;
		d->value = k->value;
		d->values = (const char *const *)k->values;
		d->nvalues = k->nvalues;
		d->is_range = k->is_range;
		d->lo = k->lo;
		d->hi = k->hi;
	}
	out->nknobs = u->nknobs;
	return 0;
oom:
	avo_agent_unit_view_dispose(out);
	return avo_oom();
}

int avo_agent_astedit_apply(char **out_source, avo_agent_apply_error *err,
			    const avo_astedit_region_edit *redits, size_t nredits,
			    const avo_astedit_knob_edit *kedits, size_t nkedits, void *payload)
{
	const avo_astedit_unit *u = payload;
	avo_astedit_error e;
	char *src = NULL;
	size_t len = 0;
	memset(&e, 0, sizeof(e));
	int rc = avo_astedit_apply(&src, &len, u, redits, nredits, kedits, nkedits, &e);
	if (rc < 0) {
		if (err) {
			err->kind = (int)e.kind;
			const char *m = e.message ? e.message : avo_error_last();
			err->message = e.diagnostic && *e.diagnostic ? avo_sprintf("%s\n%s", m, e.diagnostic) : avo_strdup(m);
			err->region = avo_strdup(e.region);
			err->region_line = e.region_line;
		}
		avo_astedit_error_dispose(&e);
		free(src);
		return rc;
	}
	avo_astedit_error_dispose(&e);
	if (out_source)
		*out_source = src;
	else
		free(src);
	return 0;
}
