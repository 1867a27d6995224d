/* Start and stop tests/agent/mock_llm.py on a loopback port chosen here, read its log, and
 * check that a secret appears in no file of a test directory. */
#ifndef AVO_TEST_AGENT_MOCK_H
#define AVO_TEST_AGENT_MOCK_H

#include "fake.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	char *dir;
	int port;
	pid_t pid;
	char *log;
} mock;

static inline int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(s, (struct sockaddr *)&a, &len) < 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	close(s);
	return ntohs(a.sin_port);
}

static inline int can_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

/* Start the mock with `script` (JSON text). Exits 77 when python3 is missing. */
static inline int mock_start(mock *m, const char *name, const char *script)
{
	memset(m, 0, sizeof(*m));
	if (access(AVO_PYTHON3, X_OK) != 0) {
		fprintf(stderr, "python3 not found: skipping\n");
		exit(77);
	}
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "llm-%s-", name);
	if (avo_mkdtemp(&m->dir, ".", prefix) < 0)
		return -1;
	char *sp = avo_path_join(m->dir, "script.json"), *ep = avo_path_join(m->dir, "server.err");
	m->log = avo_path_join(m->dir, "requests.jsonl");
	if (avo_file_write_atomic(sp, script, strlen(script), 0644) < 0)
		return -1;
	m->port = free_port();
	char port[16];
	snprintf(port, sizeof(port), "%d", m->port);
	m->pid = fork();
	if (m->pid == 0) {
		int fd = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(AVO_PYTHON3, "python3", AVO_TEST_SRC_DIR "/mock_llm.py", "--port", port, "--script", sp,
		      "--log", m->log, (char *)NULL);
		_exit(127);
	}
	free(sp);
	free(ep);
	for (int i = 0; i < 400; i++) {
		if (can_connect(m->port))
			return 0;
		int st;
		if (waitpid(m->pid, &st, WNOHANG) == m->pid) {
			fprintf(stderr, "mock_llm.py exited early (see %s/server.err)\n", m->dir);
			m->pid = 0;
			return -1;
		}
		struct timespec ts = {0, 25000000};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "mock_llm.py did not start listening\n");
	return -1;
}

static inline void mock_stop(mock *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		waitpid(m->pid, NULL, 0);
		m->pid = 0;
	}
}

static inline char *mock_url(const mock *m, const char *suffix)
{
	return avo_sprintf("http://127.0.0.1:%d%s", m->port, suffix);
}

/* The log as an array of request records. */
static inline cJSON *mock_log(const mock *m)
{
	avo_buf b = AVO_BUF_INIT;
	cJSON *arr = cJSON_CreateArray();
	if (avo_file_read(&b, m->log) == 0) {
		char *save = NULL;
		for (char *line = strtok_r(b.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			cJSON_AddItemToArray(arr, cJSON_Parse(line));
	}
	avo_buf_dispose(&b);
	return arr;
}

/* Does the body of request n contain `s` (in its compact JSON text)? */
static inline int req_has(const cJSON *log, int n, const char *s)
{
	const cJSON *rec = cJSON_GetArrayItem(log, n);
	char *t = rec ? cJSON_PrintUnformatted(cJSON_GetObjectItem(rec, "body")) : NULL;
	int found = t && strstr(t, s);
	if (!found)
		fprintf(stderr, "request %d does not contain \"%s\"\n", n, s);
	free(t);
	return found;
}

static inline const char *req_str(const cJSON *log, int n, const char *field)
{
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(log, n), field);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* Write what the operator returned to result.txt (the test's "output"). */
static inline void save_result(const mock *m, const avo_agent_step_result *r)
{
	avo_buf b = AVO_BUF_INIT;
	avo_buf_printf(&b, "outcome %s\nnote %s\nerror %s\nfeedback %s\nlast error %s\n",
		       avo_agent_outcome_name(r->outcome), r->note ? r->note : "", r->error ? r->error : "",
		       r->eval.feedback ? r->eval.feedback : "", avo_error_last());
	for (size_t i = 0; i < r->nregions; i++)
		avo_buf_printf(&b, "region %s\n%s", r->regions[i].region, r->regions[i].text);
	char *p = avo_path_join(m->dir, "result.txt");
	avo_buf existing = AVO_BUF_INIT;
	avo_file_read(&existing, p);
	avo_buf_put(&existing, b.ptr, b.size);
	avo_file_write_atomic(p, existing.ptr, existing.size, 0644);
	avo_buf_dispose(&existing);
	avo_buf_dispose(&b);
	free(p);
}

/* 1 when no file in the test directory contains `secret`. */
static inline int secret_absent(const mock *m, const char *secret)
{
	DIR *d = opendir(m->dir);
	int ok = 1, files = 0;
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char *p = avo_path_join(m->dir, e->d_name);
		avo_buf b = AVO_BUF_INIT;
		if (avo_file_read(&b, p) == 0) {
			files++;
			if (b.size && memmem(b.ptr, b.size, secret, strlen(secret))) {
				fprintf(stderr, "the secret appears in %s\n", p);
				ok = 0;
			}
		}
		avo_buf_dispose(&b);
		free(p);
	}
	if (d)
		closedir(d);
	return ok && files >= 3; /* script, request log, server stderr at least */
}

static inline void mock_cleanup(mock *m)
{
	mock_stop(m);
	if (!failures)
		avo_rm_rf(m->dir);
	else
		fprintf(stderr, "kept %s\n", m->dir);
	free(m->dir);
	free(m->log);
}

#endif
