/* The fitness chart of the report page: every attempt over time or attempt number, the lineage as a step line (inline SVG). */
#include "report_impl.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the chart ----------------------------------------------------------------- */

typedef enum { G_CIRCLE, G_RING, G_CROSS, G_PLUS, G_TRI, G_TRIDOWN, G_SQUARE, G_BOX, G_DIAMOND, G_RHOMB } glyph_shape;

static const struct {
	const char *status, *label;
	glyph_shape shape;
	const char *color;
} styles[] = {
	{"committed", "committed", G_CIRCLE, "#1a7f37"},
	{"slower", "correct, not faster", G_RING, "#6e7781"},
	{"compile", "compile error", G_CROSS, "#cf222e"},
	{"incorrect", "incorrect result", G_TRI, "#bc4c00"},
	{"crash", "crash", G_SQUARE, "#8250df"},
	{"timeout", "timeout", G_DIAMOND, "#0969da"},
	{"protocol", "harness protocol", G_TRIDOWN, "#9a6700"},
	{"invalid_edit", "invalid edit", G_PLUS, "#bf3989"},
	{"duplicate", "duplicate", G_BOX, "#57606a"},
	{"error", "other error", G_RHOMB, "#24292f"}, /* also every status this table lacks */
};
#define NSTYLES (sizeof(styles) / sizeof(styles[0]))

size_t style_of(const char *status)
{
	for (size_t i = 0; i < NSTYLES; i++)
		if (!strcmp(styles[i].status, status))
			return i;
	return NSTYLES - 1; /* unknown causes draw as "error" */
}

/* One marker; `title` (escaped here) becomes its tooltip. */
void glyph(W *w, size_t st, double x, double y, double r, const char *title)
{
	const char *c = styles[st].color;
	switch (styles[st].shape) {
	case G_CIRCLE: wp(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"", x, y, r, c); break;
	case G_RING: wp(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"#fff\" stroke=\"%s\" stroke-width=\"1.5\"", x, y, r, c); break;
	case G_SQUARE:
	case G_BOX:
		wp(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" ", x - r, y - r, 2 * r, 2 * r);
		wp(w, styles[st].shape == G_SQUARE ? "fill=\"%s\"" : "fill=\"#fff\" stroke=\"%s\" stroke-width=\"1.5\"", c);
		break;
	case G_CROSS:
	case G_PLUS: {
		double k = styles[st].shape == G_CROSS ? r * 0.9 : 0;
		double l = styles[st].shape == G_CROSS ? 0 : r * 1.2;
		if (styles[st].shape == G_CROSS)
			wp(w, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\"", x - k, y - k, x + k, y + k, x + k, y - k, x - k, y + k);
		else
			wp(w, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\"", x - l, y, x + l, y, x, y - l, x, y + l);
		wp(w, " fill=\"none\" stroke=\"%s\" stroke-width=\"2\"", c);
		break;
	}
	case G_TRI:
		wp(w, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"%s\"", x, y - r * 1.1, x + r, y + r * 0.8, x - r, y + r * 0.8, c);
		break;
	case G_TRIDOWN:
		wp(w, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"%s\"", x, y + r * 1.1, x + r, y - r * 0.8, x - r, y - r * 0.8, c);
		break;
	case G_DIAMOND:
	case G_RHOMB:
		wp(w, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" ", x, y - r * 1.2, x + r * 1.2, y, x, y + r * 1.2, x - r * 1.2, y);
		wp(w, styles[st].shape == G_DIAMOND ? "fill=\"%s\"" : "fill=\"#fff\" stroke=\"%s\" stroke-width=\"1.5\"", c);
		break;
	}
	if (title) {
		wp(w, "><title>");
		we(w, title);
		wp(w, "</title></%s>\n", styles[st].shape == G_CIRCLE || styles[st].shape == G_RING ? "circle"
					 : styles[st].shape == G_SQUARE || styles[st].shape == G_BOX ? "rect" : "path");
	} else
		wp(w, "/>");
}

/* Does an attempt sit at its fitness? Only timed, correct ones: the driver records 0 for
 * failures, and an incorrect variant's speed means nothing. */
static int plotted(const avo_report_attempt *a)
{
	return is_num(a->fitness) && a->fitness > 0 &&
	       (!strcmp(a->status, "committed") || !strcmp(a->status, "slower") || !strcmp(a->status, "duplicate"));
}

static double nice_step(double range, double target)
{
	if (!(range > 0))
		return 1;
	double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
	double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
	return isfinite(step) && step > 0 ? step : 1; /* ranges near the limits of double */
}

static int step_decimals(double step)
{
	if (!(step < 1) || !(step > 0))
		return 0;
	int d = (int)ceil(-log10(step) - 1e-9);
	return d > 8 ? 8 : d;
}

#define CW 960.0
#define CL 78.0
#define CR (CW - 24)
#define CT 18.0
#define CB 330.0
#define CSTRIP (CB + 46)
#define CH (CB + 100)

