/* The command operator: an external agent program speaking JSON on stdin/stdout
 * (protocol in agent/COMMAND.md). It runs in a fresh scratch directory, without secrets in
 * its environment, under a timeout; its proposal is validated and evaluated here. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	avo_agent_op op;
	char **argv;   /* NULL-terminated */
	size_t argc;
	double timeout;
	char *scratch_parent;
	size_t max_output;
} command_op;

static cJSON *edits_object(const avo_astedit_region_edit *r, size_t nr)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; o && i < nr; i++)
		cJSON_AddStringToObject(o, r[i].region, r[i].text);
	return o;
}

static cJSON *knob_edits_object(const avo_astedit_knob_edit *k, size_t nk)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; o && i < nk; i++)
		cJSON_AddStringToObject(o, k[i].knob, k[i].value);
	return o;
}

static char *build_request(const avo_agent_context *ctx)
{
	cJSON *req = cJSON_CreateObject(), *regions, *knobs, *lineage;
	if (!req)
		return NULL;
	cJSON_AddNumberToObject(req, "protocol", 1);
	if (ctx->kernel_name)
		cJSON_AddStringToObject(req, "kernel", ctx->kernel_name);
	cJSON_AddItemToObject(req, "regions", regions = cJSON_CreateObject());
	for (size_t i = 0; i < ctx->nregions; i++)
		cJSON_AddStringToObject(regions, ctx->regions[i].name, avo_agent_region_text(ctx, ctx->regions[i].name));
	cJSON_AddItemToObject(req, "knobs", knobs = cJSON_CreateObject());
	for (size_t i = 0; i < ctx->nknobs; i++) {
		const avo_agent_knob *k = &ctx->knobs[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "value", avo_agent_knob_value(ctx, k->name));
		if (k->is_range) {
			cJSON_AddNumberToObject(o, "lo", (double)k->lo);
			cJSON_AddNumberToObject(o, "hi", (double)k->hi);
		} else {
			cJSON *vals = cJSON_CreateArray();
			for (size_t j = 0; j < k->nvalues; j++)
				cJSON_AddItemToArray(vals, cJSON_CreateString(k->values[j]));
			cJSON_AddItemToObject(o, "values", vals);
		}
		cJSON_AddItemToObject(knobs, k->name, o);
	}
	cJSON_AddItemToObject(req, "lineage", lineage = cJSON_CreateArray());
	for (size_t i = 0; i < ctx->nlineage; i++) {
		const avo_agent_version *v = &ctx->lineage[i];
		cJSON *o = cJSON_CreateObject(), *sc = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", v->id ? v->id : "");
		if (v->parent)
			cJSON_AddStringToObject(o, "parent", v->parent);
		else
			cJSON_AddNullToObject(o, "parent");
		cJSON_AddStringToObject(o, "op", v->op ? v->op : "");
		cJSON_AddNumberToObject(o, "fitness", v->fitness);
		for (size_t j = 0; j < v->nscores; j++)
			if (v->scores[j].config)
				cJSON_AddNumberToObject(sc, v->scores[j].config, v->scores[j].score);
		cJSON_AddItemToObject(o, "scores", sc);
		if (v->note)
			cJSON_AddStringToObject(o, "note", v->note);
		cJSON_AddItemToObject(o, "regions", edits_object(v->regions, v->nregions));
		cJSON_AddItemToObject(o, "knobs", knob_edits_object(v->knobs, v->nknobs));
		cJSON_AddItemToArray(lineage, o);
	}
	if (ctx->base && ctx->base->id)
		cJSON_AddStringToObject(req, "base", ctx->base->id);
	else
		cJSON_AddNullToObject(req, "base");
	cJSON_AddStringToObject(req, "feedback", ctx->feedback ? ctx->feedback : "");
	cJSON_AddStringToObject(req, "hint", ctx->hint ? ctx->hint : "");
	char abs[PATH_MAX];
	if (ctx->knowledge_dir && realpath(ctx->knowledge_dir, abs))
		cJSON_AddStringToObject(req, "knowledge_dir", abs);
	else
		cJSON_AddNullToObject(req, "knowledge_dir");
	/* The whole source of the base version, for context (apply() renders it). */
	agent_edits e;
	if (avo_agent__edits_from_base(&e, ctx) == 0) {
		char *src = NULL;
		avo_agent_apply_error err;
		memset(&err, 0, sizeof(err));
		if (ctx->cb.apply(&src, &err, e.r, e.nr, e.k, e.nk, ctx->cb.payload) == 0 && src)
			cJSON_AddStringToObject(req, "source", src);
		else
			cJSON_AddNullToObject(req, "source");
		avo_agent_apply_error_dispose(&err);
		free(src);
		avo_agent__edits_free(&e);
	}
	char *s = cJSON_Print(req);
	cJSON_Delete(req);
	return s;
}

