/* Shared pieces of the avo command: exit codes and the subcommand signature. */
#ifndef AVO_CLI_H
#define AVO_CLI_H

#include "report.h"

#include <stdio.h>

/* Exit codes (documented in README "Exit codes" and `avo --help`). */
enum {
	AVO_EXIT_OK = 0,        /* success */
	AVO_EXIT_FAIL = 1,      /* ran, but the answer is "no": incorrect variant, corrupt entries found */
	AVO_EXIT_USAGE = 2,     /* bad command line */
	AVO_EXIT_INPUT = 3,     /* bad input file: markers, spec, parse errors */
	AVO_EXIT_ENV = 4,       /* environment: I/O, missing tools, network */
	AVO_EXIT_INTERRUPT = 130,
};

/* Each subcommand: argv[0] is the subcommand name. Returns an exit code. */
typedef int (*avo_cli_fn)(int argc, char **argv);

int avo_cmd_regions(int argc, char **argv);
int avo_cmd_eval(int argc, char **argv);
int avo_cmd_tune(int argc, char **argv);
int avo_cmd_apply(int argc, char **argv);
int avo_cmd_cache(int argc, char **argv);
int avo_cmd_report(int argc, char **argv);
int avo_cmd_status(int argc, char **argv);
int avo_cmd_export(int argc, char **argv);
int avo_cmd_mcp(int argc, char **argv);

/* Print "avo: <avo_error_last()>" to stderr and map an AVO_E* code to an exit code. */
int avo_cli_fail(int code);
/* Map AVO_E* to an exit code. */
int avo_cli_exit_code(int code);
/* "90s", "10m", "2h", "1d", "45" (plain: seconds): seconds, or -1. */
double avo_cli_parse_duration(const char *s);
/* Is argv[i] "-h" or "--help"? */
int avo_cli_is_help(const char *arg);
/* The value of option argv[*i] into *slot, advancing *i: 0, or -1 after printing
 * "avo: <cmd>: <option> needs a value". */
int avo_cli_value(const char *cmd, int argc, char **argv, int *i, const char **slot);
/* Any other argument `a`: the command's one spec into *spec. -1 after printing why when `a`
 * is an unknown option or a second spec. */
int avo_cli_spec_arg(const char *cmd, const char *a, const char **spec);

/* One option of a command: "--name" (or its alias, NULL: none) either takes a value into
 * *value or, with value NULL, sets *flag to 1. */
typedef struct {
	const char *name, *alias;
	const char **value;
	int *flag;
} avo_cli_opt;

/* A command line of options (opts ends with a {NULL} entry) and at most one spec (*spec).
 * -1: go on. Otherwise the exit code to return at once: AVO_EXIT_OK after --help (usage
 * printed to stdout), AVO_EXIT_USAGE after printing why, or with usage on stderr when
 * need_spec_or is not NULL and neither a spec nor *need_spec_or was given. */
int avo_cli_parse(const char *cmd, int argc, char **argv, const avo_cli_opt *opts, const char **spec,
		  void (*usage)(FILE *), const char *const *need_spec_or);

/* ---- avo report and avo status (cmd_report.c) ------------------------------------ */

/* What they work on, from an optional spec and --run-dir. */
typedef struct {
	char *run_dir; /* --run-dir, else <spec dir>/.avo/<spec name> */
	char *kernel;  /* --kernel, else the spec's kernel; NULL when neither */
	char *title;   /* --title, else the spec's name; NULL when neither */
} avo_cli_report_target;

/* How both begin: the target from spec_path and/or run_dir (not both NULL), the run
 * loaded (*run, freed with avo_report_run_free; NULL on failure), its reading warnings
 * printed. Release *t with avo_cli_report_target_dispose, also on failure. */
int avo_cli_report_open(avo_cli_report_target *t, avo_report_run **run, const char *spec_path,
			const char *run_dir, const char *kernel, const char *title, const char *peers);
void avo_cli_report_target_dispose(avo_cli_report_target *t);

#endif
