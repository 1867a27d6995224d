/* avo_cache: local content-addressed directory plus an optional HTTP remote.
 * Layout, format and the concurrency argument are in avo_cache.h. */
#include "avo_cache.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MAGIC "avo1 "
#define MAGIC_LEN 5
#define HDR_MAX 64          /* "avo1 " + 32 hex + " " + up to 20 digits + "\n" */
#define TOUCH_SLACK_S 10    /* don't rewrite mtime more often than this (LRU precision) */
#define TEMP_MAX_AGE_S 3600 /* a temporary this old is stray even if its pid lives */
#define REMOTE_MAX_BYTES ((size_t)1 << 30)

static const char *const known_ns[4] = {"obj", "eval", "tune", "bin"};

struct avo_cache {
	char *dir;
	char *remote;       /* base URL without trailing '/', NULL: none */
	char *remote_shown; /* the URL with any user:password@ masked, for messages */
	char *auth_header;  /* "Authorization: Bearer ...", NULL: none; never printed */
	int readonly;
	long connect_timeout_ms, timeout_ms;
	int quiet;
	pthread_mutex_t lock; /* guards curl */
	CURL *curl;
	struct curl_slist *headers;
	_Atomic uint64_t hits, misses, corrupt, remote_hits, remote_puts, remote_errors,
		temp_removed;
};

/* ---- hashing and keys ------------------------------------------------------------- */

static void hex128(char out[AVO_CACHE_HEX], XXH128_hash_t h)
{
	XXH128_canonical_t c;
	static const char digits[] = "0123456789abcdef";
	XXH128_canonicalFromHash(&c, h);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = digits[c.digest[i] >> 4];
		out[2 * i + 1] = digits[c.digest[i] & 15];
	}
	out[32] = '\0';
}

void avo_cache_hash_hex(char out[AVO_CACHE_HEX], const void *data, size_t len)
{
	hex128(out, XXH3_128bits(data, len));
}

struct avo_cache_key {
	XXH3_state_t *st;
};

static void feed_len(XXH3_state_t *st, uint64_t n)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(n >> (8 * i));
	XXH3_128bits_update(st, b, sizeof(b));
}

static void feed_field(XXH3_state_t *st, const char *name, const void *data, size_t len)
{
	size_t nl = strlen(name);
	feed_len(st, nl);
	XXH3_128bits_update(st, name, nl);
	feed_len(st, len);
	if (len)
		XXH3_128bits_update(st, data, len);
}

int avo_cache_key_new(avo_cache_key **out, const char *kind)
{
	*out = NULL;
	avo_cache_key *k = calloc(1, sizeof(*k));
	if (!k || !(k->st = XXH3_createState())) {
		free(k);
		return avo_error_set(AVO_ERROR, "out of memory");
	}
	XXH3_128bits_reset(k->st);
	/* A version tag first: a change of encoding must change every key. */
	feed_field(k->st, "avo-key", "1", 1);
	feed_field(k->st, "kind", kind ? kind : "", kind ? strlen(kind) : 0);
	*out = k;
	return 0;
}

void avo_cache_key_add(avo_cache_key *k, const char *field, const void *data, size_t len)
{
	if (k)
		feed_field(k->st, field ? field : "", data, data ? len : 0);
}

void avo_cache_key_adds(avo_cache_key *k, const char *field, const char *s)
{
	avo_cache_key_add(k, field, s ? s : "", s ? strlen(s) : 0);
}

void avo_cache_key_final(avo_cache_key *k, char out[AVO_CACHE_HEX])
{
	if (!k) {
		out[0] = '\0';
		return;
	}
	hex128(out, XXH3_128bits_digest(k->st));
	XXH3_freeState(k->st);
	free(k);
}

/* ---- names ------------------------------------------------------------------------ */

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int valid_ns(const char *ns)
{
	size_t n = ns ? strlen(ns) : 0;
	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '_'))
			return 0;
	return 1;
}

static int check_names(const char *ns, const char *key)
{
	if (!valid_ns(ns))
		return avo_error_set(AVO_EINVALID, "bad cache namespace '%s' (want [a-z0-9_], 1-32 chars)",
				     ns ? ns : "(null)");
	if (!key || strlen(key) != 32 || !is_hex(key, 32))
		return avo_error_set(AVO_EINVALID, "bad cache key '%s' (want 32 lowercase hex digits)",
				     key ? key : "(null)");
	return 0;
}

