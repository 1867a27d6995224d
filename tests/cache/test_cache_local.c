/* The local store: round trips, corruption (truncated, flipped byte) detected and never
 * served, N processes writing and reading the same keys at once, kill -9 during writes,
 * LRU order of gc, and the real `avo cache` CLI. argv[1]: the avo binary. */
#include "t.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *avo_bin;

static avo_cache *open_dir(const char *dir, int quiet)
{
	avo_cache_options o = AVO_CACHE_OPTIONS_INIT;
	o.dir = dir;
	o.remote_url = ""; /* no remote, whatever the environment says */
	o.quiet = quiet;
	avo_cache *c = NULL;
	CHECK_RC(avo_cache_open(&c, &o), 0);
	if (!c)
		exit(1);
	return c;
}

static void key_n(char out[AVO_CACHE_HEX], const char *kind, int n)
{
	avo_cache_key *k;
	avo_cache_key_new(&k, kind);
	avo_cache_key_add(k, "n", &n, sizeof(n));
	avo_cache_key_final(k, out);
}

/* Overwrite one byte of a file in place (no rename: simulates bit rot). */
static void flip_byte(const char *path, long off)
{
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	unsigned char ch;
	CHECK(pread(fd, &ch, 1, off) == 1);
	ch ^= 0x20;
	CHECK(pwrite(fd, &ch, 1, off) == 1);
	close(fd);
}

static uint64_t stat_temps(avo_cache *c)
{
	avo_cache_stats st;
	CHECK_RC(avo_cache_stat(c, &st), 0);
	return st.temp_files;
}

static void test_round_trip(const char *root)
{
	char *dir = avo_path_join(root, "rt");
	avo_cache *c = open_dir(dir, 0);
	CHECK(!strcmp(avo_cache_dir(c), dir));
	char key[AVO_CACHE_HEX], obj[AVO_CACHE_HEX];
	key_n(key, "eval", 1);
	avo_buf b = AVO_BUF_INIT;
	CHECK_RC(avo_cache_get(c, "eval", key, &b), AVO_ENOTFOUND);
	CHECK_RC(avo_cache_has(c, "eval", key), 0);
	CHECK_RC(avo_cache_put(c, "eval", key, "{\"ms\":1.5}", 10), 0);
	CHECK_RC(avo_cache_get(c, "eval", key, &b), 0);
	CHECK(b.size == 10 && !memcmp(b.ptr, "{\"ms\":1.5}", 10));
	CHECK_RC(avo_cache_has(c, "eval", key), 1);
	/* Overwrite. */
	CHECK_RC(avo_cache_put(c, "eval", key, "second", 6), 0);
	CHECK_RC(avo_cache_get_local(c, "eval", key, &b), 0);
	CHECK(b.size == 6 && !strcmp(b.ptr, "second"));
	/* Empty payload and binary payload. */
	CHECK_RC(avo_cache_put(c, "bin", key, "", 0), 0);
	CHECK_RC(avo_cache_get(c, "bin", key, &b), 0);
	CHECK(b.size == 0);
	CHECK_RC(avo_cache_put_object(c, obj, "a\0b\n", 4), 0);
	CHECK_RC(avo_cache_get(c, "obj", obj, &b), 0);
	CHECK(b.size == 4 && !memcmp(b.ptr, "a\0b\n", 4));
	/* On-disk layout and format. */
	char *p = avo_cache_entry_path(c, "obj", obj);
	char *want = avo_sprintf("%s/obj/%.2s/%s", dir, obj, obj + 2);
	CHECK(p && !strcmp(p, want));
	avo_buf raw = AVO_BUF_INIT;
	CHECK_RC(avo_file_read(&raw, p), 0);
	char *hdr = avo_sprintf("avo2 obj %s %s 4\n", obj, obj);
	CHECK(raw.size == strlen(hdr) + 4 && !memcmp(raw.ptr, hdr, strlen(hdr)));
	free(hdr);
	free(want);
	free(p);
	avo_buf_dispose(&raw);
	/* Bad names and an obj key that is not the content hash. */
	CHECK_RC(avo_cache_put(c, "obj", key, "x", 1), AVO_EINVALID);
	CHECK_RC(avo_cache_put(c, "Eval", key, "x", 1), AVO_EINVALID);
	CHECK_RC(avo_cache_put(c, "../x", key, "x", 1), AVO_EINVALID);
	CHECK_RC(avo_cache_put(c, "eval", "ABCDEF0123456789abcdef0123456789", "x", 1), AVO_EINVALID);
	CHECK_RC(avo_cache_put(c, "eval", "abc", "x", 1), AVO_EINVALID);
	CHECK_RC(avo_cache_get(c, "eval", "../../../../etc/passwd0000000000", &b), AVO_EINVALID);
	avo_cache_stats st;
	CHECK_RC(avo_cache_stat(c, &st), 0);
	CHECK(st.entries == 3 && st.per_ns_entries[0] == 1 && st.per_ns_entries[1] == 1 &&
	      st.per_ns_entries[3] == 1 && st.corrupt == 0 && st.temp_files == 0);
	CHECK(st.hits >= 4 && st.misses == 1);
	avo_buf_dispose(&b);
	avo_cache_free(c);
	free(dir);
}

