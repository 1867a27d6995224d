/* The tuning spec (avo.json). Every error names the file and the field; a malformed file
 * gets "file:line:col: parse error". Unknown top-level fields are warned about on stderr
 * (a typo should not pass silently) but do not fail the load, so that a spec written for a
 * newer avo still loads; fields starting with "_" or "//" are comments and pass silently. */
#include "spec.h"
#include "avo_base.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const known_fields[] = {
	"name", "kernel", "harness", "compiler", "flags", "link_flags", "include_dirs",
	"defines", "arch", "configs", "tolerance", "objective", "timeout", "compile_timeout",
	"harness_protocol",
	"operator", "budget", "shipped_dir", "knowledge", "knob", "llm", "command",
	"parse_flags", "language",
	"backend", "local", "slurm", /* read by engine/backend.c (CLUSTER.md) */
	"sandbox",
	"min_gain",
	NULL,
};

/* Plug-in sections kept parsed in the spec (operators, then backends). */
static const char *const sections[] = {"knob", "llm", "command", "local", "slurm", NULL};

typedef struct {
	const char *file; /* for messages */
	avo_spec *s;
} ctx;

static int field_err(const ctx *c, const char *field, const char *what)
{
	return avo_error_set(AVO_EINVALID, "%s: field \"%s\": %s", c->file, field, what);
}

/* Optional string field; *out stays NULL when absent. */
static int get_str(const ctx *c, const cJSON *root, const char *field, int required, char **out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, field);
	if (!it)
		return required ? field_err(c, field, "missing (required string)") : 0;
	if (!cJSON_IsString(it))
		return field_err(c, field, "must be a string");
	if (required && !it->valuestring[0])
		return field_err(c, field, "must not be empty");
	if (!(*out = avo_strdup(it->valuestring)))
		return avo_oom();
	return 0;
}

static int get_num(const ctx *c, const cJSON *root, const char *field, double lo, double *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, field);
	if (!it)
		return 0;
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
		return field_err(c, field, "must be a number");
	if (it->valuedouble < lo) {
		char msg[64];
		snprintf(msg, sizeof(msg), "must be >= %g", lo);
		return field_err(c, field, msg);
	}
	*out = it->valuedouble;
	return 0;
}

/* A JSON string or number as an argument string ("4096", not "4096.0"). */
static char *scalar_text(const cJSON *it)
{
	if (cJSON_IsString(it))
		return avo_strdup(it->valuestring);
	double v = it->valuedouble;
	if (v == floor(v) && fabs(v) < 1e15)
		return avo_sprintf("%.0f", v);
	return avo_sprintf("%.17g", v);
}

/* `label` names the field in messages ("configs[2].args"); NULL: `field`. */
static int get_str_array(const ctx *c, const cJSON *root, const char *field, const char *label,
			 int allow_numbers, char ***out, size_t *n)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, field);
	if (!label)
		label = field;
	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return field_err(c, label, allow_numbers ? "must be an array of strings or numbers"
						      : "must be an array of strings");
	int cnt = cJSON_GetArraySize(arr);
	if (!(*out = calloc((size_t)cnt + 1, sizeof(char *))))
		return avo_oom();
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) && !(allow_numbers && cJSON_IsNumber(it))) {
			char msg[96];
			snprintf(msg, sizeof(msg), "element %zu must be a string%s", *n,
				 allow_numbers ? " or a number" : "");
			return field_err(c, label, msg);
		}
		if (!((*out)[(*n)++] = scalar_text(it)))
			return avo_oom();
	}
	return 0;
}

/* Relative paths resolve against the spec's (absolute) directory. */
static char *resolve(const avo_spec *s, const char *p)
{
	return p[0] == '/' ? avo_strdup(p) : avo_path_join(s->dir, p);
}

