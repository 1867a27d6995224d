/* Calls the header kernel through its declaration, as an application would. */
#include <stdio.h>
#include "attention.h"

int main(void)
{
	float q[4] = {1, 0, 0, 1}, o[4];
	if (avo_cpu_attention(q, q, q, o, 2, 2, 2, 0))
		return 1;
	printf("hdr built: %g %g\n", o[0], o[3]);
	return 0;
}
