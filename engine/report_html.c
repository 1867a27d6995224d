/* The report page (`avo report`): one file, inline CSS and SVG, no script, no network; a Content-Security-Policy forbids both, so that even a rendering bug cannot run text taken from the files. */
#include "report_impl.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the page ------------------------------------------------------------------ */

static const char css[] =
	":root{--fg:#1f2328;--mut:#59636e;--line:#d1d9e0;--bg2:#f6f8fa;--add:#dafbe1;--del:#ffebe9;--ok:#1a7f37}\n"
	"body{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Helvetica,Arial,sans-serif;color:var(--fg);"
	"margin:0 auto;max-width:1200px;padding:16px 24px 48px}\n"
	"h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}\n"
	"h3{font-size:14px;margin:16px 0 6px}.sub,.note,footer{color:var(--mut);font-size:12.5px}\n"
	"code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,\"Liberation Mono\",monospace;font-size:12.5px}\n"
	".kv{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:0}\n"
	".kv div{background:var(--bg2);border:1px solid var(--line);border-radius:6px;padding:8px 10px}\n"
	".kv dt{color:var(--mut);font-size:12px}.kv dd{margin:2px 0 0;font-size:18px;font-weight:600;overflow-wrap:anywhere}\n"
	".kv dd.small{font-size:13px;font-weight:400}\n"
	"table{border-collapse:collapse;margin:4px 0;font-size:13px}th,td{border:1px solid var(--line);padding:4px 8px;vertical-align:top}\n"
	"th{background:var(--bg2);text-align:left;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
	"tr.best td{background:#eefbf1}.up{color:var(--ok)}.down{color:#cf222e}\n"
	"#config-table td.mono{white-space:nowrap}td.change{max-width:520px;overflow-wrap:anywhere}.tree{color:var(--mut);font-family:ui-monospace,monospace}\n"
	"pre{background:var(--bg2);border:1px solid var(--line);border-radius:6px;padding:8px 10px;overflow-x:auto;white-space:pre;margin:4px 0}\n"
	"pre .add{background:var(--add);display:inline-block;min-width:100%}pre .del{background:var(--del);display:inline-block;min-width:100%}\n"
	"pre .hunk{color:#8250df}\n"
	".chart{max-width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:6px}\n"
	".chart .grid{stroke:#eaeef2}.chart .axis{stroke:#8c959f}.chart .tick{font-size:11px;fill:var(--mut)}\n"
	".chart .label{font-size:12px;fill:var(--fg)}.chart .strip{fill:#fff5f5;stroke:#ffd8d3}\n"
	".errbar{fill:none;stroke:var(--ok);stroke-width:1.2;opacity:.7}\n"
	".step{fill:none;stroke:var(--ok);stroke-width:2}.version circle{fill:var(--ok);stroke:#fff;stroke-width:1.5}\n"
	".version.best circle{fill:#fff;stroke:var(--ok);stroke-width:3}.vlabel{font-size:10px;fill:var(--ok)}\n"
	".legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 18px}\n"
	".legend li{display:flex;align-items:center;gap:6px}.legend .n{color:var(--mut)}\n"
	"ul.counts{margin:4px 0;padding-left:20px}details summary{cursor:pointer;color:var(--mut)}\n"
	".warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px}\n"
	".empty{color:var(--mut);font-style:italic}\n";

/* A heading and a list of "name: count" items, each with data-<attr> and data-count for tests. */
static void counts_list(W *w, const char *heading, const char *empty, const char *id, const char *attr,
			const avo_report_pair *items, size_t n)
{
	wp(w, "<h3>%s</h3>\n", heading);
	if (!n) {
		wp(w, "<p class=\"empty\">%s</p>\n", empty);
		return;
	}
	wp(w, "<ul class=\"counts\" id=\"%s\">\n", id);
	for (size_t i = 0; i < n; i++) {
		wp(w, "<li data-%s=\"", attr);
		we(w, items[i].name);
		wp(w, "\" data-count=\"%s\">", items[i].text);
		we(w, items[i].name);
		wp(w, ": %s</li>\n", items[i].text);
	}
	wp(w, "</ul>\n");
}

