/* "samples" with a negative time: a protocol failure. */
#include "proto.h"

#include <stdio.h>

int avo_proto(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("{\"correct\":true,\"max_rel_err\":1e-3,\"ms\":2,\"samples\":[2,-1]}\n");
	return 0;
}
