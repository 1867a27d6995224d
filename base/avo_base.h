/* avo_base: the small foundation every avo library shares.
 *
 * Errors: functions return int, 0 on success and a negative AVO_E* code on failure. The
 * message goes into a per-thread slot read with avo_error_last(); it stays valid until the
 * next avo_error_set* on the same thread.
 *
 * Ownership: a function that fills an avo_buf or returns a char * through `out` hands it to
 * the caller, who frees it with avo_buf_dispose() / free().
 */
#ifndef AVO_BASE_H
#define AVO_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define AVO_VERSION_STRING "0.1.0"

enum {
	AVO_OK = 0,
	AVO_ERROR = -1,     /* generic failure */
	AVO_ENOTFOUND = -2, /* missing file, cache miss, unknown name */
	AVO_EINVALID = -3,  /* bad input: markers, spec, edit, arguments */
	AVO_EIO = -4,       /* read/write/system call failed */
	AVO_ETIMEOUT = -5,  /* a child or a network call ran past its limit */
	AVO_ECORRUPT = -6,  /* stored content does not match its hash */
	AVO_ENET = -7,      /* network failure (remote cache, LLM API) */
	AVO_EPARSE = -8,    /* a file does not parse (clang diagnostics, JSON) */
};

/* ---- errors ---------------------------------------------------------------------- */

