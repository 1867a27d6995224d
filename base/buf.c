#include "avo_base.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int avo_buf_grow(avo_buf *b, size_t extra)
{
	size_t need = b->size + extra + 1;
	if (need <= b->asize)
		return 0;
	size_t n = b->asize ? b->asize : 64;
	while (n < need)
		n *= 2;
	char *p = realloc(b->ptr, n);
	if (!p)
		return avo_oom();
	b->ptr = p;
	b->asize = n;
	return 0;
}

int avo_buf_put(avo_buf *b, const void *data, size_t len)
{
	if (avo_buf_grow(b, len) < 0)
		return AVO_ERROR;
	if (len)
		memcpy(b->ptr + b->size, data, len);
	b->size += len;
	b->ptr[b->size] = '\0';
	return 0;
}

int avo_buf_puts(avo_buf *b, const char *s) { return avo_buf_put(b, s, strlen(s)); }

int avo_buf_vprintf(avo_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return avo_error_set(AVO_ERROR, "bad format");
	if (avo_buf_grow(b, (size_t)n) < 0)
		return AVO_ERROR;
	vsnprintf(b->ptr + b->size, (size_t)n + 1, fmt, ap);
	b->size += (size_t)n;
	return 0;
}

int avo_buf_printf(avo_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = avo_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void avo_buf_clear(avo_buf *b)
{
	b->size = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

char *avo_buf_detach(avo_buf *b)
{
	char *p = b->ptr ? b->ptr : calloc(1, 1);
	b->ptr = NULL;
	b->size = b->asize = 0;
	return p;
}

void avo_buf_dispose(avo_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->size = b->asize = 0;
}

const char *avo_buf_cstr(const avo_buf *b) { return b->ptr ? b->ptr : ""; }

char *avo_strdup(const char *s) { return s ? strdup(s) : NULL; }

char *avo_strndup(const char *s, size_t n) { return s ? strndup(s, n) : NULL; }

/* One formatted string in a new allocation: *out (caller frees), or NULL and rc < 0. */
static int vsprintf_new(char **out, const char *fmt, va_list ap)
{
	avo_buf b = AVO_BUF_INIT;
	int rc = avo_buf_vprintf(&b, fmt, ap);
	if (rc < 0) {
		avo_buf_dispose(&b);
		*out = NULL;
		return rc;
	}
	*out = avo_buf_detach(&b);
	return 0;
}

char *avo_sprintf(const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	vsprintf_new(&s, fmt, ap);
	va_end(ap);
	return s;
}

int avo_array_grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 8;
	while (n < need)
		n *= 2;
	void *p = n > SIZE_MAX / elem ? NULL : realloc(*ptr, n * elem);
	if (!p)
		return avo_oom();
	*ptr = p;
	*cap = n;
	return 0;
}

static int strv_add(avo_strv *a, char *s)
{
	if (!s || avo_array_grow((void **)&a->v, &a->cap, a->n + 2, sizeof(*a->v)) < 0) {
		free(s);
		return avo_oom();
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

int avo_strv_push(avo_strv *a, const char *s) { return strv_add(a, avo_strdup(s)); }

int avo_strv_pushf(avo_strv *a, const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	int rc = vsprintf_new(&s, fmt, ap);
	va_end(ap);
	return rc < 0 ? rc : strv_add(a, s);
}

int avo_strv_pushv(avo_strv *a, const char *const *v)
{
	for (; v && *v; v++)
		if (avo_strv_push(a, *v) < 0)
			return AVO_ERROR;
	return 0;
}

void avo_strv_dispose(avo_strv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}
