/* The MCP stdio transport (mcp_io.h): newline-delimited JSON-RPC 2.0, a reader thread. */
#include "mcp_io.h"

#include "avo_base.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MESSAGE (64u << 20) /* a longer line is refused and skipped */
#define HEARTBEAT_S 5.0

/* Newest first: the answer to a client that asks for a version we do not know. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

struct mcp_io {
	int in_fd, out_fd;
	int wake[2];            /* reader -> step: something was queued, or the client left */
	int quit[2];            /* avo_agent__mcp_io_free -> reader */
	pthread_t thread;
	int started;
	pthread_mutex_t mu;     /* the queue, `closed` and the heartbeat */
	pthread_mutex_t wmu;    /* one message at a time on out_fd */
	cJSON **queue;
	size_t nqueue, aqueue;
	int closed;
	cJSON *busy_token;      /* progressToken of the call in flight, or NULL */
	char *busy_what;
	double busy_next;
	int busy_count;
	char *name, *version, *instructions;
	cJSON *tools;
};

static void wake(mcp_io *io)
{
	char c = 1;
	ssize_t r = write(io->wake[1], &c, 1); /* full pipe: a wake-up is pending anyway */
	(void)r;
}

static void set_closed(mcp_io *io)
{
	pthread_mutex_lock(&io->mu);
	io->closed = 1;
	pthread_mutex_unlock(&io->mu);
	wake(io);
}

/* One message, one line. A client that stopped reading ends the session. */
static int send_msg(mcp_io *io, cJSON *msg)
{
	char *s = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	if (!s)
		return avo_oom();
	size_t n = strlen(s), off = 0;
	int rc = 0;
	pthread_mutex_lock(&io->wmu);
	s[n] = '\n'; /* the NUL goes: n + 1 bytes are written */
	while (off < n + 1) {
		ssize_t w = write(io->out_fd, s + off, n + 1 - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = avo_error_set(AVO_EIO, "mcp: the client's input is closed: %s", strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	pthread_mutex_unlock(&io->wmu);
	free(s);
	if (rc < 0)
		set_closed(io);
	return rc;
}

static cJSON *envelope(const cJSON *id)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "jsonrpc", "2.0");
	cJSON_AddItemToObject(m, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
	return m;
}

static int send_error(mcp_io *io, const cJSON *id, int code, const char *message)
{
	cJSON *m = envelope(id), *e = cJSON_AddObjectToObject(m, "error");
	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	return send_msg(io, m);
}

static int send_result(mcp_io *io, const cJSON *id, cJSON *result)
{
	cJSON *m = envelope(id);
	cJSON_AddItemToObject(m, "result", result);
	return send_msg(io, m);
}

static cJSON *initialize_result(const mcp_io *io, const cJSON *params)
{
	const cJSON *asked = cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
	const char *v = versions[0];
	for (size_t i = 0; cJSON_IsString(asked) && i < sizeof(versions) / sizeof(versions[0]); i++)
		if (!strcmp(asked->valuestring, versions[i]))
			v = versions[i];
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "protocolVersion", v);
	cJSON *caps = cJSON_AddObjectToObject(r, "capabilities");
	cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged", 0);
	cJSON *info = cJSON_AddObjectToObject(r, "serverInfo");
	cJSON_AddStringToObject(info, "name", io->name);
	cJSON_AddStringToObject(info, "version", io->version);
	if (io->instructions)
		cJSON_AddStringToObject(r, "instructions", io->instructions);
	return r;
}

static int same_id(const cJSON *a, const cJSON *b)
{
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
		return a->valuedouble == b->valuedouble;
	return cJSON_IsString(a) && cJSON_IsString(b) && !strcmp(a->valuestring, b->valuestring);
}

/* notifications/cancelled: a queued call is dropped unanswered, as the protocol asks. */
static void cancel(mcp_io *io, const cJSON *params)
{
	const cJSON *rid = cJSON_GetObjectItemCaseSensitive(params, "requestId");
	pthread_mutex_lock(&io->mu);
	for (size_t i = 0; i < io->nqueue; i++)
		if (same_id(cJSON_GetObjectItemCaseSensitive(io->queue[i], "id"), rid)) {
			cJSON_Delete(io->queue[i]);
			memmove(&io->queue[i], &io->queue[i + 1], (io->nqueue - i - 1) * sizeof(*io->queue));
			io->nqueue--;
			break;
		}
	pthread_mutex_unlock(&io->mu);
}

static int enqueue(mcp_io *io, cJSON *req)
{
	pthread_mutex_lock(&io->mu);
	if (io->nqueue == io->aqueue) {
		size_t n = io->aqueue ? io->aqueue * 2 : 8;
		cJSON **p = realloc(io->queue, n * sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&io->mu);
			return -1;
		}
		io->queue = p;
		io->aqueue = n;
	}
	io->queue[io->nqueue++] = req;
	pthread_mutex_unlock(&io->mu);
	wake(io);
	return 0;
}

