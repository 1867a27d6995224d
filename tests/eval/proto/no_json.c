/* Prints no JSON at all: a protocol failure. */
#include "proto.h"

#include <stdio.h>

int avo_proto(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("all good, trust me\n");
	return 0;
}
