/* avo regions: list the regions and knobs of a kernel file, or say why its markers are wrong. */
#include "avo_astedit.h"
#include "avo_base.h"
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: avo regions FILE [--json] [-p DIR | --compile-commands DIR] [--host]\n"
		"                   [--cuda-path DIR] [--language L] [--all-errors] [-- CLANG_ARGS...]\n\n"
		"Parse FILE (.cu .cuh as CUDA; .c .h as C; .cpp .cc .cxx .hpp as C++) with libclang\nand list its regions and knobs.\n\n"
		"  --json                   print one JSON object {file, regions, knobs, clang_args,\n"
		"                           warnings}; on failure {file, error, exit_code}\n"
		"  --language L             cuda, c or c++ (a CUDA header kernel.h); default: by extension\n"
		"  --all-errors             when the file does not parse, list every error\n"
		"  -p, --compile-commands DIR\n"
		"                           take -D/-I/-std flags from DIR/compile_commands.json\n"
		"  --host                   CUDA: parse the host side (default: --cuda-device-only)\n"
		"  --cuda-path DIR          CUDA toolkit (default: $CUDAToolkit_ROOT, $CUDA_PATH,\n"
		"                           nvcc in PATH, /usr/local/cuda)\n"
		"  -- CLANG_ARGS...         extra clang arguments (-I, -D, -std=..., --cuda-gpu-arch=...)\n\n"
		"Markers:\n"
		"  // avo:region NAME ... // avo:end    whole statements of one block, or whole\n"
		"                                       function definitions\n"
		"  #define NAME V // avo:knob V1 V2 ... (or LO..HI); also 'constexpr int NAME = V;'\n\n"
		"Errors are printed as 'avo: file:line:col: reason'. Clang errors in code nobody\n"
		"marked (outside regions and knob lines) are warnings: the parse is still used.\n"
		"Exit codes: 0 ok, 2 bad command line, 3 bad markers or the file does not parse,\n"
		"4 environment (no CUDA toolkit, unreadable file).\n"
		"Environment: AVO_CLANG_RESOURCE_DIR overrides clang's resource directory.\n");
}

static cJSON *pos_json(const avo_astedit_pos *p)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "line", p->line);
	cJSON_AddNumberToObject(o, "col", p->col);
	cJSON_AddNumberToObject(o, "offset", (double)p->offset);
	return o;
}

static const char *kind_name(const avo_astedit_region *r)
{
	return r->kind == AVO_ASTEDIT_REGION_FUNCTION ? "function" : "statements";
}

