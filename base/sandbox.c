/* The evaluation sandbox: bubblewrap (Debian's `bubblewrap`), the tool Flatpak and the
 * coding-agent CLIs use. avo only builds its command line; bwrap does the namespaces.
 * Running it (and the probe avo_sandbox_check) is proc.c's job. */
#include "avo_base.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Bind every /dev/nvidia* node (and /dev/nvidia-caps, /dev/dri) the host has. */
static int push_gpu_nodes(avo_strv *a)
{
	DIR *d = opendir("/dev");
	int rc = 0;
	if (!d)
		return 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, "nvidia", 6))
			continue;
		rc = avo_strv_push(a, "--dev-bind") || avo_strv_pushf(a, "/dev/%s", de->d_name) ||
		     avo_strv_pushf(a, "/dev/%s", de->d_name) ? AVO_ERROR : 0;
	}
	closedir(d);
	if (rc == 0 && is_dir("/dev/dri"))
		rc = avo_strv_pushv(a, (const char *const[]){"--dev-bind", "/dev/dri", "/dev/dri", NULL});
	return rc;
}

/* The system, read-only: what compilers and programs need, and nothing of the users'. A
 * top-level link (/bin -> usr/bin on a merged /usr) is made as the same link. */
static int push_system(avo_strv *a)
{
	static const char *const sys[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
					  "/etc", "/opt", "/sys", NULL};
	int rc = 0;
	for (const char *const *p = sys; rc == 0 && *p; p++) {
		struct stat st;
		char target[256];
		ssize_t n;
		if (lstat(*p, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode) && (n = readlink(*p, target, sizeof(target) - 1)) > 0) {
			target[n] = '\0';
			rc = avo_strv_pushv(a, (const char *const[]){"--symlink", target, *p, NULL});
		} else {
			rc = avo_strv_pushv(a, (const char *const[]){"--ro-bind", *p, *p, NULL});
		}
	}
	return rc;
}

int avo_sandbox_argv(avo_strv *out, const avo_sandbox *sb, const char *cwd, const char *const *argv)
{
	static const char *const base[] = {
		"bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", NULL};
	/* Private /tmp, /run and /dev/shm: nothing left behind, no host sockets. */
	static const char *const devs[] = {
		"--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs", "/dev/shm",
		"--setenv", "TMPDIR", "/tmp", "--setenv", "HOME", "/tmp", NULL};
	avo_strv a = AVO_STRV_INIT;
	int rc = avo_strv_pushv(&a, base) || push_system(&a) || avo_strv_pushv(&a, devs) ? AVO_ERROR : 0;
	if (rc == 0 && sb->gpu)
		rc = push_gpu_nodes(&a);
	for (const char *const *r = sb->read_paths; rc == 0 && r && *r; r++)
		rc = avo_strv_pushv(&a, (const char *const[]){"--ro-bind-try", *r, *r, NULL});
	for (const char *const *h = sb->hide_paths; rc == 0 && h && *h; h++)
		if (is_dir(*h))
			rc = avo_strv_pushv(&a, (const char *const[]){"--tmpfs", *h, NULL});
	char *exe_dir = argv[0][0] == '/' ? avo_path_dirname(argv[0]) : NULL;
	if (rc == 0 && exe_dir)
		rc = avo_strv_pushv(&a, (const char *const[]){"--ro-bind-try", exe_dir, exe_dir, NULL});
	free(exe_dir);
	if (rc == 0 && cwd)
		rc = avo_strv_pushv(&a, (const char *const[]){"--ro-bind-try", cwd, cwd, NULL});
	if (rc == 0 && sb->write_dir)
		rc = avo_strv_pushv(&a, (const char *const[]){"--bind", sb->write_dir, sb->write_dir, NULL});
	if (!cwd)
		cwd = sb->write_dir ? sb->write_dir : "/";
	if (rc == 0)
		rc = avo_strv_pushv(&a, (const char *const[]){"--chdir", cwd, "--", NULL});
	if (rc == 0)
		rc = avo_strv_pushv(&a, argv);
	if (rc < 0) {
		avo_strv_dispose(&a);
		return avo_oom();
	}
	*out = a;
	return 0;
}
