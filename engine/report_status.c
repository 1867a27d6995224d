/* The terminal summary of a run (`avo status`) and its JSON form. */
#include "report_impl.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- terminal and JSON summaries ----------------------------------------------- */

int avo_report_status_text(avo_buf *out, const avo_report_run *run, const char *title)
{
	avo_report_summary s;
	cfg_row *rows = NULL;
	size_t nrows = 0;
	char b[48], c[48];
	W w = {out, 0};
	if (avo_report_summarize(&s, run) < 0)
		return AVO_ERROR;
	if (cfg_rows(&rows, &nrows, run, &s) < 0) {
		avo_report_summary_dispose(&s);
		return AVO_ERROR;
	}
	size_t from = out->size;
	wp(&w, "avo status: %s\n", title ? title : avo_path_basename(run->run_dir));
	wp(&w, "  run dir     %s\n", run->run_dir);
	wp(&w, "  objective   %s\n", *s.objective ? s.objective : "-");
	if (s.best)
		wp(&w, "  best        v%ld, fitness %s\n", s.best->id, fg(b, s.best_fitness, 6, "-"));
	else
		wp(&w, "  best        -\n");
	wp(&w, "  baseline    %s\n", fg(b, s.baseline_fitness, 6, "-"));
	if (avo_runrec_interval_known(&s.final)) {
		char iv[96];
		wp(&w, "  speedup     %s (final interleaved measurement", avo_runrec_interval_text(iv, sizeof(iv), &s.final));
		if (is_num(s.final.confidence))
			wp(&w, ", %.0f%% interval", s.final.confidence * 100);
		if (s.final.samples >= 0)
			wp(&w, ", %ld samples", s.final.samples);
		wp(&w, ")\n");
	} else if (is_num(s.speedup))
		wp(&w, "  speedup     %.3fx\n", s.speedup);
	else
		wp(&w, "  speedup     -\n");
	if (s.best && avo_runrec_interval_known(&s.best->gain)) {
		char iv[96];
		wp(&w, "  best gain   %s over v%ld\n", avo_runrec_interval_text(iv, sizeof(iv), &s.best->gain), s.best->parent);
	}
	wp(&w, "  attempts    %ld\n", s.attempts);
	wp(&w, "  commits     %ld", s.commits);
	for (size_t i = 0; i < s.ncommits_by_op; i++)
		wp(&w, "%s%s %s", i ? ", " : " (", s.commits_by_op[i].name, s.commits_by_op[i].text);
	wp(&w, "%s\n", s.ncommits_by_op ? ")" : "");
	wp(&w, "  failures    ");
	for (size_t i = 0; i < s.nfailures; i++)
		wp(&w, "%s%s %s", i ? ", " : "", s.failures[i].name, s.failures[i].text);
	wp(&w, "%s\n", s.nfailures ? "" : "none");
	if (s.confirmations)
		wp(&w, "  confirms    %ld gate runs (A/B re-measurements of candidates that could win)\n", s.confirmations);
	wp(&w, "  elapsed     %s\n", fdur(b, s.elapsed_s, "-"));
	const avo_runrec_run *ri = &run->info; /* the pipeline's devices: busy / wall */
	for (size_t i = 0; i < ri->ndevices && is_num(ri->devices_wall_s) && ri->devices_wall_s > 0; i++)
		wp(&w, "%s%s %.0f%% (%ld runs)%s", i ? ", " : "  devices     ", ri->devices[i].name,
		   100 * ri->devices[i].busy_s / ri->devices_wall_s, ri->devices[i].runs, i + 1 == ri->ndevices ? "\n" : "");
	wp(&w, "  tokens      %s in, %s out\n", fg(b, s.tokens_in, 12, "-"), fg(c, s.tokens_out, 12, "-"));
	if (is_num(s.cost_usd))
		wp(&w, "  cost        $%.4f\n", s.cost_usd);
	else
		wp(&w, "  cost        -\n");
	if (run->info.guard.trust || run->info.guard.sandbox)
		wp(&w, "  trust       %s, sandbox %s\n", run->info.guard.trust ? run->info.guard.trust : "-",
		   run->info.guard.sandbox ? run->info.guard.sandbox : "-");
	wp(&w, "  state       %s\n", s.stop_reason ? s.stop_reason : s.done == 1 ? "done" : run->info.present ? "running (or killed)" : "unknown");
	if (nrows) {
		size_t cw = 6;
		int any_noise = 0; /* the column only when the harness gave repetitions */
		for (size_t i = 0; i < nrows; i++) {
			cw = strlen(rows[i].config) > cw ? strlen(rows[i].config) : cw;
			any_noise |= is_num(avo_report_config_noise(rows[i].base, rows[i].best));
		}
		wp(&w, "\n  %-*s %12s %12s %14s %14s %9s%s\n", (int)cw, "config", "baseline ms", "best ms", "baseline TF/s",
		   "best TF/s", "speedup", any_noise ? "   noise" : "");
		for (size_t i = 0; i < nrows; i++) {
			const cfg_row *r = &rows[i];
			wp(&w, "  %-*s %12s", (int)cw, r->config, fg(b, r->base ? r->base->ms : NAN, 5, "-"));
			wp(&w, " %12s", fg(b, r->best ? r->best->ms : NAN, 5, "-"));
			wp(&w, " %14s", fg(b, r->base ? r->base->tflops : NAN, 5, "-"));
			wp(&w, " %14s", fg(b, r->best ? r->best->tflops : NAN, 5, "-"));
			if (is_num(r->speedup))
				wp(&w, " %8.3fx", r->speedup);
			else
				wp(&w, " %9s", "-");
			double nz = avo_report_config_noise(r->base, r->best);
			if (is_num(nz))
				wp(&w, " %6.2f%%%s\n", nz * 100, nz > s.noise_limit ? " !" : "");
			else
				wp(&w, "%s\n", any_noise ? "       -" : "");
		}
		if (s.noisy_configs)
			wp(&w, "\n  warning: %ld config(s) marked ! time with more noise than the %.2g%% gains sought: "
			       "use more repetitions, a bigger problem or a locked clock\n", s.noisy_configs, s.noise_limit * 100);
	}
	/* Names come from the files: no escape sequence reaches the terminal. */
	for (size_t i = from; !w.err && i < out->size; i++)
		if (((unsigned char)out->ptr[i] < 0x20 && out->ptr[i] != '\n') || out->ptr[i] == 0x7f)
			out->ptr[i] = '?';
	free(rows);
	avo_report_summary_dispose(&s);
	return w.err ? avo_error_set(w.err, "out of memory") : 0;
}

