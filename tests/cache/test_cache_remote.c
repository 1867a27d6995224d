/* The remote store against a real nginx (WebDAV PUT) on a loopback port, started here with
 * its own prefix, config and temp dirs, and stopped at exit (and, through PDEATHSIG, when
 * this test dies). Also: a closed port, a server answering 500, a server that accepts and
 * never answers, read-only mode, the bearer token. argv[1]: the avo binary.
 * Exits 77 when nginx is not installed. */
#include "t.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *avo_bin;
static char *root;     /* test temp dir */
static char *srv;      /* nginx prefix */
static char *srvroot;  /* nginx document root */
static char *url;      /* http://127.0.0.1:PORT */
static pid_t nginx_pid;

static char *find_nginx(void)
{
	const char *fixed[] = {"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"};
	for (size_t i = 0; i < 3; i++)
		if (access(fixed[i], X_OK) == 0)
			return avo_strdup(fixed[i]);
	const char *path = getenv("PATH");
	char *copy = avo_strdup(path ? path : "");
	char *found = NULL;
	for (char *s = strtok(copy, ":"); s && !found; s = strtok(NULL, ":")) {
		char *p = avo_path_join(s, "nginx");
		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* A loopback port that nothing listens on right now. */
static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(s, (struct sockaddr *)&a, &l) < 0) {
		perror("free_port");
		exit(1);
	}
	close(s);
	return ntohs(a.sin_port);
}

static int can_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static void stop_nginx(void)
{
	if (nginx_pid > 0) {
		kill(nginx_pid, SIGTERM);
		waitpid(nginx_pid, NULL, 0);
		nginx_pid = 0;
	}
}

static void on_signal(int sig)
{
	stop_nginx();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int start_nginx(const char *nginx)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		int port = free_port();
		char *conf = avo_sprintf(
			"worker_processes 1;\n"
			"daemon off;\n"
			"%s"
			"pid %s/nginx.pid;\n"
			"error_log %s/error.log info;\n"
			"events { worker_connections 64; }\n"
			"http {\n"
			"  log_format avo '$request_method $uri $status \"$http_authorization\"';\n"
			"  access_log %s/access.log avo;\n"
			"  client_body_temp_path %s/tmp/body;\n"
			"  proxy_temp_path %s/tmp/proxy;\n"
			"  fastcgi_temp_path %s/tmp/fastcgi;\n"
			"  uwsgi_temp_path %s/tmp/uwsgi;\n"
			"  scgi_temp_path %s/tmp/scgi;\n"
			"  client_max_body_size 0;\n"
			"  map $http_authorization $avo_cache_writer {\n"
			"    default 0;\n"
			"    \"Bearer right-token\" 1;\n"
			"  }\n"
			"  map \"$request_method:$avo_cache_writer\" $avo_cache_deny {\n"
			"    default 1;\n"
			"    \"~^GET:\" 0;\n"
			"    \"~^HEAD:\" 0;\n"
			"    \"~:1$\" 0;\n"
			"  }\n"
			"  server {\n"
			"    listen 127.0.0.1:%d;\n"
			"    root %s;\n"
			"    location / {\n"
			"      dav_methods PUT;\n"
			"      create_full_put_path on;\n"
			"      dav_access user:rw group:r all:r;\n"
			"    }\n"
			"    location /err500/ { return 500; }\n"
			"    location /auth/ {\n" /* as in cache/REMOTE.md */
			"      if ($avo_cache_deny) { return 401; }\n"
			"      dav_methods PUT;\n"
			"      create_full_put_path on;\n"
			"      dav_access user:rw group:r all:r;\n"
			"      limit_except GET HEAD PUT { deny all; }\n"
			"    }\n"
			"  }\n"
			"}\n",
			geteuid() == 0 ? "user root;\n" : "", srv, srv, srv, srv, srv, srv, srv, srv, port, srvroot);
		char *confpath = avo_path_join(srv, "nginx.conf");
		char *tmpdir = avo_path_join(srv, "tmp");
		avo_mkdir_p(tmpdir, 0755);
		avo_mkdir_p(srvroot, 0755);
		CHECK_RC(avo_file_write_atomic(confpath, conf, strlen(conf), 0644), 0);
		char *errlog = avo_path_join(srv, "error.log");
		pid_t parent = getpid();
		pid_t pid = fork();
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM); /* no orphaned nginx if this test crashes */
			if (getppid() != parent)
				_exit(127);
			int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execl(nginx, "nginx", "-p", srv, "-c", confpath, "-e", errlog, (char *)NULL);
			_exit(127);
		}
		nginx_pid = pid;
		int up = 0;
		for (int i = 0; i < 1000 && !up; i++) { /* readiness wait, up to ~10 s */
			if (waitpid(pid, NULL, WNOHANG) == pid) {
				nginx_pid = 0;
				break;
			}
			up = can_connect(port);
			if (!up)
				usleep(10000);
		}
		free(conf);
		free(confpath);
		free(tmpdir);
		free(errlog);
		if (up) {
			url = avo_sprintf("http://127.0.0.1:%d", port);
			return 0;
		}
		stop_nginx();
	}
	avo_buf log = AVO_BUF_INIT;
	char *errlog = avo_path_join(srv, "error.log");
	avo_file_read(&log, errlog);
	fprintf(stderr, "nginx did not start:\n%s\n", avo_buf_cstr(&log));
	avo_buf_dispose(&log);
	free(errlog);
	return -1;
}