static void kv(W *w, const char *id, const char *label, const char *data, const char *shown)
{
	wp(w, "<div><dt>%s</dt><dd id=\"%s\" data-value=\"", label, id);
	we(w, data);
	wp(w, "\">");
	we(w, shown);
	wp(w, "</dd></div>\n");
}

static void summary_section(W *w, const avo_report_run *run, const avo_report_summary *s)
{
	char b[48], x[48], t[96];
	wp(w, "<section id=\"summary\"><h2>Summary</h2>\n<dl class=\"kv\">\n");
	kv(w, "best-fitness", "best fitness", fx(x, s->best_fitness), fg(b, s->best_fitness, 6, DASH));
	kv(w, "baseline-fitness", "baseline fitness", fx(x, s->baseline_fitness), fg(b, s->baseline_fitness, 6, DASH));
	if (avo_runrec_interval_known(&s->final)) {
		avo_runrec_interval_text(t, sizeof(t), &s->final);
		kv(w, "speedup", "speedup over baseline (final measurement)", fx(x, s->final.value), t);
	} else {
		if (is_num(s->speedup))
			snprintf(t, sizeof(t), "%.3fx", s->speedup);
		kv(w, "speedup", "speedup over baseline", fx(x, s->speedup), is_num(s->speedup) ? t : DASH);
	}
	snprintf(t, sizeof(t), "%ld", s->best ? s->best->id : -1L);
	kv(w, "best-version", "best version", s->best ? t : "", s->best ? (snprintf(x, sizeof(x), "v%ld", s->best->id), x) : DASH);
	snprintf(t, sizeof(t), "%ld", s->attempts);
	kv(w, "attempts", "attempts", t, t);
	snprintf(t, sizeof(t), "%ld", s->commits);
	kv(w, "commits", "commits (after the baseline)", t, t);
	kv(w, "elapsed", "elapsed", fx(x, s->elapsed_s), fdur(b, s->elapsed_s, DASH));
	for (size_t i = 0; i < run->info.ndevices && is_num(run->info.devices_wall_s) && run->info.devices_wall_s > 0; i++) {
		const avo_runrec_device *d = &run->info.devices[i]; /* the pipeline: busy / wall */
		char id[48], label[96];
		double u = d->busy_s / run->info.devices_wall_s;
		snprintf(id, sizeof(id), "device-%zu", i);
		snprintf(label, sizeof(label), "%s busy", d->name ? d->name : "?");
		snprintf(t, sizeof(t), "%.0f%% (%ld runs)", 100 * u, d->runs);
		kv(w, id, label, fx(x, u), t);
	}
	kv(w, "tokens-in", "tokens in", fx(x, s->tokens_in), fg(b, s->tokens_in, 12, DASH));
	kv(w, "tokens-out", "tokens out", fx(x, s->tokens_out), fg(b, s->tokens_out, 12, DASH));
	if (is_num(s->cost_usd))
		snprintf(t, sizeof(t), "$%.4f", s->cost_usd);
	kv(w, "cost", "cost (USD)", fx(x, s->cost_usd), is_num(s->cost_usd) ? t : DASH);
	const char *state = s->stop_reason ? s->stop_reason : s->done == 1 ? "done" : run->info.present ? "running (or killed)" : "unknown";
	kv(w, "stop-reason", "stop reason", s->stop_reason ? s->stop_reason : "", state);
	kv(w, "objective", "objective", s->objective, *s->objective ? s->objective : DASH);
	const avo_runrec_guard *g = &run->info.guard;
	kv(w, "trust", "harness protocol", g->trust ? g->trust : "", g->trust ? g->trust : DASH);
	kv(w, "sandbox", "sandbox", g->sandbox ? g->sandbox : "",
	   !g->sandbox ? DASH : strcmp(g->sandbox, "none") ? g->sandbox : "none (opted out)");
	if (!strcmp(s->objective, "ms") && is_num(s->best_fitness) && s->best_fitness > 0) {
		/* fitness is 1 / geomean(ms): show the time itself too */
		snprintf(t, sizeof(t), "%.5g ms", 1 / s->best_fitness);
		kv(w, "best-geomean-ms", "best geomean time", fx(x, 1 / s->best_fitness), t);
	}
	wp(w, "</dl>\n");

	counts_list(w, "Commits by operator", "No commits after the baseline.", "commits-by-op", "op",
		    s->commits_by_op, s->ncommits_by_op);
	counts_list(w, "Attempts that did not commit, by cause", "None.", "failures", "status",
		    s->failures, s->nfailures);
	if (s->confirmations)
		wp(w, "<p class=\"note\" id=\"confirmations\">The gate re-measured candidates that could win in %ld A/B "
		      "runs (not failures).</p>\n", s->confirmations);
	if (s->best && s->best->variant) {
		wp(w, "<p class=\"note\" id=\"best-variant\">Best variant v%ld: cache object <code>", s->best->id);
		we(w, s->best->variant);
		wp(w, "</code>; <code>avo apply SPEC -o FILE</code> writes it out.</p>\n");
	}
	/* A budget of 0 means "no limit" (tune.h). */
	if (run->info.budget_evaluations > 0 || run->info.budget_seconds > 0 || run->info.budget_cost_usd > 0) {
		wp(w, "<p class=\"note\" id=\"budget\">Budget:");
		if (run->info.budget_evaluations > 0)
			wp(w, " %ld evaluations", run->info.budget_evaluations);
		if (run->info.budget_seconds > 0)
			wp(w, "%s %s", run->info.budget_evaluations > 0 ? "," : "", fdur(b, run->info.budget_seconds, DASH));
		if (run->info.budget_cost_usd > 0)
			wp(w, "%s $%.2f", run->info.budget_evaluations > 0 || run->info.budget_seconds > 0 ? "," : "", run->info.budget_cost_usd);
		wp(w, ".</p>\n");
	}
	wp(w, "</section>\n");
}