static void handle_line(mcp_io *io, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (!len)
		return;
	cJSON *m = cJSON_ParseWithLength(line, len);
	if (!m) {
		send_error(io, NULL, MCP_PARSE_ERROR, "parse error: not a JSON message");
		return;
	}
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(m, "method");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
	if (!cJSON_IsObject(m)) {
		send_error(io, NULL, MCP_INVALID_REQUEST,
			   cJSON_IsArray(m) ? "invalid request: batches are not supported" : "invalid request: not an object");
	} else if (!method) {
		/* a response to a request of ours: we send none */
	} else if (!cJSON_IsString(method)) {
		send_error(io, id, MCP_INVALID_REQUEST, "invalid request: \"method\" is not a string");
	} else if (!id) {
		if (!strcmp(method->valuestring, "notifications/cancelled"))
			cancel(io, params);
	} else if (!cJSON_IsString(id) && !cJSON_IsNumber(id)) {
		send_error(io, NULL, MCP_INVALID_REQUEST, "invalid request: \"id\" must be a string or a number");
	} else if (!strcmp(method->valuestring, "initialize")) {
		send_result(io, id, initialize_result(io, params));
	} else if (!strcmp(method->valuestring, "ping")) {
		send_result(io, id, cJSON_CreateObject());
	} else if (!strcmp(method->valuestring, "tools/list")) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddItemToObject(r, "tools", cJSON_Duplicate(io->tools, 1));
		send_result(io, id, r);
	} else if (!strcmp(method->valuestring, "tools/call")) {
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(params, "name")))
			send_error(io, id, MCP_INVALID_PARAMS, "tools/call needs params.name (a string)");
		else if (enqueue(io, m) == 0)
			m = NULL;
		else
			send_error(io, id, MCP_INTERNAL_ERROR, "out of memory");
	} else {
		char *msg = avo_sprintf("method not found: %s (this server offers tools only)", method->valuestring);
		send_error(io, id, MCP_METHOD_NOT_FOUND, msg ? msg : "method not found");
		free(msg);
	}
	cJSON_Delete(m);
}

static void heartbeat(mcp_io *io)
{
	pthread_mutex_lock(&io->mu);
	cJSON *n = NULL;
	if (io->busy_token && avo_now() >= io->busy_next) {
		io->busy_next = avo_now() + HEARTBEAT_S;
		n = cJSON_CreateObject();
		cJSON_AddStringToObject(n, "jsonrpc", "2.0");
		cJSON_AddStringToObject(n, "method", "notifications/progress");
		cJSON *p = cJSON_AddObjectToObject(n, "params");
		cJSON_AddItemToObject(p, "progressToken", cJSON_Duplicate(io->busy_token, 1));
		cJSON_AddNumberToObject(p, "progress", ++io->busy_count);
		if (io->busy_what)
			cJSON_AddStringToObject(p, "message", io->busy_what);
	}
	pthread_mutex_unlock(&io->mu);
	if (n)
		send_msg(io, n);
}

static void *reader(void *arg)
{
	mcp_io *io = arg;
	avo_buf line = AVO_BUF_INIT;
	int skipping = 0; /* inside a message over MAX_MESSAGE */
	char chunk[65536];
	for (;;) {
		struct pollfd p[2] = {{io->in_fd, POLLIN, 0}, {io->quit[0], POLLIN, 0}};
		int n = poll(p, 2, 1000);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && p[1].revents)
			break;
		if (n > 0 && p[0].revents) {
			ssize_t r = read(io->in_fd, chunk, sizeof(chunk));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0)
				break;
			for (const char *s = chunk, *end = chunk + r; s < end;) {
				const char *nl = memchr(s, '\n', (size_t)(end - s));
				size_t take = (size_t)((nl ? nl : end) - s);
				if (!skipping && line.size + take > MAX_MESSAGE) {
					send_error(io, NULL, MCP_INVALID_REQUEST, "invalid request: message over 64 MiB");
					avo_buf_clear(&line);
					skipping = 1;
				}
				if (!skipping)
					avo_buf_put(&line, s, take);
				if (nl) {
					if (!skipping)
						handle_line(io, line.ptr ? line.ptr : "", line.size);
					avo_buf_clear(&line);
					skipping = 0;
				}
				s += take + (nl != NULL);
			}
		}
		heartbeat(io);
	}
	if (line.size && !skipping) /* a last message without its newline */
		handle_line(io, line.ptr, line.size);
	avo_buf_dispose(&line);
	set_closed(io);
	return NULL;
}

static int pipe_nb(int fd[2])
{
	if (pipe2(fd, O_CLOEXEC | O_NONBLOCK) < 0)
		return avo_error_set(AVO_EIO, "mcp: pipe: %s", strerror(errno));
	return 0;
}

