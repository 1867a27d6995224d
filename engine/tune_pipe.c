/* The tune loop's side of the evaluation pipeline (pipeline.h): evaluations on any free
 * device, confirmations pair by pair (both sides of a pair on one device, the pairs on
 * whichever devices are free), and proposals ahead of need. While the oldest candidate is
 * confirmed, the devices its pairs leave free run the first looks of the later proposals.
 *
 * Proposing ahead (an operator with avo_agent_op.observe, the knob search): up to
 * `lookahead` candidates are in flight. Each turn either proposes (while there is room) or
 * folds the OLDEST candidate into the records: its attempt, the commit gate, the
 * operator's observe(). So proposal i is made knowing exactly the verdicts of proposals
 * 0 .. i - lookahead, whatever the number of devices or the order runs finish in: the
 * lineage depends on the seed, the budget and the lookahead, not on the hardware. A
 * refused edit is folded in its place without touching the pipeline; a cached verdict
 * comes back from the compile pool without a device. */
#include "tune_int.h"

#include "pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A proposal in flight, in proposal order: its edits are checked (the one libclang parse)
 * by make_candidate() on a compile thread, then built and run. */
struct tune_flight {
	char eh[33];
	char *note;              /* the operator's note when it was proposed */
	long job;                /* pipeline job */
	int looked;              /* speculate() decided on it */
	long *conf;              /* its confirmation runs queued ahead (A B A B ...), or NULL */
	unsigned nconf;
	char conf_base[AVO_CACHE_HEX]; /* the best they measure against (its variant hash) */
};

/* The argument of make_candidate(): owned by the pipeline until the fold takes it back. */
typedef struct {
	const avo_astedit_unit *unit;
	avo_candidate *edits;    /* the proposal's edits (no source: avo_candidate_known) */
	avo_candidate *cand;     /* made: the checked candidate */
	char *why;               /* refused: why */
} tune_make;

static void make_free(void *arg)
{
	tune_make *m = arg;
	avo_candidate_free(m->edits);
	avo_candidate_free(m->cand);
	free(m->why);
	free(m);
}

char *avo_tune__refusal_text(const avo_astedit_error *ae)
{
	if (ae->diagnostic)
		return avo_sprintf("%s\n%s", ae->message ? ae->message : "", ae->diagnostic);
	return avo_strdup(ae->message ? ae->message : avo_error_last());
}

/* On a compile thread: the edit check, as cb_apply does it on the loop's thread. */
static int make_candidate(void *arg, char **src, size_t *len)
{
	tune_make *m = arg;
	avo_astedit_error ae = {0};
	const avo_candidate *e = m->edits;
	int rc = avo_candidate_new(&m->cand, &ae, m->unit, e->regions, e->nregions, e->knobs, e->nknobs);
	if (rc < 0) {
		m->why = avo_tune__refusal_text(&ae);
		avo_astedit_error_dispose(&ae);
		avo_error_clear();
		return 1;
	}
	avo_astedit_error_dispose(&ae);
	if (!(*src = avo_strndup(m->cand->source, m->cand->len)))
		return avo_oom();
	*len = m->cand->len;
	return 0;
}

static void conf_drop(tune_ctx *t, struct tune_flight *f)
{
	for (unsigned k = 0; k < f->nconf; k++)
		if (f->conf[k] > 0)
			avo_pipeline_cancel(t->pipe, f->conf[k]);
	free(f->conf);
	f->conf = NULL;
	f->nconf = 0;
}

static void flight_dispose(tune_ctx *t, struct tune_flight *f)
{
	if (f->job > 0 && t->pipe)
		avo_pipeline_cancel(t->pipe, f->job);
	conf_drop(t, f);
	free(f->note);
}

/* ---- confirmations ahead -------------------------------------------------------------- */

/* A candidate measured ahead whose first measurement beats the best gets its confirmation
 * pairs queued at once (A, then B on A's device), to run when a device has nothing else to
 * do (AVO_PIPELINE_AHEAD): with several devices, a confirmation holds up the fold while
 * the first looks in flight may all be done. When it is folded, the gate takes these runs
 * (promoted to run first) if the best is still the one they measured against, else they
 * are dropped and it is confirmed afresh. Which runs are made never changes a record: the
 * gate decides on the same measurements of the same two variants. */