static const avo_report_version *version_by_id(const avo_report_run *run, long id)
{
	for (size_t i = 0; i < run->nversions; i++)
		if (run->versions[i].id == id)
			return &run->versions[i];
	return NULL;
}

/* What a version changed against its parent (edits are relative to the original). */
static void change_text(W *w, const avo_report_version *v, const avo_report_version *p,
			const avo_report_pair *orig, size_t norig, const avo_report_pair *oknobs, size_t noknobs)
{
	int first = 1;
	if (v->note && *v->note) {
		we(w, v->note);
		first = 0;
	}
	if (!v->has_edits)
		return;
	avo_buf names = AVO_BUF_INIT;
	for (size_t i = 0; i < v->nregions; i++) {
		const char *pt = p ? pair_find(p->regions, p->nregions, v->regions[i].name) : NULL;
		if (!pt)
			pt = pair_find(orig, norig, v->regions[i].name);
		if (pt && !strcmp(pt, v->regions[i].text))
			continue;
		if ((names.size && avo_buf_puts(&names, ", ") < 0) || avo_buf_puts(&names, v->regions[i].name) < 0)
			w->err = AVO_ERROR;
	}
	for (size_t i = 0; p && i < p->nregions; i++)
		if (!pair_find(v->regions, v->nregions, p->regions[i].name) &&
		    ((names.size && avo_buf_puts(&names, ", ") < 0) ||
		     avo_buf_printf(&names, "%s (back to the original)", p->regions[i].name) < 0))
			w->err = AVO_ERROR;
	if (names.size) {
		wp(w, "%s<span class=\"mono\">regions: ", first ? "" : "<br>");
		we(w, names.ptr);
		wp(w, "</span>");
		first = 0;
	}
	avo_buf_clear(&names);
	for (size_t i = 0; i < v->nknobs; i++) {
		const char *pv = p ? pair_find(p->knobs, p->nknobs, v->knobs[i].name) : NULL;
		if (!pv)
			pv = pair_find(oknobs, noknobs, v->knobs[i].name);
		if (pv && !strcmp(pv, v->knobs[i].text))
			continue;
		if ((names.size && avo_buf_puts(&names, ", ") < 0) ||
		    avo_buf_printf(&names, "%s=%s", v->knobs[i].name, v->knobs[i].text) < 0 ||
		    (pv && avo_buf_printf(&names, " (was %s)", pv) < 0))
			w->err = AVO_ERROR;
	}
	if (names.size) {
		wp(w, "%s<span class=\"mono\">knobs: ", first ? "" : "<br>");
		we(w, names.ptr);
		wp(w, "</span>");
	}
	avo_buf_dispose(&names);
}

