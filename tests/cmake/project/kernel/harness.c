/* Harness protocol: check kern_value() and print one JSON result line. */
#include <stdio.h>

#include "app.h"

int main(void)
{
	int v = kern_value();
	printf("{\"correct\":%s,\"max_rel_err\":0,\"ms\":%g}\n", v % 42 == 0 ? "true" : "false", 1.0 / v);
	return 0;
}
