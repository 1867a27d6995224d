/* The run step of an evaluation: the one function that starts a harness process, the
 * per-GPU lock, and the loop over configs that hands each to the spec's protocol. */
#include "eval_int.h"
#include "evalbox.h"
#include "buildid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* One file lock per GPU index under the scratch root: two avo processes never time on
 * the same GPU at once. Returns the fd (or -1: run unlocked). */
static int lock_gpu(const avo_eval__ctx *e, int gpu)
{
	char name[64];
	snprintf(name, sizeof(name), "gpu%d.lock", avo_buildid_gpu_index(gpu));
	char *p = avo_path_join(e->root, name);
	int fd = p ? open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
	free(p);
	if (fd >= 0)
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
	return fd;
}

static int has_sanitizer(const avo_spec *s)
{
	for (size_t i = 0; i < s->nflags; i++)
		if (strstr(s->flags[i], "-fsanitize"))
			return 1;
	for (size_t i = 0; i < s->nlink_flags; i++)
		if (strstr(s->link_flags[i], "-fsanitize"))
			return 1;
	return 0;
}

int avo_eval__spawn(avo_eval__ctx *e, int gpu, const char *const *argv, const char *cwd,
		    const char *const *env_add, const int *pass_fds, avo_proc_result *r)
{
	const avo_spec *s = e->spec;
	char gpu_env[48];
	const char *env[16];
	size_t n = 0;
	for (; env_add && env_add[n] && n < 12; n++)
		env[n] = env_add[n];
	if (gpu >= 0) {
		snprintf(gpu_env, sizeof(gpu_env), "CUDA_VISIBLE_DEVICES=%d", gpu);
		env[n++] = gpu_env;
		/* Number GPUs as nvidia-smi does, so the identity we key on is the GPU we run on. */
		env[n++] = "CUDA_DEVICE_ORDER=PCI_BUS_ID";
	}
	env[n] = NULL;
	avo_eval__verbose_cmd(e, argv);
	avo_proc_options po = {0};
	po.argv = argv;
	po.cwd = cwd;
	po.env_add = env;
	po.pass_fds = pass_fds;
	po.scrub_secrets = 1;
	po.timeout_s = s->timeout_s;
	/* CUDA maps a huge virtual address space, and so do sanitizers: no RLIMIT_AS there. */
	po.rlimit_as_mb = s->is_cuda || has_sanitizer(s) ? 0 : 16384;
	po.rlimit_fsize_mb = 1024;
	po.rlimit_nproc = 8192; /* stops a fork bomb; threads count too, so keep it roomy */
	po.max_output = 1u << 20;
	/* Writes only its run dir (cwd); reads its executable's dir. */
	avo_evalbox box;
	char *exe_dir = avo_path_dirname(argv[0]);
	po.sandbox = avo_evalbox_init(&box, s, cwd, exe_dir, e->opts->hide_dir);
	int rc = avo_proc_run(r, &po);
	avo_evalbox_dispose(&box);
	free(exe_dir);
	return rc;
}

const char *avo_eval__tail_of(const char *s, size_t cap)
{
	size_t n = strlen(s);
	if (n <= cap)
		return s;
	const char *t = s + n - cap;
	const char *nl = strchr(t, '\n'); /* start on a line */
	return nl && nl[1] ? nl + 1 : t;
}

void avo_eval__fail_config(avo_eval_config_result *c, avo_eval_status st, char *msg)
{
	c->status = st;
	c->correct = 0;
	free(c->feedback);
	c->feedback = msg;
}

/* Run every config of a built item, in order, stopping at the first failure. */
int avo_eval__run_item(avo_eval__ctx *e, avo_eval__item *it)
{
	const avo_spec *s = e->spec;
	avo_eval_result *res = it->res;
	char *cwd = avo_path_join(it->dir, "run");
	int rc = cwd ? avo_mkdir_p(cwd, 0700) : avo_oom();
	for (size_t i = 0; rc == 0 && i < s->nconfigs; i++) {
		avo_eval_config_result *c = &res->configs[i];
		int lock = s->is_cuda ? lock_gpu(e, it->gpu) : -1;
		rc = e->proto->run_config(e, it, i, cwd, c);
		if (lock >= 0)
			close(lock);
		if (rc == 0 && c->status != AVO_EVAL_OK) {
			res->status = c->status;
			res->feedback = avo_strdup(c->feedback);
			break;
		}
	}
	free(cwd);
	return rc;
}
