/* The tuning driver (tune.h): the loop, the operators' callbacks, start, resume and stop.
 * Its other parts share tune_int.h. */
#include "tune_int.h"

#include "avo_agent.h"
#include "avo_astedit.h"
#include "avo_base.h"
#include "backend.h"
#include "candidate.h"
#include "gate.h"
#include "pipeline.h"
#include "buildid.h"
#include "eval.h"
#include "runrec.h"
#include "runstate.h"
#include "tunekey.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set by SIGINT/SIGTERM/SIGHUP (base/signal.c calls this); the loop stops after the
 * evaluation in flight and saves. A second signal kills at once, children included. */
static volatile sig_atomic_t tune__interrupted;

static void on_signal(int sig)
{
	if (tune__interrupted)
		avo_signals_die(sig);
	tune__interrupted = 1;
}

/* ---- callbacks lent to the operator ------------------------------------------------ */

/* Validate edits: build their candidate (one parse) and keep it in the book, so that
 * submitting the same edits next does not parse again. */
static int cb_apply(char **out_source, avo_agent_apply_error *err, const avo_astedit_region_edit *re,
		    size_t nre, const avo_astedit_knob_edit *ke, size_t nke, void *payload)
{
	tune_ctx *t = payload;
	char eh[33];
	avo_agent_edit_hash(eh, re, nre, ke, nke);
	avo_candidate *c = avo_candidate_book_find(&t->book, eh);
	if (!c) {
		avo_astedit_error ae = {0};
		int rc = avo_candidate_new(&c, &ae, t->unit, re, nre, ke, nke);
		if (rc < 0) {
			if (err) {
				memset(err, 0, sizeof(*err));
				err->kind = (int)ae.kind;
				err->message = avo_tune__refusal_text(&ae);
				err->region = avo_strdup(ae.region);
				err->region_line = ae.region_line;
			}
			avo_astedit_error_dispose(&ae);
			return rc;
		}
		avo_astedit_error_dispose(&ae);
		avo_candidate_book_put(&t->book, c);
	}
	if (out_source && !(*out_source = avo_strndup(c->source, c->len)))
		return avo_oom();
	return 0;
}

/* The candidate of these edits, taken out of the book or built now (the caller owns it).
 * <0 with `err` filled: the edits are invalid. */
static int take_candidate(tune_ctx *t, avo_candidate **out, avo_agent_apply_error *err, const char *eh,
			  const avo_astedit_region_edit *re, size_t nre, const avo_astedit_knob_edit *ke,
			  size_t nke)
{
	avo_candidate *c = avo_candidate_book_find(&t->book, eh);
	*out = NULL;
	if (c && c == t->book.pinned) /* the base stays pinned: copy it (no parse) */
		return avo_candidate_known(out, c->source, c->len, re, nre, ke, nke);
	if (!c) {
		int rc = cb_apply(NULL, err, re, nre, ke, nke, t);
		if (rc < 0)
			return rc;
		c = avo_candidate_book_find(&t->book, eh);
	}
	avo_candidate_book_take(&t->book, c);
	*out = c;
	return c ? 0 : avo_error_set(AVO_ERROR, "the candidate was lost");
}

static void cb_annotate(const char *note, void *payload)
{
	tune_ctx *t = payload;
	free(t->step_note);
	t->step_note = avo_strdup(note);
}

static int cb_remember(const char *note, void *payload)
{
	tune_ctx *t = payload;
	return avo_runstate_add_note(t->rs, t->step_op, note);
}

static int cb_stopping(void *payload)
{
	(void)payload;
	return tune__interrupted != 0;
}

static int cb_seen(const avo_astedit_region_edit *re, size_t nre, const avo_astedit_knob_edit *ke,
		   size_t nke, void *payload)
{
	char h[33];
	avo_agent_edit_hash(h, re, nre, ke, nke);
	return avo_tune__seen_edit(payload, h);
}

static char *cb_finish(void *payload)
{
	tune_ctx *t = payload;
	t->finished = 1;
	t->stop = 1;
	t->stop_reason = avo_tune__budget_reached(t);
	if (avo_tune__final_measure(t) < 0)
		return NULL;
	avo_tune__save_run(t, 0);
	return avo_tune__final_line(t);
}