static int count_in_file(const char *path, const char *needle)
{
	avo_buf b = AVO_BUF_INIT;
	int n = 0;
	if (avo_file_read(&b, path) == 0)
		for (const char *p = avo_buf_cstr(&b); (p = strstr(p, needle)); p++)
			n++;
	avo_buf_dispose(&b);
	return n;
}

static int access_log_count(const char *needle)
{
	char *p = avo_path_join(srv, "access.log");
	int n = count_in_file(p, needle);
	free(p);
	return n;
}

/* nginx logs a request after answering it: wait (up to ~5 s) for `want` lines. */
static int access_log_wait(const char *needle, int want)
{
	int n = 0;
	for (int i = 0; i < 500 && (n = access_log_count(needle)) < want; i++)
		usleep(10000);
	return n;
}

/* Capture this process's stderr into a file between cap_begin and cap_end. */
static char *cap_path;
static int cap_saved = -1;
static void cap_begin(void)
{
	fflush(stderr);
	cap_saved = dup(2);
	int fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 2);
	close(fd);
}
static int cap_end(const char *needle)
{
	fflush(stderr);
	dup2(cap_saved, 2);
	close(cap_saved);
	int n = count_in_file(cap_path, needle);
	avo_buf b = AVO_BUF_INIT;
	avo_file_read(&b, cap_path);
	fputs(avo_buf_cstr(&b), stderr); /* keep it visible in the test log */
	avo_buf_dispose(&b);
	return n;
}

static avo_cache *open_remote(const char *name, const char *remote, int readonly, long timeout_ms)
{
	avo_cache_options o = AVO_CACHE_OPTIONS_INIT;
	char *dir = avo_path_join(root, name);
	o.dir = dir;
	o.remote_url = remote;
	o.remote_readonly = readonly;
	o.timeout_ms = timeout_ms;
	o.connect_timeout_ms = timeout_ms;
	avo_cache *c = NULL;
	CHECK_RC(avo_cache_open(&c, &o), 0);
	free(dir);
	if (!c)
		exit(1);
	return c;
}

static void key_n(char out[AVO_CACHE_HEX], int n)
{
	avo_cache_key *k;
	avo_cache_key_new(&k, "eval");
	avo_cache_key_add(k, "n", &n, sizeof(n));
	avo_cache_key_final(k, out);
}