int avo_agent__mcp_io_start(mcp_io **out, const mcp_io_options *o)
{
	*out = NULL;
	mcp_io *io = calloc(1, sizeof(*io));
	if (!io) {
		cJSON_Delete(o->tools);
		return avo_oom();
	}
	io->in_fd = o->in_fd;
	io->out_fd = o->out_fd;
	io->wake[0] = io->wake[1] = io->quit[0] = io->quit[1] = -1;
	io->tools = o->tools;
	io->name = avo_strdup(o->server_name ? o->server_name : "avo");
	io->version = avo_strdup(o->server_version ? o->server_version : AVO_VERSION_STRING);
	io->instructions = avo_strdup(o->instructions);
	pthread_mutex_init(&io->mu, NULL);
	pthread_mutex_init(&io->wmu, NULL);
	int rc;
	if ((rc = pipe_nb(io->wake)) < 0 || (rc = pipe_nb(io->quit)) < 0) {
		avo_agent__mcp_io_free(io);
		return rc;
	}
	/* Signals go to the step's thread (its wait ends on them), never to the reader. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&io->thread, NULL, reader, io);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		avo_agent__mcp_io_free(io);
		return avo_error_set(AVO_ERROR, "mcp: cannot start the reader thread: %s", strerror(rc));
	}
	io->started = 1;
	*out = io;
	return 0;
}

void avo_agent__mcp_io_free(mcp_io *io)
{
	if (!io)
		return;
	if (io->started) {
		char c = 1;
		ssize_t r = write(io->quit[1], &c, 1);
		(void)r;
		pthread_join(io->thread, NULL);
	}
	for (int i = 0; i < 2; i++) {
		if (io->wake[i] >= 0)
			close(io->wake[i]);
		if (io->quit[i] >= 0)
			close(io->quit[i]);
	}
	for (size_t i = 0; i < io->nqueue; i++)
		cJSON_Delete(io->queue[i]);
	free(io->queue);
	cJSON_Delete(io->busy_token);
	free(io->busy_what);
	cJSON_Delete(io->tools);
	free(io->name), free(io->version), free(io->instructions);
	pthread_mutex_destroy(&io->mu);
	pthread_mutex_destroy(&io->wmu);
	free(io);
}

int avo_agent__mcp_io_next(mcp_io *io, cJSON **req, int (*stopping)(void *), void *payload)
{
	*req = NULL;
	for (;;) {
		pthread_mutex_lock(&io->mu);
		if (io->nqueue) {
			*req = io->queue[0];
			memmove(io->queue, io->queue + 1, (io->nqueue - 1) * sizeof(*io->queue));
			io->nqueue--;
		}
		int closed = io->closed;
		pthread_mutex_unlock(&io->mu);
		if (*req)
			return 0;
		if (closed)
			return 1;
		if (stopping && stopping(payload))
			return -1;
		/* A signal handled before this wait does not end it: stopping() is asked again. */
		struct pollfd p = {io->wake[0], POLLIN, 0};
		if (poll(&p, 1, 200) < 0 && errno == EINTR)
			return -1;
		char drain[64];
		while (read(io->wake[0], drain, sizeof(drain)) > 0)
			;
	}
}

static void not_busy(mcp_io *io, const cJSON *req)
{
	(void)req;
	pthread_mutex_lock(&io->mu);
	cJSON_Delete(io->busy_token);
	io->busy_token = NULL;
	pthread_mutex_unlock(&io->mu);
}

void avo_agent__mcp_io_busy(mcp_io *io, const cJSON *req, const char *what)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"), "_meta");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(meta, "progressToken");
	if (!cJSON_IsString(tok) && !cJSON_IsNumber(tok))
		return;
	pthread_mutex_lock(&io->mu);
	cJSON_Delete(io->busy_token);
	io->busy_token = cJSON_Duplicate(tok, 1);
	free(io->busy_what);
	io->busy_what = avo_strdup(what);
	io->busy_next = avo_now() + HEARTBEAT_S;
	io->busy_count = 0;
	pthread_mutex_unlock(&io->mu);
}

int avo_agent__mcp_io_result(mcp_io *io, const cJSON *req, cJSON *result)
{
	not_busy(io, req);
	return send_result(io, cJSON_GetObjectItemCaseSensitive(req, "id"), result);
}

int avo_agent__mcp_io_tool_result(mcp_io *io, const cJSON *req, const char *text, int is_error)
{
	cJSON *r = cJSON_CreateObject(), *content = cJSON_AddArrayToObject(r, "content");
	cJSON *item = cJSON_CreateObject();
	cJSON_AddStringToObject(item, "type", "text");
	cJSON_AddStringToObject(item, "text", text ? text : "");
	cJSON_AddItemToArray(content, item);
	cJSON_AddBoolToObject(r, "isError", is_error);
	return avo_agent__mcp_io_result(io, req, r);
}

int avo_agent__mcp_io_error(mcp_io *io, const cJSON *req, int code, const char *message)
{
	not_busy(io, req);
	return send_error(io, cJSON_GetObjectItemCaseSensitive(req, "id"), code, message);
}

int avo_agent__mcp_io_closed(mcp_io *io)
{
	pthread_mutex_lock(&io->mu);
	int c = io->closed;
	pthread_mutex_unlock(&io->mu);
	return c;
}