/* Indentation in the lineage tree: a chain stays flat; a version that is not its parent's
 * first child starts a branch one level deeper. */
static int branch_depth(const avo_report_run *run, const avo_report_version *v)
{
	int depth = 0;
	for (size_t hops = 0; v && v->parent >= 0 && hops < run->nversions; hops++) {
		const avo_report_version *p = version_by_id(run, v->parent), *first = NULL;
		for (size_t i = 0; p && i < run->nversions && !first; i++)
			if (run->versions[i].parent == p->id && &run->versions[i] != p)
				first = &run->versions[i];
		depth += first && first != v;
		v = p;
	}
	return depth > 24 ? 24 : depth;
}

static void lineage_section(W *w, const avo_report_run *run, const avo_report_summary *s,
			    const avo_report_pair *orig, size_t norig, const avo_report_pair *oknobs, size_t noknobs)
{
	char b[48], c[48];
	wp(w, "<section id=\"lineage\"><h2>Lineage</h2>\n");
	if (!run->nversions) {
		wp(w, "<p class=\"empty\">No committed versions yet (not even the baseline).</p></section>\n");
		return;
	}
	wp(w, "<table id=\"lineage-table\"><thead><tr><th>version</th><th>parent</th><th>operator</th><th>attempt</th>"
	      "<th>elapsed</th><th>fitness</th><th>gain over parent</th><th>change</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < run->nversions; i++) {
		const avo_report_version *v = &run->versions[i];
		const avo_report_version *p = v->parent >= 0 ? version_by_id(run, v->parent) : NULL;
		int depth = branch_depth(run, v);
		wp(w, "<tr data-id=\"%ld\"%s><td class=\"mono\"><span class=\"tree\" style=\"padding-left:%dpx\">%s</span>v%ld</td>",
		   v->id, v == s->best ? " class=\"best\"" : "", depth * 12, depth ? "\xE2\x94\x94 " : "", v->id);
		if (v->parent >= 0)
			wp(w, "<td class=\"mono\">v%ld</td>", v->parent);
		else
			wp(w, "<td>" DASH "</td>");
		wp(w, "<td>");
		we(w, v->op ? v->op : "?");
		wp(w, "</td><td class=\"num\">");
		if (v->attempt >= 0)
			wp(w, "%ld", v->attempt);
		else
			wp(w, DASH);
		wp(w, "</td><td class=\"num\">%s</td>", fdur(b, v->elapsed_s, DASH));
		wp(w, "<td class=\"num\" data-fitness=\"%s\">%s</td>", fx(c, v->fitness), fg(b, v->fitness, 6, DASH));
		if (p && is_num(p->fitness) && is_num(v->fitness) && p->fitness > 0) {
			double g = (v->fitness / p->fitness - 1) * 100;
			wp(w, "<td class=\"num %s\">%+.2f%%</td>", g > 0 ? "up" : g < 0 ? "down" : "", g);
		} else
			wp(w, "<td class=\"num\">" DASH "</td>");
		wp(w, "<td class=\"change\">");
		if (v == s->baseline && !v->nregions && !v->nknobs && !(v->note && *v->note))
			wp(w, "the original kernel");
		else
			change_text(w, v, p, orig, norig, oknobs, noknobs);
		wp(w, "</td></tr>\n");
	}
	wp(w, "</tbody></table>\n<p class=\"note\">Gain over parent compares fitness; the best version is highlighted.</p></section>\n");
}

