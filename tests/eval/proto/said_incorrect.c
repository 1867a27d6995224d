/* Reports correct:false and exits 1: incorrect (not a crash). */
#include "proto.h"

#include <stdio.h>

int avo_proto(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("{\"correct\":false,\"max_rel_err\":0.9,\"ms\":1}\n");
	return 1;
}