static int get_path(const ctx *c, const cJSON *root, const char *field, int required, int must_exist,
		    char **out)
{
	char *raw = NULL;
	int rc = get_str(c, root, field, required, &raw);
	if (rc < 0 || !raw)
		return rc;
	*out = resolve(c->s, raw);
	free(raw);
	if (!*out)
		return avo_oom();
	if (must_exist && access(*out, R_OK) < 0) {
		char msg[PATH_MAX + 64];
		snprintf(msg, sizeof(msg), "cannot read %s: %s", *out, strerror(errno));
		return field_err(c, field, msg);
	}
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* "sm_90a" -> ok; "native" and "" are accepted too (see eval.c). */
static int valid_arch(const char *a)
{
	if (!*a || !strcmp(a, "native"))
		return 1;
	if (strncmp(a, "sm_", 3))
		return 0;
	const char *p = a + 3;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return !*p || ((*p == 'a' || *p == 'f') && !p[1]);
}

static int parse_configs(const ctx *c, const cJSON *root)
{
	avo_spec *s = c->s;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "configs");
	if (!arr)
		return field_err(c, "configs", "missing (required non-empty array of {\"name\", \"args\"})");
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return field_err(c, "configs", "must be a non-empty array of {\"name\", \"args\"}");
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (!(s->configs = calloc(n, sizeof(*s->configs))))
		return avo_oom();
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		size_t i = s->nconfigs++;
		char fname[64];
		snprintf(fname, sizeof(fname), "configs[%zu]", i);
		if (!cJSON_IsObject(it))
			return field_err(c, fname, "must be an object {\"name\", \"args\"}");
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
		snprintf(fname, sizeof(fname), "configs[%zu].name", i);
		if (!nm)
			return field_err(c, fname, "missing (required string)");
		if (!cJSON_IsString(nm) || !nm->valuestring[0])
			return field_err(c, fname, "must be a non-empty string");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s->configs[j].name, nm->valuestring))
				return field_err(c, fname, "duplicate config name");
		if (!(s->configs[i].name = avo_strdup(nm->valuestring)))
			return avo_oom();
		snprintf(fname, sizeof(fname), "configs[%zu].args", i);
		int rc = get_str_array(c, it, "args", fname, 1, &s->configs[i].args, &s->configs[i].nargs);
		if (rc < 0)
			return rc;
		const cJSON *k;
		cJSON_ArrayForEach(k, it)
			if (strcmp(k->string, "name") && strcmp(k->string, "args"))
				fprintf(stderr, "avo: %s: warning: unknown field \"configs[%zu].%s\" ignored\n",
					c->file, i, k->string);
	}
	return 0;
}

static int parse_sections(const ctx *c, const cJSON *root)
{
	avo_spec *s = c->s;
	if (!(s->sections = cJSON_CreateObject()))
		return avo_oom();
	for (size_t i = 0; sections[i]; i++) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, sections[i]);
		if (!o || cJSON_IsNull(o))
			continue;
		if (!cJSON_IsObject(o))
			return field_err(c, sections[i], "must be an object");
		cJSON_AddItemToObject(s->sections, sections[i], cJSON_Duplicate(o, 1));
	}
	static const char *const roots[] = {"source", "build", "project_source", "project_build"};
	const cJSON *kr = cJSON_GetObjectItemCaseSensitive(root, "_key_roots");
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(kr, roots[i]);
		if (cJSON_IsString(v) && v->valuestring[0] == '/') {
			s->key_roots[s->nkey_roots].label = roots[i];
			if (!(s->key_roots[s->nkey_roots++].dir = avo_strdup(v->valuestring)))
				return avo_oom();
		}
	}
	return 0;
}

