/* `avo apply` re-checks what it is about to write: a variant from the cache or a shipped
 * file must be an edit of the original kernel. libclang-free (avo-apply uses it).
 *
 * avo_apply_check_edit(): 0 when `var` is an edit of `orig` (file `path`); else AVO_EINVALID
 * with "path:line:col: reason" in avo_error_last(). Allocates nothing the caller keeps. */
#ifndef AVO_APPLY_CHECK_H
#define AVO_APPLY_CHECK_H

#include "avo_astedit.h"
#include "avo_base.h"

int avo_apply_check_edit(const char *path, const char *orig, size_t olen, const char *var, size_t vlen);

#endif
