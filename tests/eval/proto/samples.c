/* Correct, with the optional per-repetition "samples" (ms) the gate reads. */
#include "proto.h"

#include <stdio.h>
#include <string.h>

int avo_proto(int argc, char **argv)
{
	int b = argc > 1 && !strcmp(argv[1], "b");
	printf("{\"correct\":true,\"max_rel_err\":1e-3,\"ms\":%d,\"samples\":%s}\n", b ? 8 : 2,
	       b ? "[8,8.5,7.5]" : "[2,2.5,1.5]");
	return 0;
}
