/* Proves (issue 14 point 4): region edits cannot hold preprocessor directives (but loop
 * pragmas and the region's own #if lines), attributes that place code elsewhere, inline asm
 * in host code (a __host__ __device__ function included), or asm with section directives; each refusal names file:line:col and the
 * line inside the region. Device-code asm and #pragma unroll are accepted. */
#include "t.h"

static avo_astedit_unit *u;

static int apply1(avo_astedit_error *err, const char *region, const char *text)
{
	avo_astedit_region_edit e = {region, text};
	char *out = NULL;
	int rc = avo_astedit_apply(&out, NULL, u, &e, 1, NULL, 0, err);
	CHECK((rc == 0) == (out != NULL));
	free(out);
	return rc;
}

static void refused(const char *region, const char *text, const char *why, const char *where)
{
	avo_astedit_error err;
	int rc = apply1(&err, region, text);
	if (rc != AVO_EINVALID || err.kind != AVO_ASTEDIT_ERR_ESCAPE)
		fprintf(stderr, "accepted or wrong kind (%d): %s\n", rc, text);
	CHECK(rc == AVO_EINVALID);
	CHECK(err.kind == AVO_ASTEDIT_ERR_ESCAPE);
	CHECK_CONTAINS(err.message, why);
	CHECK_CONTAINS(err.message, where);
	avo_astedit_error_dispose(&err);
}

static void accepted(const char *region, const char *text)
{
	avo_astedit_error err;
	int rc = apply1(&err, region, text);
	if (rc != 0)
		fprintf(stderr, "refused: %s\n  %s\n", text, err.message ? err.message : avo_error_last());
	CHECK(rc == 0);
	avo_astedit_error_dispose(&err);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	u = t_parse(argv[1]);

	/* preprocessor directives */
	refused("dev", "\ty = y * 2.0f;\n#define return if (0) return\n", "directive '#define'", "guard.cu:10:1:");
	refused("dev", "#include \"/etc/passwd\"\n\ty = y;\n", "directive '#include'", "guard.cu:9:1:");
	refused("dev", "  #  undef TILE\n\ty = y;\n", "directive '#undef'", "guard.cu:9:3:");
	refused("dev", "%:define X 1\n\ty = y;\n", "directive '#define'", "guard.cu:9:1:");
	refused("dev", "#pragma push_macro(\"TILE\")\n\ty = y;\n", "directive '#pragma'", "guard.cu:9:1:");
	refused("dev", "#line 1 \"x.c\"\n\ty = y;\n", "directive '#line'", "");
	refused("dev", "\t_Pragma(\"push_macro(\\\"TILE\\\")\") y = y;\n", "_Pragma", "guard.cu:9:2:");
	/* the region's own #if lines may stay; a new #if may not */
	accepted("kbody", "#if TILE > 2\n\tacc = in[i] * (TILE + 1);\n#else\n\tacc = in[i] + 1.f;\n#endif\n");
	refused("kbody", "#if TILE > 4\n\tacc = in[i];\n#endif\n", "directive '#if'", "guard.cu:19:1:");
	/* loop pragmas stay allowed */
	accepted("host", "#pragma unroll 4\n\tfor (int i = 0; i < n; i++)\n\t\ts += v[i];\n");
	accepted("host", "#pragma GCC unroll 8\n\tfor (int i = 0; i < n; i++)\n\t\ts += v[i];\n");
	accepted("host", "\t_Pragma(\"unroll 2\") for (int i = 0; i < n; i++)\n\t\ts += v[i];\n");

	/* attributes that move code or data out of the region's reach */
	refused("host", "\tstatic int x __attribute__((section(\".fini_array\"), used)) = 0;\n\ts = x;\n",
		"attribute 'section'", "guard.cu:33:30:");
	refused("host", "\t[[gnu::constructor]] void f();\n\ts = 0;\n", "attribute 'constructor'", "");
	/* `section` as a plain name is fine */
	accepted("host", "\tint section = 0;\n\tfor (int i = 0; i < n; i++)\n\t\tsection += v[i];\n\ts = section;\n");

	/* inline asm: device code yes, host code no, section directives never */
	accepted("dev", "\tasm volatile(\"mul.f32 %0, %1, 0f40000000;\" : \"=f\"(y) : \"f\"(y));\n");
	accepted("kbody", "#if TILE > 2\n\tasm(\"mov.u32 %0, %%clusterid.x;\" : \"=r\"(i));\n\tacc = in[i];\n#else\n\tacc = in[i];\n#endif\n");
	refused("host", "\t__asm__ volatile(\"nop\");\n\ts = 0;\n", "inline asm in host code", "guard.cu:33:2:");
	refused("dev", "\tasm volatile(\".pushsection .fini_array\\n.quad 0\\n.popsection\");\n\ty = y;\n",
		"section directive '.pushsection'", "guard.cu:9:");
	refused("dev", "\tasm(\".section .init_array\");\n", "section directive '.section'", "");
	refused("host", "\textern int z asm(\"y\");\n\ts = z;\n", "'asm' outside an asm statement", "");
	/* a __host__ __device__ function is compiled for the host too: asm there is refused,
	 * even under the device pass's __CUDA_ARCH__ */
	refused("hd", "\tasm volatile(\"add.f32 %0, %0, 0f3F800000;\" : \"+f\"(y));\n", "inline asm in host code", "guard.cu:43:2:");
	refused("hd", "\tasm volatile(\"add.f32 %0, %0, 0f3F800000;\" : \"+f\"(y));\n",
		"a host or __host__ __device__ function", "");
	accepted("hd", "\ty = y + 2.0f;\n");
	avo_astedit_unit_free(u);

	/* plain C: asm is host code */
	if (argc > 2) {
		u = t_parse(argv[2]);
		const avo_astedit_region *r = avo_astedit_region_find(u, "loop");
		char *old = r ? avo_astedit_region_text(u, r) : NULL;
		char *text = avo_sprintf("%s\t__asm__(\"nop\");\n", old ? old : "");
		refused("loop", text, "inline asm in host code", "plain.c:");
		free(text);
		free(old);
		avo_astedit_unit_free(u);
	}
	return t_done();
}
