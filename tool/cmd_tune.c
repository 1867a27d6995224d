#include "cli.h"
#include "avo_base.h"

#include <stdio.h>

/* Placeholder until its issue lands: says so plainly. */
int avo_cmd_tune(int argc, char **argv)
{
	(void)argc, (void)argv;
	fprintf(stderr, "avo: 'tune' is not implemented yet\n");
	return AVO_EXIT_ENV;
}
