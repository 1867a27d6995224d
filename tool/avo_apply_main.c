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

int main(int argc, char **argv)
{
	avo_secrets_hide(); /* keys stay in memory, out of environ and /proc/<pid>/environ */
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("avo-apply %s\n", AVO_VERSION_STRING);
		return AVO_EXIT_OK;
	}
	argv[0] = "apply";
	return avo_cmd_apply(argc, argv);
}
