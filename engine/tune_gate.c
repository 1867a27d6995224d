/* The tune loop's side of the confirming gate (gate.h): confirming a candidate, the
 * records of its measurements, the final measurement of the best against the original. */
#include "tune_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A confirmation measurement: an attempt of the "gate" operator, counted in the budget.
 * Stops the confirmation when the budget is spent or the run interrupted. */
static int gate_observe(const avo_eval_result *r, int is_b, unsigned round, void *payload)
{
	tune_ctx *t = payload;
	avo_runrec_attempt a;
	char note[64];
	avo_tune__attempt_record(&a, t, "confirm", r->variant_hash, r->fitness, r, r->correct ? NULL : r->feedback, "");
	snprintf(note, sizeof(note), "%s, round %u", is_b ? "candidate" : "best", round + 1);
	free(a.op), free(a.note);
	a.op = avo_strdup("gate");
	a.note = avo_strdup(note);
	a.operator_s = NAN; /* the gate's, not the operator's */
	if (avo_runstate_add_attempt(t->rs, &a) < 0)
		return 1;
	t->attempts++;
	avo_tune__save_run(t, 0);
	avo_tune__progress(t, is_b ? "confirming the candidate" : "re-measuring the best");
	return avo_tune__budget_reached(t) != NULL;
}

/* Pin the best version as the base candidate when it is not (a resumed run): from the
 * object store, else rebuilt from its edits (one parse). */
int avo_tune__ensure_base(tune_ctx *t)
{
	if (t->book.pinned)
		return 0;
	const avo_runrec_version *bv = avo_runstate_version(t->rs, t->best_id);
	avo_buf b = AVO_BUF_INIT;
	avo_candidate *c = NULL;
	tune_lineage l;
	int rc;
	if (t->best_id == 0 || !bv)
		rc = avo_candidate_known(&c, t->unit->source, t->unit->source_len, NULL, 0, NULL, 0);
	else if ((rc = avo_tune__lineage_build(&l, t->rs, is_objective_ms(t->spec))) == 0) {
		const avo_agent_version *v = &l.v[t->best_id];
		if (t->cache && bv->variant && avo_cache_get(t->cache, "obj", bv->variant, &b) == 0)
			rc = avo_candidate_known(&c, b.ptr ? b.ptr : "", b.size, v->regions, v->nregions, v->knobs, v->nknobs);
		else
			rc = avo_candidate_new(&c, NULL, t->unit, v->regions, v->nregions, v->knobs, v->nknobs);
		avo_tune__lineage_free(&l);
	}
	avo_error_clear();
	avo_buf_dispose(&b);
	if (rc == 0)
		avo_candidate_book_pin(&t->book, c);
	return rc;
}

/* The commit gate and the attempt record for one evaluated candidate (er is borrowed; `c`
 * is taken: committed, it becomes the base, else it is freed). A candidate whose first
 * measurement beats the best is confirmed against it first (gate.h); its own record
 * follows its confirmation records, numbered after them. */
