#include "cli.h"
#include "avo_base.h"

#include <stdio.h>

/* Placeholder until its issue lands: says so plainly. */
int avo_cmd_export(int argc, char **argv)
{
	(void)argc, (void)argv;
	fprintf(stderr, "avo: 'export' is not implemented yet\n");
	return AVO_EXIT_ENV;
}
