/* Child processes: spawn with a timeout, rlimits and a scrubbed environment, collect
 * their output, kill the whole group; also the sandbox probe (avo_sandbox_check). */
#include "avo_base.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int avo_env_is_secret(const char *name)
{
	size_t n = strcspn(name, "=");
	char up[256];
	if (n >= sizeof(up))
		n = sizeof(up) - 1;
	for (size_t i = 0; i < n; i++)
		up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
	up[n] = '\0';
	if (strstr(up, "API_KEY") || strstr(up, "APIKEY") || strstr(up, "SECRET") ||
	    strstr(up, "PASSWORD") || strstr(up, "PASSWD") || strstr(up, "CREDENTIAL") ||
	    !strcmp(up, "AVO_CACHE_REMOTE") /* may hold user:password@ */)
		return 1;
	return (n >= 6 && !strcmp(up + n - 6, "_TOKEN")) || (n >= 4 && !strcmp(up + n - 4, "_KEY"));
}

/* Hidden secrets: "NAME=value" strings moved out of environ, kept for avo_secret_get. */
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t nsecrets, secrets_cap;

void avo_secrets_hide(void)
{
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; environ && environ[i];) {
		char *kv = environ[i];
		size_t klen = strcspn(kv, "=");
		if (!kv[klen] || !avo_env_is_secret(kv) ||
		    avo_array_grow((void **)&secrets, &secrets_cap, nsecrets + 1, sizeof(*secrets)) < 0) {
			i++;
			continue;
		}
		char *copy = avo_strdup(kv), *name = avo_strndup(kv, klen);
		if (!copy || !name) {
			free(copy);
			free(name);
			i++;
			continue;
		}
		secrets[nsecrets++] = copy;
		/* Wipe the bytes too: /proc/<pid>/environ shows the initial block, not environ. */
		memset(kv + klen + 1, 0, strlen(kv + klen + 1));
		unsetenv(name); /* shifts environ down: look at index i again */
		free(name);
		if (environ[i] == kv)
			i++;
	}
	pthread_mutex_unlock(&secrets_lock);
}

const char *avo_secret_get(const char *name)
{
	size_t n = strlen(name);
	const char *v = NULL;
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < nsecrets && !v; i++)
		if (!strncmp(secrets[i], name, n) && secrets[i][n] == '=')
			v = secrets[i] + n + 1;
	pthread_mutex_unlock(&secrets_lock);
	return v ? v : getenv(name);
}