int avo_tune__gate(tune_ctx *t, avo_agent_eval *out, avo_candidate *c, const avo_eval_result *er)
{
	int rc = 0, commit = 0;
	const char *status;
	double best_before = t->best_fitness;
	avo_gate_verdict v = {0};
	char eh[33], *why = NULL, *verdict = NULL;
	memcpy(eh, c->edit_hash, sizeof(eh));
	if (!er->correct)
		status = avo_eval_status_name(er->status);
	else if (avo_tune__in_lineage(t, er->variant_hash))
		status = "duplicate";
	else if (!avo_gate_could_win(&t->gate, er->fitness, t->best_fitness))
		status = "slower";
	else if (t->budget_evals > 0 && t->budget_evals - t->attempts - 1 < 2 * (long)t->gate.rounds)
		status = "unconfirmed", verdict = avo_strdup("it could win, but no evaluation budget is left to confirm it");
	else {
		if ((rc = avo_tune__ensure_base(t)) == 0) {
			t->pending = 1;
			rc = avo_gate_confirm(&v, &t->gate, t->spec, t->cache, &t->eopts, t->book.pinned->source,
					      t->book.pinned->len, c->source, c->len, gate_observe, t);
			t->pending = 0;
		}
		if (rc < 0) {
			avo_candidate_free(c);
			return rc;
		}
		commit = v.commit;
		status = commit ? "committed" : "unconfirmed";
		verdict = avo_strdup(v.why);
	}
	if (commit) {
		/* The version (and its object) first: an attempt says "committed" only once its
		 * version is on record. A failed store is a failed attempt with its cause, and its
		 * edit is tried again later (restore() does not remember failed ones). */
		char *change = avo_tune__change_note(t, c->regions, c->nregions, c->knobs, c->nknobs);
		char *note = t->step_note ? avo_sprintf("%s (%s)", change, t->step_note) : NULL;
		rc = avo_tune__commit_version(t, c, er, note ? note : change, &v);
		c = NULL;
		free(note);
		free(change);
		if (rc < 0) {
			status = "error", commit = 0;
			why = avo_sprintf("not committed: %s", avo_error_last());
		}
	}
	avo_candidate_free(c);
	avo_runrec_attempt a;
	avo_tune__attempt_record(&a, t, status, er->variant_hash, er->fitness, er,
		       why ? why : er->correct && verdict ? verdict : er->feedback, eh);
	a.best_before = best_before;
	a.gain = avo_tune__gate_interval(&v);
	avo_gate_verdict_dispose(&v);
	int arc = avo_runstate_add_attempt(t->rs, &a);
	if (why) {
		avo_tune__forget_edit(t, eh);
		rc = avo_error_set(AVO_EIO, "%s", why);
		free(why);
	} else
		rc = arc;
	t->attempts++;
	if (rc == 0)
		rc = avo_tune__save_run(t, 0);

	out->correct = er->correct;
	out->committed = commit;
	out->fitness = er->fitness;
	out->scores = calloc(er->nconfigs + 1, sizeof(*out->scores));
	for (size_t i = 0; out->scores && i < er->nconfigs; i++) {
		out->scores[i].config = avo_strdup(er->configs[i].name);
		out->scores[i].score = is_objective_ms(t->spec) ? er->configs[i].ms : er->configs[i].tflops;
		out->nscores++;
	}
	if (!er->correct)
		out->feedback = avo_strdup(er->feedback ? er->feedback : avo_eval_status_name(er->status));
	else
		out->feedback = avo_sprintf("%s: fitness %.6g (best before %.6g)%s%s%s", status, er->fitness,
					    best_before, commit ? "" : " - not committed", verdict ? "; gate: " : "",
					    verdict ? verdict : "");
	free(verdict);
	if (commit)
		out->version_id = avo_sprintf("%d", t->best_id);
	char what[128];
	snprintf(what, sizeof(what), "attempt %d %s: %s %.4g", t->attempts, t->step_op ? t->step_op : "",
		 status, er->fitness);
	avo_tune__progress(t, what);
	return rc;
}


static int final_observe(const avo_eval_result *r, int is_b, unsigned round, void *payload)
{
	(void)r, (void)is_b, (void)round;
	avo_tune__progress(payload, "final measurement");
	return *((tune_ctx *)payload)->interrupted;
}

/* The final measurement: the best against the original, interleaved like a confirmation,
 * outside the budget. Its speedup and interval (run.json and the tune entry's "speedup")
 * are what status, the report, export and the CMake line announce. */
int avo_tune__final_measure(tune_ctx *t)
{
	avo_gate_verdict v;
	if (t->final_done || t->best_id == 0 || *t->interrupted || avo_tune__ensure_base(t) < 0)
		return 0;
	t->final_done = 1;
	int rc = avo_gate_confirm(&v, &t->gate, t->spec, t->cache, &t->eopts, t->unit->source, t->unit->source_len,
				  t->book.pinned->source, t->book.pinned->len, final_observe, t);
	if (rc < 0)
		return rc;
	if (v.complete) {
		t->rs->log.run.speedup = avo_tune__gate_interval(&v);
		avo_tune__publish_best(t, avo_runstate_best(t->rs));
	} else if (!t->opts->quiet) {
		fprintf(stderr, "\navo: the final measurement did not complete: %s\n", v.why ? v.why : "?");
	}
	avo_gate_verdict_dispose(&v);
	return 0;
}


char *avo_tune__final_line(tune_ctx *t)
{
	const avo_runrec_interval *sp = &t->rs->log.run.speedup;
	char txt[96];
	if (t->best_id == 0)
		return avo_strdup("no version beat the original: there is nothing to measure");
	if (!avo_runrec_interval_known(sp))
		return avo_sprintf("the final measurement of version %d against the original did not complete", t->best_id);
	return avo_sprintf("final measurement, interleaved on the same device: version %d is %s the speed of the "
			   "original (%.0f%% interval, %ld samples)", t->best_id, avo_runrec_interval_text(txt, sizeof(txt), sp),
			   100 * sp->confidence, sp->samples);
}
