/* What `avo tune` and `avo mcp` share (cmd_tune.c): the budget of a run that has none, and
 * the exit code of a finished run. */
#ifndef AVO_CMD_TUNE_H
#define AVO_CMD_TUNE_H

#include "spec.h"
#include "tune.h"

/* No budget at all would run forever unattended: cap it at 100 evaluations. */
void avo_cmd_tune_cap_budget(avo_tune_options *o, const avo_spec *spec);
/* The exit code for avo_tune_run's result; `again` says how an interrupted run continues. */
int avo_cmd_tune_exit(int rc, const char *again);

#endif
