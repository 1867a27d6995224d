/* libFuzzer target: run files as a killed or hostile run might leave them. The input is up to
 * four parts separated by NUL bytes: lineage.jsonl, attempts.jsonl, run.json, the original
 * kernel. Everything the report does with them (load, summarise, HTML, text, JSON, diff,
 * marker scan) must neither crash nor leak, whatever they hold. */
#include "report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static void cleanup(void)
{
	if (dir)
		avo_rm_rf(dir);
	free(dir);
}

static void put(const char *name, const char *data, size_t len)
{
	char *p = avo_path_join(dir, name);
	FILE *f = len ? fopen(p, "wb") : NULL; /* plain stdio: no fsync per run */
	if (f) {
		fwrite(data, 1, len, f);
		fclose(f);
	} else
		avo_rm_rf(p); /* an empty part: the file is missing */
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir) {
		if (avo_mkdtemp(&dir, "/tmp", "avo-fuzz-report-") < 0)
			abort();
		atexit(cleanup);
	}
	char *buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	const char *part[4] = {"", "", "", ""};
	size_t len[4] = {0, 0, 0, 0};
	const char *p = buf, *end = buf + size;
	for (int i = 0; i < 4 && p <= end; i++) {
		const char *z = i < 3 ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		part[i] = p;
		len[i] = (size_t)((z ? z : end) - p);
		p = z ? z + 1 : end + 1;
	}
	put("lineage.jsonl", part[0], len[0]);
	put("attempts.jsonl", part[1], len[1]);
	put("run.json", part[2], len[2]);

	avo_report_run *run = NULL;
	if (avo_report_load(&run, dir, NULL) == 0) {
		avo_buf out = AVO_BUF_INIT;
		avo_report_options o = AVO_REPORT_OPTIONS_INIT;
		o.kernel_src = part[3]; /* NUL-terminated: the last part runs to the end */
		o.kernel_path = "kernel.c";
		o.best_src = part[0];
		avo_report_html(&out, run, &o);
		avo_report_status_text(&out, run, NULL);
		avo_report_status_json(&out, run, NULL);
		avo_buf_dispose(&out);
		avo_report_run_free(run);
	}
	avo_buf d = AVO_BUF_INIT;
	char *a = avo_strndup(part[0], len[0]), *b = avo_strndup(part[1], len[1]);
	avo_report_diff(&d, a, b, 1, NULL);
	avo_buf_dispose(&d);
	free(a), free(b);
	free(buf);
	return 0;
}
