/* Protocol tests of the evaluator: the "kernel" prints the harness's result itself. */
#ifndef AVO_TEST_PROTO_H
#define AVO_TEST_PROTO_H

int avo_proto(int argc, char **argv); /* returns the harness's exit status */

#endif