static char *server_path(const char *ns, const char *key)
{
	return avo_sprintf("%s/%s/%.2s/%s", srvroot, ns, key, key + 2);
}

static void test_round_trip(void)
{
	avo_cache *a = open_remote("rt-a", url, 0, 5000);
	char key[AVO_CACHE_HEX];
	key_n(key, 1);
	const char *val = "{\"correct\":true,\"ms\":0.83}";
	CHECK_RC(avo_cache_put(a, "eval", key, val, strlen(val)), 0);
	char *sp = server_path("eval", key);
	avo_buf b = AVO_BUF_INIT;
	CHECK_RC(avo_file_read(&b, sp), 0); /* same entry format on the server */
	CHECK(!strncmp(avo_buf_cstr(&b), "avo2 eval ", 10) && strstr(avo_buf_cstr(&b), val));
	avo_cache_stats st;
	avo_cache_stat(a, &st);
	CHECK(st.remote_puts == 1 && st.remote_errors == 0);
	avo_cache_free(a);

	/* A fresh local dir: the hit comes from the remote and is written through. */
	avo_cache *c = open_remote("rt-b", url, 0, 5000);
	CHECK_RC(avo_cache_get_local(c, "eval", key, &b), AVO_ENOTFOUND);
	CHECK_RC(avo_cache_has(c, "eval", key), 1); /* HEAD */
	CHECK_RC(avo_cache_get(c, "eval", key, &b), 0);
	CHECK(b.size == strlen(val) && !memcmp(b.ptr, val, b.size));
	avo_cache_stat(c, &st);
	CHECK(st.remote_hits == 1 && st.entries == 1);
	CHECK_RC(avo_cache_get_local(c, "eval", key, &b), 0); /* written through */
	/* A miss on both sides is a plain miss, not a remote failure. */
	key_n(key, 2);
	CHECK_RC(avo_cache_get(c, "eval", key, &b), AVO_ENOTFOUND);
	CHECK_RC(avo_cache_has(c, "eval", key), 0);
	avo_cache_stat(c, &st);
	CHECK(st.remote_errors == 0);
	avo_cache_free(c);

	/* The same through the CLI: put-object in one dir, get into a fresh one. */
	char *in = avo_path_join(root, "obj.cu");
	char *out = avo_path_join(root, "obj.out");
	char *d1 = avo_path_join(root, "cli-a"), *d2 = avo_path_join(root, "cli-b");
	const char *text = "__global__ void attn() { /* variant */ }\n";
	avo_file_write_atomic(in, text, strlen(text), 0644);
	avo_proc_result r = t_run((const char *[]){avo_bin, "cache", "--dir", d1, "--remote", url, "put-object", in, NULL}, NULL);
	CHECK(t_exit(&r) == 0 && r.out.size == 33);
	char hash[AVO_CACHE_HEX];
	snprintf(hash, sizeof(hash), "%s", avo_buf_cstr(&r.out));
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", d2, "--remote", url, "get", "obj", hash, "-o", out, NULL}, NULL);
	CHECK(t_exit(&r) == 0 && r.err.size == 0);
	avo_proc_result_dispose(&r);
	CHECK_RC(avo_file_read(&b, out), 0);
	CHECK(!strcmp(avo_buf_cstr(&b), text));
	r = t_run((const char *[]){avo_bin, "cache", "--dir", d2, "--remote", "", "get", "obj", hash, NULL}, NULL);
	CHECK(t_exit(&r) == 0 && !strcmp(avo_buf_cstr(&r.out), text)); /* now local */
	avo_proc_result_dispose(&r);
	free(in);
	free(out);
	free(d1);
	free(d2);
	free(sp);
	avo_buf_dispose(&b);
}

/* A corrupted object on the server is rejected, not written locally, and the remote stays
 * in use. */
