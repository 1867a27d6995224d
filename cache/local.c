/* The local directory: <dir>/<ns>/<key[0..2]>/<key[2..32]>. Below <dir> nothing follows a
 * symlink: every level is opened with O_NOFOLLOW relative to the one above, so a link planted
 * in the store can neither redirect a write nor make verify/gc delete files elsewhere. */
#include "cache_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int sub_dir(int dfd, const char *name, int create)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
			return -1;
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	return fd;
}

/* fd of <dir>/<ns>/<key[0..2]>, or -1 with errno (ELOOP/ENOTDIR: a level is a symlink or
 * not a directory). The cache dir itself may be a symlink: that is the user's choice. */
static int shard_fd(const avo_cache *c, const char *ns, const char *key, int create)
{
	int top = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0 && errno == ENOENT && create && avo_mkdir_p(c->dir, 0755) == 0)
		top = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return -1;
	int nsfd = sub_dir(top, ns, create), e = errno;
	close(top);
	if (nsfd < 0) {
		errno = e;
		return -1;
	}
	char fan[3] = {key[0], key[1], '\0'};
	int fd = sub_dir(nsfd, fan, create);
	e = errno;
	close(nsfd);
	errno = e;
	return fd;
}

static void report_corrupt(avo_cache *c, const char *ns, const char *key, const char *why)
{
	atomic_fetch_add(&c->corrupt, 1);
	if (!c->quiet)
		fprintf(stderr,
			"avo: warning: cache entry %s/%s/%.2s/%s is corrupt (%s); removed, treated as a miss\n",
			c->dir, ns, key, key + 2, why);
}

/* Remove the entry only if it is still the inode we judged: a writer may have renamed a
 * fresh, valid entry over it since. */
static void remove_if_same(int dfd, const char *name, const struct stat *judged)
{
	struct stat now;
	if (fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == judged->st_dev &&
	    now.st_ino == judged->st_ino)
		unlinkat(dfd, name, 0);
}

/* Read to EOF (not just st_size): a file that grew is caught by the length check. */
static int read_fd(int fd, avo_buf *b, size_t hint)
{
	avo_buf_clear(b);
	if (avo_buf_grow(b, hint) < 0)
		return AVO_ERROR;
	for (;;) {
		if (b->size == b->asize - 1 && avo_buf_grow(b, 65536) < 0)
			return AVO_ERROR;
		ssize_t n = read(fd, b->ptr + b->size, b->asize - 1 - b->size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return avo_error_set(AVO_EIO, "read: %s", strerror(errno));
		if (n == 0)
			break;
		b->size += (size_t)n;
	}
	b->ptr[b->size] = '\0';
	return 0;
}

int avo_cache__read_local(avo_cache *c, const char *ns, const char *key, int touch, avo_buf *out)
{
	int dfd = shard_fd(c, ns, key, 0);
	if (dfd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return avo_error_set(AVO_ENOTFOUND, "%s/%s/%.2s: not a directory (a symlink?): ignored",
					     c->dir, ns, key);
		if (errno == ENOENT)
			return avo_error_set(AVO_ENOTFOUND, "%s/%s: not in cache", ns, key);
		return avo_error_set(AVO_EIO, "%s/%s: %s", c->dir, ns, strerror(errno));
	}
	const char *name = key + 2, *why = NULL;
	struct stat st;
	avo_buf local = AVO_BUF_INIT;
	avo_buf *b = out ? out : &local;
	int rc = 0, fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP) {
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			why = "a symlink, not an entry";
			goto corrupt;
		}
	}
	if (fd < 0) {
		rc = errno == ENOENT || errno == ENOTDIR ? avo_error_set(AVO_ENOTFOUND, "%s/%s: not in cache", ns, key)
							 : avo_error_set(AVO_EIO, "%s/%s: %s", ns, key, strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		rc = avo_error_set(AVO_EIO, "%s/%s: %s", ns, key, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		why = "not a regular file";
		goto corrupt;
	}
	if ((rc = read_fd(fd, b, (size_t)st.st_size)) < 0)
		goto done;
	size_t off, len;
	if (avo_cache__parse(b->ptr ? b->ptr : "", b->size, ns, key, c->mac_key, 0, 1, &off, &len, &why) < 0)
		goto corrupt;
	if (touch) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec - st.st_mtim.tv_sec >= AVO_CACHE__TOUCH_SLACK_S)
			futimens(fd, NULL); /* best effort: a read-only store still serves */
	}
	memmove(b->ptr, b->ptr + off, len);
	b->size = len;
	b->ptr[len] = '\0';
	goto done;