/* A truncated entry and a flipped-byte entry are detected, not served, removed. */
static void test_corruption(const char *root)
{
	char *dir = avo_path_join(root, "corrupt");
	avo_cache *c = open_dir(dir, 0);
	char k[6][AVO_CACHE_HEX];
	char payload[4096];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)('a' + i % 26);
	for (int i = 0; i < 6; i++) {
		key_n(k[i], "eval", 100 + i);
		CHECK_RC(avo_cache_put(c, "eval", k[i], payload, sizeof(payload)), 0);
	}
	char *p[6];
	for (int i = 0; i < 6; i++)
		p[i] = avo_cache_entry_path(c, "eval", k[i]);
	CHECK(truncate(p[0], 2000) == 0);  /* truncated payload */
	flip_byte(p[1], 3000);             /* flipped payload byte */
	flip_byte(p[2], 10);               /* flipped header (hash) byte */
	CHECK(truncate(p[3], 20) == 0);    /* truncated header */
	flip_byte(p[4], 0);                /* bad magic */
	avo_buf b = AVO_BUF_INIT;
	for (int i = 0; i < 2; i++) {
		CHECK_RC(avo_cache_get(c, "eval", k[i], &b), AVO_ENOTFOUND);
		CHECK(b.size == 0);
		CHECK(!avo_path_exists(p[i])); /* removed */
	}
	CHECK_RC(avo_cache_has(c, "eval", k[2]), 0);
	CHECK(!avo_path_exists(p[2]));
	avo_cache_stats st;
	CHECK_RC(avo_cache_stat(c, &st), 0);
	CHECK(st.corrupt == 3);
	/* verify finds the rest, leaves the good one. */
	uint64_t checked, removed;
	CHECK_RC(avo_cache_verify(c, &checked, &removed), 0);
	CHECK(checked == 3 && removed == 2);
	CHECK(!avo_path_exists(p[3]) && !avo_path_exists(p[4]) && avo_path_exists(p[5]));
	CHECK_RC(avo_cache_verify(c, &checked, &removed), 0);
	CHECK(checked == 1 && removed == 0);
	CHECK_RC(avo_cache_get(c, "eval", k[5], &b), 0);
	CHECK(b.size == sizeof(payload) && !memcmp(b.ptr, payload, sizeof(payload)));
	/* An obj whose content was swapped for another valid entry: key mismatch. */
	char o1[AVO_CACHE_HEX], o2[AVO_CACHE_HEX];
	CHECK_RC(avo_cache_put_object(c, o1, "one", 3), 0);
	CHECK_RC(avo_cache_put_object(c, o2, "two", 3), 0);
	char *q1 = avo_cache_entry_path(c, "obj", o1), *q2 = avo_cache_entry_path(c, "obj", o2);
	CHECK(rename(q2, q1) == 0);
	CHECK_RC(avo_cache_get(c, "obj", o1, &b), AVO_ENOTFOUND);
	free(q1);
	free(q2);
	for (int i = 0; i < 6; i++)
		free(p[i]);
	avo_buf_dispose(&b);
	avo_cache_free(c);
	free(dir);
}

/* Payload for (writer, iteration): self-describing, so a reader can tell a whole payload
 * from a torn one: "<seed>:" then bytes derived from the seed, size from the seed. */
static size_t make_payload(char *buf, unsigned seed)
{
	size_t len = 64 + (seed * 2654435761u) % (192 * 1024);
	int h = snprintf(buf, 32, "%u:", seed);
	for (size_t i = (size_t)h; i < len; i++)
		buf[i] = (char)((seed + i * 31) & 0xff);
	return len;
}