static void test_corrupt_remote(void)
{
	avo_cache *a = open_remote("cr-a", url, 0, 5000);
	char k1[AVO_CACHE_HEX], k2[AVO_CACHE_HEX], obj[AVO_CACHE_HEX];
	key_n(k1, 10);
	key_n(k2, 11);
	CHECK_RC(avo_cache_put(a, "eval", k1, "payload-one", 11), 0);
	CHECK_RC(avo_cache_put(a, "eval", k2, "payload-two", 11), 0);
	CHECK_RC(avo_cache_put_object(a, obj, "object", 6), 0);
	avo_cache_free(a);
	char *p1 = server_path("eval", k1);
	avo_buf b = AVO_BUF_INIT;
	avo_file_read(&b, p1);
	b.ptr[b.size - 3] ^= 1; /* flip a payload byte on the server */
	avo_file_write_atomic(p1, b.ptr, b.size, 0644);
	char *po = server_path("obj", obj);
	char *p2 = server_path("eval", k2);
	avo_file_read(&b, p2);
	avo_file_write_atomic(po, b.ptr, b.size, 0644); /* obj replaced by another valid entry */
	free(p2);

	avo_cache *c = open_remote("cr-b", url, 0, 5000);
	cap_begin();
	int rc1 = avo_cache_get(c, "eval", k1, &b);
	int rc2 = avo_cache_get(c, "obj", obj, &b);
	int warned = cap_end("is corrupt (content hash mismatch)");
	int warned2 = count_in_file(cap_path, "is corrupt (filed under another namespace");
	CHECK(rc1 == AVO_ENOTFOUND && rc2 == AVO_ENOTFOUND && warned == 1 && warned2 == 1);
	CHECK_RC(avo_cache_get_local(c, "eval", k1, &b), AVO_ENOTFOUND); /* not written through */
	CHECK_RC(avo_cache_get(c, "eval", k2, &b), 0);                   /* remote still used */
	CHECK(b.size == 11 && !memcmp(b.ptr, "payload-two", 11));
	avo_cache_stats st;
	avo_cache_stat(c, &st);
	CHECK(st.corrupt == 2 && st.remote_errors == 0 && st.remote_hits == 1);
	avo_cache_free(c);
	free(p1);
	free(po);
	avo_buf_dispose(&b);
}

/* A broken remote: one warning per handle, the local store goes on working, later calls
 * skip the remote. */
/* The remote is held to the same rule as the local store: an entry copied under another key
 * on the server is reported and never served. With a shared secret, only entries signed
 * with it are served: a forged one (right format, no or wrong signature) is ignored. */