/* The proposal: the whole stdout, or else its last line that parses as a JSON object
 * (programs that log to stdout before answering). */
static cJSON *find_proposal(const avo_buf *out)
{
	const char *s = avo_buf_cstr(out), *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(s, out->size, &end, 0);
	if (cJSON_IsObject(j) && strspn(end, " \t\r\n") == strlen(end))
		return j;
	cJSON_Delete(j);
	for (const char *p = s + out->size; p > s;) {
		const char *q = p - 1; /* q: the '\n' ending the previous line, or s */
		while (q > s && *q != '\n')
			q--;
		const char *line = *q == '\n' ? q + 1 : q;
		if (*line == '{') {
			j = cJSON_ParseWithLengthOpts(line, (size_t)(p - line), &end, 0);
			if (cJSON_IsObject(j))
				return j;
			cJSON_Delete(j);
		}
		p = q;
	}
	return NULL;
}

static void fail(avo_agent_step_result *out, char *msg)
{
	out->outcome = AVO_AGENT_FAILED;
	free(out->error);
	out->error = msg ? msg : avo_strdup("out of memory");
}

static char *tail(const avo_buf *b, size_t n)
{
	const char *s = avo_buf_cstr(b);
	return avo_strdup(b->size > n ? s + b->size - n : s);
}

/* Turn the proposal into edits on top of the base; a message (caller frees) on bad input. */
static char *read_proposal(agent_edits *e, const avo_agent_context *ctx, const cJSON *p)
{
	const cJSON *regions = cJSON_GetObjectItemCaseSensitive(p, "regions");
	const cJSON *knobs = cJSON_GetObjectItemCaseSensitive(p, "knobs"), *it;
	if (regions && !cJSON_IsObject(regions) && !cJSON_IsNull(regions))
		return avo_strdup("proposal: \"regions\" must be an object {\"name\": \"text\"}");
	if (knobs && !cJSON_IsObject(knobs) && !cJSON_IsNull(knobs))
		return avo_strdup("proposal: \"knobs\" must be an object {\"NAME\": \"value\"}");
	cJSON_ArrayForEach(it, regions) {
		if (!avo_agent__ctx_region(ctx, it->string))
			return avo_sprintf("proposal: there is no region named \"%s\"", it->string);
		if (!cJSON_IsString(it))
			return avo_sprintf("proposal: region \"%s\": the text must be a string", it->string);
		size_t n = strlen(it->valuestring);
		char *t = (n && it->valuestring[n - 1] == '\n') ? avo_strdup(it->valuestring) : avo_sprintf("%s\n", it->valuestring);
		int rc = t ? avo_agent__edits_set_region(e, ctx, it->string, t) : AVO_ERROR;
		free(t);
		if (rc < 0)
			return avo_strdup("out of memory");
	}
	cJSON_ArrayForEach(it, knobs) {
		const avo_agent_knob *k = avo_agent__ctx_knob(ctx, it->string);
		char num[64];
		const char *v = cJSON_IsString(it) ? it->valuestring : NULL;
		if (cJSON_IsNumber(it)) {
			snprintf(num, sizeof(num), "%.17g", it->valuedouble);
			v = num;
		}
		if (!k)
			return avo_sprintf("proposal: there is no knob named \"%s\"", it->string);
		if (!v || !avo_agent__knob_allows(k, v)) {
			avo_buf b = AVO_BUF_INIT;
			avo_buf_printf(&b, "proposal: knob %s: value %s%s%s not allowed (allowed:", it->string,
				       v ? "\"" : "", v ? v : "(not a string or number)", v ? "\" is" : " is");
			if (k->is_range)
				avo_buf_printf(&b, " %lld..%lld", k->lo, k->hi);
			for (size_t i = 0; !k->is_range && i < k->nvalues; i++)
				avo_buf_printf(&b, " %s", k->values[i]);
			avo_buf_puts(&b, ")");
			return avo_buf_detach(&b);
		}
		if (avo_agent__edits_set_knob(e, ctx, it->string, v) < 0)
			return avo_strdup("out of memory");
	}
	return NULL;
}

