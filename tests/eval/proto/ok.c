/* Correct: ms 2 on config "a", 8 on "b" -> fitness geomean(1/2, 1/8) = 0.25. Log lines and
 * a trailing non-JSON line around the result must not matter. */
#include "proto.h"

#include <stdio.h>
#include <string.h>

int avo_proto(int argc, char **argv)
{
	int b = argc > 1 && !strcmp(argv[1], "b");
	printf("warming up\n{\"not\": \"the last json line\"}\n");
	printf("{\"correct\":true,\"max_rel_err\":1e-3,\"rel_l2_err\":1e-4,\"ms\":%d,\"tflops\":1.5}\n", b ? 8 : 2);
	printf("done\n");
	return 0;
}