static void test_foreign_and_hmac(void)
{
	avo_cache *a = open_remote("fh-a", url, 0, 5000);
	char k1[AVO_CACHE_HEX], k2[AVO_CACHE_HEX], k3[AVO_CACHE_HEX], k4[AVO_CACHE_HEX];
	key_n(k1, 70); /* numbers no other test uses */
	key_n(k2, 71);
	key_n(k3, 72);
	key_n(k4, 73);
	CHECK_RC(avo_cache_put(a, "eval", k1, "{\"correct\":false}", 17), 0);
	avo_cache_free(a);
	char *p1 = server_path("eval", k1), *p2 = server_path("eval", k2);
	avo_buf b = AVO_BUF_INIT;
	CHECK_RC(avo_file_read(&b, p1), 0);
	char *d2 = avo_path_dirname(p2);
	avo_mkdir_p(d2, 0755);
	CHECK_RC(avo_file_write_atomic(p2, b.ptr, b.size, 0644), 0); /* filed under k2 */
	avo_cache *c = open_remote("fh-b", url, 0, 5000);
	cap_begin();
	int rc = avo_cache_get(c, "eval", k2, &b);
	CHECK(cap_end("is corrupt (filed under another key") == 1);
	CHECK_RC(rc, AVO_ENOTFOUND);
	CHECK_RC(avo_cache_get(c, "eval", k1, &b), 0); /* the right one still serves */
	avo_cache_free(c);

	/* Signed: a writer and a reader that share the secret. */
	setenv("AVO_TEST_CACHE_HMAC", "s3cret-shared", 1);
	setenv("AVO_TEST_CACHE_HMAC_OTHER", "another-secret", 1);
	avo_cache_options o = AVO_CACHE_OPTIONS_INIT;
	char *dir = avo_path_join(root, "fh-signer");
	o.dir = dir;
	o.remote_url = url;
	o.hmac_key_env = "AVO_TEST_CACHE_HMAC";
	avo_cache *w = NULL;
	CHECK_RC(avo_cache_open(&w, &o), 0);
	CHECK_RC(avo_cache_put(w, "eval", k3, "signed", 6), 0);
	avo_cache_free(w);
	free(dir);
	char *p3 = server_path("eval", k3);
	CHECK_RC(avo_file_read(&b, p3), 0);
	CHECK(strchr(b.ptr, '\n') - b.ptr > 140); /* the header carries a 64-hex MAC */
	/* A forged entry for k4: the right format and hash, no signature. */
	avo_cache *f = open_remote("fh-forger", "", 0, 5000);
	CHECK_RC(avo_cache_put(f, "eval", k4, "forged", 6), 0);
	char *fp = avo_cache_entry_path(f, "eval", k4), *p4 = server_path("eval", k4);
	CHECK_RC(avo_file_read(&b, fp), 0);
	char *d4 = avo_path_dirname(p4);
	avo_mkdir_p(d4, 0755);
	CHECK_RC(avo_file_write_atomic(p4, b.ptr, b.size, 0644), 0);
	avo_cache_free(f);

	dir = avo_path_join(root, "fh-reader");
	o.dir = dir;
	avo_cache *r = NULL;
	CHECK_RC(avo_cache_open(&r, &o), 0);
	CHECK_RC(avo_cache_get(r, "eval", k3, &b), 0);
	CHECK(b.size == 6 && !memcmp(b.ptr, "signed", 6));
	cap_begin();
	rc = avo_cache_get(r, "eval", k4, &b);
	CHECK(cap_end("is corrupt (not signed") == 1);
	CHECK_RC(rc, AVO_ENOTFOUND);
	avo_cache_free(r);
	free(dir);
	/* Signed with another secret: refused too. */
	dir = avo_path_join(root, "fh-other");
	o.dir = dir;
	o.hmac_key_env = "AVO_TEST_CACHE_HMAC_OTHER";
	CHECK_RC(avo_cache_open(&r, &o), 0);
	cap_begin();
	rc = avo_cache_get(r, "eval", k3, &b);
	CHECK(cap_end("is corrupt (bad signature") == 1);
	CHECK_RC(rc, AVO_ENOTFOUND);
	avo_cache_free(r);
	free(dir);
	avo_buf_dispose(&b);
	free(p1), free(p2), free(p3), free(p4), free(fp), free(d2), free(d4);
}

static void broken_remote(const char *name, const char *remote, long timeout_ms)
{
	avo_cache *c = open_remote(name, remote, 0, timeout_ms);
	char k1[AVO_CACHE_HEX], k2[AVO_CACHE_HEX];
	key_n(k1, 20);
	key_n(k2, 21);
	avo_buf b = AVO_BUF_INIT;
	double t0 = avo_now();
	cap_begin();
	int miss = avo_cache_get(c, "eval", k1, &b); /* first remote call fails */
	double first = avo_now() - t0;
	int put = avo_cache_put(c, "eval", k1, "local", 5);
	int hit = avo_cache_get(c, "eval", k1, &b);
	int miss2 = avo_cache_get(c, "eval", k2, &b);
	int has = avo_cache_has(c, "eval", k2);
	int warnings = cap_end("warning: remote cache");
	fprintf(stderr, "%s: first remote call gave up after %.2f s (limit %ld ms)\n", name, first, timeout_ms);
	CHECK(miss == AVO_ENOTFOUND && put == 0 && hit == 0 && miss2 == AVO_ENOTFOUND && has == 0);
	CHECK(b.size == 0 || !memcmp(b.ptr, "local", 5));
	CHECK(warnings == 1);
	avo_cache_stats st;
	avo_cache_stat(c, &st);
	CHECK(st.remote_errors == 1); /* skipped after the first failure */
	CHECK(first < 30.0);          /* sanity bound only: a missing timeout would hang */
	avo_cache_free(c);
	avo_buf_dispose(&b);
}

