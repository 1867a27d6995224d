/* Prints a bare nan (not JSON): read as NaN, judged incorrect. */
#include "proto.h"

#include <stdio.h>

int avo_proto(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("{\"correct\":true,\"max_rel_err\":nan,\"ms\":1,\"tflops\":1}\n");
	return 0;
}