static void configs_section(W *w, const avo_report_run *run, const avo_report_summary *s)
{
	cfg_row *rows = NULL;
	const char **cols = NULL;
	size_t nrows = 0, ncols = 0;
	char b[48], x[48];
	wp(w, "<section id=\"configs\"><h2>Per-config results: baseline against best</h2>\n");
	if (cfg_rows(&rows, &nrows, run, s) < 0 || peer_cols(&cols, &ncols, run) < 0) {
		w->err = AVO_ERROR;
		goto done;
	}
	if (!nrows) {
		wp(w, "<p class=\"empty\">No per-config scores recorded.</p>\n");
		goto done;
	}
	wp(w, "<table id=\"config-table\"><thead><tr><th>config</th><th>baseline ms</th><th>best ms</th>"
	      "<th>baseline TFLOP/s</th><th>best TFLOP/s</th><th>speedup</th><th>best max rel err</th><th>noise</th>");
	for (size_t c = 0; c < ncols; c++) {
		wp(w, "<th>");
		we(w, cols[c]);
		wp(w, " TFLOP/s</th><th>best / ");
		we(w, cols[c]);
		wp(w, "</th>");
	}
	wp(w, "</tr></thead><tbody>\n");
	for (size_t i = 0; i < nrows; i++) {
		const cfg_row *r = &rows[i];
		double bm = r->base ? r->base->ms : NAN, tm = r->best ? r->best->ms : NAN;
		double bt = r->base ? r->base->tflops : NAN, tt = r->best ? r->best->tflops : NAN;
		wp(w, "<tr data-config=\"");
		we(w, r->config);
		wp(w, "\" data-baseline-ms=\"%s\"", fx(x, bm));
		wp(w, " data-best-ms=\"%s\"", fx(x, tm));
		wp(w, " data-speedup=\"%s\"><td class=\"mono\">", fx(x, r->speedup));
		we(w, r->config);
		wp(w, "</td><td class=\"num\">%s</td>", fg(b, bm, 5, DASH));
		wp(w, "<td class=\"num\">%s</td>", fg(b, tm, 5, DASH));
		wp(w, "<td class=\"num\">%s</td>", fg(b, bt, 5, DASH));
		wp(w, "<td class=\"num\">%s</td>", fg(b, tt, 5, DASH));
		if (is_num(r->speedup))
			wp(w, "<td class=\"num %s\">%.3fx</td>", r->speedup > 1 ? "up" : r->speedup < 1 ? "down" : "", r->speedup);
		else
			wp(w, "<td class=\"num\">" DASH "</td>");
		wp(w, "<td class=\"num\">%s</td>", fg(b, r->best ? r->best->max_rel_err : NAN, 3, DASH));
		double nz = avo_report_config_noise(r->base, r->best);
		if (is_num(nz))
			wp(w, "<td class=\"num%s\" data-noise=\"%s\">%.2f%%</td>", nz > s->noise_limit ? " down" : "", fx(x, nz), nz * 100);
		else
			wp(w, "<td class=\"num\">" DASH "</td>");
		for (size_t c = 0; c < ncols; c++) {
			double pv = peer_value(r->peer, cols[c]);
			wp(w, "<td class=\"num\">%s</td>", fg(b, pv, 5, DASH));
			if (is_num(pv) && pv > 0 && is_num(tt))
				wp(w, "<td class=\"num %s\">%.3fx</td>", tt >= pv ? "up" : "down", tt / pv);
			else
				wp(w, "<td class=\"num\">" DASH "</td>");
		}
		wp(w, "</tr>\n");
	}
	wp(w, "</tbody></table>\n");
	if (s->noisy_configs)
		wp(w, "<p class=\"warn\" id=\"noise-warning\">%ld config(s) time with more noise (relative standard "
		      "deviation of the repetitions) than the %.2g%% gains sought, so a gain there cannot be told from "
		      "noise: use more repetitions, a bigger problem, or a locked GPU clock.</p>\n",
		   s->noisy_configs, s->noise_limit * 100);
	wp(w, "<p class=\"note\">Speedup is baseline ms / best ms (TFLOP/s ratio when ms is missing). "
	      "Noise is the larger relative standard deviation of the timed repetitions, baseline or best."
	      "%s</p>\n", ncols ? " Peer columns come from the peers file (TFLOP/s, measured separately)." : "");
done:
	free(rows);
	free(cols);
	wp(w, "</section>\n");
}