static void test_failures(void)
{
	/* Closed port. */
	char *closed = avo_sprintf("http://127.0.0.1:%d", free_port());
	broken_remote("closed", closed, 2000);
	/* A server answering 500. */
	char *e500 = avo_sprintf("%s/err500", url);
	broken_remote("err500", e500, 2000);
	/* A server that accepts connections and never answers. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s, 16) == 0 &&
	      getsockname(s, (struct sockaddr *)&a, &l) == 0);
	char *hang = avo_sprintf("http://127.0.0.1:%d", ntohs(a.sin_port));
	broken_remote("hang", hang, 1000);
	close(s);

	/* Through the CLI: the warning masks credentials in the URL and never shows the token;
	 * the command still succeeds locally. */
	char *in = avo_path_join(root, "f.txt");
	avo_file_write_atomic(in, "abc", 3, 0644);
	char *cred = avo_sprintf("http://user:hunter2@127.0.0.1:%d", free_port());
	char *d = avo_path_join(root, "cli-closed");
	const char *env[] = {"AVO_CACHE_TOKEN=tok-s3cr3t", NULL};
	avo_proc_result r = t_run((const char *[]){avo_bin, "cache", "--dir", d, "--remote", cred, "put-object", in, NULL}, env);
	CHECK(t_exit(&r) == 0 && r.out.size == 33);
	CHECK(strstr(avo_buf_cstr(&r.err), "warning: remote cache http://***@127.0.0.1"));
	CHECK(!strstr(avo_buf_cstr(&r.err), "hunter2") && !strstr(avo_buf_cstr(&r.err), "tok-s3cr3t"));
	avo_proc_result_dispose(&r);
	r = t_run((const char *[]){avo_bin, "cache", "--dir", d, "--remote", cred, "stats", "--json", NULL}, env);
	CHECK(t_exit(&r) == 0 && strstr(avo_buf_cstr(&r.out), "http://***@127.0.0.1"));
	CHECK(!strstr(avo_buf_cstr(&r.out), "hunter2"));
	avo_proc_result_dispose(&r);
	/* An error page in a PUT answer does not leak into stdout (only the hash is there). */
	r = t_run((const char *[]){avo_bin, "cache", "--dir", d, "--remote", e500, "put-object", in, NULL}, NULL);
	CHECK(t_exit(&r) == 0 && r.out.size == 33 && strstr(avo_buf_cstr(&r.err), "PUT answered HTTP 500"));
	avo_proc_result_dispose(&r);
	free(cred);
	free(d);
	free(in);
	free(closed);
	free(e500);
	free(hang);
}