static int cb_evaluate(avo_agent_eval *out, const avo_astedit_region_edit *re, size_t nre,
		       const avo_astedit_knob_edit *ke, size_t nke, void *payload)
{
	tune_ctx *t = payload;
	memset(out, 0, sizeof(*out));
	const char *stop = avo_tune__budget_reached(t); /* counts the candidates in flight */
	if (stop) {
		/* Not an attempt: the step is told and the loop ends after it (ahead: once the
		 * candidates in flight are folded). */
		if (t->ahead && !*t->interrupted)
			t->ahead_full = 1;
		else
			t->stop = 1;
		out->stop = 1;
		out->feedback = avo_sprintf("not evaluated: %s", stop);
		return 0;
	}
	char eh[33];
	avo_agent_edit_hash(eh, re, nre, ke, nke);
	avo_tune__remember_edit(t, eh);

	/* ahead: into the pipeline, whose compile threads check the edits (tune_pipe.c) */
	if (t->ahead)
		return avo_tune__ahead_queue(t, out, eh, re, nre, ke, nke);
	avo_candidate *c = NULL;
	avo_agent_apply_error aerr = {0};
	if (take_candidate(t, &c, &aerr, eh, re, nre, ke, nke) < 0) {
		int rc = avo_tune__record_refusal(t, eh, aerr.message);
		out->feedback = avo_sprintf("edit refused: %s", aerr.message ? aerr.message : "");
		avo_agent_apply_error_dispose(&aerr);
		return rc;
	}
	/* batch mode (slurm): queued for the batch; else evaluated now through the pipeline
	 * or the backend (engine/backend.h) */
	if (t->batching)
		return avo_tune__batch_queue(t, out, c);
	avo_eval_result *er = NULL;
	int rc = avo_tune__eval_one(t, &er, out, eh, c->source, c->len);
	if (rc < 0 || !er) {
		avo_candidate_free(c);
		return rc; /* the evaluator itself could not run: nothing to judge */
	}
	rc = avo_tune__gate(t, out, c, er);
	avo_eval_result_free(er);
	/* The evaluation that spends an interactive operator's budget ends the run: measure the
	 * best against the original now, while its client waits for this answer. */
	if (rc >= 0 && t->interactive && avo_tune__budget_reached(t) && !t->final_done) {
		char *line = avo_tune__final_measure(t) < 0 ? avo_sprintf("The final measurement failed: %s", avo_error_last())
							    : avo_tune__final_line(t);
		char *fb = avo_sprintf("%s\nThe budget is now spent. %s", out->feedback ? out->feedback : "", line ? line : "");
		if (fb) {
			free(out->feedback);
			out->feedback = fb;
		}
		free(line);
	}
	return rc;
}

/* ---- the loop ---------------------------------------------------------------------- */

char *avo_tune_default_run_dir(const avo_spec *spec)
{
	return avo_sprintf("%s/.avo/%s", spec->dir, spec->name);
}

int avo_tune_parse_kernel(avo_astedit_unit **out, const avo_spec *spec)
{
	/* The kernel parses as it builds: the compiler's include dirs, defines, meaningful
	 * flags (-std, -include, ...) and arch; then the spec's parse_flags (clang only). */
	avo_buildid_argv a = AVO_BUILDID_ARGV_INIT;
	int rc = avo_buildid_clang_argv(&a, spec);
	for (size_t i = 0; rc == 0 && i < spec->nparse_flags; i++)
		rc = avo_buildid_argv_push(&a, spec->parse_flags[i]);
	if (rc == 0) {
		avo_astedit_options ao = AVO_ASTEDIT_OPTIONS_INIT;
		ao.clang_args = a.v;
		ao.nclang_args = a.n;
		ao.language = spec->language;
		rc = avo_astedit_parse(out, spec->kernel, NULL, 0, &ao);
	}
	avo_buildid_argv_dispose(&a);
	if (rc == 0 && (*out)->main_def.line) {
		/* the variant links with the harness, which has its own main */
		rc = avo_error_setloc(AVO_EINVALID, spec->kernel, (*out)->main_def.line, (*out)->main_def.col,
				      "the kernel defines main(), which would clash with the harness's: wrap it in "
				      "'#ifndef AVO_KERNEL_ONLY' ... '#endif' and add \"AVO_KERNEL_ONLY\" to the spec's \"defines\"");
		avo_astedit_unit_free(*out);
		*out = NULL;
	}
	return rc;
}