static int command_step(avo_agent_op *op, const avo_agent_context *ctx, avo_agent_step_result *out)
{
	command_op *c = (command_op *)op;
	char *req = build_request(ctx), *scratch = NULL, *msg;
	avo_proc_result pr;
	cJSON *prop = NULL;
	agent_edits e = {0};
	int rc = 0;
	memset(&pr, 0, sizeof(pr));
	if (!req)
		return avo_oom();
	if ((rc = avo_mkdtemp(&scratch, c->scratch_parent, "avo-agent-")) < 0)
		goto done;
	avo_proc_options po = {0};
	po.argv = (const char *const *)c->argv;
	po.cwd = scratch;
	po.scrub_secrets = 1;
	po.timeout_s = c->timeout;
	po.max_output = c->max_output;
	po.stdin_data = req;
	po.stdin_len = strlen(req);
	if (avo_proc_run(&pr, &po) < 0) {
		fail(out, avo_sprintf("agent command %s could not start: %s", c->argv[0], avo_error_last()));
		goto done;
	}
	if (pr.timed_out || !pr.exited || pr.exit_code != 0) {
		char *how = avo_proc_describe(&pr, c->timeout), *t = tail(&pr.err, 2000);
		fail(out, avo_sprintf("agent command %s %s%s%s", c->argv[0], how ? how : "failed",
				      t && *t ? "; its stderr ends with:\n" : "", t ? t : ""));
		free(how);
		free(t);
		goto done;
	}
	if (!(prop = find_proposal(&pr.out))) {
		char *t = tail(&pr.out, 300);
		fail(out, avo_sprintf("agent command %s printed no JSON proposal on stdout "
				      "(want {\"regions\":{...},\"knobs\":{...},\"note\":\"...\"}); stdout ends with: %s",
				      c->argv[0], t ? t : ""));
		free(t);
		goto done;
	}
	const cJSON *note = cJSON_GetObjectItemCaseSensitive(prop, "note");
	if (cJSON_IsString(note))
		out->note = avo_strdup(note->valuestring);
	if ((rc = avo_agent__edits_from_base(&e, ctx)) < 0)
		goto done;
	char base_hash[33], h[33];
	avo_agent__edits_hash(base_hash, &e);
	if ((msg = read_proposal(&e, ctx, prop))) {
		fail(out, msg);
		goto done;
	}
	avo_agent__edits_hash(h, &e);
	if (!strcmp(h, base_hash)) {
		fail(out, avo_strdup("the proposal changes nothing"));
		goto done;
	}
	if (avo_agent__step_apply(&msg, ctx, &e) < 0) {
		fail(out, avo_sprintf("proposal refused: %s", msg ? msg : "invalid edit"));
		free(msg);
		goto done;
	}
	if ((rc = avo_agent__step_evaluate(out, ctx, &e)) < 0)
		goto done;
	out->evaluated = 1;
	out->outcome = out->committed ? AVO_AGENT_COMMITTED : AVO_AGENT_SUBMITTED;
done:
	avo_agent__edits_to_result(out, &e);
	avo_agent__edits_free(&e);
	cJSON_Delete(prop);
	avo_proc_result_dispose(&pr);
	if (scratch) {
		avo_rm_rf(scratch);
		free(scratch);
	}
	free(req);
	return rc;
}