static void test_readonly_and_token(void)
{
	char key[AVO_CACHE_HEX];
	avo_buf b = AVO_BUF_INIT;
	/* nginx logs a request after answering it: wait until a fresh GET is logged, so every
	 * earlier request (the PUTs of the tests before) is in the log before counting. */
	avo_cache *c = open_remote("ro-pre", url, 0, 5000);
	key_n(key, 38);
	avo_cache_get(c, "eval", key, &b);
	avo_cache_free(c);
	char *barrier = avo_sprintf("GET /eval/%.2s/%s 404", key, key + 2);
	CHECK(access_log_wait(barrier, 1) == 1);
	free(barrier);
	int puts_before = access_log_count("PUT ");
	c = open_remote("ro", url, 1, 5000);
	key_n(key, 30);
	CHECK_RC(avo_cache_put(c, "eval", key, "ro", 2), 0);
	CHECK_RC(avo_cache_get_local(c, "eval", key, &b), 0); /* local still written */
	char *sp = server_path("eval", key);
	CHECK(!avo_path_exists(sp));
	avo_cache_free(c);
	free(sp);
	/* Read-only from the environment, through the CLI. */
	char *in = avo_path_join(root, "ro.txt");
	avo_file_write_atomic(in, "read-only", 9, 0644);
	char *d = avo_path_join(root, "ro-cli");
	const char *env[] = {"AVO_CACHE_REMOTE_READONLY=1", NULL};
	avo_proc_result r = t_run((const char *[]){avo_bin, "cache", "--dir", d, "--remote", url, "put-object", in, NULL}, env);
	CHECK(t_exit(&r) == 0);
	avo_proc_result_dispose(&r);
	/* No PUT reached the server: a later GET (sentinel) is logged, the PUT count is unchanged
	 * (one worker logs requests in order). */
	c = open_remote("ro-sentinel", url, 0, 5000);
	key_n(key, 39);
	avo_cache_get(c, "eval", key, &b);
	avo_cache_free(c);
	char *sentinel = avo_sprintf("GET /eval/%.2s/%s 404", key, key + 2);
	CHECK(access_log_wait(sentinel, 1) == 1);
	free(sentinel);
	CHECK(access_log_count("PUT ") == puts_before);

	/* The bearer token is sent (default variable, and a custom one). */
	setenv("AVO_CACHE_TOKEN", "tok-default-123", 1);
	c = open_remote("tok", url, 0, 5000);
	key_n(key, 31);
	CHECK_RC(avo_cache_put(c, "eval", key, "t", 1), 0);
	avo_cache_free(c);
	unsetenv("AVO_CACHE_TOKEN");
	CHECK(access_log_wait("\"Bearer tok-default-123\"", 1) == 1);
	setenv("MY_CACHE_TOKEN", "tok-custom-456", 1);
	avo_cache_options o = AVO_CACHE_OPTIONS_INIT;
	char *dir = avo_path_join(root, "tok2");
	o.dir = dir;
	o.remote_url = url;
	o.token_env = "MY_CACHE_TOKEN";
	CHECK_RC(avo_cache_open(&c, &o), 0);
	CHECK_RC(avo_cache_get(c, "eval", key, &b), 0);
	avo_cache_free(c);
	unsetenv("MY_CACHE_TOKEN");
	CHECK(access_log_wait("\"Bearer tok-custom-456\"", 1) == 1);
	/* Without a token, no Authorization header. */
	c = open_remote("tok3", url, 0, 5000);
	CHECK_RC(avo_cache_get(c, "eval", key, &b), 0);
	char *line = avo_sprintf("GET /eval/%.2s/%s 200 \"-\"", key, key + 2);
	CHECK(access_log_wait(line, 1) == 1);
	free(line);
	avo_cache_free(c);
	free(dir);
	free(d);
	free(in);
	avo_buf_dispose(&b);
}

/* The token-protected location of cache/REMOTE.md: PUT needs the token, GET is open. */
static void test_auth_location(void)
{
	char *aurl = avo_sprintf("%s/auth", url);
	char key[AVO_CACHE_HEX];
	key_n(key, 50);
	avo_buf b = AVO_BUF_INIT;
	avo_cache_stats st;

	avo_cache *c = open_remote("auth-none", aurl, 0, 5000);
	cap_begin();
	CHECK_RC(avo_cache_put(c, "eval", key, "x", 1), 0); /* local write stands */
	int warned = cap_end("PUT answered HTTP 401");
	CHECK(warned == 1);
	avo_cache_stat(c, &st);
	CHECK(st.remote_errors == 1 && st.remote_puts == 0);
	avo_cache_free(c);

	setenv("AVO_CACHE_TOKEN", "right-token", 1);
	c = open_remote("auth-ok", aurl, 0, 5000);
	CHECK_RC(avo_cache_put(c, "eval", key, "y", 1), 0);
	avo_cache_stat(c, &st);
	CHECK(st.remote_errors == 0 && st.remote_puts == 1);
	avo_cache_free(c);
	unsetenv("AVO_CACHE_TOKEN");
	char *sp = avo_sprintf("%s/auth/eval/%.2s/%s", srvroot, key, key + 2);
	CHECK(avo_path_exists(sp));

	c = open_remote("auth-read", aurl, 0, 5000);
	CHECK_RC(avo_cache_get(c, "eval", key, &b), 0);
	CHECK(b.size == 1 && b.ptr[0] == 'y');
	avo_cache_free(c);
	free(sp);
	free(aurl);
	avo_buf_dispose(&b);
}

