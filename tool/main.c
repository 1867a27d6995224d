/* avo: one binary, subcommands. */
#include "cli.h"
#include "avo_base.h"
#include "backend.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	avo_cli_fn fn;
	const char *summary;
} commands[] = {
	{"regions", avo_cmd_regions, "list the regions and knobs of a kernel file"},
	{"eval", avo_cmd_eval, "compile, check and time a kernel (or a variant) per its spec"},
	{"tune", avo_cmd_tune, "evolve the kernel of a spec (the AVO loop)"},
	{"apply", avo_cmd_apply, "write the best known variant of a spec to a file"},
	{"cache", avo_cmd_cache, "inspect and maintain the cache: stats, verify, gc"},
	{"report", avo_cmd_report, "write an HTML report of a tuning run"},
	{"status", avo_cmd_status, "summarise a tuning run in the terminal"},
	{"export", avo_cmd_export, "write the best variant and its manifest for shipping"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: avo [--version] [--help] <command> [<args>]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'avo <command> --help' describes a command.\n\n"
		   "exit codes:\n"
		   "  0    success\n"
		   "  1    ran, and the answer is negative (incorrect variant, corrupt entries found)\n"
		   "  2    bad command line\n"
		   "  3    bad input (markers, spec, parse errors)\n"
		   "  4    environment (I/O, missing compiler, network)\n"
		   "  130  interrupted\n\n"
		   "environment:\n"
		   "  AVO_CACHE_DIR, XDG_CACHE_HOME   where the local cache lives\n"
		   "  AVO_CACHE_REMOTE                base URL of the remote cache\n");
}

int main(int argc, char **argv)
{
	avo_secrets_hide(); /* keys stay in memory, out of environ and /proc/<pid>/environ */
	if (argc < 2) {
		usage(stderr);
		return AVO_EXIT_USAGE;
	}
	if (avo_cli_is_help(argv[1])) {
		usage(stdout);
		return AVO_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("avo %s\n", AVO_VERSION_STRING);
		return AVO_EXIT_OK;
	}
	/* Hidden: what a Slurm task runs on its node (engine/backend.c, CLUSTER.md). */
	if (!strcmp(argv[1], "__backend-worker"))
		return avo_backend_worker_main(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "avo: unknown command '%s' (see 'avo --help')\n", argv[1]);
	return AVO_EXIT_USAGE;
}