static int ns_index(const char *ns)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(ns, known_ns[i]))
			return i;
	return -1;
}

char *avo_cache_entry_path(const avo_cache *c, const char *ns, const char *key)
{
	if (check_names(ns, key) < 0)
		return NULL;
	char *p = avo_sprintf("%s/%s/%.2s/%s", c->dir, ns, key, key + 2);
	if (!p)
		avo_error_set(AVO_ERROR, "out of memory");
	return p;
}

/* ---- options ---------------------------------------------------------------------- */

static char *default_dir(void)
{
	const char *s = getenv("AVO_CACHE_DIR");
	if (s && *s)
		return avo_strdup(s);
	s = getenv("XDG_CACHE_HOME");
	if (s && s[0] == '/') /* the XDG spec says relative values are to be ignored */
		return avo_sprintf("%s/avo", s);
	s = getenv("HOME");
	if (!s || !*s) {
		struct passwd *pw = getpwuid(getuid());
		s = pw ? pw->pw_dir : NULL;
	}
	if (!s || !*s)
		return NULL;
	return avo_sprintf("%s/.cache/avo", s);
}

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return dflt;
	char *end;
	long v = strtol(s, &end, 10);
	return (*end || v <= 0) ? dflt : v;
}

static int env_flag(const char *name)
{
	const char *s = getenv(name);
	return s && *s && strcmp(s, "0") && strcasecmp(s, "false") && strcasecmp(s, "no") &&
	       strcasecmp(s, "off");
}

/* Mask "user:password@" in a URL as "***@": URLs go into warnings. */
static char *mask_url(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return avo_strdup(url);
	p += 3;
	size_t hostlen = strcspn(p, "/?#");
	const char *at = memchr(p, '@', hostlen);
	if (!at)
		return avo_strdup(url);
	return avo_sprintf("%.*s***%s", (int)(p - url), url, at);
}

/* ---- process-wide remote state ---------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static atomic_int remote_down;   /* after the first failure, skip the remote */
static atomic_int remote_warned; /* one warning per process */

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

void avo_cache__remote_reset(void)
{
	atomic_store(&remote_down, 0);
	atomic_store(&remote_warned, 0);
}

static void remote_failed(avo_cache *c, const char *what)
{
	atomic_fetch_add(&c->remote_errors, 1);
	atomic_store(&remote_down, 1);
	if (!c->quiet && !atomic_exchange(&remote_warned, 1))
		fprintf(stderr,
			"avo: warning: remote cache %s: %s; using the local cache only for the rest of this run\n",
			c->remote_shown ? c->remote_shown : "(none)", what);
}

static int remote_usable(const avo_cache *c) { return c->remote && !atomic_load(&remote_down); }

/* ---- open / free ------------------------------------------------------------------ */

