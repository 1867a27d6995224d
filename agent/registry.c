/* The operator registry: names to constructors. Adding an operator is one file with its
 * constructor and one line here. */
#include "avo_agent.h"
#include "avo_base.h"

#include <string.h>

static const struct {
	const char *name;
	int (*create)(avo_agent_op **out, const struct cJSON *options);
} operators[] = {
	{"knob", avo_agent_knob_new},
	{"llm", avo_agent_llm_new},
	{"command", avo_agent_command_new},
};
#define NOPS (sizeof(operators) / sizeof(operators[0]))

int avo_agent_op_new(avo_agent_op **out, const char *name, const struct cJSON *options)
{
	*out = NULL;
	if (name && !strcmp(name, "mcp")) /* it needs the client's descriptors */
		return avo_error_set(AVO_EINVALID, "the mcp operator serves an MCP client: run 'avo mcp SPEC' from the client");
	for (size_t i = 0; i < NOPS; i++)
		if (!strcmp(name ? name : "knob", operators[i].name))
			return operators[i].create(out, options);
	char list[256] = "";
	for (size_t i = 0; i < NOPS; i++) {
		strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
		strncat(list, operators[i].name, sizeof(list) - strlen(list) - 1);
	}
	return avo_error_set(AVO_EINVALID, "unknown operator \"%s\" (%s)", name, list);
}
