#include "avo_base.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int avo_file_read(avo_buf *out, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return avo_error_set(errno == ENOENT ? AVO_ENOTFOUND : AVO_EIO, "%s: %s", path,
				     strerror(errno));
	avo_buf_clear(out);
	for (;;) {
		if (avo_buf_grow(out, 65536) < 0) {
			close(fd);
			return AVO_ERROR;
		}
		ssize_t n = read(fd, out->ptr + out->size, out->asize - out->size - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return avo_error_set(AVO_EIO, "%s: read: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		out->size += (size_t)n;
	}
	out->ptr[out->size] = '\0';
	close(fd);
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int avo_file_write_atomic_at(int dirfd, const char *name, const avo_span *parts, size_t nparts,
			     mode_t mode)
{
	/* The temp name carries pid and a counter so concurrent writers never share one, and
	 * avo_file_temp_is_stray() can tell a dead writer's leftovers from a live one's. */
	static _Atomic unsigned long counter;
	char *tmp = avo_sprintf("%s.tmp.%ld.%lu", name, (long)getpid(), ++counter);
	if (!tmp)
		return avo_oom();
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return avo_error_set(e == ENOENT ? AVO_ENOTFOUND : AVO_EIO,
				     "cannot create temporary file: %s", strerror(e));
	}
	for (size_t i = 0; i < nparts; i++)
		if (parts[i].len && write_all(fd, parts[i].data, parts[i].len) < 0)
			goto fail;
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0)
		goto fail;
	free(tmp);
	return 0;
fail: {
	int e = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	free(tmp);
	return avo_error_set(AVO_EIO, "write failed: %s", strerror(e));
}
}

int avo_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *dir = avo_path_dirname(path);
	if (!dir)
		return avo_oom();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dfd < 0)
		return avo_error_set(AVO_EIO, "%s: cannot create temporary file: %s", path, strerror(errno));
	avo_span part = {data, len};
	int rc = avo_file_write_atomic_at(dfd, avo_path_basename(path), &part, 1, mode);
	close(dfd);
	if (rc < 0)
		return avo_error_wrap(rc == AVO_ENOTFOUND ? AVO_EIO : rc, "%s", path);
	return 0;
}

int avo_file_temp_is_stray(const char *name, time_t mtime, long max_age_s)
{
	const char *p = strstr(name, ".tmp.");
	if (!p)
		return 0;
	char *end;
	long pid = strtol(p + 5, &end, 10);
	if (pid > 0 && *end == '.' && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 1;
	return time(NULL) - mtime > max_age_s;
}

int avo_mkdir_p(const char *path, mode_t mode)
{
	char *p = avo_strdup(path);
	if (!p)
		return avo_oom();
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				int e = errno;
				int rc = avo_error_set(AVO_EIO, "%s: cannot create directory: %s", p, strerror(e));
				free(p);
				return rc;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int avo_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0)
		return avo_error_set(AVO_EIO, "%s: cannot remove: %s", path, strerror(errno));
	return 0;
}

int avo_path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

char *avo_path_join(const char *a, const char *b)
{
	if (!a || !*a || b[0] == '/')
		return avo_strdup(b);
	size_t la = strlen(a);
	return avo_sprintf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

char *avo_path_dirname(const char *path)
{
	const char *s = strrchr(path, '/');
	if (!s)
		return avo_strdup(".");
	if (s == path)
		return avo_strdup("/");
	return avo_strndup(path, (size_t)(s - path));
}

const char *avo_path_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

int avo_mkdtemp(char **out, const char *parent, const char *prefix)
{
	*out = NULL;
	if (avo_mkdir_p(parent, 0755) < 0)
		return AVO_EIO;
	char *t = avo_sprintf("%s/%sXXXXXX", parent, prefix);
	if (!t)
		return avo_oom();
	if (!mkdtemp(t)) {
		int e = errno;
		free(t);
		return avo_error_set(AVO_EIO, "%s: cannot create temporary directory: %s", parent, strerror(e));
	}
	*out = t;
	return 0;
}

double avo_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double avo_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

char *avo_path_share_dir(const char *env, const char *name, const char *src_dir)
{
	const char *v = getenv(env);
	if (v && *v)
		return avo_strdup(v);
	char exe[PATH_MAX], real[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *bin = avo_path_dirname(exe);
		char *cand = bin ? avo_sprintf("%s/../share/avo/%s", bin, name) : NULL;
		free(bin);
		int found = cand && realpath(cand, real);
		free(cand);
		if (found)
			return avo_strdup(real);
	}
	struct stat st;
	return stat(src_dir, &st) == 0 && S_ISDIR(st.st_mode) ? avo_strdup(src_dir) : NULL;
}