/* cJSON prints doubles to 15 digits when they compare equal within an epsilon, which loses
 * the last bits; write the shortest text that reads back exactly, as a raw JSON number. */
static cJSON *jnum_or_null(double v)
{
	char b[40];
	if (!is_num(v))
		return cJSON_CreateNull();
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(b, sizeof(b), "%.*g", prec, v);
		if (strtod(b, NULL) == v)
			break;
	}
	return cJSON_CreateRaw(b);
}

int avo_report_status_json(avo_buf *out, const avo_report_run *run, const char *title)
{
	avo_report_summary s;
	cfg_row *rows = NULL;
	size_t nrows = 0;
	int rc = AVO_ERROR;
	cJSON *o = NULL;
	char *txt = NULL;
	if (avo_report_summarize(&s, run) < 0)
		return AVO_ERROR;
	if (cfg_rows(&rows, &nrows, run, &s) < 0 || !(o = cJSON_CreateObject()))
		goto done;
	cJSON_AddItemToObject(o, "name", cJSON_CreateString(title ? title : avo_path_basename(run->run_dir)));
	cJSON_AddItemToObject(o, "run_dir", cJSON_CreateString(run->run_dir));
	cJSON_AddItemToObject(o, "objective", cJSON_CreateString(s.objective));
	cJSON_AddItemToObject(o, "best_id", s.best ? cJSON_CreateNumber((double)s.best->id) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "best_fitness", jnum_or_null(s.best_fitness));
	cJSON_AddItemToObject(o, "baseline_fitness", jnum_or_null(s.baseline_fitness));
	cJSON_AddItemToObject(o, "speedup", jnum_or_null(s.speedup));
	cJSON *fi = avo_runrec_interval_known(&s.final) ? cJSON_AddObjectToObject(o, "speedup_interval") : NULL;
	if (fi) {
		cJSON_AddItemToObject(fi, "value", jnum_or_null(s.final.value));
		cJSON_AddItemToObject(fi, "lo", jnum_or_null(s.final.lo));
		cJSON_AddItemToObject(fi, "hi", jnum_or_null(s.final.hi));
		cJSON_AddItemToObject(fi, "confidence", jnum_or_null(s.final.confidence));
		cJSON_AddItemToObject(fi, "samples", s.final.samples >= 0 ? cJSON_CreateNumber((double)s.final.samples) : cJSON_CreateNull());
	} else
		cJSON_AddNullToObject(o, "speedup_interval");
	cJSON_AddItemToObject(o, "attempts", cJSON_CreateNumber((double)s.attempts));
	cJSON_AddItemToObject(o, "commits", cJSON_CreateNumber((double)s.commits));
	cJSON *by = cJSON_AddObjectToObject(o, "commits_by_operator");
	cJSON_AddNumberToObject(o, "confirmations", (double)s.confirmations);
	cJSON *fl = cJSON_AddObjectToObject(o, "failures");
	if (!by || !fl)
		goto done;
	for (size_t i = 0; i < s.ncommits_by_op; i++)
		cJSON_AddItemToObject(by, s.commits_by_op[i].name, cJSON_CreateNumber(strtod(s.commits_by_op[i].text, NULL)));
	for (size_t i = 0; i < s.nfailures; i++)
		cJSON_AddItemToObject(fl, s.failures[i].name, cJSON_CreateNumber(strtod(s.failures[i].text, NULL)));
	cJSON_AddItemToObject(o, "elapsed_s", jnum_or_null(s.elapsed_s));
	cJSON *dv = cJSON_AddArrayToObject(o, "devices"); /* busy_s / wall_s: utilization */
	for (size_t i = 0; dv && i < run->info.ndevices; i++) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "name", run->info.devices[i].name ? run->info.devices[i].name : "?");
		cJSON_AddItemToObject(d, "busy_s", jnum_or_null(run->info.devices[i].busy_s));
		cJSON_AddItemToObject(d, "wall_s", jnum_or_null(run->info.devices_wall_s));
		cJSON_AddNumberToObject(d, "runs", (double)run->info.devices[i].runs);
		cJSON_AddItemToArray(dv, d);
	}
	cJSON_AddItemToObject(o, "tokens_in", jnum_or_null(s.tokens_in));
	cJSON_AddItemToObject(o, "tokens_out", jnum_or_null(s.tokens_out));
	cJSON_AddItemToObject(o, "cost_usd", jnum_or_null(s.cost_usd));
	cJSON_AddItemToObject(o, "stop_reason", s.stop_reason ? cJSON_CreateString(s.stop_reason) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "done", s.done < 0 ? cJSON_CreateNull() : cJSON_CreateBool(s.done));
	cJSON *cf = cJSON_AddArrayToObject(o, "configs");
	cJSON *wa = cJSON_AddArrayToObject(o, "warnings");
	if (!cf || !wa)
		goto done;
	for (size_t i = 0; i < nrows; i++) {
		const cfg_row *r = &rows[i];
		cJSON *e = cJSON_CreateObject();
		if (!e)
			goto done;
		cJSON_AddItemToArray(cf, e);
		cJSON_AddItemToObject(e, "config", cJSON_CreateString(r->config));
		cJSON_AddItemToObject(e, "baseline_ms", jnum_or_null(r->base ? r->base->ms : NAN));
		cJSON_AddItemToObject(e, "best_ms", jnum_or_null(r->best ? r->best->ms : NAN));
		cJSON_AddItemToObject(e, "baseline_tflops", jnum_or_null(r->base ? r->base->tflops : NAN));
		cJSON_AddItemToObject(e, "best_tflops", jnum_or_null(r->best ? r->best->tflops : NAN));
		cJSON_AddItemToObject(e, "speedup", jnum_or_null(r->speedup));
		double nz = avo_report_config_noise(r->base, r->best);
		cJSON_AddItemToObject(e, "noise", jnum_or_null(nz));
		cJSON_AddItemToObject(e, "noisy", cJSON_CreateBool(is_num(nz) && nz > s.noise_limit));
	}
	for (size_t i = 0; i < run->nwarnings; i++)
		cJSON_AddItemToArray(wa, cJSON_CreateString(run->warnings[i]));
	if (!(txt = cJSON_PrintUnformatted(o)))
		goto done;
	rc = avo_buf_puts(out, txt) < 0 || avo_buf_puts(out, "\n") < 0 ? AVO_ERROR : 0;
done:
	free(txt);
	cJSON_Delete(o);
	free(rows);
	avo_report_summary_dispose(&s);
	return rc < 0 ? avo_error_set(rc, "out of memory") : 0;
}