void avo_report__chart(W *w, const avo_report_run *run, const avo_report_summary *s)
{
	if (!run->nversions && !run->nattempts) {
		wp(w, "<p class=\"empty\">No versions and no attempts recorded yet.</p>\n");
		return;
	}
	/* x: elapsed time when every record has it, else the attempt number. */
	int use_time = 1;
	double xmax = 0, ylo = INFINITY, yhi = -INFINITY;
	for (size_t i = 0; i < run->nversions; i++) {
		const avo_report_version *v = &run->versions[i];
		use_time &= is_num(v->elapsed_s);
		if (is_num(v->fitness))
			ylo = fmin(ylo, v->fitness), yhi = fmax(yhi, v->fitness);
	}
	for (size_t i = 0; i < run->nattempts; i++) {
		const avo_report_attempt *a = &run->attempts[i];
		use_time &= is_num(a->elapsed_s);
		if (plotted(a))
			ylo = fmin(ylo, a->fitness), yhi = fmax(yhi, a->fitness);
	}
#define VX(v, i) (use_time ? (v)->elapsed_s : (v)->attempt >= 0 ? (double)(v)->attempt : (double)(i))
#define AX(a, i) (use_time ? (a)->elapsed_s : (a)->n >= 0 ? (double)(a)->n : (double)(i) + 1)
	for (size_t i = 0; i < run->nversions; i++)
		xmax = fmax(xmax, VX(&run->versions[i], i));
	for (size_t i = 0; i < run->nattempts; i++)
		xmax = fmax(xmax, AX(&run->attempts[i], i));
	if (use_time && !(xmax > 0))
		use_time = 0, xmax = 0;
	if (!use_time) {
		for (size_t i = 0; i < run->nversions; i++)
			xmax = fmax(xmax, VX(&run->versions[i], i));
		for (size_t i = 0; i < run->nattempts; i++)
			xmax = fmax(xmax, AX(&run->attempts[i], i));
	}
	double xunit = 1;
	const char *xlabel = "attempt";
	if (use_time) {
		xunit = xmax <= 120 ? 1 : xmax <= 7200 ? 60 : 3600;
		xlabel = xunit == 1 ? "elapsed time (s)" : xunit == 60 ? "elapsed time (min)" : "elapsed time (h)";
	}
	double xs = fmax(xmax / xunit, use_time ? 1e-9 : 1);
	double xstep = nice_step(xs, 8), xhi = ceil(xs / xstep - 1e-9) * xstep;
	if (!(xhi > 0))
		xhi = xstep;
	if (!is_num(ylo))
		ylo = 0, yhi = 1;
	double pad = yhi - ylo > 1e-12 * fmax(1, fabs(yhi)) ? (yhi - ylo) * 0.08 : fmax(fabs(yhi) * 0.1, 1e-9);
	double lo = ylo - pad, hi = yhi + pad;
	if (ylo >= 0 && lo < 0)
		lo = 0;
	double ystep = nice_step(hi - lo, 6);
	lo = floor(lo / ystep) * ystep;
	hi = ceil(hi / ystep) * ystep;
#define PX(x) (CL + ((x) / xunit) / xhi * (CR - CL))
#define PY(y) (CB - ((y) - lo) / (hi - lo) * (CB - CT))

	wp(w, "<svg class=\"chart\" id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
	      "width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"fitness over %s\">\n",
	   CW, CH, CW, CH, use_time ? "time" : "attempts");
	/* grid and y ticks */
	int yd = step_decimals(ystep), xd = step_decimals(xstep);
	for (int k = 0; k <= 200; k++) {
		double y = lo + k * ystep;
		if (y > hi + ystep * 1e-6)
			break;
		wp(w, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
		      "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
		   CL, CR, PY(y), PY(y), CL - 6, PY(y) + 4, yd, y);
	}
	for (int k = 0; k <= 200; k++) {
		double x = k * xstep;
		if (x > xhi + xstep * 1e-6)
			break;
		double px = CL + x / xhi * (CR - CL);
		wp(w, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
		      "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n",
		   px, px, CB, CB + 5, px, CB + 18, xd, x);
	}
	wp(w, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", CL, CR, CB, CB);
	wp(w, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", CL, CL, CT, CB);
	wp(w, "<rect class=\"strip\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"26\"/>"
	      "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">failed</text>\n",
	   CL, CSTRIP - 13, CR - CL, CL - 6, CSTRIP + 4);
	wp(w, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", (CL + CR) / 2, CH - 8, xlabel);
	wp(w, "<text class=\"label\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
	   (CT + CB) / 2, fit_label(s->objective));

	/* attempts: fitness when they have one, else the "failed" strip */
	avo_buf t = AVO_BUF_INIT;
	char b1[48], b2[48];
	for (size_t i = 0; i < run->nattempts; i++) {
		const avo_report_attempt *a = &run->attempts[i];
		size_t st = style_of(a->status);
		double y = plotted(a) ? PY(a->fitness) : CSTRIP + (double)((long)(i % 3) - 1) * 6;
		avo_buf_clear(&t);
		if (avo_buf_printf(&t, "attempt %ld: %s (%s)", a->n, a->status, a->op ? a->op : "?") < 0 ||
		    (plotted(a) && avo_buf_printf(&t, ", fitness %s", fg(b1, a->fitness, 5, "")) < 0) ||
		    (use_time && avo_buf_printf(&t, ", at %s", fdur(b2, a->elapsed_s, "?")) < 0) ||
		    (a->note && avo_buf_printf(&t, "\n%s", a->note) < 0)) {
			w->err = AVO_ERROR;
			break;
		}
		glyph(w, st, PX(AX(a, i)), y, 3.6, avo_buf_cstr(&t));
	}
	/* the committed versions: a step line of the best so far */
	double lastx = NAN;
	wp(w, "<path class=\"step\" d=\"");
	for (size_t i = 0; i < run->nversions; i++) {
		const avo_report_version *v = &run->versions[i];
		if (!is_num(v->fitness))
			continue;
		if (!is_num(lastx))
			wp(w, "M%.1f %.1f", PX(VX(v, i)), PY(v->fitness));
		else
			wp(w, "H%.1fV%.1f", PX(VX(v, i)), PY(v->fitness));
		lastx = VX(v, i);
	}
	if (is_num(lastx))
		wp(w, "H%.1f", PX(xmax));
	wp(w, "\"/>\n");
	double last_label = -INFINITY;
	for (size_t i = 0; i < run->nversions; i++) {
		const avo_report_version *v = &run->versions[i];
		if (!is_num(v->fitness))
			continue;
		avo_buf_clear(&t);
		if (avo_buf_printf(&t, "v%ld (%s): fitness %s", v->id, v->op ? v->op : "?", fg(b1, v->fitness, 5, "")) < 0 ||
		    (v->note && avo_buf_printf(&t, "\n%s", v->note) < 0)) {
			w->err = AVO_ERROR;
			break;
		}
		double x = PX(VX(v, i)), y = PY(v->fitness);
		wp(w, "<g class=\"version%s\" data-id=\"%ld\">", v == s->best ? " best" : "", v->id);
		/* The gate's interval of the gain over the parent, as an error bar on the fitness
		 * (parent fitness x [lo, hi]), clipped to the plot. */
		const avo_runrec_interval *g = &v->gain;
		if (avo_runrec_interval_known(g) && is_num(g->lo) && is_num(g->hi) && g->value > 0) {
			double y1 = fmax(CT, fmin(CB, PY(v->fitness * g->hi / g->value)));
			double y2 = fmax(CT, fmin(CB, PY(v->fitness * g->lo / g->value)));
			char iv[96];
			wp(w, "<path class=\"errbar\" data-lo=\"%.17g\" data-hi=\"%.17g\" d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\">"
			      "<title>gain over v%ld: ", g->lo, g->hi, x, y1, y2, x - 4, y1, x + 4, x - 4, y2, x + 4, v->parent);
			we(w, avo_runrec_interval_text(iv, sizeof(iv), g));
			wp(w, "</title></path>");
		}
		wp(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5.5\"><title>", x, y);
		we(w, avo_buf_cstr(&t));
		wp(w, "</title></circle>");
		/* label a version when there is room beside the previous label (and always the best) */
		if (v == s->best || !(x - last_label < 24)) {
			wp(w, "<text class=\"vlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">v%ld</text>", x, y - 9, v->id);
			last_label = x;
		}
		wp(w, "</g>\n");
	}
	avo_buf_dispose(&t);
	wp(w, "</svg>\n");
#undef VX
#undef AX
#undef PX
#undef PY

	/* legend: HTML, so it wraps; each glyph a tiny inline SVG */
	size_t counts[NSTYLES] = {0};
	for (size_t i = 0; i < run->nattempts; i++)
		counts[style_of(run->attempts[i].status)]++;
	wp(w, "<ul class=\"legend\">\n<li><svg width=\"28\" height=\"14\" viewBox=\"0 0 28 14\">"
	      "<path class=\"step\" d=\"M1 11H14V4H27\"/></svg>committed versions (best so far)</li>\n");
	for (size_t i = 0; i < NSTYLES; i++) {
		if (!counts[i])
			continue;
		wp(w, "<li data-status=\"%s\"><svg width=\"14\" height=\"14\" viewBox=\"0 0 14 14\">", styles[i].status);
		glyph(w, i, 7, 7, 4.2, NULL);
		wp(w, "</svg>%s <span class=\"n\">(%zu)</span></li>\n", styles[i].label, counts[i]);
	}
	wp(w, "</ul>\n<p class=\"note\">Attempts without a fitness (failed before timing) sit in the \"failed\" strip below the axis. "
	      "Hover a point for its details.</p>\n");
}
