/* The CLI helpers every avo binary shares (avo, avo-apply). */
#include "cli.h"
#include "avo_base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int avo_cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }

int avo_cli_value(const char *cmd, int argc, char **argv, int *i, const char **slot)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "avo: %s: %s needs a value\n", cmd, argv[*i]);
		return -1;
	}
	*slot = argv[++*i];
	return 0;
}

int avo_cli_spec_arg(const char *cmd, const char *a, const char **spec)
{
	if (a[0] == '-' && a[1]) {
		fprintf(stderr, "avo: %s: unknown option '%s' (see 'avo %s --help')\n", cmd, a, cmd);
		return -1;
	}
	if (*spec) {
		fprintf(stderr, "avo: %s: one spec at a time ('%s' and '%s')\n", cmd, *spec, a);
		return -1;
	}
	*spec = a;
	return 0;
}

int avo_cli_parse(const char *cmd, int argc, char **argv, const avo_cli_opt *opts, const char **spec,
		  void (*usage)(FILE *), const char *const *need_spec_or)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const avo_cli_opt *o = opts;
		while (o->name && strcmp(a, o->name) && !(o->alias && !strcmp(a, o->alias)))
			o++;
		if (avo_cli_is_help(a)) {
			usage(stdout);
			return AVO_EXIT_OK;
		} else if (o->name && !o->value) {
			*o->flag = 1;
		} else if (o->name ? avo_cli_value(cmd, argc, argv, &i, o->value) < 0 : avo_cli_spec_arg(cmd, a, spec) < 0) {
			return AVO_EXIT_USAGE;
		}
	}
	if (need_spec_or && !*spec && !*need_spec_or) {
		usage(stderr);
		return AVO_EXIT_USAGE;
	}
	return -1;
}

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
