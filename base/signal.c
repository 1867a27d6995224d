/* The one owner of avo's signal handling: SIGINT/SIGTERM/SIGHUP through a stack of
 * async-signal-safe callbacks behind one handler, the children of avo_proc_run to kill on
 * the way out, and SIGPIPE ignored where a server asks for it. */
#include "avo_base.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#define MAX_DEPTH 8
#define MAX_CHILDREN 256

static const int caught_sigs[3] = {SIGINT, SIGTERM, SIGHUP};
static avo_signal_fn stack[MAX_DEPTH];
static struct sigaction saved[MAX_DEPTH][3];
static int depth;
static volatile sig_atomic_t last_caught;
static _Atomic pid_t children[MAX_CHILDREN];

static void on_signal(int sig)
{
	last_caught = sig;
	for (int i = depth - 1; i >= 0; i--)
		if (stack[i])
			stack[i](sig);
}

int avo_signals_push(avo_signal_fn fn)
{
	if (depth == MAX_DEPTH)
		return avo_error_set(AVO_ERROR, "signal handlers nested too deep");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	stack[depth] = fn;
	for (int i = 0; i < 3; i++) {
		sigaction(caught_sigs[i], NULL, &saved[depth][i]);
		/* A signal ignored on entry (nohup, a background job) stays ignored. */
		if (saved[depth][i].sa_handler != SIG_IGN)
			sigaction(caught_sigs[i], &sa, NULL);
	}
	if (depth == 0)
		last_caught = 0;
	depth++;
	return 0;
}

void avo_signals_pop(void)
{
	if (depth == 0)
		return;
	depth--;
	for (int i = 0; i < 3; i++)
		sigaction(caught_sigs[i], &saved[depth][i], NULL);
	stack[depth] = NULL;
}

int avo_signals_caught(void) { return last_caught; }

void avo_signals_clear(void) { last_caught = 0; }

void avo_signals_kill_children(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		pid_t p = atomic_load(&children[i]);
		if (p > 0) {
			kill(-p, SIGKILL);
			kill(p, SIGKILL);
		}
	}
}

void avo_signals_die(int sig)
{
	avo_signals_kill_children();
	signal(sig, SIG_DFL);
	raise(sig);
}

void avo_signals_ignore_pipe(void) { signal(SIGPIPE, SIG_IGN); }

/* avo_proc_run's bookkeeping: a child (its process group) in flight. */
void avo_signals__child(pid_t pid, int running)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		pid_t expect = running ? 0 : pid;
		if (atomic_compare_exchange_strong(&children[i], &expect, running ? pid : 0))
			return;
	}
}
