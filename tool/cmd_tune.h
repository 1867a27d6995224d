/* What `avo tune` and `avo mcp` share (cmd_tune.c): the options both take, the budget of a
 * run that has none, and the exit code of a finished run. */
#ifndef AVO_CMD_TUNE_H
#define AVO_CMD_TUNE_H

#include "spec.h"
#include "tune.h"

/* The run options both commands take, with the same checks: --evals, --max-cost,
 * --min-gain, --confirm. 0: argv[*i] is none of them. 1: it was one; its value, argv[*i + 1],
 * is in *o and *i is past it. -1: the value is missing or bad, said on stderr as
 * "avo: <cmd>: ...". */
int avo_cmd_tune_run_option(const char *cmd, int argc, char **argv, int *i, avo_tune_options *o);

/* No budget at all would run forever unattended: cap it at 100 evaluations. */
void avo_cmd_tune_cap_budget(avo_tune_options *o, const avo_spec *spec);
/* The exit code for avo_tune_run's result; `again` says how an interrupted run continues. */
int avo_cmd_tune_exit(int rc, const char *again);

#endif