/* Set the thread's error message; returns `code` so callers can `return avo_error_set(..)`. */
int avo_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, prefixed with "file:line:col: " (line/col 0 are left out). */
int avo_error_setloc(int code, const char *file, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Prepend context: "ctx: <previous message>". Returns `code`. */
int avo_error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one out-of-memory report: sets "out of memory" and returns AVO_ERROR. */
int avo_oom(void);
const char *avo_error_last(void); /* never NULL; "" when no error was set */
void avo_error_clear(void);

/* ---- growable buffer ------------------------------------------------------------- */

/* Always NUL-terminated once anything was written (ptr may be NULL while empty). */
typedef struct {
	char *ptr;
	size_t size;  /* bytes used, excluding the terminating NUL */
	size_t asize; /* bytes allocated */
} avo_buf;

#define AVO_BUF_INIT {NULL, 0, 0}

int avo_buf_grow(avo_buf *b, size_t extra);
int avo_buf_put(avo_buf *b, const void *data, size_t len);
int avo_buf_puts(avo_buf *b, const char *s);
int avo_buf_printf(avo_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int avo_buf_vprintf(avo_buf *b, const char *fmt, va_list ap);
void avo_buf_clear(avo_buf *b);
/* Hand the heap string to the caller (never NULL on success; "" when empty). */
char *avo_buf_detach(avo_buf *b);
void avo_buf_dispose(avo_buf *b);
/* Returns the string, or "" when the buffer is empty. Borrowed. */
const char *avo_buf_cstr(const avo_buf *b);

/* ---- files ----------------------------------------------------------------------- */

int avo_file_read(avo_buf *out, const char *path);
/* Write via a temporary file in the same directory, fsync, rename: readers see the old
 * file or the whole new one, never a part. `mode` as for open(2), e.g. 0644. */
int avo_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* The same in directory `dirfd`, from several parts (written in order, never joined). The
 * temporary is "<name>.tmp.<pid>.<n>" beside it; nothing follows a symlink at `name`. */
typedef struct {
	const void *data;
	size_t len;
} avo_span;
int avo_file_write_atomic_at(int dirfd, const char *name, const avo_span *parts, size_t nparts,
			     mode_t mode);
/* Is `name` a temporary of avo_file_write_atomic* left by a writer that is gone (its pid
 * no longer runs) or older than max_age_s? 0 for any other name. */
int avo_file_temp_is_stray(const char *name, time_t mtime, long max_age_s);
int avo_mkdir_p(const char *path, mode_t mode);
/* rm -rf; missing path is not an error. */
int avo_rm_rf(const char *path);
int avo_path_exists(const char *path);
/* Joined path "a/b"; caller frees. NULL on allocation failure. */
char *avo_path_join(const char *a, const char *b);
/* Directory part of `path` ("." when none); caller frees. */
char *avo_path_dirname(const char *path);
/* Last component; borrowed pointer into `path`. */
const char *avo_path_basename(const char *path);
/* A data dir of avo's (caller frees; NULL when none exists): $env when set, else
 * <dir of this executable>/../share/avo/<name> (an install), else src_dir (a build tree). */
char *avo_path_share_dir(const char *env, const char *name, const char *src_dir);
/* Create a fresh directory "<parent>/<prefix>XXXXXX"; *out is caller-owned. */
int avo_mkdtemp(char **out, const char *parent, const char *prefix);

/* ---- strings --------------------------------------------------------------------- */

char *avo_strdup(const char *s);              /* NULL in -> NULL out */
char *avo_strndup(const char *s, size_t n);
char *avo_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- time ------------------------------------------------------------------------ */

double avo_now(void); /* monotonic seconds */
double avo_wall(void); /* seconds since the epoch */

/* ---- string vectors (argv) --------------------------------------------------------- */

/* A NULL-terminated vector of owned strings: v is always usable as an argv once anything
 * was pushed (v may be NULL while empty). */
typedef struct {
	char **v;
	size_t n, cap;
} avo_strv;

#define AVO_STRV_INIT {NULL, 0, 0}

int avo_strv_push(avo_strv *a, const char *s); /* copies s */
int avo_strv_pushf(avo_strv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int avo_strv_pushv(avo_strv *a, const char *const *v); /* each of a NULL-terminated list */
void avo_strv_dispose(avo_strv *a);

/* Grow *ptr (an array of elements of `elem` bytes, *cap allocated) to hold `need`
 * elements; doubles. AVO_ERROR with "out of memory" set when it cannot. */
int avo_array_grow(void **ptr, size_t *cap, size_t need, size_t elem);

/* ---- line diff ------------------------------------------------------------------- */

/* A line of a diffed text: borrowed from it, without its '\n'. */
typedef struct {
	const char *p;
	size_t n;
} avo_diff_line;

/* One line of the edit script: ' ' both (a[ai] == b[bi]), '-' a[ai] only, '+' b[bi] only. */
typedef struct {
	char op;
	size_t ai, bi;
} avo_diff_op;

typedef struct {
	avo_diff_line *a, *b; /* the lines of both texts (owned arrays, borrowed text) */
	size_t na, nb;
	avo_diff_op *ops;     /* the edit script in order */
	size_t nops;
	int whole;            /* 1: too large for the LCS; the changed middle is -all then +all */
} avo_diff;

/* The line diff of a -> b (NULL reads as ""). The texts must outlive *out, which the caller
 * frees with avo_diff_dispose(). AVO_ERROR with "out of memory" set on failure. */
int avo_diff_lines(avo_diff *out, const char *a, const char *b);
void avo_diff_dispose(avo_diff *d);

/* ---- sandbox (bubblewrap) ---------------------------------------------------------- */

/* What a sandboxed process may touch. It gets its own PID, network, IPC, UTS and cgroup
 * namespaces and no capabilities. It sees, read-only, only the system (/usr, /bin, /sbin,
 * /lib*, /etc, /opt, /sys) and `read_paths`: no /home, /root, /srv, /mnt, /var, no other
 * checkout; `hide_paths` inside those are covered by empty tmpfs. /tmp and /run are empty
 * tmpfs (host sockets live there: a read-only mount does not stop connect()), HOME is
 * /tmp, /proc shows only its own processes, /dev is minimal (plus the GPU nodes when
 * `gpu`). Every process in it dies when its first process ends or when avo dies. */
typedef struct {
	const char *write_dir; /* the one directory it may write, at its own path; NULL: none */
	const char *const *read_paths; /* NULL-terminated or NULL: shown read-only */
	const char *const *hide_paths; /* NULL-terminated or NULL: emptied where read_paths
					* would show them (the cache, run dirs) */
	int gpu;               /* pass /dev/nvidia*, /dev/nvidia-caps and /dev/dri through */
} avo_sandbox;

/* 0 when the sandbox starts on this machine (probed once per process by running `true`
 * in it); else AVO_EIO, and the message says why and how to opt out. */
int avo_sandbox_check(void);
/* The command line that runs `argv` with cwd `cwd` (NULL: write_dir, else /) inside the
 * sandbox; an absolute argv[0]'s directory and cwd are shown read-only too. *out is
 * caller-owned (avo_strv_dispose). */
int avo_sandbox_argv(avo_strv *out, const avo_sandbox *sb, const char *cwd, const char *const *argv);

/* Secrets stay in avo's memory, never in its environment: avo_secrets_hide() (called first
 * thing by the avo binaries) moves every variable avo_env_is_secret() names out of environ,
 * so no child and no reader of /proc/<pid>/environ sees them. avo_secret_get() returns the
 * hidden value, else getenv(name); borrowed, valid for the life of the process. */
void avo_secrets_hide(void);
const char *avo_secret_get(const char *name);

/* ---- signals ----------------------------------------------------------------------- */

/* One handler for SIGINT, SIGTERM and SIGHUP, owned here. avo_signals_push(fn) installs it
 * (a signal ignored on entry stays ignored) with `fn` on top of a stack; on a signal every
 * fn runs, top first, and avo_signals_caught() returns the signal (0: none since the
 * outermost push or avo_signals_clear()). avo_signals_pop() restores what the matching push
 * replaced. fn runs in the handler: async-signal-safe calls only. NULL fn: just record. */
typedef void (*avo_signal_fn)(int sig);
int avo_signals_push(avo_signal_fn fn);
void avo_signals_pop(void);
int avo_signals_caught(void);
void avo_signals_clear(void);
/* SIGKILL the process groups of every child avo_proc_run has running (signal-safe). */
void avo_signals_kill_children(void);
/* A ready fn: kill those children, then die of `sig` (default action, re-raised). */
void avo_signals_die(int sig);
/* Ignore SIGPIPE for the rest of the process: a peer gone mid-write is then an error on
 * write (EPIPE), not a kill (a server on stdio: avo mcp). avo_proc_run's children get the
 * default back. */
void avo_signals_ignore_pipe(void);
/* Semi-private: avo_proc_run registers (running = 1) and unregisters its children. */
void avo_signals__child(pid_t pid, int running);

/* ---- child processes ------------------------------------------------------------- */

typedef struct {
	const char *const *argv;  /* argv[0] is looked up in PATH; NULL-terminated */
	const char *cwd;          /* NULL: inherit */
	const char *const *env_add;    /* "K=V" entries set on top; NULL-terminated or NULL */
	int scrub_secrets;        /* drop *_API_KEY, *_TOKEN, *SECRET* and similar from env */
	double timeout_s;         /* 0: none. On expiry the whole process group gets SIGKILL */
	unsigned long rlimit_as_mb;    /* 0: unchanged. Address-space limit */
	unsigned long rlimit_fsize_mb; /* 0: unchanged. Largest file the child may write */
	unsigned long rlimit_nproc;    /* 0: unchanged. Processes for the user */
	size_t max_output;        /* cap per stream (bytes kept, the tail); 0: 4 MiB */
	const char *stdin_data;   /* NULL: /dev/null */
	size_t stdin_len;
	const int *pass_fds;      /* -1-terminated fds the child gets as 3, 4, ... (they may be
	                             O_CLOEXEC here: the child's copies are not); NULL: none */
	const avo_sandbox *sandbox; /* NULL: none; else run inside it (see avo_sandbox) */
} avo_proc_options;

typedef struct {
	int exited;      /* 1 if it exited normally */
	int exit_code;   /* when exited */
	int signal;      /* terminating signal, else 0 */
	int timed_out;   /* killed by the timeout */
	double seconds;  /* wall time */
	avo_buf out;     /* captured stdout (owned; avo_proc_result_dispose) */
	avo_buf err;     /* captured stderr */
} avo_proc_result;

/* Run a child to completion. Returns 0 when the child ran (whatever its exit status) and a
 * negative code when it could not be started. `out` is always initialised. */
int avo_proc_run(avo_proc_result *out, const avo_proc_options *opts);
void avo_proc_result_dispose(avo_proc_result *r);
/* One line describing how the child ended: "exit 3", "killed by SIGSEGV", "timed out after 5.0 s". Caller frees. */
char *avo_proc_describe(const avo_proc_result *r, double timeout_s);

/* Is `name` (an environment variable) a secret that must not reach children or files? */
int avo_env_is_secret(const char *name);

#endif