static int parse(const ctx *c, const cJSON *root)
{
	avo_spec *s = c->s;
	int rc;
	if ((rc = get_str(c, root, "name", 1, &s->name)) < 0 ||
	    (rc = get_path(c, root, "kernel", 1, 1, &s->kernel)) < 0 ||
	    (rc = get_path(c, root, "harness", 1, 1, &s->harness)) < 0 ||
	    (rc = get_str(c, root, "compiler", 0, &s->compiler)) < 0 ||
	    (rc = get_str_array(c, root, "flags", NULL, 0, &s->flags, &s->nflags)) < 0 ||
	    (rc = get_str_array(c, root, "link_flags", NULL, 0, &s->link_flags, &s->nlink_flags)) < 0 ||
	    (rc = get_str_array(c, root, "include_dirs", NULL, 0, &s->include_dirs, &s->ninclude_dirs)) < 0 ||
	    (rc = get_str_array(c, root, "defines", NULL, 0, &s->defines, &s->ndefines)) < 0 ||
	    (rc = get_str_array(c, root, "parse_flags", NULL, 0, &s->parse_flags, &s->nparse_flags)) < 0 ||
	    (rc = get_str(c, root, "language", 0, &s->language)) < 0 ||
	    (rc = get_str(c, root, "arch", 0, &s->arch)) < 0 ||
	    (rc = parse_configs(c, root)) < 0 ||
	    (rc = get_num(c, root, "tolerance", 0, &s->tolerance)) < 0 ||
	    (rc = get_str(c, root, "objective", 0, &s->objective)) < 0 ||
	    (rc = get_str(c, root, "harness_protocol", 0, &s->harness_protocol)) < 0 ||
	    (rc = get_num(c, root, "timeout", 1e-3, &s->timeout_s)) < 0 ||
	    (rc = get_num(c, root, "compile_timeout", 1e-3, &s->compile_timeout_s)) < 0 ||
	    (rc = get_str(c, root, "operator", 0, &s->op)) < 0 ||
	    (rc = get_path(c, root, "shipped_dir", 0, 0, &s->shipped_dir)) < 0 ||
	    (rc = get_path(c, root, "knowledge", 0, 0, &s->knowledge)) < 0 ||
	    (rc = get_str(c, root, "backend", 0, &s->backend)) < 0 ||
	    (rc = get_num(c, root, "min_gain", 0, &s->min_gain)) < 0 ||
	    (rc = parse_sections(c, root)) < 0)
		return rc;
	const cJSON *sb = cJSON_GetObjectItemCaseSensitive(root, "sandbox");
	if (sb && !cJSON_IsBool(sb))
		return field_err(c, "sandbox", "must be true or false (false runs candidates unsandboxed)");
	s->sandbox = !cJSON_IsFalse(sb);
	/* The name names the run dir <spec dir>/.avo/<name>: it may not lead out of it. */
	if (!s->name[0] || strchr(s->name, '/') || strchr(s->name, '\\') || s->name[0] == '.')
		return field_err(c, "name", "must be a plain name (no '/', not starting with '.'): it names the run dir");
	if (s->compiler && !s->compiler[0])
		return field_err(c, "compiler", "must not be empty");
	if (!s->compiler)
		s->compiler = avo_strdup(ends_with(s->kernel, ".cu") || ends_with(s->kernel, ".cuh") ||
					 (s->language && !strcmp(s->language, "cuda")) ? "nvcc" : "cc");
	/* nvcc, or a path/name ending in nvcc, compiles CUDA; anything else is a C compiler. */
	s->is_cuda = ends_with(avo_path_basename(s->compiler), "nvcc");
	if (!s->arch)
		s->arch = avo_strdup("");
	if (!valid_arch(s->arch))
		return field_err(c, "arch", "must look like \"sm_90\", \"sm_90a\", \"sm_100f\", \"native\" or \"\"");
	if (!s->is_cuda && s->arch[0])
		return field_err(c, "arch", "only meaningful for nvcc; use \"\" (or leave it out) for a C compiler");
	if (!s->language)
		s->language = avo_strdup("");
	if (s->language[0] && strcmp(s->language, "cuda") && strcmp(s->language, "c") && strcmp(s->language, "c++"))
		return field_err(c, "language", "must be \"cuda\", \"c\" or \"c++\"");
	if (!s->objective)
		s->objective = avo_strdup("ms");
	if (!s->harness_protocol)
		s->harness_protocol = avo_strdup("avo-harness-1");
	if (strcmp(s->harness_protocol, "avo-harness-1") && strcmp(s->harness_protocol, "legacy-trusted"))
		return field_err(c, "harness_protocol", "must be \"avo-harness-1\" or \"legacy-trusted\"");
	if (strcmp(s->objective, "ms") && strcmp(s->objective, "tflops"))
		return field_err(c, "objective", "must be \"ms\" or \"tflops\"");
	if (s->op && strcmp(s->op, "knob") && strcmp(s->op, "llm") && strcmp(s->op, "command"))
		return field_err(c, "operator", "must be \"knob\", \"llm\" or \"command\"");
	if (!s->op)
		s->op = avo_strdup("knob");
	for (size_t i = 0; i < s->ninclude_dirs; i++) {
		char *r = resolve(s, s->include_dirs[i]);
		if (!r)
			return avo_oom();
		free(s->include_dirs[i]);
		s->include_dirs[i] = r;
	}
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "budget");
	if (b) {
		ctx bc = *c;
		char bfile[PATH_MAX + 16];
		if (!cJSON_IsObject(b))
			return field_err(c, "budget", "must be an object {\"evaluations\", \"seconds\", \"cost_usd\"}");
		snprintf(bfile, sizeof(bfile), "%s: budget", c->file);
		bc.file = bfile;
		double ev = 0;
		if ((rc = get_num(&bc, b, "evaluations", 0, &ev)) < 0 ||
		    (rc = get_num(&bc, b, "seconds", 0, &s->budget_seconds)) < 0 ||
		    (rc = get_num(&bc, b, "cost_usd", 0, &s->budget_cost_usd)) < 0)
			return rc;
		if (ev != floor(ev) || ev > 1e15)
			return field_err(&bc, "evaluations", "must be a whole number");
		s->budget_evaluations = (long)ev;
	}
	const cJSON *k;
	cJSON_ArrayForEach(k, root) {
		int known = k->string[0] == '_' || !strncmp(k->string, "//", 2);
		for (size_t i = 0; !known && known_fields[i]; i++)
			known = !strcmp(k->string, known_fields[i]);
		if (!known)
			fprintf(stderr, "avo: %s: warning: unknown field \"%s\" ignored\n", c->file, k->string);
	}
	return 0;
}