static int payload_ok(const char *buf, size_t len)
{
	unsigned seed;
	int h;
	if (len < 16 || sscanf(buf, "%u:%n", &seed, &h) != 1)
		return 0;
	static char want[256 * 1024];
	size_t wl = make_payload(want, seed);
	return wl == len && !memcmp(want + h, buf + h, len - (size_t)h);
}

static void test_many_processes(const char *root)
{
	enum { PROCS = 8, ITERS = 150, KEYS = 4 };
	char *dir = avo_path_join(root, "many");
	pid_t pids[PROCS];
	for (int w = 0; w < PROCS; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			avo_cache *c = open_dir(dir, 0);
			static char buf[256 * 1024];
			avo_buf b = AVO_BUF_INIT;
			int bad = 0;
			for (int i = 0; i < ITERS; i++) {
				char key[AVO_CACHE_HEX];
				key_n(key, "eval", (w + i) % KEYS);
				size_t len = make_payload(buf, (unsigned)(w * 100000 + i));
				if (avo_cache_put(c, "eval", key, buf, len) < 0) {
					fprintf(stderr, "writer %d: put: %s\n", w, avo_error_last());
					bad++;
				}
				key_n(key, "eval", (w + i + 1) % KEYS);
				int rc = avo_cache_get(c, "eval", key, &b);
				if (rc == 0 && !payload_ok(b.ptr, b.size)) {
					fprintf(stderr, "writer %d: torn or foreign payload served\n", w);
					bad++;
				} else if (rc < 0 && rc != AVO_ENOTFOUND) {
					fprintf(stderr, "writer %d: get: %s\n", w, avo_error_last());
					bad++;
				}
			}
			avo_cache_stats st;
			avo_cache_stat(c, &st);
			if (st.corrupt) {
				fprintf(stderr, "writer %d: %llu corrupt reads\n", w, (unsigned long long)st.corrupt);
				bad++;
			}
			avo_buf_dispose(&b);
			avo_cache_free(c);
			_exit(bad ? 1 : 0);
		}
		CHECK(pids[w] > 0);
	}
	/* Meanwhile: one process verifies in a loop (must never find a corrupt entry), one
	 * runs gc with no size pressure (must never delete a live writer's temporary: the
	 * writer's rename would fail and it would report it). */
	pid_t maint[2];
	for (int m = 0; m < 2; m++) {
		maint[m] = fork();
		if (maint[m] == 0) {
			avo_cache *c = open_dir(dir, 0);
			int bad = 0;
			for (int i = 0; i < 40; i++) {
				uint64_t checked, removed;
				if (m == 0 && (avo_cache_verify(c, &checked, &removed) < 0 || removed))
					bad++;
				if (m == 1 && avo_cache_gc(c, UINT64_MAX, &checked, &removed) < 0)
					bad++;
				usleep(2000);
			}
			avo_cache_free(c);
			_exit(bad ? 1 : 0);
		}
		CHECK(maint[m] > 0);
	}
	for (int w = 0; w < PROCS; w++) {
		int status = 0;
		waitpid(pids[w], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (int m = 0; m < 2; m++) {
		int status = 0;
		waitpid(maint[m], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	avo_cache *c = open_dir(dir, 0);
	uint64_t checked, removed;
	CHECK_RC(avo_cache_verify(c, &checked, &removed), 0);
	CHECK(checked == KEYS && removed == 0);
	CHECK(stat_temps(c) == 0);
	avo_cache_free(c);
	free(dir);
}

static int has_temp(const char *dir)
{
	/* The writer's keys all live under eval/; look through the fan-out dirs. */
	char *ns = avo_path_join(dir, "eval");
	DIR *d = opendir(ns);
	int found = 0;
	struct dirent *e;
	while (d && !found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *sub = avo_path_join(ns, e->d_name);
		DIR *d2 = opendir(sub);
		struct dirent *f;
		while (d2 && (f = readdir(d2)))
			if (strstr(f->d_name, ".tmp."))
				found = 1;
		if (d2)
			closedir(d2);
		free(sub);
	}
	if (d)
		closedir(d);
	free(ns);
	return found;
}

/* SIGKILL a writer of large entries mid-write: no partial entry is ever visible. */
static void test_kill9(const char *root)
{
	char *dir = avo_path_join(root, "kill9");
	enum { SIZE = 8 << 20, KEYS = 3, ROUNDS = 4 };
	pid_t last = 0;
	int mid_write_kills = 0;
	for (int round = 0; round < ROUNDS; round++) {
		pid_t pid = fork();
		if (pid == 0) {
			avo_cache *c = open_dir(dir, 1);
			char *buf = malloc(SIZE);
			for (unsigned i = 0;; i++) {
				memset(buf, (int)('a' + i % 26), SIZE);
				char key[AVO_CACHE_HEX];
				key_n(key, "eval", (int)(i % KEYS));
				avo_cache_put(c, "eval", key, buf, SIZE - i % 1000);
			}
		}
		CHECK(pid > 0);
		/* Kill it while a temporary is being written (a brief poll: synchronisation,
		 * not an assertion on time). */
		for (int i = 0; i < 20000 && !has_temp(dir); i++)
			usleep(500);
		if (has_temp(dir))
			mid_write_kills++;
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		last = pid;
	}
	CHECK(mid_write_kills > 0);
	avo_cache *c = open_dir(dir, 0);
	/* Plant a stray partial temporary of a dead writer beside a key, for certain. */
	char key[AVO_CACHE_HEX];
	key_n(key, "eval", 0);
	char *ep = avo_cache_entry_path(c, "eval", key);
	char *tmp = avo_sprintf("%s.tmp.%ld.1", ep, (long)last);
	CHECK_RC(avo_file_write_atomic(tmp, "avo1 0000", 9, 0644), 0);
	CHECK(stat_temps(c) >= 1);
	/* Reads: each key is a miss or a whole, valid entry. */
	avo_buf b = AVO_BUF_INIT;
	for (int i = 0; i < KEYS; i++) {
		key_n(key, "eval", i);
		int rc = avo_cache_get(c, "eval", key, &b);
		CHECK(rc == 0 || rc == AVO_ENOTFOUND);
		if (rc == 0) {
			CHECK(b.size > SIZE - 1000 && b.size <= SIZE);
			int uniform = 1;
			for (size_t j = 1; j < b.size; j++)
				uniform &= b.ptr[j] == b.ptr[0];
			CHECK(uniform);
		}
	}
	avo_cache_stats st;
	CHECK_RC(avo_cache_stat(c, &st), 0);
	CHECK(st.corrupt == 0);
	uint64_t checked, removed;
	CHECK_RC(avo_cache_verify(c, &checked, &removed), 0);
	CHECK(removed == 0);
	CHECK(stat_temps(c) == 0); /* stray temporaries cleaned */
	CHECK(!avo_path_exists(tmp));
	/* gc cleans them too. */
	CHECK_RC(avo_file_write_atomic(tmp, "partial", 7, 0644), 0);
	CHECK_RC(avo_cache_gc(c, UINT64_MAX, NULL, NULL), 0);
	CHECK(!avo_path_exists(tmp));
	/* A live writer's temporary (this process) is left alone. */
	char *mine = avo_sprintf("%s.tmp.%ld.1", ep, (long)getpid());
	CHECK_RC(avo_file_write_atomic(mine, "partial", 7, 0644), 0);
	CHECK_RC(avo_cache_verify(c, &checked, &removed), 0);
	CHECK(avo_path_exists(mine));
	unlink(mine);
	free(mine);
	free(tmp);
	free(ep);
	avo_buf_dispose(&b);
	avo_cache_free(c);
	free(dir);
}

static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};
	CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

/* gc evicts least recently used first; a hit makes an entry recent. */
static void test_gc_lru(const char *root)
{
	char *dir = avo_path_join(root, "gc");
	avo_cache *c = open_dir(dir, 0);
	enum { N = 6 };
	char k[N][AVO_CACHE_HEX];
	char *p[N];
	char payload[1000];
	memset(payload, 'z', sizeof(payload));
	time_t now = time(NULL);
	uint64_t entry_size = 0;
	for (int i = 0; i < N; i++) {
		key_n(k[i], "eval", 200 + i);
		CHECK_RC(avo_cache_put(c, "eval", k[i], payload, sizeof(payload)), 0);
		p[i] = avo_cache_entry_path(c, "eval", k[i]);
		set_mtime(p[i], now - 10000 + i * 1000); /* 0 oldest ... 5 newest */
		struct stat st;
		stat(p[i], &st);
		entry_size = (uint64_t)st.st_size;
	}
	/* A hit on the oldest makes it the newest. */
	avo_buf b = AVO_BUF_INIT;
	CHECK_RC(avo_cache_get(c, "eval", k[0], &b), 0);
	struct stat st;
	CHECK(stat(p[0], &st) == 0 && st.st_mtime >= now);
	/* verify does not change the order. */
	uint64_t checked, removed, evicted, freed;
	CHECK_RC(avo_cache_verify(c, &checked, &removed), 0);
	CHECK(stat(p[1], &st) == 0 && st.st_mtime == now - 9000);
	/* Keep 3 entries: 1 and 2 go, then 3 (the least recently used ones). */
	CHECK_RC(avo_cache_gc(c, 4 * entry_size - 1, &evicted, &freed), 0);
	CHECK(evicted == 3 && freed == 3 * entry_size);
	CHECK(avo_path_exists(p[0]) && !avo_path_exists(p[1]) && !avo_path_exists(p[2]) &&
	      !avo_path_exists(p[3]) && avo_path_exists(p[4]) && avo_path_exists(p[5]));
	/* Already small enough: nothing happens. */
	CHECK_RC(avo_cache_gc(c, 3 * entry_size, &evicted, &freed), 0);
	CHECK(evicted == 0 && freed == 0);
	CHECK_RC(avo_cache_gc(c, 0, &evicted, &freed), 0);
	CHECK(evicted == 3);
	avo_cache_stats s;
	CHECK_RC(avo_cache_stat(c, &s), 0);
	CHECK(s.entries == 0 && s.bytes == 0);
	for (int i = 0; i < N; i++)
		free(p[i]);
	avo_buf_dispose(&b);
	avo_cache_free(c);
	free(dir);
}

/* The real CLI: put/get/put-object, corruption found by `verify`, gc sizes, help, errors. */
static void test_cli(const char *root)
{
	char *dir = avo_path_join(root, "cli");
	char *in = avo_path_join(root, "input.txt");
	char *out = avo_path_join(root, "output.txt");
	const char *text = "__global__ void k() {}\n";
	CHECK_RC(avo_file_write_atomic(in, text, strlen(text), 0644), 0);
	const char *env[] = {"AVO_CACHE_REMOTE=", NULL};

	avo_proc_result r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "put-object", in, NULL}, env);
	CHECK(t_exit(&r) == 0);
	char hash[AVO_CACHE_HEX];
	avo_cache_hash_hex(hash, text, strlen(text));
	CHECK(r.out.size == 33 && !strncmp(r.out.ptr, hash, 32));
	avo_proc_result_dispose(&r);

	r = t_run((const char *[]){avo_bin, "cache", "get", "obj", hash, "-o", out, "--dir", dir, NULL}, env);
	CHECK(t_exit(&r) == 0);
	avo_proc_result_dispose(&r);
	avo_buf b = AVO_BUF_INIT;
	CHECK_RC(avo_file_read(&b, out), 0);
	CHECK(!strcmp(avo_buf_cstr(&b), text));

	/* The directory also comes from AVO_CACHE_DIR. */
	char *envdir = avo_sprintf("AVO_CACHE_DIR=%s", dir);
	const char *env2[] = {"AVO_CACHE_REMOTE=", envdir, NULL};
	r = t_run((const char *[]){avo_bin, "cache", "get", "obj", hash, NULL}, env2);
	CHECK(t_exit(&r) == 0 && !strcmp(avo_buf_cstr(&r.out), text));
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "get", "obj", hash, "-o", "/dev/null", NULL}, env2);
	CHECK(t_exit(&r) == 0);
	avo_proc_result_dispose(&r);

	/* put NS KEY FILE, get a miss. */
	char key[AVO_CACHE_HEX];
	key_n(key, "tune", 7);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "put", "tune", key, in, NULL}, env);
	CHECK(t_exit(&r) == 0);
	avo_proc_result_dispose(&r);
	key_n(key, "tune", 8);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "get", "tune", key, NULL}, env);
	CHECK(t_exit(&r) == 1 && strstr(avo_buf_cstr(&r.err), "not in cache"));
	avo_proc_result_dispose(&r);

	/* stats --json. */
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "stats", "--json", NULL}, env);
	CHECK(t_exit(&r) == 0 && strstr(avo_buf_cstr(&r.out), "\"entries\":\t2"));
	avo_proc_result_dispose(&r);

	/* Corrupt both entries: one flipped byte, one truncated. verify finds and removes them. */
	avo_cache *c = open_dir(dir, 1);
	char *p1 = avo_cache_entry_path(c, "obj", hash);
	key_n(key, "tune", 7);
	char *p2 = avo_cache_entry_path(c, "tune", key);
	avo_cache_free(c);
	flip_byte(p1, 50);
	CHECK(truncate(p2, 45) == 0);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "get", "obj", hash, NULL}, env);
	CHECK(t_exit(&r) == 1 && r.out.size == 0); /* not served */
	CHECK(strstr(avo_buf_cstr(&r.err), "corrupt") && strstr(avo_buf_cstr(&r.err), p1));
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "verify", "--json", NULL}, env);
	CHECK(t_exit(&r) == 1);
	CHECK(strstr(avo_buf_cstr(&r.out), "\"removed\":\t1"));
	CHECK(strstr(avo_buf_cstr(&r.err), p2));
	avo_proc_result_dispose(&r);
	CHECK(!avo_path_exists(p1) && !avo_path_exists(p2));
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "verify", NULL}, env);
	CHECK(t_exit(&r) == 0 && strstr(avo_buf_cstr(&r.out), "removed 0 corrupt"));
	avo_proc_result_dispose(&r);

	/* gc with suffixes. */
	for (int i = 0; i < 4; i++) {
		char *f = avo_sprintf("%s.%d", in, i);
		char body[3000];
		memset(body, 'a' + i, sizeof(body));
		avo_file_write_atomic(f, body, sizeof(body), 0644);
		r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "put-object", f, NULL}, env);
		CHECK(t_exit(&r) == 0);
		avo_proc_result_dispose(&r);
		free(f);
	}
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "gc", "--max-size", "2G", NULL}, env);
	CHECK(t_exit(&r) == 0 && strstr(avo_buf_cstr(&r.out), "evicted 0 entries"));
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "gc", "--max-size", "7K", "--json", NULL}, env);
	CHECK(t_exit(&r) == 0 && strstr(avo_buf_cstr(&r.out), "\"evicted\":\t2"));
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "gc", "--max-size", "12X", NULL}, env);
	CHECK(t_exit(&r) == 2);
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "gc", NULL}, env);
	CHECK(t_exit(&r) == 2);
	avo_proc_result_dispose(&r);

	/* Help on every subcommand; usage and input errors. */
	const char *subs[] = {"stats", "verify", "gc", "put", "get", "put-object"};
	for (size_t i = 0; i < 6; i++) {
		r = t_run((const char *[]){avo_bin, "cache", subs[i], "--help", NULL}, env);
		CHECK(t_exit(&r) == 0 && strstr(avo_buf_cstr(&r.out), "usage: avo cache"));
		avo_proc_result_dispose(&r);
	}
	r = t_run((const char *[]){avo_bin, "cache", "--help", NULL}, env);
	CHECK(t_exit(&r) == 0);
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "frobnicate", NULL}, env);
	CHECK(t_exit(&r) == 2);
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "put-object", "/nonexistent/file", NULL}, env);
	CHECK(t_exit(&r) == 3);
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "get", "obj", "xyz", NULL}, env);
	CHECK(t_exit(&r) == 3);
	avo_proc_result_dispose(&r);

	free(p1);
	free(p2);
	free(envdir);
	avo_buf_dispose(&b);
	free(in);
	free(out);
	free(dir);
}