/* The diff as a block when the texts differ; returns whether they do. */
static int pre_diff(W *w, const char *name, long id, const char *a, const char *b)
{
	int changed = 0;
	avo_buf d = AVO_BUF_INIT;
	if (avo_report_diff(&d, a, b, 1, &changed) < 0) {
		w->err = AVO_ERROR;
		return 0;
	}
	if (changed) {
		wp(w, "<h3 class=\"mono\">");
		we(w, name);
		wp(w, "</h3>\n<pre class=\"diff\" data-region=\"");
		we(w, name);
		wp(w, "\"><span class=\"hunk\">--- original\n+++ v%ld</span>\n", id);
		wp(w, "%s</pre>\n", avo_buf_cstr(&d));
	}
	avo_buf_dispose(&d);
	return changed;
}

static void diff_section(W *w, const avo_report_summary *s, const avo_report_options *o, const char *ksrc,
			 const avo_report_pair *orig, size_t norig, const avo_report_pair *oknobs, size_t noknobs,
			 const char *kernel_err)
{
	const avo_report_version *best = s->best;
	avo_report_pair *br = NULL, *bk = NULL;
	size_t nbr = 0, nbk = 0;
	wp(w, "<section id=\"diff\"><h2>The best version against the original</h2>\n");
	if (kernel_err) {
		wp(w, "<p class=\"warn\">");
		we(w, kernel_err);
		wp(w, "</p>\n");
	}
	if (!best) {
		wp(w, "<p class=\"empty\">No versions yet.</p></section>\n");
		return;
	}
	if (best == s->baseline) {
		wp(w, "<p class=\"empty\">The best version is the baseline: nothing changed yet.</p></section>\n");
		return;
	}
	/* The regions and knobs of the best: from its lineage edits, else scanned from its source. */
	const avo_report_pair *regions = best->regions, *knobs = best->knobs;
	size_t nregions = best->nregions, nknobs = best->nknobs;
	if (!best->has_edits && o->best_src) {
		if (avo_report_scan_regions(&br, &nbr, o->best_src) < 0 || avo_report_scan_knobs(&bk, &nbk, o->best_src) < 0) {
			w->err = AVO_ERROR;
			goto done;
		}
		regions = br, nregions = nbr;
		knobs = bk, nknobs = nbk;
	}
	if (!best->has_edits && !nbr) {
		if (ksrc && o->best_src && !pre_diff(w, "whole file", best->id, ksrc, o->best_src))
			wp(w, "<p class=\"empty\">v%ld is byte for byte the original.</p>\n", best->id);
		else
			wp(w, "<p class=\"empty\">v%ld records no edits and its source is not available.</p>\n", best->id);
		goto done;
	}
	wp(w, "<p class=\"note\">Unified line diff per region: the original kernel%s against v%ld.</p>\n",
	   o->kernel_path ? "" : " (not available: regions shown whole)", best->id);
	if (ksrc) {
		avo_buf same = AVO_BUF_INIT;
		for (size_t i = 0; i < norig; i++) {
			const char *nt = pair_find(regions, nregions, orig[i].name);
			if (!nt || !strcmp(nt, orig[i].text)) {
				if ((same.size && avo_buf_puts(&same, ", ") < 0) || avo_buf_puts(&same, orig[i].name) < 0)
					w->err = AVO_ERROR;
			} else
				pre_diff(w, orig[i].name, best->id, orig[i].text, nt);
		}
		if (same.size) {
			wp(w, "<p class=\"note\" id=\"unchanged-regions\">Unchanged regions: <span class=\"mono\">");
			we(w, same.ptr);
			wp(w, "</span></p>\n");
		}
		avo_buf_dispose(&same);
	}
	for (size_t i = 0; i < nregions; i++) {
		if (ksrc && pair_find(orig, norig, regions[i].name))
			continue;
		wp(w, "<h3 class=\"mono\">");
		we(w, regions[i].name);
		wp(w, "%s</h3>\n<pre class=\"region\">", ksrc ? " (not a region of the original kernel)" : "");
		we(w, regions[i].text);
		wp(w, "</pre>\n");
	}
	if (nknobs || noknobs) {
		wp(w, "<h3>Knobs</h3>\n<table id=\"knob-table\"><thead><tr><th>knob</th><th>original</th><th>v%ld</th></tr></thead><tbody>\n",
		   best->id);
		for (size_t i = 0; i < noknobs; i++) {
			const char *nv = pair_find(knobs, nknobs, oknobs[i].name);
			wp(w, "<tr><td class=\"mono\">");
			we(w, oknobs[i].name);
			wp(w, "</td><td class=\"mono\">");
			we(w, oknobs[i].text);
			wp(w, "</td><td class=\"mono%s\">", nv && strcmp(nv, oknobs[i].text) ? " up" : "");
			we(w, nv ? nv : oknobs[i].text);
			wp(w, "</td></tr>\n");
		}
		for (size_t i = 0; i < nknobs; i++) {
			if (pair_find(oknobs, noknobs, knobs[i].name))
				continue;
			wp(w, "<tr><td class=\"mono\">");
			we(w, knobs[i].name);
			wp(w, "</td><td>%s</td><td class=\"mono\">", ksrc ? "(not a knob of the original)" : DASH);
			we(w, knobs[i].text);
			wp(w, "</td></tr>\n");
		}
		wp(w, "</tbody></table>\n");
	}
done:
	avo_report_pairs_free(br, nbr);
	avo_report_pairs_free(bk, nbk);
	wp(w, "</section>\n");
}

