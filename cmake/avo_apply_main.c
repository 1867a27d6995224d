/* avo-apply: `avo apply` in a binary of its own, for builds.
 *
 * `avo` links libclang (astedit), and merely loading libclang and LLVM costs a process
 * 15-30 ms before main() - more than the whole budget of `avo apply` in a build (20 ms per
 * kernel). This binary links only the spec loader, the tuning key and the cache, so
 * avo_tune()'s generated-source step starts in about a millisecond. `avo-apply ARGS` is
 * exactly `avo apply ARGS`. */
#include "cli.h"
#include "avo_base.h"

#include <stdio.h>
#include <string.h>

/* The CLI helpers of tool/main.c, which cannot be linked here without every command. */
int avo_cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }

int avo_cli_exit_code(int code)
{
	switch (code) {
	case AVO_OK: return AVO_EXIT_OK;
	case AVO_EINVALID:
	case AVO_EPARSE:
	case AVO_ENOTFOUND: return AVO_EXIT_INPUT;
	case AVO_ECORRUPT: return AVO_EXIT_FAIL;
	default: return AVO_EXIT_ENV;
	}
}

int avo_cli_fail(int code)
{
	fprintf(stderr, "avo: %s\n", avo_error_last());
	return avo_cli_exit_code(code);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("avo-apply %s\n", AVO_VERSION_STRING);
		return AVO_EXIT_OK;
	}
	argv[0] = "apply";
	return avo_cmd_apply(argc, argv);
}
