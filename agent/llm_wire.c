/* The registry of wire formats and the helpers they share. */
#include "llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const avo_llm_wire *const avo_llm_wires[] = {
	&avo_llm_wire_chat,
	&avo_llm_wire_responses,
	&avo_llm_wire_anthropic,
	NULL,
};

const avo_llm_wire *avo_llm_wire_find(const char *name)
{
	for (size_t i = 0; avo_llm_wires[i]; i++)
		if (!strcmp(avo_llm_wires[i]->name, name))
			return avo_llm_wires[i];
	return NULL;
}

const char *avo_llm_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

long long avo_llm_count(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	/* A server's token count is untrusted: clamp before the cast (a huge double is UB). */
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0))
		return 0;
	return v->valuedouble < 1e15 ? (long long)v->valuedouble : (long long)1e15;
}

int avo_llm_add_call(avo_llm_reply *r, cJSON *id_holder, const char *id_field, const char *name)
{
	static unsigned long made_up;
	if (!name || !*name)
		return avo_error_set(AVO_EPARSE, "the LLM API answer has a tool call without a name");
	const char *id = avo_llm_str(id_holder, id_field);
	char tmp[48];
	if (!id || !*id) {
		/* Some servers (local ones) send calls without ids: make one up and write it into
		 * the echoed turn, so the result pairs with its call. */
		snprintf(tmp, sizeof(tmp), "avo_call_%lu", ++made_up);
		cJSON_DeleteItemFromObjectCaseSensitive(id_holder, id_field);
		if (!cJSON_AddStringToObject(id_holder, id_field, tmp))
			return avo_oom();
		id = tmp;
	}
	avo_llm_call *p = realloc(r->calls, (r->ncalls + 1) * sizeof(*p));
	if (!p)
		return avo_oom();
	r->calls = p;
	memset(&p[r->ncalls], 0, sizeof(*p));
	p[r->ncalls].id = avo_strdup(id);
	p[r->ncalls].name = avo_strdup(name);
	r->ncalls++;
	if (!p[r->ncalls - 1].id || !p[r->ncalls - 1].name)
		return avo_oom();
	return 0;
}

void avo_llm_set_args(avo_llm_reply *r, const cJSON *args)
{
	avo_llm_call *tc = &r->calls[r->ncalls - 1];
	if (cJSON_IsObject(args)) { /* some servers send an object instead of a string */
		tc->args = cJSON_Duplicate(args, 1);
		return;
	}
	const char *s = cJSON_IsString(args) ? args->valuestring : NULL;
	if (!s || strspn(s, " \t\r\n") == strlen(s)) { /* absent or empty: no arguments */
		tc->args = cJSON_CreateObject();
		return;
	}
	const char *end = NULL;
	cJSON *a = cJSON_ParseWithLengthOpts(s, strlen(s), &end, 0);
	if (cJSON_IsObject(a)) {
		tc->args = a;
		return;
	}
	cJSON_Delete(a);
	tc->args_error = avo_sprintf("the arguments of %s are not a JSON object: %.80s", tc->name, s);
}

void avo_llm_reply_dispose(avo_llm_reply *r)
{
	for (size_t i = 0; i < r->ncalls; i++) {
		free(r->calls[i].id);
		free(r->calls[i].name);
		cJSON_Delete(r->calls[i].args);
		free(r->calls[i].args_error);
	}
	free(r->calls);
	cJSON_Delete(r->turn);
	memset(r, 0, sizeof(*r));
}

int avo_llm_elide_field(cJSON *o, const char *field)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, field);
	if (!cJSON_IsString(c) || strlen(c->valuestring) <= 200)
		return 0;
	cJSON_ReplaceItemInObjectCaseSensitive(o, field, cJSON_CreateString(AVO_LLM_ELIDED));
	return 1;
}

cJSON *avo_llm_text_message(const char *role, const char *text)
{
	cJSON *m = cJSON_CreateObject();
	if (m && (!cJSON_AddStringToObject(m, "role", role) || !cJSON_AddStringToObject(m, "content", text))) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

void avo_llm_bearer_headers(char *out[2], const avo_llm_conf *c, const char *key)
{
	(void)c;
	out[0] = key ? avo_sprintf("Authorization: Bearer %s", key) : NULL;
	out[1] = NULL;
}

int avo_llm_user_text(cJSON *conv, const char *text)
{
	cJSON *m = avo_llm_text_message("user", text);
	if (!m)
		return avo_oom();
	cJSON_AddItemToArray(conv, m);
	return 0;
}

int avo_llm_elide_items(cJSON *conv, const char *key, const char *value, const char *field)
{
	int n = cJSON_GetArraySize(conv);
	for (int i = 0; i < n - 4; i++) {
		cJSON *it = cJSON_GetArrayItem(conv, i);
		const char *v = avo_llm_str(it, key);
		if (v && !strcmp(v, value) && avo_llm_elide_field(it, field))
			return 1;
	}
	return 0;
}

cJSON *avo_llm_tool_list(const avo_agent_tool_def *defs, size_t n, const avo_llm_tool_shape *shape)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < n; i++) {
		cJSON *t = cJSON_CreateObject(), *schema = cJSON_Parse(defs[i].schema);
		if (t && shape->type)
			cJSON_AddStringToObject(t, "type", shape->type);
		cJSON *f = t && shape->wrap ? cJSON_AddObjectToObject(t, shape->wrap) : t;
		if (!f || !schema) {
			cJSON_Delete(schema);
			cJSON_Delete(t);
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddStringToObject(f, "name", defs[i].name);
		cJSON_AddStringToObject(f, "description", defs[i].description);
		cJSON_AddItemToObject(f, shape->schema_key, schema);
		if (shape->strict)
			cJSON_AddBoolToObject(f, "strict", 0);
		cJSON_AddItemToArray(arr, t);
	}
	return arr;
}
