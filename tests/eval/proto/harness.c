/* Harness for the protocol tests: hands the whole run to the variant. */
#include "proto.h"

int main(int argc, char **argv)
{
	return avo_proto(argc, argv);
}
