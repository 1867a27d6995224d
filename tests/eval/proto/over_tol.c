/* Says correct, but max_rel_err is over the spec tolerance (1e-2): incorrect. */
#include "proto.h"

#include <stdio.h>

int avo_proto(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("{\"correct\":true,\"max_rel_err\":0.5,\"ms\":1}\n");
	return 0;
}