static int baseline(tune_ctx *t)
{
	avo_eval_result *er = NULL;
	if (!t->opts->quiet)
		fprintf(stderr, "avo: evaluating the original kernel %s\n", t->spec->kernel);
	char *why = NULL; /* backend: the baseline runs where the candidates will */
	const char *src = t->unit->source;
	size_t len = t->unit->source_len;
	int rc = avo_backend_eval(t->backend, &er, &why, &src, &len, 1);
	if (!er) {
		rc = avo_error_set(rc < 0 ? rc : AVO_EIO, "%s: the original kernel was not evaluated: %s", t->spec->kernel,
				   why ? why : avo_error_last());
		free(why);
		return rc;
	}
	free(why);
	if (!er->correct) {
		rc = avo_error_set(AVO_EINVALID, "%s: the original kernel fails its harness (%s); fix it before tuning:\n%s",
				   t->spec->kernel, avo_eval_status_name(er->status),
				   er->feedback ? er->feedback : "");
		avo_eval_result_free(er);
		return rc;
	}
	t->best_fitness = 0;
	/* As in avo_tune__gate(): the version first, so a failed store leaves a failed attempt. */
	avo_candidate *c = NULL;
	if ((rc = avo_candidate_known(&c, t->unit->source, t->unit->source_len, NULL, 0, NULL, 0)) == 0)
		rc = avo_tune__commit_version(t, c, er, "the original kernel", NULL);
	char *fail = rc < 0 ? avo_sprintf("not committed: %s", avo_error_last()) : NULL;
	avo_runrec_attempt a;
	avo_tune__attempt_record(&a, t, rc < 0 ? "error" : "committed", er->variant_hash, er->fitness, er, fail, "");
	free(a.op);
	a.op = avo_strdup("baseline");
	a.best_before = 0;
	a.operator_s = NAN;
	int arc = avo_runstate_add_attempt(t->rs, &a);
	if (fail)
		rc = avo_error_set(AVO_EIO, "%s", fail);
	else
		rc = arc;
	free(fail);
	t->attempts++;
	avo_eval_result_free(er);
	return rc;
}

/* Restore counters from the records of an earlier session. */
static void restore(tune_ctx *t)
{
	const avo_runrec_log *log = &t->rs->log;
	t->best_fitness = 0;
	t->best_id = 0;
	for (size_t i = 0; i < log->nversions; i++) {
		double f = isfinite(log->versions[i].fitness) ? log->versions[i].fitness : 0;
		if (f >= t->best_fitness) {
			t->best_fitness = f;
			t->best_id = (int)(log->versions[i].id >= 0 ? log->versions[i].id : 0);
		}
	}
	t->commits = log->nversions > 0 ? (int)log->nversions - 1 : 0;
	t->attempts = (int)log->nattempts;
	for (size_t i = 0; i < log->nattempts; i++) {
		const avo_runrec_attempt *a = &log->attempts[i];
		t->tokens_in += isfinite(a->tokens_in) ? (long long)a->tokens_in : 0;
		t->tokens_out += isfinite(a->tokens_out) ? (long long)a->tokens_out : 0;
		t->cost += isfinite(a->cost_usd) ? a->cost_usd : 0;
		/* An attempt that failed for a reason outside the candidate (a lost evaluation, a
		 * failed store) is tried again. */
		if (strcmp(a->status, "error"))
			avo_tune__remember_edit(t, a->edit_hash);
	}
}

static cJSON *op_options(const avo_spec *spec, const char *op)
{
	const cJSON *o = avo_spec_section(spec, op);
	return o ? cJSON_Duplicate(o, 1) : NULL;
}

