/* The sandbox of one step of an evaluation (a compile, a link, a harness run): what it may
 * read besides the read-only system (the spec's directory, the kernel's and harness's
 * directories, the include dirs) and the one directory it may write. See avo_sandbox in
 * avo_base.h for what the sandbox guarantees.
 *
 * Ownership: an avo_evalbox owns its paths; avo_evalbox_dispose() frees them. The returned
 * avo_sandbox points into the box and lives as long as it.
 */
#ifndef AVO_EVALBOX_H
#define AVO_EVALBOX_H

#include "avo_base.h"
#include "spec.h"

typedef struct {
	avo_sandbox sb;
	avo_strv reads;
	avo_strv hides;
	char *write_dir;
} avo_evalbox;

/* The sandbox for a step of spec `s` that writes only `write_dir` and also reads
 * `extra_read` (NULL: nothing more); NULL when the spec opted out ("sandbox": false).
 * Besides the system it reads the spec's, kernel's and harness's directories, the include
 * dirs and the compiler's installation when it lies outside the system dirs; the cache
 * dir, <spec dir>/.avo (the default run dirs) and `hide` (NULL: none; a run dir) stay
 * hidden even inside those. */
const avo_sandbox *avo_evalbox_init(avo_evalbox *box, const avo_spec *s, const char *write_dir,
				    const char *extra_read, const char *hide);
/* Same for a compile or link command line: it writes the directory of its "-o" output and
 * also reads `extra_read` (NULL: nothing more; e.g. the harness library's directory). */
const avo_sandbox *avo_evalbox_for_cmd(avo_evalbox *box, const avo_spec *s, const char *const *argv,
				       const char *extra_read, const char *hide);
void avo_evalbox_dispose(avo_evalbox *box);

#endif
