/* The MCP transport of the mcp operator: JSON-RPC 2.0 messages, one per line, on two file
 * descriptors (the stdio transport of the Model Context Protocol). Not part of the public
 * API.
 *
 * A reader thread answers what needs no kernel at once (initialize, ping, tools/list), so a
 * client is served while the tune loop still measures the original kernel, and queues every
 * tools/call for the operator's step, which takes them with avo_agent__mcp_io_next(). While
 * a call is in flight and its client asked for progress (params._meta.progressToken), the reader
 * sends a progress notification every few seconds, so long evaluations do not time out.
 *
 * Ownership: avo_agent__mcp_io_start() gives the caller an mcp_io freed with
 * avo_agent__mcp_io_free(), which stops the thread. `tools` (the tools/list result) is taken over. A request from
 * avo_agent__mcp_io_next() is the caller's (cJSON_Delete). The descriptors stay the caller's.
 */
#ifndef AVO_AGENT_MCP_IO_H
#define AVO_AGENT_MCP_IO_H

#include <cjson/cJSON.h>

typedef struct mcp_io mcp_io;

typedef struct {
	int in_fd, out_fd;
	const char *server_name, *server_version;
	const char *instructions;         /* the initialize result's "instructions"; may be NULL */
	cJSON *tools;                     /* array of tool definitions, taken over */
} mcp_io_options;

int avo_agent__mcp_io_start(mcp_io **out, const mcp_io_options *o);
void avo_agent__mcp_io_free(mcp_io *io);

/* Wait for the next tools/call request. 0: *req is the request; 1: the client left (end of
 * input, a read error, or an unwritable output); -1: a signal interrupted the wait, or
 * stopping(payload) (checked a few times a second; may be NULL) said to stop. */
int avo_agent__mcp_io_next(mcp_io *io, cJSON **req, int (*stopping)(void *), void *payload);
/* Answer a request with `result` (taken over). The request's progress heartbeat stops. */
int avo_agent__mcp_io_result(mcp_io *io, const cJSON *req, cJSON *result);
/* A tools/call result: one text content item and isError. */
int avo_agent__mcp_io_tool_result(mcp_io *io, const cJSON *req, const char *text, int is_error);
/* Answer a request with a JSON-RPC error. */
int avo_agent__mcp_io_error(mcp_io *io, const cJSON *req, int code, const char *message);
/* From now until its answer, send progress notifications for `req` (when it asked). */
void avo_agent__mcp_io_busy(mcp_io *io, const cJSON *req, const char *what);
/* 1 once the client is gone. */
int avo_agent__mcp_io_closed(mcp_io *io);

enum {
	MCP_PARSE_ERROR = -32700,
	MCP_INVALID_REQUEST = -32600,
	MCP_METHOD_NOT_FOUND = -32601,
	MCP_INVALID_PARAMS = -32602,
	MCP_INTERNAL_ERROR = -32603,
};

#endif