/* --operator-options: its top-level fields replace the spec section's. */
static int op_override(cJSON **oopts, const char *json)
{
	cJSON *over = cJSON_Parse(json), *it;
	if (!cJSON_IsObject(over)) {
		cJSON_Delete(over);
		return avo_error_set(AVO_EINVALID, "--operator-options: not a JSON object: %.80s", json);
	}
	if (!cJSON_IsObject(*oopts)) {
		cJSON_Delete(*oopts);
		*oopts = cJSON_CreateObject();
	}
	int rc = 0;
	while (rc == 0 && over->child) {
		it = cJSON_DetachItemViaPointer(over, over->child);
		char *key = avo_strdup(it->string); /* cJSON frees the item's own name first */
		cJSON_DeleteItemFromObjectCaseSensitive(*oopts, key);
		if (!key || !cJSON_AddItemToObject(*oopts, key, it)) {
			cJSON_Delete(it);
			rc = avo_oom();
		}
		free(key);
	}
	cJSON_Delete(over);
	return rc;
}

static char *knowledge_dir(const avo_spec *spec)
{
	if (spec->knowledge && !avo_path_exists(spec->knowledge)) {
		fprintf(stderr, "avo: warning: knowledge dir %s does not exist\n", spec->knowledge);
		return NULL;
	}
	return avo_strdup(spec->knowledge);
}