/* The key is bound to the entry: an entry copied under another key is reported and never
 * served. A symlinked shard directory is neither read, nor written through, nor entered by
 * verify/gc (`avo cache verify`/`gc` through the real CLI), so nothing outside is deleted. A
 * killed writer's temporary goes on the next write to its shard. */
static void test_binding_and_links(const char *root)
{
	char *dir = avo_path_join(root, "bind");
	avo_cache *c = open_dir(dir, 0);
	char k1[AVO_CACHE_HEX], k2[AVO_CACHE_HEX];
	key_n(k1, "eval", 500);
	key_n(k2, "eval", 501);
	CHECK_RC(avo_cache_put(c, "eval", k1, "{\"correct\":false}", 17), 0);
	char *p1 = avo_cache_entry_path(c, "eval", k1), *p2 = avo_cache_entry_path(c, "eval", k2);
	avo_buf b = AVO_BUF_INIT;
	CHECK_RC(avo_file_read(&b, p1), 0);
	char *d2 = avo_path_dirname(p2);
	avo_mkdir_p(d2, 0755);
	CHECK_RC(avo_file_write_atomic(p2, b.ptr, b.size, 0644), 0);
	CHECK_RC(avo_cache_get(c, "eval", k2, &b), AVO_ENOTFOUND);
	CHECK(!avo_path_exists(p2)); /* reported and removed */
	CHECK_RC(avo_cache_get(c, "eval", k1, &b), 0);

	/* A shard dir that is a symlink to a directory outside the cache, holding a file named
	 * like an entry: verify and gc must leave it alone. */
	char *outside = avo_path_join(root, "outside"), *victim = NULL;
	char k3[AVO_CACHE_HEX];
	key_n(k3, "eval", 502);
	victim = avo_sprintf("%s/%s", outside, k3 + 2);
	avo_mkdir_p(outside, 0755);
	CHECK_RC(avo_file_write_atomic(victim, "precious", 8, 0644), 0);
	char *shard = avo_sprintf("%s/eval/%.2s", dir, k3);
	avo_rm_rf(shard);
	avo_mkdir_p(dir, 0755);
	char *nsdir = avo_sprintf("%s/eval", dir);
	avo_mkdir_p(nsdir, 0755);
	CHECK(symlink(outside, shard) == 0);
	CHECK_RC(avo_cache_get(c, "eval", k3, &b), AVO_ENOTFOUND);
	CHECK(avo_cache_put(c, "eval", k3, "x", 1) < 0); /* refused, not written outside */
	const char *env[] = {"AVO_CACHE_REMOTE=", NULL};
	avo_proc_result r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "verify", NULL}, env);
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", dir, "gc", "--max-size", "0", NULL}, env);
	CHECK(t_exit(&r) == 0);
	avo_proc_result_dispose(&r);
	CHECK_RC(avo_file_read(&b, victim), 0);
	CHECK(!strcmp(avo_buf_cstr(&b), "precious"));
	CHECK(!avo_path_exists(p1)); /* gc did evict the real entries */
	/* The same with the namespace dir itself a symlink. */
	char *bdir = avo_path_join(root, "bind2"), *bns = avo_sprintf("%s/bind2/tune", root);
	char *vdir = avo_sprintf("%s/%.2s", outside, k3);
	avo_mkdir_p(bdir, 0755);
	avo_mkdir_p(vdir, 0755);
	char *victim2 = avo_sprintf("%s/%s", vdir, k3 + 2);
	CHECK_RC(avo_file_write_atomic(victim2, "precious", 8, 0644), 0);
	CHECK(symlink(outside, bns) == 0);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", bdir, "verify", NULL}, env);
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", bdir, "gc", "--max-size", "0", NULL}, env);
	avo_proc_result_dispose(&r);
	CHECK(avo_path_exists(victim2));

	/* A temporary of a writer that is gone (pid 2^22+1 does not run) is removed by the next
	 * write into the same shard; a live writer's is kept. */
	char *tdead = avo_sprintf("%s.tmp.4194305.1", p1), *tlive = avo_sprintf("%s.tmp.%ld.7", p1, (long)getpid());
	CHECK_RC(avo_file_write_atomic(tdead, "avo2 half", 9, 0644), 0);
	CHECK_RC(avo_file_write_atomic(tlive, "avo2 half", 9, 0644), 0);
	CHECK_RC(avo_cache_put(c, "eval", k1, "again", 5), 0);
	CHECK(!avo_path_exists(tdead) && avo_path_exists(tlive));
	unlink(tlive);

	avo_cache_free(c);
	avo_buf_dispose(&b);
	free(p1), free(p2), free(d2), free(outside), free(victim), free(shard), free(nsdir), free(dir);
	free(bdir), free(bns), free(vdir), free(victim2), free(tdead), free(tlive);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_cache_local AVO_BINARY\n");
		return 2;
	}
	avo_bin = argv[1];
	char *root = t_tmpdir("avo-cache-local-");
	test_round_trip(root);
	test_corruption(root);
	test_many_processes(root);
	test_kill9(root);
	test_gc_lru(root);
	test_cli(root);
	test_binding_and_links(root);
	if (!t_failures)
		avo_rm_rf(root);
	else
		fprintf(stderr, "kept %s for inspection\n", root);
	free(root);
	return t_done("test_cache_local");
}
