/* Evaluations through a backend, and batches of knob proposals (backend.h, CLUSTER.md). */
#include "tune_int.h"

#include "pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- backends and batches (engine/backend.h, CLUSTER.md) ------------------------------ */

/* One evaluation through the backend. *er NULL with 0 returned: no verdict (a lost Slurm
 * task, an interrupt); a lost one is logged as an "error" attempt, an interrupted one is
 * not an attempt at all (a resumed run proposes it again). */
int avo_tune__eval_one(tune_ctx *t, avo_eval_result **er, avo_agent_eval *out, const char *eh,
		    const char *src, size_t len)
{
	if (t->pipe) { /* any free device; an interrupt leaves *er NULL: not an attempt */
		int rc = avo_tune__pipe_eval(t, er, src, len);
		if (rc == 0 && !*er) {
			t->stop = 1;
			if (out)
				out->feedback = avo_strdup("not evaluated: interrupted");
		}
		return rc;
	}
	char *why = NULL;
	int rc = avo_backend_eval(t->backend, er, &why, &src, &len, 1);
	if (*er) {
		free(why);
		return 0;
	}
	if (avo_backend_interrupted(t->backend)) {
		t->stop = 1;
		if (out)
			out->feedback = avo_strdup("not evaluated: interrupted");
		free(why);
		return 0;
	}
	if (rc < 0 || !why) {
		free(why);
		return rc < 0 ? rc : avo_error_set(AVO_ERROR, "the %s backend gave no verdict", avo_backend_name(t->backend));
	}
	avo_runrec_attempt a;
	avo_tune__attempt_record(&a, t, "error", NULL, 0, NULL, why, eh);
	rc = avo_runstate_add_attempt(t->rs, &a);
	t->attempts++;
	if (rc == 0)
		rc = avo_tune__save_run(t, 0);
	if (out)
		out->feedback = avo_sprintf("not evaluated: %s", why);
	avo_tune__progress(t, "evaluation lost");
	free(why);
	return rc;
}

/* A candidate waiting for its batch, with the note its step gave. */
struct tune_queued {
	avo_candidate *cand;
	char *note;              /* the operator's note (annotate) when it was queued */
};

static void queued_free(struct tune_queued *q)
{
	avo_candidate_free(q->cand);
	free(q->note);
}

/* cb_evaluate in batch mode: keep the candidate (taking it) and tell the operator it is
 * pending. Its edit hash is already remembered, so seen() keeps the next proposals new. */
int avo_tune__batch_queue(tune_ctx *t, avo_agent_eval *out, avo_candidate *c)
{
	struct tune_queued *q = realloc(t->queue, (t->nqueue + 1) * sizeof(*q));
	if (!q) {
		avo_candidate_free(c);
		return avo_oom();
	}
	t->queue = q;
	q = &t->queue[t->nqueue++];
	q->cand = c;
	q->note = avo_strdup(t->step_note);
	out->feedback = avo_strdup("pending: queued for a batch evaluation");
	return 0;
}

/* Evaluate the queued candidates together, then run the commit gate on each in proposal
 * order: the same records and commits a serial run makes for the same proposals. */
int avo_tune__batch_flush(tune_ctx *t)
{
	size_t n = t->nqueue;
	if (!n)
		return 0;
	const char **srcs = calloc(n, sizeof(*srcs));
	size_t *lens = calloc(n, sizeof(*lens));
	avo_eval_result **ers = calloc(n, sizeof(*ers));
	char **why = calloc(n, sizeof(*why));
	int rc = 0;
	if (!srcs || !lens || !ers || !why) {
		rc = avo_oom();
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		srcs[i] = t->queue[i].cand->source;
		lens[i] = t->queue[i].cand->len;
	}
	rc = avo_backend_eval(t->backend, ers, why, srcs, lens, n);
	int interrupted = avo_backend_interrupted(t->backend);
	if (rc < 0 && !interrupted)
		goto done; /* the environment failed: as in a serial run, the loop stops */
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct tune_queued *q = &t->queue[i];
		avo_agent_eval ev = {0};
		free(t->step_note); /* the note its step gave, for its records */
		t->step_note = q->note;
		q->note = NULL;
		if (ers[i]) {
			rc = avo_tune__gate(t, &ev, q->cand, ers[i]);
			q->cand = NULL;
		} else if (!interrupted && why[i]) {
			avo_runrec_attempt a;
			avo_tune__attempt_record(&a, t, "error", NULL, 0, NULL, why[i], q->cand->edit_hash);
			rc = avo_runstate_add_attempt(t->rs, &a);
			t->attempts++;
			if (rc == 0)
				rc = avo_tune__save_run(t, 0);
			avo_tune__progress(t, "evaluation lost");
		}
		avo_agent_eval_dispose(&ev);
	}
	if (interrupted)
		t->stop = 1;
done:
	for (size_t i = 0; i < n; i++) {
		if (ers)
			avo_eval_result_free(ers[i]);
		if (why)
			free(why[i]);
		queued_free(&t->queue[i]);
	}
	free(t->queue);
	t->queue = NULL;
	t->nqueue = 0;
	free(srcs), free(lens), free(ers), free(why);
	return rc;
}

/* One round of batch mode: up to `slots` proposals from a fresh knob operator, then one
 * batch evaluation. The operator is made anew each round (seed + attempts so far, so a
 * resumed run proposes the same) because its memory would otherwise hold the queued
 * points as failures: fresh, it learns the measured fitness from the lineage and skips
 * every point tried so far through seen(). Sets *exhausted when nothing new is left. */
int avo_tune__batch_round(tune_ctx *t, const cJSON *oopts, avo_agent_context *ctx, int *exhausted)
{
	size_t k = avo_backend_slots(t->backend);
	if (t->budget_evals > 0 && (long)k > t->budget_evals - t->attempts)
		k = t->budget_evals > t->attempts ? (size_t)(t->budget_evals - t->attempts) : 0;
	cJSON *o = oopts ? cJSON_Duplicate(oopts, 1) : cJSON_CreateObject();
	const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
	double s = (cJSON_IsNumber(seed) ? seed->valuedouble : 1) + t->attempts;
	cJSON_DeleteItemFromObjectCaseSensitive(o, "seed");
	cJSON_AddNumberToObject(o, "seed", s);
	avo_agent_op *op = NULL;
	int rc = avo_agent_op_new(&op, "knob", o);
	cJSON_Delete(o);
	t->batching = 1;
	for (size_t j = 0; rc == 0 && j < k && !t->stop; j++) {
		avo_agent_step_result res;
		free(t->step_note);
		t->step_note = NULL;
		rc = avo_agent_step(op, ctx, &res);
		if (rc == 0 && res.outcome == AVO_AGENT_EXHAUSTED)
			*exhausted = 1;
		avo_agent_step_result_dispose(&res);
		if (*exhausted)
			break;
	}
	t->batching = 0;
	avo_agent_op_free(op);
	int frc = avo_tune__batch_flush(t);
	return rc < 0 ? rc : frc;
}

