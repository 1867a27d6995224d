/* The CLI helpers every avo binary shares (avo, avo-apply). */
#include "cli.h"
#include "avo_base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int avo_cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }

int avo_cli_exit_code(int code)
{
	switch (code) {
	case AVO_OK: return AVO_EXIT_OK;
	case AVO_EINVALID:
	case AVO_EPARSE:
	case AVO_ENOTFOUND: return AVO_EXIT_INPUT;
	case AVO_ECORRUPT: return AVO_EXIT_FAIL;
	default: return AVO_EXIT_ENV;
	}
}

int avo_cli_fail(int code)
{
	fprintf(stderr, "avo: %s\n", avo_error_last());
	return avo_cli_exit_code(code);
}

double avo_cli_parse_duration(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (!*end || !strcmp(end, "s"))
		return v;
	if (!strcmp(end, "m") || !strcmp(end, "min"))
		return v * 60;
	if (!strcmp(end, "h"))
		return v * 3600;
	if (!strcmp(end, "d"))
		return v * 86400;
	return -1;
}