static void speculate(tune_ctx *t)
{
	unsigned need = 2 * (t->gate.rounds < 2 ? 2 : t->gate.rounds);
	long ahead = 0; /* the budget that earlier candidates' confirmations queued ahead take */
	for (size_t i = 0; i < t->nflight; i++) {
		struct tune_flight *f = &t->flight[i];
		const avo_eval_result *er = NULL;
		void *arg = NULL;
		ahead += f->nconf;
		if (f->looked || !avo_pipeline_peek(t->pipe, f->job, &er, &arg, NULL))
			continue;
		f->looked = 1;
		tune_make *m = arg;
		long left = t->budget_evals > 0 ? t->budget_evals - t->attempts - (long)i - 1 - ahead : (long)need;
		if (!er || !m || !m->cand || !er->correct || left < (long)need ||
		    !avo_gate_could_win(&t->gate, er->fitness, t->best_fitness) || avo_tune__in_lineage(t, er->variant_hash) ||
		    avo_tune__ensure_base(t) < 0 || !(f->conf = calloc(need, sizeof(*f->conf))))
			continue;
		const avo_candidate *a = t->book.pinned, *b = m->cand;
		memcpy(f->conf_base, a->hash, sizeof(f->conf_base));
		for (unsigned k = 0; k < need; k++) {
			f->conf[k] = avo_pipeline_submit_after(t->pipe, k % 2 ? b->source : a->source, k % 2 ? b->len : a->len,
							       AVO_PIPELINE_ANY, AVO_PIPELINE_AHEAD, k % 2 ? f->conf[k - 1] : 0);
			f->nconf++;
			if (f->conf[k] < 0) {
				f->conf[k] = 0;
				conf_drop(t, f);
				avo_error_clear();
				break;
			}
		}
	}
}

/* Wait for job `id`, queuing confirmations ahead while other jobs finish. */
static void wait_speculating(tune_ctx *t, long id)
{
	unsigned long seen = 0;
	if (t->nflight == 0 || avo_pipeline_ndevices(t->pipe) < 2)
		return; /* one device: nothing runs beside a confirmation */
	do
		speculate(t);
	while (!avo_pipeline_wait_event(t->pipe, id, &seen) && !*t->interrupted);
}

/* ---- single evaluations --------------------------------------------------------------- */

int avo_tune__pipe_eval(tune_ctx *t, avo_eval_result **er, const char *src, size_t len)
{
	*er = NULL;
	t->eval_device = NULL;
	long id = avo_pipeline_submit(t->pipe, src, len, AVO_PIPELINE_ANY, 0);
	if (id < 0)
		return (int)id;
	int dev = -1;
	int rc = avo_pipeline_wait(t->pipe, id, er, &dev, t->interrupted, NULL);
	if (rc < 0 && !*er && *t->interrupted) {
		avo_pipeline_cancel(t->pipe, id);
		avo_error_clear();
		return 0;
	}
	if (dev >= 0)
		t->eval_device = avo_pipeline_device_name(t->pipe, (size_t)dev);
	return rc;
}

/* The gate's measurements (gate.h): the runs queued ahead for the candidate being folded
 * (speculate(): the same pairs, in the same order), else remeasures, a pair's B on the
 * device of its A. Either way they run before anything else. */
long avo_tune__pipe_gate_submit(const char *src, size_t len, long after, void *payload)
{
	tune_ctx *t = payload;
	struct tune_flight *f = t->folding;
	if (f && f->conf && t->conf_next < f->nconf && f->conf[t->conf_next] > 0) {
		long id = f->conf[t->conf_next];
		f->conf[t->conf_next++] = 0; /* the gate's now: it waits for or cancels it */
		avo_pipeline_promote(t->pipe, id);
		return id;
	}
	return avo_pipeline_submit_after(t->pipe, src, len, AVO_PIPELINE_ANY, AVO_PIPELINE_CONFIRM, after);
}

int avo_tune__pipe_gate_wait(long ticket, avo_eval_result **out, int *device, void *payload)
{
	tune_ctx *t = payload;
	int dev = -1;
	wait_speculating(t, ticket);
	/* not abandoned midway: the gate stops after it (gate_observe) */
	int rc = avo_pipeline_wait(t->pipe, ticket, out, &dev, NULL, NULL);
	t->eval_device = dev >= 0 ? avo_pipeline_device_name(t->pipe, (size_t)dev) : NULL;
	*device = dev;
	return rc;
}

void avo_tune__pipe_gate_cancel(long ticket, void *payload)
{
	avo_pipeline_cancel(((tune_ctx *)payload)->pipe, ticket);
}