#define MAX_ATTEMPT_ROWS 2000

static void attempts_section(W *w, const avo_report_run *run)
{
	char b[48], c[48];
	wp(w, "<section id=\"attempt-list\"><h2>Attempts</h2>\n");
	if (!run->nattempts) {
		wp(w, "<p class=\"empty\">No attempts yet.</p></section>\n");
		return;
	}
	wp(w, "<table id=\"attempt-table\"><thead><tr><th>#</th><th>elapsed</th><th>operator</th><th>status</th>"
	      "<th>fitness</th><th>best before</th><th>tokens in/out</th><th>cost</th><th>note and feedback</th></tr></thead><tbody>\n");
	size_t from = run->nattempts > MAX_ATTEMPT_ROWS ? run->nattempts - MAX_ATTEMPT_ROWS : 0;
	for (size_t i = from; i < run->nattempts; i++) {
		const avo_report_attempt *a = &run->attempts[i];
		size_t st = style_of(a->status);
		wp(w, "<tr data-status=\"");
		we(w, a->status);
		wp(w, "\"><td class=\"num\">%ld</td><td class=\"num\">%s</td><td>", a->n, fdur(b, a->elapsed_s, DASH));
		we(w, a->op ? a->op : "?");
		wp(w, "</td><td><svg width=\"12\" height=\"12\" viewBox=\"0 0 14 14\">");
		glyph(w, st, 7, 7, 4.2, NULL);
		wp(w, "</svg> ");
		we(w, a->status);
		wp(w, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>", fg(b, a->fitness > 0 ? a->fitness : NAN, 6, DASH),
		   fg(c, a->best_before > 0 ? a->best_before : NAN, 6, DASH));
		wp(w, "<td class=\"num\">%s", fg(b, a->tokens_in, 12, DASH));
		wp(w, " / %s</td>", fg(b, a->tokens_out, 12, DASH));
		if (is_num(a->cost_usd))
			wp(w, "<td class=\"num\">$%.4f</td>", a->cost_usd);
		else
			wp(w, "<td class=\"num\">" DASH "</td>");
		wp(w, "<td class=\"change\">");
		we(w, a->note);
		if (a->feedback && *a->feedback) {
			wp(w, "<details><summary>feedback</summary><pre>");
			we(w, a->feedback);
			wp(w, "</pre></details>");
		}
		wp(w, "</td></tr>\n");
	}
	wp(w, "</tbody></table>\n");
	if (from)
		wp(w, "<p class=\"note\">The first %zu attempts are left out; the table shows the last %d.</p>\n", from,
		   MAX_ATTEMPT_ROWS);
	wp(w, "</section>\n");
}

