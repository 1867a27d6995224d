/* The llm operator's parts, internal to agent/: its options, the HTTP client, and the wire
 * formats behind one table (llm_chat.c, llm_responses.c, llm_anthropic.c). Adding a format
 * is one file that fills an avo_llm_wire and one line in avo_llm_wires (llm_wire.c).
 *
 * A conversation is a cJSON array in the format's own shape (chat messages, Responses input
 * items, Anthropic messages); the system prompt travels beside it. Ownership: every cJSON
 * handed to a wire function is borrowed unless the comment says it is taken; strings
 * returned by pointer are heap memory the caller frees. */
#ifndef AVO_AGENT_LLM_H
#define AVO_AGENT_LLM_H

#include "avo_agent_tools.h"
#include "internal.h"

#include <cjson/cJSON.h>

typedef struct avo_llm_wire avo_llm_wire;

/* The spec's "llm" section, parsed (see avo_agent_llm_new in avo_agent.h). */
typedef struct {
	const avo_llm_wire *wire;
	char *base_url, *model, *key_env, *anthropic_version, *max_tokens_field, *reasoning_effort;
	char *system_prompt;   /* NULL: the embedded one */
	char **headers;        /* extra "Name: value" lines (OpenRouter's X-Title, ...) */
	size_t nheaders;
	cJSON *extra_body;     /* provider fields merged into every request; may be NULL */
	long max_turns;
	double max_request_bytes;
	long long max_tokens;
	long max_output_tokens;
	int has_temperature;
	double temperature;
	double timeout, retry_base, retry_cap;
	long retries;
	double price_in, price_out, price_cached, price_cache_write; /* USD per million tokens */
	int prompt_cache;      /* mark cache breakpoints (Anthropic) */
} avo_llm_conf;

typedef struct {
	char *id, *name;
	cJSON *args;           /* owned; NULL when the arguments were not a JSON object */
	char *args_error;
} avo_llm_call;

typedef struct {
	avo_llm_call *calls;
	size_t ncalls;
	long long in, out;     /* input tokens (all of them) and output tokens */
	long long cached;      /* input tokens read from the provider's prompt cache */
	long long cache_write; /* input tokens written to it (Anthropic bills them higher) */
	int truncated;         /* the answer was cut at the output token limit */
	cJSON *turn;           /* owned: an array of the items to append to the conversation */
} avo_llm_reply;

struct avo_llm_wire {
	const char *name;      /* the "api" option */
	const char *base_url;  /* default */
	const char *key_env;   /* default */
	const char *path;      /* appended to base_url */
	/* The auth header for `key` (NULL key: none) and a version header (may be NULL). */
	void (*headers)(char *out[2], const avo_llm_conf *c, const char *key);
	/* The tools in this format. */
	cJSON *(*tools)(const avo_agent_tool_def *defs, size_t n);
	/* A request without the fields llm.c adds (model, temperature, extra_body). May mark
	 * cache breakpoints in `conv`. Takes nothing: references to conv and tools. */
	cJSON *(*request)(const avo_llm_conf *c, cJSON *conv, const cJSON *tools, const char *system);
	/* Parse an answer object. <0 with a message when it is unusable. */
	int (*parse)(avo_llm_reply *r, const cJSON *root);
	/* Append a user text; append the results of rp's calls (texts[i], errs[i]). */
	int (*user)(cJSON *conv, const char *text);
	int (*results)(cJSON *conv, const avo_llm_reply *rp, char **texts, const int *errs);
	/* Drop rp's calls from its turn (a cut answer: the calls are not run). */
	void (*drop_calls)(avo_llm_reply *rp);
	/* Replace the oldest long tool result (not among the last 4 items) by a stub. 1: done. */
	int (*elide)(cJSON *conv);
};

/* The registry (llm_wire.c), NULL-terminated. */
extern const avo_llm_wire *const avo_llm_wires[];
extern const avo_llm_wire avo_llm_wire_chat, avo_llm_wire_responses, avo_llm_wire_anthropic;
const avo_llm_wire *avo_llm_wire_find(const char *name);

/* Shared by the wire files (llm_wire.c). */
#define AVO_LLM_ELIDED "(elided to keep the conversation short; call the tool again if you need it)"
const char *avo_llm_str(const cJSON *o, const char *name);
long long avo_llm_count(const cJSON *o, const char *name); /* a token count, clamped */
/* Add a call; a missing id is made up ("avo_call_N") and written into *id_slot of the
 * turn (when given) so the result still pairs with the call. */
int avo_llm_add_call(avo_llm_reply *r, cJSON *id_holder, const char *id_field, const char *name);
/* The arguments of the last call from a JSON text (or an object, or nothing). */
void avo_llm_set_args(avo_llm_reply *r, const cJSON *args);
void avo_llm_reply_dispose(avo_llm_reply *r);
/* Replace string `field` of o by the stub when it is long. 1: replaced. */
int avo_llm_elide_field(cJSON *o, const char *field);
cJSON *avo_llm_text_message(const char *role, const char *text);
/* "Authorization: Bearer KEY" (OpenAI and compatible servers). */
void avo_llm_bearer_headers(char *out[2], const avo_llm_conf *c, const char *key);
/* How a wire format writes one tool: {"type": type?, <wrap>: {"name", "description",
 * <schema_key>: schema}} where a NULL wrap puts the fields in the tool itself; `strict`
 * adds "strict": false there (optional arguments allowed). */
typedef struct {
	const char *type, *wrap, *schema_key;
	int strict;
} avo_llm_tool_shape;
/* The tool list in that shape. NULL when out of memory. */
cJSON *avo_llm_tool_list(const avo_agent_tool_def *defs, size_t n, const avo_llm_tool_shape *shape);
/* Append {"role": "user", "content": text}. */
int avo_llm_user_text(cJSON *conv, const char *text);
/* Elide string `field` of the oldest item whose `key` is `value` (not the last 4 items). */
int avo_llm_elide_items(cJSON *conv, const char *key, const char *value, const char *field);

/* llm_http.c: one POST with backoff on 429 and 5xx (Retry-After wins). 0: a 2xx answer in
 * *body. <0: the message says why; *fatal is 1 when going on cannot help (authentication,
 * permission, unknown model, bad request, a spend limit), so the run should stop. */
int avo_llm_post(avo_buf *body, int *fatal, const avo_llm_conf *c, const char *url, const char *json,
		 const char *key);
/* A provider error inside a 2xx answer ({"error": {...}}): 1 and the message set (fatal as
 * above), else 0. */
int avo_llm_body_error(const cJSON *root, int *fatal);

#endif
