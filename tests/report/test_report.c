/* The report core on fixture run directories: reading (lenient about torn lines), the
 * summary, HTML escaping of everything taken from the files, the line diff, the marker
 * scan, atomic writes. Usage: report_test_report <fixtures dir> */
#include "report.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
			failures++;                                                                \
		}                                                                                  \
	} while (0)
#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || strcmp(a_, b_)) {                                                       \
			fprintf(stderr, "%s:%d: expected\n[%s]\ngot\n[%s]\n", __FILE__, __LINE__, b_, \
				a_ ? a_ : "(null)");                                               \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static const char *fixtures;

static char *fixture(const char *name) { return avo_path_join(fixtures, name); }

static void test_escape(void)
{
	avo_buf b = AVO_BUF_INIT;
	CHECK(avo_report_escape(&b, "<a href='x'>&\"</a>", (size_t)-1) == 0);
	CHECK_STR(avo_buf_cstr(&b), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
	avo_buf_clear(&b);
	CHECK(avo_report_escape(&b, "plain", (size_t)-1) == 0);
	CHECK(avo_report_escape(&b, NULL, 0) == 0);
	CHECK(avo_report_escape(&b, "a\0b", 3) == 0); /* NUL is not allowed in HTML text */
	CHECK_STR(avo_buf_cstr(&b), "plaina\xEF\xBF\xBD" "b");
	avo_buf_dispose(&b);
}

static char *diff_of(const char *a, const char *b, int html, int *changed)
{
	avo_buf out = AVO_BUF_INIT;
	CHECK(avo_report_diff(&out, a, b, html, changed) == 0);
	return avo_buf_detach(&out);
}

/* Apply a unified diff (as avo_report_diff writes it) to `a`; NULL when it does not fit. */
static char *patch(const char *a, const char *d)
{
	avo_buf out = AVO_BUF_INIT;
	const char *ap = a;
	unsigned long aline = 1;
	while (*d) {
		unsigned long as, ac, bs, bc;
		if (sscanf(d, "@@ -%lu,%lu +%lu,%lu @@", &as, &ac, &bs, &bc) != 4)
			goto bad;
		d = strchr(d, '\n') + 1;
		unsigned long first = ac ? as : as + 1; /* a count of 0 names the line before */
		for (; aline < first; aline++) { /* copy untouched lines */
			const char *nl = strchr(ap, '\n');
			size_t n = nl ? (size_t)(nl - ap) + 1 : strlen(ap);
			avo_buf_put(&out, ap, n);
			ap += n;
		}
		while (*d && *d != '@') {
			const char *nl = strchr(d, '\n');
			size_t n = (size_t)(nl - d);
			const char *al = strchr(ap, '\n');
			size_t an = al ? (size_t)(al - ap) : strlen(ap);
			if (*d == ' ' || *d == '-') {
				if (an != n - 1 || memcmp(ap, d + 1, an))
					goto bad;
				if (*d == ' ')
					avo_buf_put(&out, ap, an + (al ? 1 : 0));
				ap += an + (al ? 1 : 0);
				aline++;
			} else if (*d == '+') {
				avo_buf_put(&out, d + 1, n - 1);
				avo_buf_puts(&out, "\n");
			} else
				goto bad;
			d = nl + 1;
		}
	}
	avo_buf_puts(&out, ap);
	return avo_buf_detach(&out);
bad:
	avo_buf_dispose(&out);
	return NULL;
}

static void test_diff(void)
{
	int changed = -1;
	char *d = diff_of("a\nb\nc\n", "a\nB\nc\n", 0, &changed);
	CHECK_STR(d, "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
	CHECK(changed == 1);
	free(d);

	d = diff_of("same\ntext\n", "same\ntext\n", 0, &changed);
	CHECK_STR(d, "");
	CHECK(changed == 0);
	free(d);

	d = diff_of("", "x\ny\n", 0, &changed);
	CHECK_STR(d, "@@ -0,0 +1,2 @@\n+x\n+y\n");
	free(d);
	d = diff_of("x\ny\n", "", 0, &changed);
	CHECK_STR(d, "@@ -1,2 +0,0 @@\n-x\n-y\n");
	free(d);

	/* Two changes far apart make two hunks with 3 lines of context each. */
	avo_buf a = AVO_BUF_INIT, b = AVO_BUF_INIT;
	for (int i = 1; i <= 20; i++) {
		avo_buf_printf(&a, "line %d\n", i);
		if (i != 18)
			avo_buf_printf(&b, i == 2 ? "LINE %d\n" : "line %d\n", i);
	}
	d = diff_of(a.ptr, b.ptr, 0, &changed);
	CHECK_STR(d, "@@ -1,5 +1,5 @@\n line 1\n-line 2\n+LINE 2\n line 3\n line 4\n line 5\n"
		     "@@ -15,6 +15,5 @@\n line 15\n line 16\n line 17\n-line 18\n line 19\n line 20\n");
	free(d);

	/* HTML: escaped, -/+ lines wrapped. */
	d = diff_of("if (a < b)\n", "if (a <= b) </pre><script>\n", 1, &changed);
	CHECK_STR(d, "<span class=\"hunk\">@@ -1,1 +1,1 @@</span>\n<span class=\"del\">-if (a &lt; b)</span>\n"
		     "<span class=\"add\">+if (a &lt;= b) &lt;/pre&gt;&lt;script&gt;</span>\n");
	free(d);

	/* No newline at the end of the last line. */
	d = diff_of("a\nb", "a\nc", 0, &changed);
	CHECK_STR(d, "@@ -1,2 +1,2 @@\n a\n-b\n+c\n");
	free(d);

	/* Random texts over a tiny alphabet (many equal lines): the diff must turn a into b. */
	unsigned long long seed = 42;
	for (int iter = 0; iter < 300; iter++) {
		avo_buf_clear(&a);
		avo_buf_clear(&b);
		int na = 0, nb = 0;
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		na = (int)(seed >> 33) % 40;
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		nb = (int)(seed >> 33) % 40;
		for (int i = 0; i < na + nb; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			avo_buf_printf(i < na ? &a : &b, "%c\n", 'a' + (int)((seed >> 40) % 4));
		}
		d = diff_of(avo_buf_cstr(&a), avo_buf_cstr(&b), 0, &changed);
		char *p = patch(avo_buf_cstr(&a), d);
		CHECK(p && !strcmp(p, avo_buf_cstr(&b)));
		CHECK(changed == !!strcmp(avo_buf_cstr(&a), avo_buf_cstr(&b)));
		if (!p || strcmp(p, avo_buf_cstr(&b))) {
			fprintf(stderr, "a:\n%s\nb:\n%s\ndiff:\n%s\n", avo_buf_cstr(&a), avo_buf_cstr(&b), d);
			free(p), free(d);
			break;
		}
		free(p), free(d);
	}

	/* Past the LCS table limit the middle is shown as removed then added: still a patch. */
	avo_buf_clear(&a);
	avo_buf_clear(&b);
	for (int i = 0; i < 2500; i++) {
		avo_buf_printf(&a, "a%d\n", i);
		avo_buf_printf(&b, "b%d\n", i);
	}
	d = diff_of(a.ptr, b.ptr, 0, &changed);
	CHECK(!strncmp(d, "@@ -1,2500 +1,2500 @@\n-a0\n", 24));
	char *p = patch(a.ptr, d);
	CHECK(p && !strcmp(p, b.ptr));
	free(p), free(d);
	avo_buf_dispose(&a);
	avo_buf_dispose(&b);
}

static void test_scan(void)
{
	char *path = fixture("normal/kernel.c");
	avo_buf src = AVO_BUF_INIT;
	avo_report_pair *r = NULL, *k = NULL;
	size_t nr = 0, nk = 0;
	CHECK(avo_file_read(&src, path) == 0);
	CHECK(avo_report_scan_regions(&r, &nr, src.ptr) == 0);
	CHECK(nr == 2);
	if (nr == 2) {
		CHECK_STR(r[0].name, "softmax");
		CHECK(!strncmp(r[0].text, "\tfloat m = x[0];\n", 17));
		CHECK(strstr(r[0].text, "\t\tx[i] /= s;\n") && !strstr(r[0].text, "avo:end"));
		CHECK_STR(r[1].name, "accumulate");
		CHECK(r[1].text[strlen(r[1].text) - 1] == '\n' && !strstr(r[1].text, "avo:"));
	}
	CHECK(avo_report_scan_knobs(&k, &nk, src.ptr) == 0);
	CHECK(nk == 3);
	if (nk == 3) {
		CHECK_STR(k[0].name, "BLOCK_N");
		CHECK_STR(k[0].text, "64");
		CHECK_STR(k[1].name, "UNROLL");
		CHECK_STR(k[1].text, "2");
		CHECK_STR(k[2].name, "VEC");
		CHECK_STR(k[2].text, "4");
	}
	avo_report_pairs_free(r, nr);
	avo_report_pairs_free(k, nk);
	/* An unclosed region is not a region. */
	CHECK(avo_report_scan_regions(&r, &nr, "x\n// avo:region open\ny\n") == 0 && nr == 0);
	avo_report_pairs_free(r, nr);
	avo_buf_dispose(&src);
	free(path);
}

static avo_report_run *load(const char *name)
{
	avo_report_run *run = NULL;
	char *dir = fixture(name);
	int rc = avo_report_load(&run, dir, NULL);
	if (rc < 0)
		fprintf(stderr, "load %s: %s\n", name, avo_error_last());
	CHECK(rc == 0);
	free(dir);
	return run;
}

static char *html_of(const avo_report_run *run, const char *kernel_fixture)
{
	avo_report_options o = AVO_REPORT_OPTIONS_INIT;
	char *k = kernel_fixture ? fixture(kernel_fixture) : NULL;
	avo_buf b = AVO_BUF_INIT;
	o.kernel_path = k;
	o.generated_at = 1795000000;
	CHECK(avo_report_html(&b, run, &o) == 0);
	free(k);
	return avo_buf_detach(&b);
}

static void test_normal(void)
{
	avo_report_run *run = load("normal");
	if (!run)
		return;
	CHECK(run->nversions == 5 && run->nattempts == 36 && run->npeers == 3 && run->nwarnings == 0);
	avo_report_summary s;
	CHECK(avo_report_summarize(&s, run) == 0);
	CHECK(s.best && s.best->id == 4 && s.baseline && s.baseline->id == 0);
	CHECK(s.best_fitness == run->versions[4].fitness && s.speedup > 1.4 && s.speedup < 1.5);
	CHECK(s.commits == 4 && s.attempts == 36);
	CHECK_STR(s.objective, "tflops");
	long nfail = 0;
	for (size_t i = 0; i < s.nfailures; i++)
		nfail += strtol(s.failures[i].text, NULL, 10);
	CHECK(nfail == 36 - 5); /* every attempt but the baseline and the 4 commits */
	for (size_t i = 1; i < s.nfailures; i++) /* most frequent first */
		CHECK(strtol(s.failures[i - 1].text, NULL, 10) >= strtol(s.failures[i].text, NULL, 10));
	avo_report_summary_dispose(&s);

	char *h = html_of(run, "normal/kernel.c");
	CHECK(!strncmp(h, "<!DOCTYPE html>", 15));
	CHECK(strstr(h, "Content-Security-Policy") && !strstr(h, "<script"));
	CHECK(strstr(h, "id=\"attempts\" data-value=\"36\""));
	CHECK(strstr(h, "id=\"commits\" data-value=\"4\""));
	CHECK(strstr(h, "<svg class=\"chart\""));
	CHECK(strstr(h, "data-region=\"softmax\"") && strstr(h, "data-region=\"accumulate\""));
	CHECK(strstr(h, "<span class=\"add\">+\tconst float r = 1.0f / s;"));
	CHECK(strstr(h, "knobs: BLOCK_N=128 (was 64)"));
	CHECK(strstr(h, "cudnn TFLOP/s"));
	CHECK(!strstr(h, "http://") || !strstr(strstr(h, "http://") + 1, "http://")); /* only the SVG namespace */
	free(h);
	avo_report_run_free(run);
}

static void test_truncated(void)
{
	avo_report_run *run = load("truncated");
	if (!run)
		return;
	CHECK(run->nattempts == 20 && run->nwarnings == 1);
	CHECK(run->nwarnings == 1 && strstr(run->warnings[0], "attempts.jsonl:21:"));
	char *h = html_of(run, "truncated/kernel.c");
	CHECK(strstr(h, "id=\"warnings\""));
	free(h);
	avo_report_run_free(run);
}

static void test_baseline_only(void)
{
	avo_report_run *run = load("baseline-only");
	if (!run)
		return;
	avo_report_summary s;
	CHECK(avo_report_summarize(&s, run) == 0);
	CHECK(s.best == s.baseline && s.speedup == 1 && s.commits == 0 && s.nfailures == 0 && s.attempts == 1);
	avo_report_summary_dispose(&s);
	char *h = html_of(run, "baseline-only/kernel.c");
	CHECK(strstr(h, "nothing changed yet") && strstr(h, "No commits after the baseline"));
	free(h);
	avo_buf t = AVO_BUF_INIT;
	CHECK(avo_report_status_text(&t, run, "toy") == 0);
	CHECK(strstr(avo_buf_cstr(&t), "  commits     0\n") && strstr(avo_buf_cstr(&t), "  failures    none\n"));
	avo_buf_dispose(&t);
	avo_report_run_free(run);
}

static void test_hostile(void)
{
	avo_report_run *run = load("hostile");
	if (!run)
		return;
	char *h = html_of(run, "hostile/kernel.c");
	/* Nothing from the files may open an element: the only tags are ours. */
	CHECK(!strstr(h, "<script"));
	CHECK(!strstr(h, "<img"));
	CHECK(!strstr(h, "<!--"));
	CHECK(!strstr(h, "<b>"));
	CHECK(strstr(h, "&lt;/pre&gt;&lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt;"));
	CHECK(strstr(h, "&lt;/pre&gt;&lt;script&gt;alert(&#39;region&#39;)"));
	CHECK(strstr(h, "data-config=\"mha&lt;script&gt;"));
	/* exactly one </style>: ours; the fixture's "</style></title>" only escaped */
	CHECK(strstr(h, "</style>") && !strstr(strstr(h, "</style>") + 1, "</style>"));
	CHECK(!strstr(h, "</style></title>") && strstr(h, "&lt;/style&gt;&lt;/title&gt;"));
	free(h);
	/* the terminal gets no control characters from the files */
	free(run->versions[1].op);
	run->versions[1].op = avo_strdup("knob\x1b]0;pwned\x07\x1b[2J");
	avo_buf t = AVO_BUF_INIT;
	CHECK(avo_report_status_text(&t, run, NULL) == 0);
	CHECK(!strchr(avo_buf_cstr(&t), '\x1b') && !strchr(avo_buf_cstr(&t), '\x07') && strstr(avo_buf_cstr(&t), "knob?]0;pwned??[2J"));
	avo_buf_dispose(&t);
	avo_buf j = AVO_BUF_INIT;
	CHECK(avo_report_status_json(&j, run, NULL) == 0 && strstr(avo_buf_cstr(&j), "<script>alert('stop')</script>"));
	avo_buf_dispose(&j);
	avo_report_run_free(run);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_odd_dirs(void)
{
	avo_report_run *run = NULL;
	char *tmp = NULL;
	CHECK(avo_report_load(&run, "/nonexistent/avo-run", NULL) == AVO_ENOTFOUND && !run);
	CHECK(avo_mkdtemp(&tmp, "/tmp", "avo-report-test-") == 0);
	/* an empty directory is not a run */
	CHECK(avo_report_load(&run, tmp, NULL) == AVO_ENOTFOUND && !run);

	/* run.json alone (killed before the baseline committed) renders */
	char *rj = avo_path_join(tmp, "run.json");
	const char *rtext = "{\"spec\":\"a.json\",\"attempts\":0,\"commits\":0,\"done\":false,\"stop_reason\":null}";
	CHECK(avo_file_write_atomic(rj, rtext, strlen(rtext), 0644) == 0);
	CHECK(avo_report_load(&run, tmp, NULL) == 0);
	if (run) {
		char *h = html_of(run, NULL);
		CHECK(strstr(h, "No versions and no attempts recorded yet.") && strstr(h, "id=\"attempts\" data-value=\"0\""));
		free(h);
		avo_report_run_free(run);
		run = NULL;
	}

	/* a garbage line in the middle is skipped; the rest loads */
	char *lj = avo_path_join(tmp, "lineage.jsonl");
	const char *ltext = "{\"id\":0,\"parent\":null,\"operator\":\"baseline\",\"fitness\":2}\n"
			    "not json at all\n"
			    "[1,2]\n"
			    "{\"id\":1,\"parent\":0,\"operator\":\"knob\",\"fitness\":3}\n";
	CHECK(avo_file_write_atomic(lj, ltext, strlen(ltext), 0644) == 0);
	CHECK(avo_report_load(&run, tmp, NULL) == 0);
	if (run) {
		CHECK(run->nversions == 2 && run->nwarnings == 2 && run->nattempts == 0);
		char *h = html_of(run, NULL); /* versions but zero attempts */
		CHECK(strstr(h, "No attempts yet.") && strstr(h, "id=\"attempts\" data-value=\"0\"") && strstr(h, "class=\"step\""));
		free(h);
		avo_report_summary s;
		CHECK(avo_report_summarize(&s, run) == 0 && s.speedup == 1.5 && s.commits == 1);
		avo_report_summary_dispose(&s);
		/* written atomically: the page and nothing else (no temp file left) */
		char *out = avo_path_join(tmp, "out");
		CHECK(avo_mkdir_p(out, 0755) == 0);
		char *page = avo_path_join(out, "report.html");
		CHECK(avo_report_write_html(page, run, NULL) == 0);
		CHECK(count_entries(out) == 1 && avo_path_exists(page));
		free(page);
		free(out);
		avo_report_run_free(run);
		run = NULL;
	}
	/* peers in the bench/results shape: {"env":..,"rows":[{"config":..,"b":8,"cudnn":{"tflops":..}}]} */
	char *pj = avo_path_join(tmp, "bench.json");
	const char *ptext = "{\"env\":{\"gpu\":\"H100\"},\"rows\":[{\"config\":\"c1\",\"b\":8,\"s\":4096,"
			    "\"cudnn\":{\"correct\":true,\"ms\":2.15,\"tflops\":511.2},\"fa2\":{\"ms\":3.27,\"tflops\":335.6},"
			    "\"ours_over_cudnn\":1.08}]}";
	CHECK(avo_file_write_atomic(pj, ptext, strlen(ptext), 0644) == 0);
	CHECK(avo_report_load(&run, tmp, pj) == 0);
	if (run) {
		CHECK(run->npeers == 1 && run->peers[0].ncols == 2);
		if (run->npeers == 1 && run->peers[0].ncols == 2) {
			CHECK_STR(run->peers[0].cols[0].name, "cudnn");
			CHECK(run->peers[0].values[0] == 511.2 && run->peers[0].values[1] == 335.6);
		}
		avo_report_run_free(run);
		run = NULL;
	}
	/* flat rows (bench/results/h100-avo style): shape numbers, errors and ratios are not peers */
	ptext = "{\"gpu\":[\"H100\"],\"rows\":[{\"config\":\"c1\",\"b\":8,\"hq\":16,\"hkv\":16,\"s\":4096,\"d\":128,"
		"\"causal\":false,\"ours\":693,\"ours_max_rel_err\":0.0026,\"ours_over_cudnn\":1.16,\"cudnn\":597.6,\"fa2\":322.9}]}";
	CHECK(avo_file_write_atomic(pj, ptext, strlen(ptext), 0644) == 0);
	CHECK(avo_report_load(&run, tmp, pj) == 0);
	if (run) {
		CHECK(run->npeers == 1 && run->peers[0].ncols == 3);
		if (run->npeers == 1 && run->peers[0].ncols == 3) {
			CHECK_STR(run->peers[0].cols[0].name, "ours");
			CHECK_STR(run->peers[0].cols[1].name, "cudnn");
			CHECK_STR(run->peers[0].cols[2].name, "fa2");
		}
		avo_report_run_free(run);
		run = NULL;
	}
	free(pj);
	/* peers given explicitly must exist and parse */
	CHECK(avo_report_load(&run, tmp, "/nonexistent/peers.json") == AVO_ENOTFOUND && !run);
	CHECK(avo_report_load(&run, tmp, rj) == AVO_EPARSE && !run);
	free(rj);
	free(lj);
	avo_rm_rf(tmp);
	free(tmp);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
		return 2;
	}
	fixtures = argv[1];
	test_escape();
	test_diff();
	test_scan();
	test_normal();
	test_truncated();
	test_baseline_only();
	test_hostile();
	test_odd_dirs();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
