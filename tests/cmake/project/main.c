#include <stdio.h>

#include "app.h"

int main(void)
{
	printf("kern %d\n", kern_value());
	return 0;
}
