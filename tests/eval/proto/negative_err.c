/* Prints "max_rel_err":-5 (below any tolerance): a protocol failure, never correct. */
#include "proto.h"

#include <stdio.h>

int avo_proto(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("{\"correct\":true,\"max_rel_err\":-5,\"ms\":2,\"tflops\":1}\n");
	return 0;
}
