/* libFuzzer: API answers in both wire formats, parsed and their tool calls run on a toy
 * kernel (avo_agent__llm_fuzz). Nothing a model or a server sends may crash avo. */
#include "internal.h"

#include <stdint.h>

const char avo_agent__system_prompt[] = "";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	avo_agent__llm_fuzz(data, size);
	return 0;
}