int avo_tune__record_refusal(tune_ctx *t, const char *eh, const char *why)
{
	avo_runrec_attempt a;
	t->eval_device = NULL;
	avo_tune__attempt_record(&a, t, "invalid_edit", NULL, 0, NULL, why, eh);
	int rc = avo_runstate_add_attempt(t->rs, &a);
	t->attempts++;
	avo_tune__progress(t, "invalid edit");
	return rc < 0 ? rc : 0;
}

/* ---- proposing ahead ------------------------------------------------------------------ */

int avo_tune__ahead_queue(tune_ctx *t, avo_agent_eval *out, const char *eh, const avo_astedit_region_edit *re,
			  size_t nre, const avo_astedit_knob_edit *ke, size_t nke)
{
	struct tune_flight *fl = realloc(t->flight, (t->nflight + 1) * sizeof(*fl));
	tune_make *m = calloc(1, sizeof(*m));
	if (fl)
		t->flight = fl;
	if (!fl || !m) {
		free(m);
		return avo_oom();
	}
	m->unit = t->unit;
	int rc = avo_candidate_known(&m->edits, "", 0, re, nre, ke, nke);
	long job = rc < 0 ? rc : avo_pipeline_submit_make(t->pipe, make_candidate, m, make_free);
	if (rc < 0)
		make_free(m);
	if (job < 0)
		return (int)job;
	struct tune_flight *f = &fl[t->nflight++];
	memset(f, 0, sizeof(*f));
	snprintf(f->eh, sizeof(f->eh), "%s", eh);
	f->note = avo_strdup(t->step_note);
	f->job = job;
	out->pending = 1;
	out->feedback = avo_strdup("pending: queued in the evaluation pipeline");
	return 0;
}

/* Fold the oldest proposal in flight into the records. */
static int fold(tune_ctx *t, avo_agent_op *op, const avo_agent_context *ctx)
{
	struct tune_flight f = t->flight[0];
	memmove(t->flight, t->flight + 1, (t->nflight - 1) * sizeof(*t->flight));
	t->nflight--;
	free(t->step_note); /* the note its step gave, for its records */
	t->step_note = f.note;
	f.note = NULL;
	avo_eval_result *er = NULL;
	void *arg = NULL;
	int dev = -1;
	wait_speculating(t, f.job);
	int rc = avo_pipeline_wait(t->pipe, f.job, &er, &dev, t->interrupted, &arg); /* then cancel is a no-op */
	tune_make *m = arg;
	if (rc == 1) { /* the edit check refused it: recorded in its turn, without a device */
		rc = avo_tune__record_refusal(t, f.eh, m->why);
	} else if (!er) {
		if (*t->interrupted) { /* not an attempt: a resumed run proposes it again */
			avo_error_clear();
			t->stop = 1;
			rc = 0;
		}
	} else {
		t->eval_device = dev >= 0 ? avo_pipeline_device_name(t->pipe, (size_t)dev) : NULL;
		avo_agent_observe(op, ctx, m->cand->knobs, m->cand->nknobs, er->correct, er->fitness);
		avo_agent_eval ev = {0};
		/* runs queued ahead serve only against the best they measured */
		if (f.conf && (!t->book.pinned || memcmp(f.conf_base, t->book.pinned->hash, sizeof(f.conf_base))))
			conf_drop(t, &f);
		t->folding = &f;
		t->conf_next = 0;
		rc = avo_tune__gate(t, &ev, m->cand, er);
		t->folding = NULL;
		m->cand = NULL;
		avo_agent_eval_dispose(&ev);
		avo_eval_result_free(er);
	}
	if (m)
		make_free(m);
	flight_dispose(t, &f);
	return rc;
}

int avo_tune__ahead_turn(tune_ctx *t, avo_agent_op *op, avo_agent_context *ctx, int *finished, int *exhausted)
{
	*finished = 0;
	if (!*exhausted && !t->ahead_full && t->nflight < t->lookahead) {
		avo_agent_step_result res;
		free(t->step_note);
		t->step_note = NULL;
		t->ahead = 1;
		int rc = avo_agent_step(op, ctx, &res);
		t->ahead = 0;
		if (rc == 0 && res.outcome == AVO_AGENT_EXHAUSTED)
			*exhausted = 1;
		avo_agent_step_result_dispose(&res);
		return rc;
	}
	if (t->nflight == 0) {
		*finished = 1;
		return 0;
	}
	return fold(t, op, ctx);
}

void avo_tune__ahead_drop(tune_ctx *t)
{
	for (size_t i = 0; i < t->nflight; i++)
		flight_dispose(t, &t->flight[i]);
	free(t->flight);
	t->flight = NULL;
	t->nflight = 0;
}
