/* A result line with garbage after its JSON object: not a result line. */
#include "proto.h"

#include <stdio.h>

int avo_proto(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("{\"correct\":true,\"max_rel_err\":0,\"ms\":2,\"tflops\":1} {\"correct\":false}\n");
	return 0;
}
