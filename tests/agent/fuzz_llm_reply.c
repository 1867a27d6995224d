/* libFuzzer: API answers in every wire format, parsed and their tool calls run on a toy
 * kernel through the shared tools. Nothing a model or a server sends may crash avo. */
#include "llm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char avo_agent__system_prompt[] = "";

static int fuzz_apply(char **out_source, avo_agent_apply_error *err, const avo_astedit_region_edit *r, size_t nr,
		      const avo_astedit_knob_edit *k, size_t nk, void *payload)
{
	(void)k;
	(void)nk;
	(void)payload;
	for (size_t i = 0; i < nr; i++)
		if (strstr(r[i].text, "SYNTAX")) {
			err->message = avo_strdup("fuzz.c:1:1: error: bad");
			return AVO_EINVALID;
		}
	if (out_source)
		*out_source = avo_strdup("int x;\n");
	return 0;
}

static int fuzz_evaluate(avo_agent_eval *out, const avo_astedit_region_edit *r, size_t nr,
			 const avo_astedit_knob_edit *k, size_t nk, void *payload)
{
	(void)r;
	(void)k;
	(void)payload;
	out->correct = 1;
	out->fitness = (double)(nr + nk);
	out->committed = nr > 1;
	out->feedback = avo_strdup("ok");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const vals[] = {"1", "2"};
	static const avo_agent_region regions[] = {{"body", "  x = 1;\n"}, {"tail", "  y = 2;\n"}};
	static const avo_agent_knob knobs[] = {{"K", "1", vals, 2, 0, 0, 0}, {"R", "3", NULL, 0, 1, 1, 9}};
	avo_agent_context ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.regions = regions;
	ctx.nregions = 2;
	ctx.knobs = knobs;
	ctx.nknobs = 2;
	ctx.cb.apply = fuzz_apply;
	ctx.cb.evaluate = fuzz_evaluate;
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts((const char *)data, size, &end, 0);
	for (size_t w = 0; root && avo_llm_wires[w]; w++) {
		avo_llm_reply rp;
		int fatal;
		memset(&rp, 0, sizeof(rp));
		if (avo_llm_body_error(root, &fatal) || avo_llm_wires[w]->parse(&rp, root) < 0) {
			avo_llm_reply_dispose(&rp);
			continue;
		}
		avo_agent_step_result out;
		memset(&out, 0, sizeof(out));
		avo_agent_memory mem = {0};
		avo_agent_tools *s = NULL;
		if (avo_agent_tools_new(&s, &ctx, &out, &mem) == 0)
			for (size_t i = 0; i < rp.ncalls && !avo_agent_tools_ended(s) && !avo_agent_tools_failed(s); i++) {
				int err = 0;
				if (!rp.calls[i].args_error)
					free(avo_agent_tools_call(s, rp.calls[i].name, rp.calls[i].args, &err));
			}
		avo_agent_tools_free(s);
		avo_agent_memory_dispose(&mem);
		avo_agent_step_result_dispose(&out);
		if (rp.truncated)
			avo_llm_wires[w]->drop_calls(&rp);
		avo_llm_reply_dispose(&rp);
	}
	cJSON_Delete(root);
	return 0;
}