/* One handle shared by several threads, with the remote in use. */
typedef struct {
	avo_cache *c;
	int id, bad;
} thread_arg;

static void *thread_main(void *p)
{
	thread_arg *t = p;
	avo_buf b = AVO_BUF_INIT;
	for (int i = 0; i < 40; i++) {
		char key[AVO_CACHE_HEX], val[64];
		key_n(key, 1000 + t->id * 100 + i);
		int n = snprintf(val, sizeof(val), "thread %d item %d", t->id, i);
		if (avo_cache_put(t->c, "eval", key, val, (size_t)n) < 0 ||
		    avo_cache_get(t->c, "eval", key, &b) < 0 || b.size != (size_t)n || memcmp(b.ptr, val, b.size))
			t->bad++;
		if (avo_cache_has(t->c, "eval", key) != 1)
			t->bad++;
	}
	avo_buf_dispose(&b);
	return NULL;
}

static void test_threads(void)
{
	avo_cache *c = open_remote("threads", url, 0, 5000);
	pthread_t th[4];
	thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (thread_arg){c, i, 0};
		CHECK(pthread_create(&th[i], NULL, thread_main, &args[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(args[i].bad == 0);
	}
	avo_cache_stats st;
	avo_cache_stat(c, &st);
	CHECK(st.remote_puts == 160 && st.remote_errors == 0 && st.hits == 160);
	avo_cache_free(c);
	/* Everything reached the server: a fresh dir reads it all back through the remote. */
	c = open_remote("threads-fresh", url, 0, 5000);
	avo_buf b = AVO_BUF_INIT;
	int ok = 0;
	for (int t = 0; t < 4; t++)
		for (int i = 0; i < 40; i++) {
			char key[AVO_CACHE_HEX];
			key_n(key, 1000 + t * 100 + i);
			ok += avo_cache_get(c, "eval", key, &b) == 0;
		}
	CHECK(ok == 160);
	avo_cache_stat(c, &st);
	CHECK(st.remote_hits == 160);
	avo_cache_free(c);
	avo_buf_dispose(&b);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_cache_remote AVO_BINARY\n");
		return 2;
	}
	avo_bin = argv[1];
	char *nginx = find_nginx();
	if (!nginx) {
		printf("nginx not installed: skipped\n");
		return 77;
	}
	unsetenv("AVO_CACHE_TOKEN");
	unsetenv("AVO_CACHE_REMOTE_READONLY");
	root = t_tmpdir("avo-cache-remote-");
	srv = avo_path_join(root, "nginx");
	srvroot = avo_path_join(srv, "root");
	cap_path = avo_path_join(root, "stderr.txt");
	atexit(stop_nginx);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (start_nginx(nginx) < 0) {
		free(nginx);
		return 1;
	}
	test_round_trip();
	test_corrupt_remote();
	test_foreign_and_hmac();
	test_failures();
	test_readonly_and_token();
	test_auth_location();
	test_threads();
	stop_nginx();
	if (!t_failures)
		avo_rm_rf(root);
	else
		fprintf(stderr, "kept %s for inspection\n", root);
	free(nginx);
	free(url);
	free(srv);
	free(srvroot);
	free(cap_path);
	free(root);
	return t_done("test_cache_remote");
}
