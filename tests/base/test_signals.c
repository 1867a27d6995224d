/* Proves the one signal owner: nested callbacks run top first and record the signal, pop
 * restores the previous handler, and avo_signals_die kills avo_proc_run's running children
 * (their process groups) before dying of the signal. */
#include "avo_base.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

static volatile sig_atomic_t order[4], norder;
static void fn_a(int sig) { (void)sig; order[norder++] = 1; }
static void fn_b(int sig) { (void)sig; order[norder++] = 2; }

static char pidfile[4096];

static void *run_sleeper(void *p)
{
	(void)p;
	char script[4200];
	snprintf(script, sizeof(script), "echo $$ > %s; exec sleep 61.5151", pidfile);
	avo_proc_options o = {0};
	o.argv = (const char *const[]){"/bin/sh", "-c", script, NULL};
	avo_proc_result r;
	avo_proc_run(&r, &o);
	return NULL;
}

/* Gone, or a zombie nobody reaped yet (a container's pid 1 may not reap). */
static int dead(long pid)
{
	char p[64];
	avo_buf b = AVO_BUF_INIT;
	snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
	if (avo_file_read(&b, p) < 0)
		return 1;
	const char *rp = strrchr(avo_buf_cstr(&b), ')');
	int z = rp && (rp[2] == 'Z' || rp[2] == 'X');
	avo_buf_dispose(&b);
	return z;
}

int main(void)
{
	CHECK(avo_signals_push(fn_a) == 0);
	CHECK(avo_signals_push(fn_b) == 0);
	raise(SIGTERM);
	CHECK(avo_signals_caught() == SIGTERM);
	CHECK(norder == 2 && order[0] == 2 && order[1] == 1);
	avo_signals_pop();
	norder = 0;
	raise(SIGINT);
	CHECK(avo_signals_caught() == SIGINT && norder == 1 && order[0] == 1);
	avo_signals_pop();
	struct sigaction now;
	sigaction(SIGINT, NULL, &now);
	CHECK(now.sa_handler == SIG_DFL);

	/* A child avo process dies of SIGTERM and takes its running harness with it. */
	snprintf(pidfile, sizeof(pidfile), "/tmp/avo-test-signals-%ld.pid", (long)getpid());
	unlink(pidfile);
	pid_t c = fork();
	if (c == 0) {
		avo_signals_push(avo_signals_die);
		pthread_t th;
		pthread_create(&th, NULL, run_sleeper, NULL);
		for (int i = 0; i < 200 && !avo_path_exists(pidfile); i++)
			usleep(10000);
		usleep(100000);
		raise(SIGTERM);
		_exit(0); /* not reached */
	}
	int st = 0;
	waitpid(c, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	avo_buf b = AVO_BUF_INIT;
	CHECK(avo_file_read(&b, pidfile) == 0);
	long sp = atol(avo_buf_cstr(&b));
	CHECK(sp > 0);
	for (int i = 0; i < 100 && sp > 0 && !dead(sp); i++)
		usleep(20000);
	CHECK(sp > 0 && dead(sp));
	avo_buf_dispose(&b);
	unlink(pidfile);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