corrupt:
	report_corrupt(c, ns, key, why);
	remove_if_same(dfd, name, &st);
	avo_buf_clear(b);
	rc = avo_error_set(AVO_ECORRUPT, "%s/%s/%.2s/%s: corrupt cache entry (%s)", c->dir, ns, key, name, why);
done:
	if (fd >= 0)
		close(fd);
	close(dfd);
	avo_buf_dispose(&local);
	return rc;
}

/* Remove the stray temporaries of killed writers in one shard directory. */
static uint64_t clean_temps(int dfd)
{
	int d2 = dup(dfd);
	DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
	uint64_t removed = 0;
	struct dirent *de;
	if (!d) {
		if (d2 >= 0)
			close(d2);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (strlen(de->d_name) > 30 && avo_cache__is_hex(de->d_name, 30) &&
		    !strncmp(de->d_name + 30, ".tmp.", 5) &&
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    avo_file_temp_is_stray(de->d_name, st.st_mtime, AVO_CACHE__TEMP_MAX_AGE_S) &&
		    unlinkat(dfd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int avo_cache__write_local(avo_cache *c, const char *ns, const char *key, const char *hdr,
			   size_t hlen, const void *data, size_t len)
{
	int dfd = shard_fd(c, ns, key, 1);
	if (dfd < 0)
		return avo_error_set(AVO_EIO, "%s/%s/%.2s: cannot open the cache directory%s: %s", c->dir, ns,
				     key, errno == ELOOP || errno == ENOTDIR ? " (a symlink? refused)" : "",
				     strerror(errno));
	avo_span parts[2] = {{hdr, hlen}, {data, len}};
	int rc = avo_file_write_atomic_at(dfd, key + 2, parts, 2, 0644);
	if (rc < 0)
		avo_error_wrap(rc, "%s/%s/%.2s/%s", c->dir, ns, key, key + 2);
	else /* a killed writer's leftovers go on the next write to the same shard */
		atomic_fetch_add(&c->temp_removed, clean_temps(dfd));
	close(dfd);
	return rc;
}

/* ---- walking the store ------------------------------------------------------------ */

typedef struct {
	struct timespec mtime;
	uint64_t size;
	dev_t dev;
	ino_t ino;
	int ns; /* index into avo_cache__known_ns, -1 other */
	char ns_name[33];
	char key[AVO_CACHE_HEX];
} entry_info;

typedef struct {
	entry_info *v;
	size_t n, cap;
	uint64_t temps, temps_removed;
} entry_list;

static void entries_free(entry_list *l) { free(l->v); }

static int walk_shard(entry_list *l, int fan, const char *ns, const char *f1, int clean)
{
	int d2fd = dup(fan);
	DIR *d2 = d2fd >= 0 ? fdopendir(d2fd) : NULL;
	struct dirent *f2;
	int rc = 0;
	if (!d2) {
		if (d2fd >= 0)
			close(d2fd);
		return 0;
	}
	while (rc == 0 && (f2 = readdir(d2))) {
		size_t nl = strlen(f2->d_name);
		int is_entry = nl == 30 && avo_cache__is_hex(f2->d_name, 30);
		int is_temp = !is_entry && nl > 30 && avo_cache__is_hex(f2->d_name, 30) &&
			      !strncmp(f2->d_name + 30, ".tmp.", 5);
		struct stat st;
		if ((!is_entry && !is_temp) || fstatat(fan, f2->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (is_temp) {
			l->temps++;
			if (clean && avo_file_temp_is_stray(f2->d_name, st.st_mtime, AVO_CACHE__TEMP_MAX_AGE_S) &&
			    unlinkat(fan, f2->d_name, 0) == 0)
				l->temps_removed++;
			continue;
		}
		if ((rc = avo_array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v))) < 0)
			break;
		entry_info *e = &l->v[l->n++];
		e->mtime = st.st_mtim;
		e->size = (uint64_t)st.st_size;
		e->dev = st.st_dev;
		e->ino = st.st_ino;
		e->ns = avo_cache__ns_index(ns);
		memcpy(e->ns_name, ns, strlen(ns) + 1); /* valid_ns: <= 32 chars */
		memcpy(e->key, f1, 2);
		memcpy(e->key + 2, f2->d_name, 30);
		e->key[32] = '\0';
	}
	closedir(d2);
	return rc;
}

/* List every entry; symlinked namespace or shard directories are skipped, never entered.
 * With clean, stray temporaries are removed on the way. */
static int walk(avo_cache *c, entry_list *l, int clean)
{
	memset(l, 0, sizeof(*l));
	DIR *top = opendir(c->dir);
	if (!top)
		return errno == ENOENT ? 0 : avo_error_set(AVO_EIO, "%s: %s", c->dir, strerror(errno));
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(top))) {
		if (!avo_cache__valid_ns(de->d_name))
			continue;
		int nsfd = sub_dir(dirfd(top), de->d_name, 0);
		int d1fd = nsfd >= 0 ? dup(nsfd) : -1;
		DIR *d1 = d1fd >= 0 ? fdopendir(d1fd) : NULL;
		struct dirent *f1;
		if (!d1 && d1fd >= 0)
			close(d1fd);
		while (d1 && rc == 0 && (f1 = readdir(d1))) {
			if (strlen(f1->d_name) != 2 || !avo_cache__is_hex(f1->d_name, 2))
				continue;
			int fan = sub_dir(nsfd, f1->d_name, 0);
			if (fan < 0)
				continue;
			rc = walk_shard(l, fan, de->d_name, f1->d_name, clean);
			close(fan);
		}
		if (d1)
			closedir(d1);
		if (nsfd >= 0)
			close(nsfd);
	}
	closedir(top);
	if (rc < 0)
		entries_free(l);
	atomic_fetch_add(&c->temp_removed, l->temps_removed);
	return rc;
}

int avo_cache_stat(avo_cache *c, avo_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	entry_list l;
	int rc = walk(c, &l, 0);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < l.n; i++) {
		out->entries++;
		out->bytes += l.v[i].size;
		if (l.v[i].ns >= 0) {
			out->per_ns_entries[l.v[i].ns]++;
			out->per_ns_bytes[l.v[i].ns] += l.v[i].size;
		}
	}
	out->temp_files = l.temps;
	entries_free(&l);
	out->hits = atomic_load(&c->hits);
	out->misses = atomic_load(&c->misses);
	out->corrupt = atomic_load(&c->corrupt);
	out->remote_hits = atomic_load(&c->remote_hits);
	out->remote_puts = atomic_load(&c->remote_puts);
	out->remote_errors = atomic_load(&c->remote_errors);
	out->temp_removed = atomic_load(&c->temp_removed);
	return 0;
}

int avo_cache_verify(avo_cache *c, uint64_t *checked, uint64_t *removed)
{
	*checked = *removed = 0;
	entry_list l;
	int rc = walk(c, &l, 1);
	if (rc < 0)
		return rc;
	avo_buf b = AVO_BUF_INIT;
	for (size_t i = 0; i < l.n; i++) {
		const entry_info *e = &l.v[i];
		int r = avo_cache__read_local(c, e->ns_name, e->key, 0, &b);
		if (r == AVO_ENOTFOUND)
			continue; /* gone meanwhile (gc, another verify) */
		(*checked)++;
		if (r == AVO_ECORRUPT)
			(*removed)++;
		else if (r < 0) {
			rc = r;
			break;
		}
	}
	avo_buf_dispose(&b);
	entries_free(&l);
	return rc;
}

static int by_mtime(const void *a, const void *b)
{
	const entry_info *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	int d = strcmp(x->ns_name, y->ns_name);
	return d ? d : strcmp(x->key, y->key);
}

/* Unlink one walked entry through no-follow directory fds, only if it is the same file. */
static int evict(avo_cache *c, const entry_info *e)
{
	int dfd = shard_fd(c, e->ns_name, e->key, 0);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -1;
	struct stat st;
	int rc = 0;
	if (fstatat(dfd, e->key + 2, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == e->dev &&
	    st.st_ino == e->ino)
		rc = unlinkat(dfd, e->key + 2, 0) == 0 || errno == ENOENT ? 0 : -1;
	close(dfd);
	return rc;
}

int avo_cache_gc(avo_cache *c, uint64_t max_bytes, uint64_t *evicted, uint64_t *freed_bytes)
{
	uint64_t ev = 0, fb = 0, total = 0;
	entry_list l;
	int rc = walk(c, &l, 1);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < l.n; i++)
		total += l.v[i].size;
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), by_mtime);
	/* A hit during the scan may make an evicted entry recent again; it is then only a
	 * future miss, never a wrong answer. */
	for (size_t i = 0; i < l.n && total > max_bytes; i++) {
		if (evict(c, &l.v[i]) == 0) {
			total -= l.v[i].size;
			ev++;
			fb += l.v[i].size;
		}
	}
	entries_free(&l);
	if (evicted)
		*evicted = ev;
	if (freed_bytes)
		*freed_bytes = fb;
	return 0;
}