int avo_cache_open(avo_cache **out, const avo_cache_options *opts)
{
	avo_cache_options dflt = AVO_CACHE_OPTIONS_INIT;
	if (!opts)
		opts = &dflt;
	*out = NULL;
	avo_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return avo_error_set(AVO_ERROR, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	c->quiet = opts->quiet;
	c->dir = opts->dir && *opts->dir ? avo_strdup(opts->dir) : default_dir();
	if (!c->dir) {
		avo_cache_free(c);
		return avo_error_set(AVO_EINVALID, "no cache directory: set AVO_CACHE_DIR or HOME");
	}
	size_t dl = strlen(c->dir);
	while (dl > 1 && c->dir[dl - 1] == '/')
		c->dir[--dl] = '\0';

	const char *url = opts->remote_url ? opts->remote_url : avo_secret_get("AVO_CACHE_REMOTE");
	if (url && *url) {
		if (!(c->remote = avo_strdup(url))) {
			avo_cache_free(c);
			return avo_error_set(AVO_ERROR, "out of memory");
		}
		size_t ul = strlen(c->remote);
		while (ul > 0 && c->remote[ul - 1] == '/')
			c->remote[--ul] = '\0';
		c->remote_shown = mask_url(c->remote);
		if (!c->remote_shown) {
			avo_cache_free(c);
			return avo_error_set(AVO_ERROR, "out of memory");
		}
		if (strncmp(c->remote, "http://", 7) && strncmp(c->remote, "https://", 8))
			remote_failed(c, "not an http:// or https:// URL");
	}
	const char *tok = avo_secret_get(opts->token_env ? opts->token_env : "AVO_CACHE_TOKEN");
	if (tok && *tok)
		c->auth_header = avo_sprintf("Authorization: Bearer %s", tok);
	c->readonly = opts->remote_readonly >= 0 ? !!opts->remote_readonly
						 : env_flag("AVO_CACHE_REMOTE_READONLY");
	c->connect_timeout_ms = opts->connect_timeout_ms > 0
					? opts->connect_timeout_ms
					: env_long("AVO_CACHE_CONNECT_TIMEOUT_MS", 2000);
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : env_long("AVO_CACHE_TIMEOUT_MS", 10000);
	*out = c;
	return 0;
}

void avo_cache_free(avo_cache *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	if (c->auth_header) {
		memset(c->auth_header, 0, strlen(c->auth_header));
		free(c->auth_header);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->dir);
	free(c->remote);
	free(c->remote_shown);
	free(c);
}

const char *avo_cache_dir(const avo_cache *c) { return c->dir; }
const char *avo_cache_remote(const avo_cache *c) { return c->remote_shown; }

/* ---- entry format ----------------------------------------------------------------- */

/* Check an entry image; on success the payload is buf[*off, *off + *len). `why` gets a
 * short reason on failure. `hash_out` (may be NULL) gets the payload hash. */
static int parse_entry(const char *buf, size_t size, size_t *off, size_t *len, char *hash_out,
		       const char **why)
{
	const char *nl = memchr(buf, '\n', size < HDR_MAX ? size : HDR_MAX);
	if (size < MAGIC_LEN || memcmp(buf, MAGIC, MAGIC_LEN)) {
		*why = size == 0 ? "empty file" : "bad header";
		return AVO_ECORRUPT;
	}
	if (!nl) {
		*why = "truncated header";
		return AVO_ECORRUPT;
	}
	const char *h = buf + MAGIC_LEN;
	if (nl - h < 34 || !is_hex(h, 32) || h[32] != ' ') {
		*why = "bad header";
		return AVO_ECORRUPT;
	}
	uint64_t n = 0;
	const char *d = h + 33;
	if (d == nl) {
		*why = "bad header";
		return AVO_ECORRUPT;
	}
	for (; d < nl; d++) {
		if (*d < '0' || *d > '9' || n > (UINT64_MAX - 9) / 10) {
			*why = "bad header";
			return AVO_ECORRUPT;
		}
		n = n * 10 + (uint64_t)(*d - '0');
	}
	size_t hdr = (size_t)(nl - buf) + 1;
	if ((uint64_t)(size - hdr) != n) {
		*why = (uint64_t)(size - hdr) < n ? "truncated" : "length mismatch";
		return AVO_ECORRUPT;
	}
	char got[AVO_CACHE_HEX];
	avo_cache_hash_hex(got, buf + hdr, (size_t)n);
	if (memcmp(got, h, 32)) {
		*why = "content hash mismatch";
		return AVO_ECORRUPT;
	}
	*off = hdr;
	*len = (size_t)n;
	if (hash_out)
		memcpy(hash_out, got, AVO_CACHE_HEX);
	return 0;
}

static int make_header(char hdr[HDR_MAX], const void *data, size_t len, char hash_out[AVO_CACHE_HEX])
{
	avo_cache_hash_hex(hash_out, data, len);
	return snprintf(hdr, HDR_MAX, MAGIC "%s %zu\n", hash_out, len);
}

/* ---- local files ------------------------------------------------------------------ */

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

/* Like avo_file_write_atomic, but writes header and payload without joining them and
 * names the temporary "<path>.tmp.<pid>.<n>" so verify/gc can tell a dead writer's
 * leftovers from a live writer's file. */
static int write_entry_file(const char *path, const char *hdr, size_t hlen, const void *data, size_t len)
{
	static atomic_ulong counter;
	char *tmp = avo_sprintf("%s.tmp.%ld.%lu", path, (long)getpid(), atomic_fetch_add(&counter, 1) + 1);
	if (!tmp)
		return avo_error_set(AVO_ERROR, "out of memory");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		char *d = avo_path_dirname(path);
		int rc = d ? avo_mkdir_p(d, 0755) : avo_error_set(AVO_ERROR, "out of memory");
		free(d);
		if (rc < 0) {
			free(tmp);
			return rc;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return avo_error_set(AVO_EIO, "%s: cannot create temporary file: %s", path, strerror(e));
	}
	if (write_all(fd, hdr, hlen) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	return 0;
fail: {
	int e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return avo_error_set(AVO_EIO, "%s: write failed: %s", path, strerror(e));
}
}

/* Remove `path` only if it is still the inode we judged corrupt: a writer may have renamed
 * a fresh, valid entry over it since we read it. */
static void remove_if_same(const char *path, const struct stat *judged)
{
	struct stat now;
	if (lstat(path, &now) == 0 && now.st_dev == judged->st_dev && now.st_ino == judged->st_ino)
		unlink(path);
}

static void report_corrupt(avo_cache *c, const char *path, const char *why)
{
	atomic_fetch_add(&c->corrupt, 1);
	if (!c->quiet)
		fprintf(stderr, "avo: warning: cache entry %s is corrupt (%s); removed, treated as a miss\n",
			path, why);
}

/* Read and verify one local entry file. On success `out` holds the payload (if out is
 * not NULL). `expect_hash` (may be NULL): the payload hash must equal it ("obj").
 * A corrupt entry is reported, removed, and AVO_ECORRUPT returned. */
static int read_entry_file(avo_cache *c, const char *path, const char *expect_hash, int touch,
			   avo_buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return avo_error_set(AVO_ENOTFOUND, "%s: not in cache", path);
		return avo_error_set(AVO_EIO, "%s: %s", path, strerror(errno));
	}
	struct stat st;
	avo_buf local = AVO_BUF_INIT;
	avo_buf *b = out ? out : &local;
	int rc = 0;
	const char *why = NULL;
	if (fstat(fd, &st) < 0) {
		rc = avo_error_set(AVO_EIO, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		why = "not a regular file";
		goto corrupt;
	}
	avo_buf_clear(b);
	if ((rc = avo_buf_grow(b, (size_t)st.st_size)) < 0)
		goto done;
	size_t got = 0;
	/* Read to EOF (not just st_size): a file that grew would be caught by the length check. */
	for (;;) {
		if (got == b->asize - 1 && (rc = avo_buf_grow(b, 65536)) < 0)
			goto done;
		ssize_t n = read(fd, b->ptr + got, b->asize - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = avo_error_set(AVO_EIO, "%s: read: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		b->size = got;
	}
	b->size = got;
	size_t off, len;
	char hash[AVO_CACHE_HEX];
	if (parse_entry(b->ptr ? b->ptr : "", got, &off, &len, hash, &why) < 0)
		goto corrupt;
	if (expect_hash && strcmp(hash, expect_hash)) {
		why = "object content does not match its key";
		goto corrupt;
	}
	if (touch) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec - st.st_mtim.tv_sec >= TOUCH_SLACK_S)
			futimens(fd, NULL); /* best effort: a read-only store still serves */
	}
	memmove(b->ptr, b->ptr + off, len);
	b->size = len;
	b->ptr[len] = '\0';
	goto done;
corrupt:
	report_corrupt(c, path, why);
	remove_if_same(path, &st);
	avo_buf_clear(b);
	rc = avo_error_set(AVO_ECORRUPT, "%s: corrupt cache entry (%s)", path, why);
done:
	close(fd);
	avo_buf_dispose(&local);
	return rc;
}

/* ---- remote ----------------------------------------------------------------------- */

typedef struct {
	const char *data;
	size_t len, pos;
} upload_state;

static size_t on_read(char *dst, size_t size, size_t nmemb, void *payload)
{
	upload_state *u = payload;
	size_t n = size * nmemb, left = u->len - u->pos;
	if (n > left)
		n = left;
	memcpy(dst, u->data + u->pos, n);
	u->pos += n;
	return n;
}

static size_t on_discard(char *src, size_t size, size_t nmemb, void *payload)
{
	(void)src, (void)payload;
	return size * nmemb; /* error pages of PUT answers must not reach our stdout */
}

static size_t on_write(char *src, size_t size, size_t nmemb, void *payload)
{
	avo_buf *b = payload;
	size_t n = size * nmemb;
	if (b->size + n > REMOTE_MAX_BYTES || avo_buf_put(b, src, n) < 0)
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	return n;
}

/* One request; `method` is "GET", "HEAD" or "PUT". Returns 0 with *status set, or a
 * negative code (transport failure, message set). Caller holds c->lock. */
static int remote_request(avo_cache *c, const char *method, const char *ns, const char *key,
			  const char *up, size_t up_len, avo_buf *down, long *status)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return avo_error_set(AVO_ENET, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
	if (!c->curl) {
		if (!(c->curl = curl_easy_init()))
			return avo_error_set(AVO_ENET, "curl_easy_init failed");
		/* "Expect:" off: no 100-continue round trip before each PUT. */
		struct curl_slist *h = curl_slist_append(NULL, "Expect:");
		if (h && c->auth_header)
			h = curl_slist_append(h, c->auth_header) ? h : NULL;
		if (!h)
			return avo_error_set(AVO_ERROR, "out of memory");
		c->headers = h;
	}
	char *url = avo_sprintf("%s/%s/%.2s/%s", c->remote, ns, key, key + 2);
	if (!url)
		return avo_error_set(AVO_ERROR, "out of memory");
	CURL *h = c->curl;
	char errbuf[CURL_ERROR_SIZE] = "";
	upload_state u = {up, up_len, 0};
	long low_time = c->timeout_ms / 1000 < 5 ? (c->timeout_ms / 1000 > 0 ? c->timeout_ms / 1000 : 1) : 5;
	curl_easy_reset(h); /* keeps the connection cache: later requests reuse the socket */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L); /* bytes/s ... */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, low_time); /* ... over this many seconds */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "avo/" AVO_VERSION_STRING);
	if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &u);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up_len);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
	} else {
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, down);
	}
	CURLcode rc = curl_easy_perform(h);
	free(url);
	if (rc != CURLE_OK)
		return avo_error_set(rc == CURLE_OPERATION_TIMEDOUT ? AVO_ETIMEOUT : AVO_ENET, "%s %s",
				     method, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* Remote GET: 0 and the verified entry image in `entry`, AVO_ENOTFOUND, or another
 * negative code after remote_failed(). */
static int remote_get(avo_cache *c, const char *ns, const char *key, avo_buf *entry, size_t *off, size_t *len)
{
	if (!remote_usable(c))
		return AVO_ENOTFOUND;
	long status = 0;
	pthread_mutex_lock(&c->lock);
	int rc = remote_request(c, "GET", ns, key, NULL, 0, entry, &status);
	pthread_mutex_unlock(&c->lock);
	if (rc < 0) {
		remote_failed(c, avo_error_last());
		return AVO_ENOTFOUND;
	}
	if (status == 404)
		return avo_error_set(AVO_ENOTFOUND, "%s/%s: not in cache", ns, key);
	if (status != 200) {
		char msg[64];
		snprintf(msg, sizeof(msg), "GET answered HTTP %ld", status);
		remote_failed(c, msg);
		return AVO_ENOTFOUND;
	}
	const char *why = NULL;
	char hash[AVO_CACHE_HEX];
	if (parse_entry(entry->ptr ? entry->ptr : "", entry->size, off, len, hash, &why) < 0 ||
	    (!strcmp(ns, "obj") && strcmp(hash, key) && (why = "object content does not match its key"))) {
		atomic_fetch_add(&c->corrupt, 1);
		if (!c->quiet)
			fprintf(stderr, "avo: warning: remote cache entry %s/%s/%.2s/%s is corrupt (%s); ignored\n",
				c->remote_shown, ns, key, key + 2, why);
		return avo_error_set(AVO_ENOTFOUND, "%s/%s: remote entry corrupt", ns, key);
	}
	return 0;
}

static void remote_put(avo_cache *c, const char *ns, const char *key, const char *hdr, size_t hlen,
		       const void *data, size_t len)
{
	if (!remote_usable(c) || c->readonly)
		return;
	/* One contiguous body; entries are small next to the network cost. */
	avo_buf body = AVO_BUF_INIT;
	if (avo_buf_put(&body, hdr, hlen) < 0 || avo_buf_put(&body, data, len) < 0) {
		avo_buf_dispose(&body);
		return;
	}
	long status = 0;
	pthread_mutex_lock(&c->lock);
	int rc = remote_request(c, "PUT", ns, key, body.ptr, body.size, NULL, &status);
	pthread_mutex_unlock(&c->lock);
	avo_buf_dispose(&body);
	if (rc < 0) {
		remote_failed(c, avo_error_last());
	} else if (status != 200 && status != 201 && status != 204) {
		char msg[64];
		snprintf(msg, sizeof(msg), "PUT answered HTTP %ld", status);
		remote_failed(c, msg);
	} else {
		atomic_fetch_add(&c->remote_puts, 1);
	}
}

/* ---- the store -------------------------------------------------------------------- */

int avo_cache_put(avo_cache *c, const char *ns, const char *key, const void *data, size_t len)
{
	int rc;
	if ((rc = check_names(ns, key)) < 0)
		return rc;
	char hdr[HDR_MAX], hash[AVO_CACHE_HEX];
	int hlen = make_header(hdr, data, len, hash);
	if (!strcmp(ns, "obj") && strcmp(hash, key))
		return avo_error_set(AVO_EINVALID, "obj/%s: key is not the hash of the content (%s)", key, hash);
	char *path = avo_cache_entry_path(c, ns, key);
	if (!path)
		return AVO_ERROR;
	rc = write_entry_file(path, hdr, (size_t)hlen, data ? data : "", len);
	free(path);
	if (rc < 0)
		return rc;
	remote_put(c, ns, key, hdr, (size_t)hlen, data ? data : "", len);
	return 0;
}

int avo_cache_put_object(avo_cache *c, char out[AVO_CACHE_HEX], const void *data, size_t len)
{
	avo_cache_hash_hex(out, data, len);
	return avo_cache_put(c, "obj", out, data, len);
}

static int get_local(avo_cache *c, const char *ns, const char *key, avo_buf *out, int touch)
{
	char *path = avo_cache_entry_path(c, ns, key);
	if (!path)
		return AVO_ERROR;
	int rc = read_entry_file(c, path, !strcmp(ns, "obj") ? key : NULL, touch, out);
	free(path);
	if (rc == AVO_ECORRUPT)
		rc = AVO_ENOTFOUND; /* reported already; a corrupt entry is a miss */
	return rc;
}

int avo_cache_get_local(avo_cache *c, const char *ns, const char *key, avo_buf *out)
{
	int rc;
	if ((rc = check_names(ns, key)) < 0)
		return rc;
	rc = get_local(c, ns, key, out, 1);
	if (rc == 0)
		atomic_fetch_add(&c->hits, 1);
	else if (rc == AVO_ENOTFOUND)
		atomic_fetch_add(&c->misses, 1);
	return rc;
}

int avo_cache_get(avo_cache *c, const char *ns, const char *key, avo_buf *out)
{
	int rc;
	if ((rc = check_names(ns, key)) < 0)
		return rc;
	rc = get_local(c, ns, key, out, 1);
	if (rc == 0) {
		atomic_fetch_add(&c->hits, 1);
		return 0;
	}
	if (rc != AVO_ENOTFOUND)
		return rc;
	avo_buf entry = AVO_BUF_INIT;
	size_t off, len;
	rc = remote_get(c, ns, key, &entry, &off, &len);
	if (rc == 0) {
		/* Write through: the image is already verified and in entry format. A local
		 * write failure (read-only dir, full disk) does not spoil the hit. */
		char *path = avo_cache_entry_path(c, ns, key);
		if (path)
			write_entry_file(path, entry.ptr, off, entry.ptr + off, len);
		free(path);
		avo_buf_clear(out);
		if ((rc = avo_buf_put(out, entry.ptr + off, len)) == 0) {
			atomic_fetch_add(&c->hits, 1);
			atomic_fetch_add(&c->remote_hits, 1);
		}
		avo_buf_dispose(&entry);
		return rc;
	}
	avo_buf_dispose(&entry);
	atomic_fetch_add(&c->misses, 1);
	return avo_error_set(AVO_ENOTFOUND, "%s/%s: not in cache", ns, key);
}

int avo_cache_has(avo_cache *c, const char *ns, const char *key)
{
	int rc;
	if ((rc = check_names(ns, key)) < 0)
		return rc;
	avo_buf tmp = AVO_BUF_INIT;
	rc = get_local(c, ns, key, &tmp, 0);
	avo_buf_dispose(&tmp);
	if (rc == 0)
		return 1;
	if (!remote_usable(c))
		return 0;
	long status = 0;
	pthread_mutex_lock(&c->lock);
	rc = remote_request(c, "HEAD", ns, key, NULL, 0, NULL, &status);
	pthread_mutex_unlock(&c->lock);
	if (rc < 0) {
		remote_failed(c, avo_error_last());
		return 0;
	}
	if (status == 200)
		return 1;
	if (status != 404) {
		char msg[64];
		snprintf(msg, sizeof(msg), "HEAD answered HTTP %ld", status);
		remote_failed(c, msg);
	}
	return 0;
}

/* ---- walking the store ------------------------------------------------------------ */

typedef struct {
	char *path;
	struct timespec mtime;
	uint64_t size;
	int ns; /* index into known_ns, -1 other */
	char ns_name[33];
	char key[AVO_CACHE_HEX];
} entry_info;

typedef struct {
	entry_info *v;
	size_t n, cap;
	uint64_t temps, temps_removed;
} entry_list;

static void entries_free(entry_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
}

/* "<30 hex>.tmp.<pid>.<n>": stray if its writer is gone or it is very old. */
static int temp_is_stray(const char *name, const struct stat *st)
{
	const char *p = strstr(name, ".tmp.");
	if (!p)
		return 0;
	char *end;
	long pid = strtol(p + 5, &end, 10);
	if (pid > 0 && *end == '.' && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 1;
	return time(NULL) - st->st_mtime > TEMP_MAX_AGE_S;
}

/* List every entry. With clean_temps, stray temporaries are removed on the way. */
static int walk(avo_cache *c, entry_list *l, int clean_temps)
{
	memset(l, 0, sizeof(*l));
	DIR *top = opendir(c->dir);
	if (!top)
		return errno == ENOENT ? 0 : avo_error_set(AVO_EIO, "%s: %s", c->dir, strerror(errno));
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(top))) {
		if (!valid_ns(de->d_name))
			continue;
		char *nsdir = avo_path_join(c->dir, de->d_name);
		DIR *d1 = nsdir ? opendir(nsdir) : NULL;
		struct dirent *f1;
		while (d1 && rc == 0 && (f1 = readdir(d1))) {
			if (strlen(f1->d_name) != 2 || !is_hex(f1->d_name, 2))
				continue;
			char *fan = avo_path_join(nsdir, f1->d_name);
			DIR *d2 = fan ? opendir(fan) : NULL;
			struct dirent *f2;
			while (d2 && rc == 0 && (f2 = readdir(d2))) {
				if (f2->d_name[0] == '.')
					continue;
				size_t nl = strlen(f2->d_name);
				int is_entry = nl == 30 && is_hex(f2->d_name, 30);
				int is_temp = !is_entry && nl > 30 && is_hex(f2->d_name, 30) &&
					      !strncmp(f2->d_name + 30, ".tmp.", 5);
				if (!is_entry && !is_temp)
					continue;
				char *path = avo_path_join(fan, f2->d_name);
				struct stat st;
				if (!path || lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
					free(path);
					continue;
				}
				if (is_temp) {
					l->temps++;
					if (clean_temps && temp_is_stray(f2->d_name, &st) && unlink(path) == 0)
						l->temps_removed++;
					free(path);
					continue;
				}
				if (l->n == l->cap) {
					size_t cap = l->cap ? 2 * l->cap : 256;
					entry_info *v = realloc(l->v, cap * sizeof(*v));
					if (!v) {
						free(path);
						rc = avo_error_set(AVO_ERROR, "out of memory");
						break;
					}
					l->v = v;
					l->cap = cap;
				}
				entry_info *e = &l->v[l->n++];
				e->path = path;
				e->mtime = st.st_mtim;
				e->size = (uint64_t)st.st_size;
				e->ns = ns_index(de->d_name);
				memcpy(e->ns_name, de->d_name, strlen(de->d_name) + 1); /* valid_ns: <= 32 */
				memcpy(e->key, f1->d_name, 2);
				memcpy(e->key + 2, f2->d_name, 30);
				e->key[32] = '\0';
			}
			if (d2)
				closedir(d2);
			free(fan);
		}
		if (d1)
			closedir(d1);
		free(nsdir);
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
		int r = read_entry_file(c, e->path, !strcmp(e->ns_name, "obj") ? e->key : NULL, 0, &b);
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
	return strcmp(x->path, y->path);
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
		if (unlink(l.v[i].path) == 0 || errno == ENOENT) {
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