int avo_report_html(avo_buf *out, const avo_report_run *run, const avo_report_options *opts)
{
	avo_report_options dflt = AVO_REPORT_OPTIONS_INIT;
	const avo_report_options *o = opts ? opts : &dflt;
	avo_report_summary s;
	avo_report_pair *orig = NULL, *oknobs = NULL;
	size_t norig = 0, noknobs = 0;
	avo_buf kbuf = AVO_BUF_INIT;
	char *kernel_err = NULL;
	W w = {out, 0};
	if (avo_report_summarize(&s, run) < 0)
		return AVO_ERROR;

	const char *ksrc = o->kernel_src;
	if (!ksrc && o->kernel_path) {
		if (avo_file_read(&kbuf, o->kernel_path) < 0)
			kernel_err = avo_sprintf("The original kernel could not be read (%s); no diff against it.", avo_error_last());
		else
			ksrc = avo_buf_cstr(&kbuf);
	}
	if (ksrc && (avo_report_scan_regions(&orig, &norig, ksrc) < 0 || avo_report_scan_knobs(&oknobs, &noknobs, ksrc) < 0))
		w.err = AVO_ERROR;

	const char *title = o->title ? o->title : avo_path_basename(run->run_dir);
	wp(&w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"avo %s\">\n"
	       "<title>avo report: ", AVO_VERSION_STRING);
	we(&w, title);
	wp(&w, "</title>\n<style>\n%s</style>\n</head><body>\n<header><h1>avo report: <span id=\"title\">", css);
	we(&w, title);
	wp(&w, "</span></h1>\n<p class=\"sub\">run directory <code>");
	we(&w, run->run_dir);
	wp(&w, "</code>");
	if (run->info.spec) {
		wp(&w, " &middot; spec <code>");
		we(&w, run->info.spec);
		wp(&w, "</code>");
	}
	if (run->info.tuning_key) {
		wp(&w, " &middot; tuning key <code>");
		we(&w, run->info.tuning_key);
		wp(&w, "</code>");
	}
	wp(&w, "</p></header>\n");
	if (run->nwarnings) {
		wp(&w, "<div class=\"warn\" id=\"warnings\"><strong>Warnings while reading the run:</strong><ul>\n");
		for (size_t i = 0; i < run->nwarnings; i++) {
			wp(&w, "<li>");
			we(&w, run->warnings[i]);
			wp(&w, "</li>\n");
		}
		wp(&w, "</ul></div>\n");
	}
	summary_section(&w, run, &s);
	wp(&w, "<section id=\"progress\"><h2>Fitness over time</h2>\n");
	avo_report__chart(&w, run, &s);
	wp(&w, "</section>\n");
	lineage_section(&w, run, &s, orig, norig, oknobs, noknobs);
	configs_section(&w, run, &s);
	diff_section(&w, &s, o, ksrc, orig, norig, oknobs, noknobs, kernel_err);
	attempts_section(&w, run);

	time_t now = (time_t)(o->generated_at > 0 ? o->generated_at : avo_wall());
	struct tm tm;
	char when[64] = "?";
	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	wp(&w, "<footer><p>Written by avo %s on %s.</p></footer>\n</body></html>\n", AVO_VERSION_STRING, when);

	free(kernel_err);
	avo_buf_dispose(&kbuf);
	avo_report_pairs_free(orig, norig);
	avo_report_pairs_free(oknobs, noknobs);
	avo_report_summary_dispose(&s);
	return w.err ? avo_error_set(w.err, "out of memory") : 0;
}

int avo_report_write_html(const char *path, const avo_report_run *run, const avo_report_options *opts)
{
	avo_buf b = AVO_BUF_INIT;
	int rc = avo_report_html(&b, run, opts);
	if (rc == 0)
		rc = avo_file_write_atomic(path, b.ptr ? b.ptr : "", b.size, 0644);
	avo_buf_dispose(&b);
	return rc;
}