int avo_tune_run(const avo_spec *spec, avo_cache *cache, const avo_tune_options *opts)
{
	tune_ctx t = {0};
	tune_lineage lin = {0};
	avo_agent_op *op = NULL;
	avo_agent_supervisor *sup = NULL;
	avo_agent_region *regions = NULL;
	avo_agent_knob *knobs = NULL;
	char *run_dir = NULL, *hint = NULL, *kdir = NULL, *last_feedback = NULL;
	cJSON *oopts = NULL;
	int rc;

	t.spec = spec;
	t.cache = cache;
	t.opts = opts;
	t.interrupted = &tune__interrupted;
	t.op_name = opts->op_instance ? opts->op_instance->name : opts->op ? opts->op : (spec->op ? spec->op : "knob");
	t.budget_seconds = opts->budget_seconds >= 0 ? opts->budget_seconds : spec->budget_seconds;
	t.budget_evals = opts->budget_evaluations >= 0 ? opts->budget_evaluations : spec->budget_evaluations;
	t.budget_cost = opts->budget_cost_usd >= 0 ? opts->budget_cost_usd : spec->budget_cost_usd;
	t.progress = opts->progress >= 0 ? opts->progress : isatty(2);
	t.eopts = (avo_eval_options)AVO_EVAL_OPTIONS_INIT;
	t.eopts.jobs = opts->jobs;
	t.eopts.gpu = opts->gpu;
	t.eopts.trust_harness = opts->trust_harness;

	t.gate = (avo_gate_options)AVO_GATE_OPTIONS_INIT;
	t.gate.min_gain = opts->min_gain >= 0 ? opts->min_gain : spec->min_gain >= 0 ? spec->min_gain : t.gate.min_gain;
	if (opts->confirm_rounds)
		t.gate.rounds = opts->confirm_rounds;
	run_dir = opts->run_dir ? avo_strdup(opts->run_dir) : avo_tune_default_run_dir(spec);
	t.eopts.hide_dir = run_dir; /* the records stay out of the candidates' sight */
	avo_eval_clean_scratch(&t.eopts); /* what a killed run left */
	avo_backend_options bo = AVO_BACKEND_OPTIONS_INIT; /* backend: spec's or --backend */
	bo.kind = opts->backend;
	bo.quiet = opts->quiet;
	bo.devices = opts->devices;
	if ((rc = avo_backend_open(&t.backend, spec, cache, &t.eopts, &bo)) < 0 ||
	    (rc = avo_backend_pipeline(t.backend, &t.pipe)) < 0)
		goto done;
	if (t.pipe) { /* every evaluation through the pipeline; confirmations pair by pair */
		size_t nd = avo_pipeline_ndevices(t.pipe);
		/* several devices: enough in flight that the devices a confirmation's pairs leave
		 * free stay busy */
		t.lookahead = opts->lookahead ? opts->lookahead : nd > 1 ? 4 * nd : 1;
		t.gate.submit = avo_tune__pipe_gate_submit;
		t.gate.wait = avo_tune__pipe_gate_wait;
		t.gate.cancel = avo_tune__pipe_gate_cancel;
		t.gate.payload = &t;
	}
	if ((rc = avo_tunekey_compute(t.tuning_key, spec, cache)) < 0 || (rc = avo_tune_parse_kernel(&t.unit, spec)) < 0)
		goto done;
	if ((rc = avo_runstate_open(&t.rs, run_dir, opts->fresh_run ? AVO_RUNSTATE_FRESH
					     : opts->resume ? AVO_RUNSTATE_RESUME : AVO_RUNSTATE_NEW)) < 0)
		goto done;
	t.notes_before = t.rs->log.nnotes;
	const char *old_key = t.rs->log.run.tuning_key;
	char legacy[AVO_CACHE_HEX]; /* a run that an older avo keyed (tunekey.h) */
	if (opts->resume && old_key && strcmp(old_key, t.tuning_key) &&
	    !(avo_tunekey_legacy(legacy, t.tuning_key) == 0 && !strcmp(old_key, legacy))) {
		rc = avo_error_set(AVO_EINVALID,
				   "%s: this run was for another version of the kernel, harness or configs "
				   "(tuning key %.12s.., now %.12s..); start over with --fresh-run",
				   run_dir, old_key, t.tuning_key);
		goto done;
	}
	restore(&t);
	if (!opts->quiet)
		fprintf(stderr, "avo: tuning %s with the %s operator on the %s backend; run dir %s%s\n", spec->kernel,
			t.op_name, avo_backend_name(t.backend), run_dir, opts->resume && t.attempts ? " (resumed)" : "");
	if (t.rs->log.nversions == 0 && (rc = baseline(&t)) < 0)
		goto done;
	if (t.pipe) /* utilization of the search (run.json "devices") */
		avo_pipeline_stats_reset(t.pipe);
	if ((rc = avo_tune__save_run(&t, 0)) < 0)
		goto done;

	oopts = op_options(spec, t.op_name);
	if (opts->op_json && (rc = op_override(&oopts, opts->op_json)) < 0)
		goto done;
	if (!strcmp(t.op_name, "command") && cJSON_IsObject(oopts) &&
	    !cJSON_GetObjectItemCaseSensitive(oopts, "base_dir"))
		cJSON_AddStringToObject(oopts, "base_dir", spec->dir);
	if (opts->op_instance)
		op = opts->op_instance;
	else if ((rc = avo_agent_op_new(&op, t.op_name, oopts)) < 0)
		goto done;
	t.interactive = op->interactive;
	avo_agent_supervisor_options so = AVO_AGENT_SUPERVISOR_OPTIONS_INIT;
	if (opts->stall_attempts)
		so.stall_attempts = opts->stall_attempts;
	if ((rc = avo_agent_supervisor_new(&sup, &so)) < 0)
		goto done;

	regions = calloc(t.unit->nregions + 1, sizeof(*regions));
	knobs = calloc(t.unit->nknobs + 1, sizeof(*knobs));
	char **rtexts = calloc(t.unit->nregions + 1, sizeof(char *));
	for (size_t i = 0; i < t.unit->nregions; i++) {
		rtexts[i] = avo_astedit_region_text(t.unit, &t.unit->regions[i]);
		regions[i] = (avo_agent_region){t.unit->regions[i].name, rtexts[i]};
	}
	for (size_t i = 0; i < t.unit->nknobs; i++) {
		const avo_astedit_knob *k = &t.unit->knobs[i];
		knobs[i] = (avo_agent_knob){k->name, k->value, (const char *const *)k->values, k->nvalues,
					    k->is_range, k->lo, k->hi};
	}
	kdir = knowledge_dir(spec);

	tune__interrupted = 0;
	int caught = avo_signals_push(on_signal) == 0;
	int ahead_exhausted = 0;

	/* An interactive operator (mcp) is still called once the budget is spent: its client
	 * may read on, evaluate() refuses, and the step ends when the client leaves. */
	while (!t.stop) {
		if ((t.stop_reason = avo_tune__budget_reached(&t)) && (!op->interactive || tune__interrupted))
			break;
		avo_tune__lineage_free(&lin);
		if ((rc = avo_tune__lineage_build(&lin, t.rs, is_objective_ms(spec))) < 0)
			break;
		avo_agent_context ctx = {0};
		ctx.kernel_name = avo_path_basename(spec->kernel);
		ctx.regions = regions;
		ctx.nregions = t.unit->nregions;
		ctx.knobs = knobs;
		ctx.nknobs = t.unit->nknobs;
		ctx.lineage = lin.v;
		ctx.nlineage = lin.n;
		ctx.base = (size_t)t.best_id < lin.n ? &lin.v[t.best_id] : NULL;
		ctx.knowledge_dir = kdir;
		ctx.feedback = last_feedback;
		ctx.hint = hint;
		ctx.attempts = lin.attempts;
		ctx.nattempts = lin.nattempts;
		ctx.notes = (const char *const *)t.rs->log.notes;
		ctx.nnotes = t.notes_before; /* this session's are in the operator's memory */
		ctx.budget = (avo_agent_budget){t.attempts, t.budget_evals > 0 ? t.budget_evals : 0,
						avo_runstate_elapsed(t.rs), t.budget_seconds > 0 ? t.budget_seconds : 0,
						t.cost, t.budget_cost > 0 ? t.budget_cost : 0};
		ctx.cb = (avo_agent_callbacks){cb_apply, cb_evaluate, cb_seen, &t, cb_annotate, cb_stopping, cb_finish,
					       cb_remember};
		t.step_op = op->name;
		free(t.step_note);
		t.step_note = NULL;
		/* the pipeline: an operator that proposes ahead keeps `lookahead` in flight */
		if (t.pipe && avo_agent_proposes_ahead(op)) {
			int finished = 0;
			if ((rc = avo_tune__ahead_turn(&t, op, &ctx, &finished, &ahead_exhausted)) < 0)
				break;
			if (finished) {
				if (!t.stop_reason)
					t.stop_reason = ahead_exhausted ? "search space exhausted" : avo_tune__budget_reached(&t);
				break;
			}
			continue;
		}
		/* slurm: several evaluations at once; knob proposals go in batches */
		if (avo_backend_slots(t.backend) > 1 && !strcmp(op->name, "knob")) {
			int exhausted = 0;
			if ((rc = avo_tune__batch_round(&t, oopts, &ctx, &exhausted)) < 0)
				break;
			if (exhausted && !t.stop) {
				t.stop_reason = "search space exhausted";
				break;
			}
			continue;
		}

		avo_agent_step_result res;
		int attempts_before = t.attempts;
		rc = avo_agent_step(op, &ctx, &res);
		t.tokens_in += res.input_tokens;
		t.tokens_out += res.output_tokens;
		t.cost += res.cost_usd;
		/* Charge the step's tokens to the last record it produced (attempt and version). */
		if (t.attempts > attempts_before && (res.input_tokens || res.output_tokens || res.cost_usd)) {
			avo_runrec_attempt *last = &t.rs->log.attempts[t.rs->log.nattempts - 1];
			last->tokens_in = (double)res.input_tokens;
			last->tokens_out = (double)res.output_tokens;
			last->cost_usd = res.cost_usd;
		}
		/* A step that ended without an evaluation is still an attempt to log when it failed
		 * or was billed (a model that submits without changes costs tokens too; a fatal API
		 * error stops the run after its spend is recorded). */
		int billed = res.input_tokens || res.output_tokens || res.cost_usd > 0;
		int failed = res.outcome == AVO_AGENT_FAILED || res.outcome == AVO_AGENT_BUDGET;
		if (t.attempts == attempts_before && (billed || (rc >= 0 && failed))) {
			int nochange = rc >= 0 && !failed;
			avo_runrec_attempt a;
			avo_tune__attempt_record(&a, &t, nochange ? "no_change" : "error", NULL, 0, NULL,
				       res.error ? res.error : nochange ? "submitted without changes"
									: avo_agent_outcome_name(res.outcome),
				       res.edit_hash);
			a.tokens_in = (double)res.input_tokens;
			a.tokens_out = (double)res.output_tokens;
			a.cost_usd = res.cost_usd;
			avo_runstate_add_attempt(t.rs, &a);
			t.attempts++;
			avo_tune__save_run(&t, 0);
		}
		if (rc < 0) {
			avo_agent_step_result_dispose(&res);
			break;
		}
		if (failed)
			avo_tune__progress(&t, res.error ? res.error : avo_agent_outcome_name(res.outcome));
		free(last_feedback);
		last_feedback = avo_strdup(res.eval.feedback ? res.eval.feedback : res.error);
		avo_agent_supervisor_observe(sup, &res);
		free(hint);
		hint = NULL;
		if (avo_agent_supervisor_stalled(sup))
			avo_agent_supervisor_hint(&hint, sup, &ctx);
		int exhausted = res.outcome == AVO_AGENT_EXHAUSTED;
		if (res.outcome == AVO_AGENT_ENDED) {
			if (!t.stop_reason)
				t.stop_reason = "the operator's client left";
			avo_agent_step_result_dispose(&res);
			break;
		}
		avo_agent_step_result_dispose(&res);
		if (exhausted) {
			t.stop_reason = "search space exhausted";
			break;
		}
	}
	if (t.stop && !t.stop_reason)
		t.stop_reason = avo_tune__budget_reached(&t);
	avo_tune__ahead_drop(&t); /* candidates past the budget or an interrupt: no attempts */
	avo_tune__devices_save(&t); /* utilization of the search, before the final measurement */
	t.devices_frozen = 1;
	if (caught)
		avo_signals_pop();
	for (size_t i = 0; i < t.unit->nregions; i++)
		free(rtexts[i]);
	free(rtexts);
	/* An interactive operator's client has left: it stops the server a moment after (the MCP
	 * SDK's close() sends SIGTERM after 2 s), too soon for a final measurement; its run was
	 * measured when its budget was spent or when it called finish. */
	if (rc >= 0 && !op->interactive && (rc = avo_tune__final_measure(&t)) < 0)
		fprintf(stderr, "\navo: the final measurement failed: %s\n", avo_error_last());
	if (rc >= 0) {
		int srrc = avo_tune__save_run(&t, !tune__interrupted);
		rc = srrc < 0 ? srrc : 0;
	}
	if (t.progress && !opts->quiet)
		fputc('\n', stderr);
	if (!opts->quiet && rc >= 0) {
		double base = avo_tune__baseline_fitness(&t);
		fprintf(stderr, "avo: %s: stopped (%s): best version %d, fitness %.6g %s (%.3fx the original), "
				"%d attempts, %d commits, %lld+%lld tokens, $%.2f\n",
			spec->name, t.stop_reason ? t.stop_reason : "done", t.best_id, t.best_fitness,
			is_objective_ms(spec) ? "1/ms" : spec->objective, base > 0 ? t.best_fitness / base : 0,
			t.attempts, t.commits, t.tokens_in, t.tokens_out, t.cost);
		const avo_runrec_interval *sp = &t.rs->log.run.speedup;
		char txt[96];
		if (avo_runrec_interval_known(sp))
			fprintf(stderr, "avo: %s: measured speedup over the original %s (%.0f%% interval, %ld samples)\n",
				spec->name, avo_runrec_interval_text(txt, sizeof(txt), sp), 100 * sp->confidence, sp->samples);
	}
	if (rc >= 0 && tune__interrupted)
		rc = AVO_TUNE_INTERRUPTED;
done:
	avo_tune__lineage_free(&lin);
	if (op != opts->op_instance)
		avo_agent_op_free(op);
	avo_agent_supervisor_free(sup);
	cJSON_Delete(oopts);
	free(regions);
	free(knobs);
	free(kdir);
	free(hint);
	free(last_feedback);
	free(t.edit_hashes);
	avo_tune__ahead_drop(&t);
	avo_backend_free(t.backend);
	free(run_dir); /* after the backend: its evaluations in flight read it (eopts.hide_dir) */
	free(t.step_note);
	avo_runstate_free(t.rs);
	avo_candidate_book_dispose(&t.book);
	avo_astedit_unit_free(t.unit);
	return rc;
}