int avo_spec_load(avo_spec **out, const char *path)
{
	*out = NULL;
	avo_buf text = AVO_BUF_INIT;
	cJSON *root = NULL;
	int rc = avo_file_read(&text, path);
	if (rc < 0)
		return rc;
	avo_spec *s = calloc(1, sizeof(*s));
	if (!s) {
		avo_buf_dispose(&text);
		return avo_oom();
	}
	s->tolerance = 1e-2;
	s->min_gain = -1;
	s->timeout_s = 120;
	s->compile_timeout_s = 300;
	s->path = avo_strdup(path);
	char *d = avo_path_dirname(path);
	char real[PATH_MAX];
	s->dir = d && realpath(d, real) ? avo_strdup(real) : NULL;
	free(d);
	if (!s->dir) {
		rc = avo_error_set(AVO_EIO, "%s: cannot resolve its directory: %s", path, strerror(errno));
		goto done;
	}
	const char *end = NULL;
	const char *json = avo_buf_cstr(&text);
	root = cJSON_ParseWithLengthOpts(json, text.size, &end, 0);
	if (!root) {
		/* Line and column of the first byte cJSON could not take. */
		unsigned line = 1, col = 1;
		const char *stop = end && end >= json && end <= json + text.size ? end : json;
		for (const char *p = json; p < stop; p++) {
			if (*p == '\n')
				line++, col = 1;
			else
				col++;
		}
		rc = avo_error_setloc(AVO_EPARSE, path, line, col, "parse error");
		goto done;
	}
	if (!cJSON_IsObject(root)) {
		rc = avo_error_set(AVO_EINVALID, "%s: the spec must be a JSON object", path);
		goto done;
	}
	ctx c = {path, s};
	if ((rc = parse(&c, root)) < 0)
		goto done;
	s->json = avo_buf_detach(&text);
done:
	cJSON_Delete(root);
	avo_buf_dispose(&text);
	if (rc < 0)
		avo_spec_free(s);
	else
		*out = s;
	return rc;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void avo_spec_free(avo_spec *s)
{
	if (!s)
		return;
	free(s->path);
	free(s->dir);
	free(s->name);
	free(s->kernel);
	free(s->harness);
	free(s->compiler);
	free_strv(s->flags, s->nflags);
	free_strv(s->parse_flags, s->nparse_flags);
	free(s->language);
	free_strv(s->link_flags, s->nlink_flags);
	free_strv(s->include_dirs, s->ninclude_dirs);
	free_strv(s->defines, s->ndefines);
	free(s->arch);
	for (size_t i = 0; s->configs && i < s->nconfigs; i++) {
		free(s->configs[i].name);
		free_strv(s->configs[i].args, s->configs[i].nargs);
	}
	free(s->configs);
	free(s->objective);
	free(s->harness_protocol);
	free(s->op);
	free(s->shipped_dir);
	free(s->knowledge);
	free(s->backend);
	for (size_t i = 0; i < s->nkey_roots; i++)
		free(s->key_roots[i].dir);
	cJSON_Delete(s->sections);
	free(s->json);
	free(s);
}

const cJSON *avo_spec_section(const avo_spec *s, const char *name)
{
	const cJSON *o = s ? cJSON_GetObjectItemCaseSensitive(s->sections, name) : NULL;
	return cJSON_IsObject(o) ? o : NULL;
}

int avo_spec_field_error(const avo_spec *s, const char *field, const char *what)
{
	ctx c = {s->path, (avo_spec *)s};
	return field_err(&c, field, what);
}

int avo_spec_section_str(const avo_spec *s, const cJSON *o, const char *sec, const char *k, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	char f[96];
	if (!v || cJSON_IsNull(v))
		return 0;
	snprintf(f, sizeof(f), "%s.%s", sec, k);
	if (!cJSON_IsString(v))
		return avo_spec_field_error(s, sec ? f : k, "must be a string");
	free(*out);
	*out = avo_strdup(v->valuestring);
	return *out ? 0 : avo_oom();
}

int avo_spec_section_num(const avo_spec *s, const cJSON *o, const char *sec, const char *k, double lo,
			 double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	char f[96], w[64];
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo) {
		snprintf(f, sizeof(f), "%s.%s", sec, k);
		snprintf(w, sizeof(w), "must be a number >= %g", lo);
		return avo_spec_field_error(s, sec ? f : k, w);
	}
	*out = v->valuedouble;
	return 0;
}