static int print_json(const avo_astedit_unit *u)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "file", u->path);
	cJSON *regions = cJSON_AddArrayToObject(root, "regions"), *knobs = cJSON_AddArrayToObject(root, "knobs"),
	      *args = cJSON_AddArrayToObject(root, "clang_args");
	for (size_t i = 0; i < u->nregions; i++) {
		const avo_astedit_region *r = &u->regions[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", r->name);
		cJSON_AddStringToObject(o, "kind", kind_name(r));
		cJSON_AddStringToObject(o, "function", r->function ? r->function : "");
		cJSON_AddItemToObject(o, "marker", pos_json(&r->marker));
		cJSON_AddItemToObject(o, "begin", pos_json(&r->begin));
		cJSON_AddItemToObject(o, "end", pos_json(&r->end));
		cJSON_AddStringToObject(o, "hash", r->hash);
		cJSON_AddItemToArray(regions, o);
	}
	for (size_t i = 0; i < u->nknobs; i++) {
		const avo_astedit_knob *k = &u->knobs[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", k->name);
		cJSON_AddStringToObject(o, "kind", k->kind == AVO_ASTEDIT_KNOB_DEFINE ? "define" : "variable");
		cJSON_AddStringToObject(o, "value", k->value);
		if (k->is_range) {
			cJSON *r = cJSON_AddObjectToObject(o, "range");
			cJSON_AddNumberToObject(r, "lo", (double)k->lo);
			cJSON_AddNumberToObject(r, "hi", (double)k->hi);
		} else {
			cJSON *a = cJSON_AddArrayToObject(o, "values");
			for (size_t j = 0; j < k->nvalues; j++)
				cJSON_AddItemToArray(a, cJSON_CreateString(k->values[j]));
		}
		cJSON_AddItemToObject(o, "marker", pos_json(&k->marker));
		cJSON_AddItemToObject(o, "value_pos", pos_json(&k->value_pos));
		cJSON_AddNumberToObject(o, "value_len", (double)k->value_len);
		cJSON_AddItemToArray(knobs, o);
	}
	for (size_t i = 0; i < u->nclang_args; i++)
		cJSON_AddItemToArray(args, cJSON_CreateString(u->clang_args[i]));
	cJSON *warn = cJSON_AddArrayToObject(root, "warnings");
	for (size_t i = 0; i < u->nwarnings; i++)
		cJSON_AddItemToArray(warn, cJSON_CreateString(u->warnings[i]));
	char *s = cJSON_Print(root);
	cJSON_Delete(root);
	if (!s)
		return avo_cli_fail(avo_oom());
	printf("%s\n", s);
	free(s);
	return AVO_EXIT_OK;
}

static void print_table(const avo_astedit_unit *u)
{
	printf("%s: %zu region%s, %zu knob%s\n", u->path, u->nregions, u->nregions == 1 ? "" : "s", u->nknobs,
	       u->nknobs == 1 ? "" : "s");
	if (u->nregions) {
		printf("\n%-20s %-10s %-24s %-11s %s\n", "REGION", "KIND", "FUNCTION", "LINES", "HASH");
		for (size_t i = 0; i < u->nregions; i++) {
			const avo_astedit_region *r = &u->regions[i];
			char lines[32];
			if (r->begin.offset == r->end.offset)
				snprintf(lines, sizeof(lines), "(empty)");
			else
				snprintf(lines, sizeof(lines), "%u-%u", r->begin.line, r->end.line - 1);
			printf("%-20s %-10s %-24s %-11s %s\n", r->name, kind_name(r), r->function && *r->function ? r->function : "-",
			       lines, r->hash);
		}
	}
	if (u->nknobs) {
		printf("\n%-20s %-8s %-10s %-6s %s\n", "KNOB", "KIND", "VALUE", "LINE", "ALLOWED");
		for (size_t i = 0; i < u->nknobs; i++) {
			const avo_astedit_knob *k = &u->knobs[i];
			printf("%-20s %-8s %-10s %-6u ", k->name, k->kind == AVO_ASTEDIT_KNOB_DEFINE ? "define" : "variable",
			       k->value, k->marker.line);
			if (k->is_range)
				printf("%lld..%lld", k->lo, k->hi);
			for (size_t j = 0; j < k->nvalues; j++)
				printf("%s%s", j ? " " : "", k->values[j]);
			printf("\n");
		}
	}
}

int avo_cmd_regions(int argc, char **argv)
{
	const char *file = NULL, *db = NULL;
	int json = 0, rc;
	avo_astedit_options opts = AVO_ASTEDIT_OPTIONS_INIT;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (avo_cli_is_help(a)) {
			usage(stdout);
			return AVO_EXIT_OK;
		} else if (!strcmp(a, "--json")) {
			json = 1;
		} else if (!strcmp(a, "--host")) {
			opts.cuda_host_side = 1;
		} else if (!strcmp(a, "--all-errors")) {
			opts.all_errors = 1;
		} else if (!strcmp(a, "--language") && i + 1 < argc) {
			opts.language = argv[++i];
		} else if ((!strcmp(a, "-p") || !strcmp(a, "--compile-commands") || !strcmp(a, "--cuda-path")) && i + 1 < argc) {
			if (!strcmp(a, "--cuda-path"))
				opts.cuda_path = argv[++i];
			else
				db = argv[++i];
		} else if (!strncmp(a, "--compile-commands=", 19)) {
			db = a + 19;
		} else if (!strcmp(a, "--")) {
			opts.clang_args = (const char *const *)argv + i + 1;
			opts.nclang_args = (size_t)(argc - i - 1);
			break;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "avo: regions: unknown option '%s' (see 'avo regions --help')\n", a);
			return AVO_EXIT_USAGE;
		} else if (!file) {
			file = a;
		} else {
			fprintf(stderr, "avo: regions: one FILE only (see 'avo regions --help')\n");
			return AVO_EXIT_USAGE;
		}
	}
	if (!file) {
		usage(stderr);
		return AVO_EXIT_USAGE;
	}
	opts.compile_db_dir = db;
	avo_astedit_unit *u = NULL;
	if ((rc = avo_astedit_parse(&u, file, NULL, 0, &opts)) < 0) {
		/* an unreadable file is the environment's fault, not the input's */
		if (rc == AVO_EIO)
			return avo_cli_fail(rc);
		/* a CUDA header is C or C++ by its extension: say how to parse it as CUDA */
		const char *dot = strrchr(avo_path_basename(file), '.');
		if (rc == AVO_EPARSE && !opts.language && dot && (!strcmp(dot, ".h") || !strcmp(dot, ".hpp"))) {
			char *m = avo_strdup(avo_error_last());
			avo_error_set(rc, "%s (%s was parsed as %s by its extension; for a CUDA header pass --language cuda, "
					  "or \"language\": \"cuda\" in the spec)", m ? m : "", avo_path_basename(file),
				      strcmp(dot, ".h") ? "C++" : "C");
			free(m);
		}
		fprintf(stderr, "avo: %s\n", avo_error_last());
		int code = rc == AVO_ENOTFOUND && !avo_path_exists(file) ? AVO_EXIT_ENV : avo_cli_exit_code(rc);
		if (json) { /* a script reading stdout still gets one object */
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "file", file);
			cJSON_AddStringToObject(o, "error", avo_error_last());
			cJSON_AddNumberToObject(o, "exit_code", code);
			char *t = cJSON_PrintUnformatted(o);
			if (t)
				printf("%s\n", t);
			free(t);
			cJSON_Delete(o);
		}
		return code;
	}
	for (size_t i = 0; i < u->nwarnings; i++)
		fprintf(stderr, "avo: warning: %s%s\n", u->warnings[i],
			strstr(u->warnings[i], ": error: ") ? " (outside the marked code; the parse is still used)" : "");
	rc = AVO_EXIT_OK;
	if (json)
		rc = print_json(u);
	else
		print_table(u);
	avo_astedit_unit_free(u);
	return rc;
}