static void command_free(avo_agent_op *op)
{
	command_op *c = (command_op *)op;
	for (size_t i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	free(c->scratch_parent);
	free(c);
}

int avo_agent_command_new(avo_agent_op **out, const struct cJSON *options)
{
	*out = NULL;
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(options, "argv"), *it;
	if (!cJSON_IsObject(options) || !cJSON_IsArray(argv) || cJSON_GetArraySize(argv) == 0)
		return avo_error_set(AVO_EINVALID, "command options: need {\"argv\": [\"program\", ...]}");
	cJSON_ArrayForEach(it, argv)
		if (!cJSON_IsString(it) || !*it->valuestring)
			return avo_error_set(AVO_EINVALID, "command options: \"argv\" must hold non-empty strings");
	command_op *c = calloc(1, sizeof(*c));
	if (!c)
		return avo_oom();
	c->op.name = "command";
	c->op.step = command_step;
	c->op.free = command_free;
	c->argv = calloc((size_t)cJSON_GetArraySize(argv) + 1, sizeof(*c->argv));
	if (!c->argv)
		goto oom;
	cJSON_ArrayForEach(it, argv) {
		if (!(c->argv[c->argc] = avo_strdup(it->valuestring)))
			goto oom;
		c->argc++;
	}
	/* The program runs inside the scratch directory: a relative path with a '/' must be made
	 * absolute now, against base_dir (the spec's directory) or the current directory. */
	const cJSON *bd = cJSON_GetObjectItemCaseSensitive(options, "base_dir");
	if (strchr(c->argv[0], '/') && c->argv[0][0] != '/') {
		char cwd[PATH_MAX];
		const char *base = cJSON_IsString(bd) ? bd->valuestring : getcwd(cwd, sizeof(cwd));
		char *joined = base ? avo_path_join(base, c->argv[0]) : NULL, abs[PATH_MAX];
		if (!joined || !realpath(joined, abs)) {
			int rc = avo_error_set(AVO_ENOTFOUND, "command options: agent program %s not found%s%s",
					       c->argv[0], base ? " in " : "", base ? base : "");
			free(joined);
			command_free(&c->op);
			return rc;
		}
		free(joined);
		free(c->argv[0]);
		if (!(c->argv[0] = avo_strdup(abs)))
			goto oom;
	}
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(options, "timeout");
	c->timeout = cJSON_IsNumber(t) ? t->valuedouble : 600;
	if (t && !cJSON_IsNumber(t)) {
		command_free(&c->op);
		return avo_error_set(AVO_EINVALID, "command options: \"timeout\" must be a number of seconds");
	}
	const cJSON *mo = cJSON_GetObjectItemCaseSensitive(options, "max_output");
	c->max_output = cJSON_IsNumber(mo) && mo->valuedouble > 0 ? (size_t)mo->valuedouble : 0;
	const cJSON *sd = cJSON_GetObjectItemCaseSensitive(options, "scratch_dir");
	const char *tmp = getenv("TMPDIR");
	c->scratch_parent = avo_strdup(cJSON_IsString(sd) ? sd->valuestring : (tmp && *tmp ? tmp : "/tmp"));
	if (!c->scratch_parent)
		goto oom;
	*out = &c->op;
	return 0;
oom:
	command_free(&c->op);
	return avo_oom();
}
