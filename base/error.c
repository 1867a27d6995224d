#include "avo_base.h"

#include <stdio.h>
#include <string.h>

/* One slot per thread, as in libgit2: callers read it right after a failing call. */
static _Thread_local char avo__errmsg[4096];

int avo_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(avo__errmsg, sizeof(avo__errmsg), fmt, ap);
	va_end(ap);
	return code;
}

int avo_error_setloc(int code, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
	char msg[3072];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line && col)
		snprintf(avo__errmsg, sizeof(avo__errmsg), "%s:%u:%u: %s", file, line, col, msg);
	else if (line)
		snprintf(avo__errmsg, sizeof(avo__errmsg), "%s:%u: %s", file, line, msg);
	else
		snprintf(avo__errmsg, sizeof(avo__errmsg), "%s: %s", file, msg);
	return code;
}

int avo_error_wrap(int code, const char *fmt, ...)
{
	char prev[sizeof(avo__errmsg)], ctx[1024];
	va_list ap;
	memcpy(prev, avo__errmsg, sizeof(prev));
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	/* Context first, then as much of the earlier message as fits: truncation is fine here. */
	int n = snprintf(avo__errmsg, sizeof(avo__errmsg), prev[0] ? "%s: " : "%s", ctx);
	size_t used = n < 0 ? 0 : (size_t)n < sizeof(avo__errmsg) ? (size_t)n : sizeof(avo__errmsg) - 1;
	size_t room = sizeof(avo__errmsg) - 1 - used, plen = strlen(prev);
	if (prev[0]) {
		memcpy(avo__errmsg + used, prev, plen < room ? plen : room);
		avo__errmsg[used + (plen < room ? plen : room)] = '\0';
	}
	return code;
}

int avo_oom(void) { return avo_error_set(AVO_ERROR, "out of memory"); }

const char *avo_error_last(void) { return avo__errmsg; }

void avo_error_clear(void) { avo__errmsg[0] = '\0'; }