/* Build the child's environment in the parent: after fork only async-signal-safe calls. */
static char **build_env(const avo_proc_options *o)
{
	size_t n = 0, k = 0;
	for (char **e = environ; *e; e++)
		n++;
	for (const char *const *a = o->env_add; a && *a; a++)
		n++;
	char **env = calloc(n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (char **e = environ; *e; e++) {
		if (o->scrub_secrets && avo_env_is_secret(*e))
			continue;
		int overridden = 0;
		size_t klen = strcspn(*e, "=");
		for (const char *const *a = o->env_add; a && *a; a++)
			if (!strncmp(*a, *e, klen) && (*a)[klen] == '=')
				overridden = 1;
		if (!overridden)
			env[k++] = *e;
	}
	for (const char *const *a = o->env_add; a && *a; a++)
		env[k++] = (char *)*a;
	env[k] = NULL;
	return env;
}

static void set_limit(int res, unsigned long mb_or_n, int is_bytes)
{
	if (!mb_or_n)
		return;
	struct rlimit rl;
	rl.rlim_cur = rl.rlim_max = is_bytes ? (rlim_t)mb_or_n << 20 : (rlim_t)mb_or_n;
	setrlimit(res, &rl);
}

/* Keep the last `cap` bytes of a stream: the end of a log is where the error is. */
static void keep_tail(avo_buf *b, const char *data, size_t len, size_t cap)
{
	avo_buf_put(b, data, len);
	if (b->size > cap) {
		size_t drop = b->size - cap;
		memmove(b->ptr, b->ptr + drop, b->size - drop);
		b->size -= drop;
		b->ptr[b->size] = '\0';
	}
}

/* Is `cmd` something execvp would find? (A sandboxed command that is not there runs
 * unwrapped, so it fails the usual way: exit 127, "avo: cannot run".) */
static int findable(const char *cmd)
{
	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0;
	const char *path = getenv("PATH");
	char full[4096];
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? p : ".", cmd);
		if (access(full, X_OK) == 0)
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

static int proc_run(avo_proc_result *out, const avo_proc_options *o);

int avo_proc_run(avo_proc_result *out, const avo_proc_options *o)
{
	if (!o->sandbox || !findable(o->argv[0]))
		return proc_run(out, o);
	avo_strv a = AVO_STRV_INIT;
	if (avo_sandbox_argv(&a, o->sandbox, o->cwd, o->argv) < 0) {
		memset(out, 0, sizeof(*out));
		return AVO_ERROR;
	}
	avo_proc_options w = *o;
	w.argv = (const char *const *)a.v;
	w.cwd = NULL; /* bwrap's --chdir, inside */
	int rc = proc_run(out, &w);
	avo_strv_dispose(&a);
	/* bwrap reports a command killed by signal N as exit 128+N: report the signal. */
	if (rc == 0 && out->exited && out->exit_code > 128 && out->exit_code < 128 + 65) {
		out->exited = 0;
		out->signal = out->exit_code - 128;
		out->exit_code = 0;
	}
	return rc;
}

static int proc_run(avo_proc_result *out, const avo_proc_options *o)
{
	memset(out, 0, sizeof(*out));
	int pout[2] = {-1, -1}, perr[2] = {-1, -1}, pin[2] = {-1, -1};
	char **env = build_env(o);
	if (!env)
		return avo_oom();
	if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0 ||
	    (o->stdin_data && pipe2(pin, O_CLOEXEC) < 0)) {
		int e = errno;
		free(env);
		for (int i = 0; i < 2; i++) {
			if (pout[i] >= 0) close(pout[i]);
			if (perr[i] >= 0) close(perr[i]);
			if (pin[i] >= 0) close(pin[i]);
		}
		return avo_error_set(AVO_EIO, "pipe: %s", strerror(e));
	}
	double t0 = avo_now();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		free(env);
		close(pout[0]); close(pout[1]); close(perr[0]); close(perr[1]);
		if (pin[0] >= 0) { close(pin[0]); close(pin[1]); }
		return avo_error_set(AVO_EIO, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		setpgid(0, 0);
		int devnull = open("/dev/null", O_RDONLY);
		dup2(pin[0] >= 0 ? pin[0] : devnull, 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		/* Up out of the way first, so a pass fd that is already 3 or 4 is not clobbered. */
		int high[8], np = 0;
		for (; o->pass_fds && o->pass_fds[np] >= 0 && np < 8; np++)
			high[np] = fcntl(o->pass_fds[np], F_DUPFD, 64);
		for (int i = 0; i < np; i++)
			if (high[i] < 0 || dup2(high[i], 3 + i) < 0)
				_exit(127);
		for (int i = 0; i < np; i++)
			close(high[i]);
		if (o->cwd && chdir(o->cwd) < 0) {
			dprintf(2, "avo: cannot enter %s: %s\n", o->cwd, strerror(errno));
			_exit(127);
		}
		set_limit(RLIMIT_AS, o->rlimit_as_mb, 1);
		set_limit(RLIMIT_FSIZE, o->rlimit_fsize_mb, 1);
		set_limit(RLIMIT_NPROC, o->rlimit_nproc, 0);
		signal(SIGPIPE, SIG_DFL);
		execvpe(o->argv[0], (char *const *)o->argv, env);
		dprintf(2, "avo: cannot run %s: %s\n", o->argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* also from the parent, so the group exists before any kill */
	avo_signals__child(pid, 1);
	free(env);
	close(pout[1]);
	close(perr[1]);
	if (pin[0] >= 0)
		close(pin[0]);

	size_t cap = o->max_output ? o->max_output : (4u << 20);
	size_t in_off = 0;
	int status = 0, reaped = 0;
	double t_reaped = 0;
	struct pollfd fds[3];
	char chunk[65536];
	for (;;) {
		int nf = 0, idx_out = -1, idx_err = -1, idx_in = -1;
		if (pout[0] >= 0) { fds[nf] = (struct pollfd){pout[0], POLLIN, 0}; idx_out = nf++; }
		if (perr[0] >= 0) { fds[nf] = (struct pollfd){perr[0], POLLIN, 0}; idx_err = nf++; }
		if (pin[1] >= 0) { fds[nf] = (struct pollfd){pin[1], POLLOUT, 0}; idx_in = nf++; }
		if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
			reaped = 1;
			t_reaped = avo_now();
			/* Grandchildren may hold the pipes open: the group goes with its leader. */
			kill(-pid, SIGKILL);
		}
		if (nf == 0 && reaped)
			break;
		/* A process outside the group (setsid) may still hold a pipe: what the group wrote
		 * is in the pipe already, so stop reading soon after the leader is gone. */
		if (reaped && avo_now() - t_reaped > 1.0) {
			if (pout[0] >= 0) { close(pout[0]); pout[0] = -1; }
			if (perr[0] >= 0) { close(perr[0]); perr[0] = -1; }
			if (pin[1] >= 0) { close(pin[1]); pin[1] = -1; }
			continue;
		}
		int wait_ms = 50;
		if (o->timeout_s > 0 && !reaped && avo_now() - t0 > o->timeout_s) {
			out->timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
		if (nf == 0) {
			usleep(10000);
			continue;
		}
		int pr = poll(fds, (nfds_t)nf, wait_ms);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0)
			continue;
		for (int i = 0; i < nf; i++) {
			if (!fds[i].revents)
				continue;
			if (i == idx_in) {
				if (fds[i].revents & (POLLERR | POLLHUP)) {
					close(pin[1]);
					pin[1] = -1;
					continue;
				}
				ssize_t w = write(pin[1], o->stdin_data + in_off, o->stdin_len - in_off);
				if (w > 0)
					in_off += (size_t)w;
				if (w < 0 || in_off >= o->stdin_len) {
					close(pin[1]);
					pin[1] = -1;
				}
				continue;
			}
			int *fdp = i == idx_out ? &pout[0] : &perr[0];
			ssize_t n = read(*fdp, chunk, sizeof(chunk));
			if (n > 0)
				keep_tail(i == idx_out ? &out->out : &out->err, chunk, (size_t)n, cap);
			else if (n == 0 || errno != EINTR) {
				close(*fdp);
				*fdp = -1;
			}
		}
		(void)idx_err;
	}
	if (!reaped) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		kill(-pid, SIGKILL);
	}
	avo_signals__child(pid, 0);
	if (pin[1] >= 0)
		close(pin[1]);
	out->seconds = avo_now() - t0;
	if (WIFEXITED(status)) {
		out->exited = 1;
		out->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		out->signal = WTERMSIG(status);
	}
	if (!out->out.ptr)
		avo_buf_puts(&out->out, "");
	if (!out->err.ptr)
		avo_buf_puts(&out->err, "");
	return 0;
}

void avo_proc_result_dispose(avo_proc_result *r)
{
	avo_buf_dispose(&r->out);
	avo_buf_dispose(&r->err);
}

char *avo_proc_describe(const avo_proc_result *r, double timeout_s)
{
	if (r->timed_out)
		return avo_sprintf("timed out after %.1f s (process group killed)", timeout_s);
	if (r->exited)
		return avo_sprintf("exit %d", r->exit_code);
	if (r->signal) {
		const char *name = sigabbrev_np(r->signal);
		return avo_sprintf("killed by SIG%s", name ? name : "?");
	}
	return avo_strdup("ended in an unknown way");
}

/* The sandbox probe lives here, beside the runner it uses, so that sandbox.c only builds
 * bwrap's command line and the dependency runs one way (proc.c -> sandbox.c). */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_rc;
static char probe_msg[1024];

static void probe(void)
{
	avo_sandbox sb = {NULL, NULL, NULL, 0};
	avo_proc_options o = {0};
	o.argv = (const char *const[]){"true", NULL};
	o.sandbox = &sb;
	o.timeout_s = 30;
	avo_proc_result r;
	probe_rc = avo_proc_run(&r, &o);
	if (probe_rc < 0) {
		snprintf(probe_msg, sizeof(probe_msg), "%s", avo_error_last());
	} else if (!r.exited || r.exit_code != 0) {
		char *how = avo_proc_describe(&r, o.timeout_s);
		const char *err = avo_buf_cstr(&r.err);
		size_t n = strcspn(err, "\n");
		snprintf(probe_msg, sizeof(probe_msg), "%s%s%.*s", how ? how : "failed", n ? ": " : "",
			 (int)n, err);
		free(how);
		probe_rc = AVO_EIO;
	}
	avo_proc_result_dispose(&r);
}

int avo_sandbox_check(void)
{
	pthread_once(&probe_once, probe);
	if (probe_rc == 0)
		return 0;
	return avo_error_set(AVO_EIO,
			     "the evaluation sandbox (bubblewrap) cannot start here (%s); install the "
			     "\"bubblewrap\" package, allow user namespaces, or opt out with --no-sandbox "
			     "or \"sandbox\": false in the spec (candidates then run with your rights)",
			     probe_msg);
}
