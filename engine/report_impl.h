/* For the report's own files only (report.c, report_diff.c, report_view.c, report_chart.c,
 * report_html.c, report_status.c): the pieces the views share. Names carry avo_report__;
 * the short macros keep the page code readable.
 *
 * Ownership: as report.h; cfg_rows/peer_cols hand out arrays the caller frees (free()),
 * whose pointers borrow from the run.
 */
#ifndef AVO_REPORT_IMPL_H
#define AVO_REPORT_IMPL_H

#include "report.h"

#include <math.h>

#define DASH "\xE2\x80\x94" /* an em dash for unknown values */

static inline int is_num(double v) { return isfinite(v); }

/* Grow *arr (n elements, capacity *cap) by one zeroed element. */
int avo_report__push(void **arr, size_t *n, size_t *cap, size_t elem);
#define push avo_report__push
#define pair_find avo_runrec_pair_find
#define pair_add avo_runrec_pair_add
#define score_find avo_runrec_score_find

/* Writer that remembers the first failure, so the page code reads straight through. */
typedef struct {
	avo_buf *b;
	int err;
} W;

void avo_report__wp(W *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void avo_report__we(W *w, const char *s);
/* %.Ng or `none`; exact %.17g or ""; a duration or `none`. `b` holds 48 bytes. */
const char *avo_report__fg(char *b, double v, int sig, const char *none);
const char *avo_report__fx(char *b, double v);
const char *avo_report__fdur(char *b, double s, const char *none);
const char *avo_report__fit_label(const char *objective);
#define wp avo_report__wp
#define we avo_report__we
#define fg avo_report__fg
#define fx avo_report__fx
#define fdur avo_report__fdur
#define fit_label avo_report__fit_label

typedef struct {
	const char *config;
	const avo_report_score *base, *best;
	double speedup;
	const avo_report_peer *peer;
} cfg_row;

/* Rows: the baseline's configs, then any the best has beyond them. */
int avo_report__cfg_rows(cfg_row **out, size_t *n, const avo_report_run *run, const avo_report_summary *s);
/* Peer column names, first-seen order (borrowed). */
int avo_report__peer_cols(const char ***out, size_t *n, const avo_report_run *run);
double avo_report__peer_value(const avo_report_peer *p, const char *col);
#define cfg_rows avo_report__cfg_rows
#define peer_cols avo_report__peer_cols
#define peer_value avo_report__peer_value

/* The attempt glyphs (a shape and colour per status), shared by the chart and the legend. */
size_t avo_report__style_of(const char *status);
void avo_report__glyph(W *w, size_t style, double x, double y, double r, const char *title);
#define style_of avo_report__style_of
#define glyph avo_report__glyph

/* The fitness chart (SVG) of the page. */
void avo_report__chart(W *w, const avo_report_run *run, const avo_report_summary *s);

#endif
