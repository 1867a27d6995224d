/* avo cache {stats,verify,gc,put,get,put-object}: inspect and maintain the cache. */
#include "cli.h"
#include "avo_base.h"
#include "avo_cache.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_main[] =
	"usage: avo cache [--dir DIR] [--remote URL] <command> [<args>]\n"
	"\n"
	"commands:\n"
	"  stats [--json]            entries and bytes per namespace\n"
	"  verify [--json]           re-hash every entry, remove corrupt ones (exit 1 if any)\n"
	"  gc --max-size SIZE        evict least recently used entries down to SIZE (K/M/G/T)\n"
	"  put NS KEY FILE           store FILE ('-': stdin) under NS/KEY\n"
	"  get NS KEY [-o FILE]      print (or write) NS/KEY; exit 1 on a miss\n"
	"  put-object FILE           store FILE in 'obj' under its content hash; prints the hash\n"
	"\n"
	"options (any command):\n"
	"  --dir DIR         local cache directory (default: $AVO_CACHE_DIR, $XDG_CACHE_HOME/avo,\n"
	"                    ~/.cache/avo)\n"
	"  --remote URL      remote cache base URL (default: $AVO_CACHE_REMOTE; '' for none)\n"
	"  --read-only       never write to the remote (also $AVO_CACHE_REMOTE_READONLY=1)\n"
	"  --timeout-ms N    whole-request limit for the remote (default 10000)\n"
	"  --quiet           no warnings on stderr\n"
	"\n"
	"environment: AVO_CACHE_TOKEN (bearer token for the remote), AVO_CACHE_TIMEOUT_MS,\n"
	"AVO_CACHE_CONNECT_TIMEOUT_MS.\n"
	"exit codes: 0 ok, 1 miss (get) or corrupt entries found (verify), 2 usage,\n"
	"3 bad input (missing FILE, bad key), 4 environment (I/O).\n";

static const struct {
	const char *name, *help;
} sub_help[] = {
	{"stats", "usage: avo cache stats [--json] [--dir DIR]\n"
		  "Counts the entries and bytes of the local cache, per namespace, and the\n"
		  "temporary files of writers in flight (or killed). Exit 0, or 4 on I/O errors.\n"},
	{"verify", "usage: avo cache verify [--json] [--dir DIR]\n"
		   "Reads every local entry and checks its content hash and length; removes corrupt\n"
		   "or truncated entries and temporaries left by dead writers. Does not change the\n"
		   "LRU order. Exit 0 when clean, 1 when corrupt entries were found (and removed).\n"},
	{"gc", "usage: avo cache gc --max-size SIZE [--json] [--dir DIR]\n"
	       "Evicts least recently used entries (oldest mtime first; a hit refreshes it)\n"
	       "until the cache holds at most SIZE bytes. SIZE: a number with an optional\n"
	       "K, M, G or T suffix (powers of 1024), e.g. 2G. Also removes stray temporaries.\n"},
	{"put", "usage: avo cache put NS KEY FILE [--dir DIR] [--remote URL]\n"
		"Stores FILE ('-': stdin) under namespace NS and 32-hex-digit KEY, locally\n"
		"(atomically) and then on the remote unless it is read-only. In 'obj' the key must\n"
		"be the content hash (see put-object).\n"},
	{"get", "usage: avo cache get NS KEY [-o FILE] [--dir DIR] [--remote URL]\n"
		"Writes the verified payload of NS/KEY to stdout or FILE (atomically when FILE is a\n"
		"regular file). Looks locally, then on the remote (a remote hit is stored locally).\n"
		"Exit 0 on a hit, 1 on a miss (a corrupt entry is reported, removed and a miss).\n"},
	{"put-object", "usage: avo cache put-object FILE [--dir DIR] [--remote URL]\n"
		       "Stores FILE ('-': stdin) in namespace 'obj' under its XXH3-128 content hash\n"
		       "and prints the hash.\n"},
};

typedef struct {
	const char *dir, *remote, *out, *max_size;
	int json, quiet, readonly;
	long timeout_ms;
	const char *pos[8];
	int npos;
} args;

static int usage_error(const char *msg)
{
	fprintf(stderr, "avo: cache: %s (see 'avo cache --help')\n", msg);
	return AVO_EXIT_USAGE;
}

static int print_help(const char *sub)
{
	for (size_t i = 0; sub && i < sizeof(sub_help) / sizeof(sub_help[0]); i++)
		if (!strcmp(sub, sub_help[i].name)) {
			fputs(sub_help[i].help, stdout);
			return AVO_EXIT_OK;
		}
	fputs(usage_main, stdout);
	return AVO_EXIT_OK;
}

/* "2G", "512M", "100k", "1048576" -> bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int read_input(avo_buf *b, const char *path)
{
	if (strcmp(path, "-"))
		return avo_file_read(b, path);
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), stdin)) > 0)
		if (avo_buf_put(b, tmp, n) < 0)
			return AVO_ERROR;
	if (ferror(stdin))
		return avo_error_set(AVO_EIO, "stdin: read error");
	return 0;
}

static int write_output(const char *path, const avo_buf *b)
{
	struct stat st;
	const char *data = b->ptr ? b->ptr : "";
	if (!path || !strcmp(path, "-")) {
		if (fwrite(data, 1, b->size, stdout) != b->size || fflush(stdout) != 0)
			return avo_error_set(AVO_EIO, "stdout: write error");
		return 0;
	}
	/* /dev/null, a fifo, a terminal: no temporary file beside it, just write. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return avo_error_set(AVO_EIO, "%s: %s", path, strerror(errno));
		size_t done = 0;
		while (done < b->size) {
			ssize_t n = write(fd, data + done, b->size - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				int e = errno;
				close(fd);
				return avo_error_set(AVO_EIO, "%s: %s", path, strerror(e));
			}
			done += (size_t)n;
		}
		close(fd);
		return 0;
	}
	return avo_file_write_atomic(path, data, b->size, 0644);
}

static void print_json(cJSON *j)
{
	char *s = cJSON_Print(j);
	if (s)
		puts(s);
	free(s);
	cJSON_Delete(j);
}

static int cmd_stats(avo_cache *c, const args *a)
{
	avo_cache_stats st;
	int rc = avo_cache_stat(c, &st);
	if (rc < 0)
		return avo_cli_fail(rc);
	static const char *const names[4] = {"obj", "eval", "tune", "bin"};
	const char *remote = avo_cache_remote(c);
	uint64_t other_e = st.entries, other_b = st.bytes; /* namespaces beyond the four */
	for (int i = 0; i < 4; i++) {
		other_e -= st.per_ns_entries[i];
		other_b -= st.per_ns_bytes[i];
	}
	if (a->json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "dir", avo_cache_dir(c));
		cJSON_AddNumberToObject(j, "entries", (double)st.entries);
		cJSON_AddNumberToObject(j, "bytes", (double)st.bytes);
		cJSON *ns = cJSON_AddObjectToObject(j, "namespaces");
		for (int i = 0; i < 4; i++) {
			cJSON *o = cJSON_AddObjectToObject(ns, names[i]);
			cJSON_AddNumberToObject(o, "entries", (double)st.per_ns_entries[i]);
			cJSON_AddNumberToObject(o, "bytes", (double)st.per_ns_bytes[i]);
		}
		cJSON *o = cJSON_AddObjectToObject(ns, "other");
		cJSON_AddNumberToObject(o, "entries", (double)other_e);
		cJSON_AddNumberToObject(o, "bytes", (double)other_b);
		cJSON_AddNumberToObject(j, "temp_files", (double)st.temp_files);
		if (remote)
			cJSON_AddStringToObject(j, "remote", remote);
		else
			cJSON_AddNullToObject(j, "remote");
		print_json(j);
		return AVO_EXIT_OK;
	}
	printf("cache: %s\n", avo_cache_dir(c));
	printf("entries: %" PRIu64 " (%" PRIu64 " bytes)\n", st.entries, st.bytes);
	for (int i = 0; i < 4; i++)
		printf("  %-5s %" PRIu64 " entries, %" PRIu64 " bytes\n", names[i], st.per_ns_entries[i],
		       st.per_ns_bytes[i]);
	printf("  %-5s %" PRIu64 " entries, %" PRIu64 " bytes\n", "other", other_e, other_b);
	printf("temporary files: %" PRIu64 "\n", st.temp_files);
	printf("remote: %s\n", remote ? remote : "(none)");
	return AVO_EXIT_OK;
}

static int cmd_verify(avo_cache *c, const args *a)
{
	uint64_t checked, removed;
	int rc = avo_cache_verify(c, &checked, &removed);
	if (rc < 0)
		return avo_cli_fail(rc);
	avo_cache_stats st;
	uint64_t temps = avo_cache_stat(c, &st) == 0 ? st.temp_removed : 0;
	if (a->json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "checked", (double)checked);
		cJSON_AddNumberToObject(j, "removed", (double)removed);
		cJSON_AddNumberToObject(j, "temp_removed", (double)temps);
		cJSON_AddBoolToObject(j, "clean", removed == 0);
		print_json(j);
	} else {
		printf("checked %" PRIu64 " entries, removed %" PRIu64 " corrupt, %" PRIu64
		       " stray temporary files\n",
		       checked, removed, temps);
	}
	return removed ? AVO_EXIT_FAIL : AVO_EXIT_OK;
}

static int cmd_gc(avo_cache *c, const args *a)
{
	uint64_t max;
	if (!a->max_size)
		return usage_error("gc needs --max-size SIZE");
	if (parse_size(a->max_size, &max) < 0)
		return usage_error("bad --max-size (want a number with an optional K/M/G/T suffix)");
	uint64_t evicted, freed;
	int rc = avo_cache_gc(c, max, &evicted, &freed);
	if (rc < 0)
		return avo_cli_fail(rc);
	avo_cache_stats st;
	if ((rc = avo_cache_stat(c, &st)) < 0)
		return avo_cli_fail(rc);
	if (a->json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "evicted", (double)evicted);
		cJSON_AddNumberToObject(j, "freed_bytes", (double)freed);
		cJSON_AddNumberToObject(j, "entries", (double)st.entries);
		cJSON_AddNumberToObject(j, "bytes", (double)st.bytes);
		cJSON_AddNumberToObject(j, "temp_removed", (double)st.temp_removed);
		print_json(j);
	} else {
		printf("evicted %" PRIu64 " entries (%" PRIu64 " bytes); %" PRIu64 " entries, %" PRIu64
		       " bytes left\n",
		       evicted, freed, st.entries, st.bytes);
	}
	return AVO_EXIT_OK;
}

static int cmd_put(avo_cache *c, const args *a, int object)
{
	if (a->npos != (object ? 2 : 4))
		return usage_error(object ? "put-object needs FILE" : "put needs NS KEY FILE");
	avo_buf in = AVO_BUF_INIT;
	int rc = read_input(&in, a->pos[object ? 1 : 3]);
	if (rc == 0) {
		if (object) {
			char key[AVO_CACHE_HEX];
			if ((rc = avo_cache_put_object(c, key, in.ptr ? in.ptr : "", in.size)) == 0)
				printf("%s\n", key);
		} else {
			rc = avo_cache_put(c, a->pos[1], a->pos[2], in.ptr ? in.ptr : "", in.size);
		}
	}
	avo_buf_dispose(&in);
	return rc < 0 ? avo_cli_fail(rc) : AVO_EXIT_OK;
}

static int cmd_get(avo_cache *c, const args *a)
{
	if (a->npos != 3)
		return usage_error("get needs NS KEY");
	avo_buf b = AVO_BUF_INIT;
	int rc = avo_cache_get(c, a->pos[1], a->pos[2], &b);
	if (rc == AVO_ENOTFOUND) {
		avo_buf_dispose(&b);
		fprintf(stderr, "avo: %s/%s: not in cache\n", a->pos[1], a->pos[2]);
		return AVO_EXIT_FAIL;
	}
	if (rc == 0)
		rc = write_output(a->out, &b);
	avo_buf_dispose(&b);
	return rc < 0 ? avo_cli_fail(rc) : AVO_EXIT_OK;
}

int avo_cmd_cache(int argc, char **argv)
{
	args a = {0};
	int help = 0;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		const char **val = NULL;
		if (avo_cli_is_help(s)) {
			help = 1;
			continue;
		} else if (!strcmp(s, "--json")) {
			a.json = 1;
			continue;
		} else if (!strcmp(s, "--quiet") || !strcmp(s, "-q")) {
			a.quiet = 1;
			continue;
		} else if (!strcmp(s, "--read-only")) {
			a.readonly = 1;
			continue;
		} else if (!strcmp(s, "--dir")) {
			val = &a.dir;
		} else if (!strcmp(s, "--remote")) {
			val = &a.remote;
		} else if (!strcmp(s, "-o") || !strcmp(s, "--output")) {
			val = &a.out;
		} else if (!strcmp(s, "--max-size")) {
			val = &a.max_size;
		} else if (!strcmp(s, "--timeout-ms")) {
			if (i + 1 >= argc || (a.timeout_ms = strtol(argv[i + 1], NULL, 10)) <= 0)
				return usage_error("--timeout-ms needs a positive number");
			i++;
			continue;
		} else if (s[0] == '-' && s[1] && strcmp(s, "-")) {
			char msg[256];
			snprintf(msg, sizeof(msg), "unknown option '%s'", s);
			return usage_error(msg);
		} else {
			if (a.npos == (int)(sizeof(a.pos) / sizeof(a.pos[0])))
				return usage_error("too many arguments");
			a.pos[a.npos++] = s;
			continue;
		}
		if (i + 1 >= argc) {
			char msg[256];
			snprintf(msg, sizeof(msg), "%s needs a value", s);
			return usage_error(msg);
		}
		*val = argv[++i];
	}
	if (help)
		return print_help(a.npos ? a.pos[0] : NULL);
	if (!a.npos) {
		fputs(usage_main, stderr);
		return AVO_EXIT_USAGE;
	}
	const char *sub = a.pos[0];
	int known = 0;
	for (size_t i = 0; i < sizeof(sub_help) / sizeof(sub_help[0]); i++)
		known |= !strcmp(sub, sub_help[i].name);
	if (!known) {
		char msg[256];
		snprintf(msg, sizeof(msg), "unknown command '%s'", sub);
		return usage_error(msg);
	}
	if (a.npos > 1 && (!strcmp(sub, "stats") || !strcmp(sub, "verify") || !strcmp(sub, "gc")))
		return usage_error("unexpected argument");

	avo_cache_options o = AVO_CACHE_OPTIONS_INIT;
	o.dir = a.dir;
	o.remote_url = a.remote;
	o.quiet = a.quiet;
	if (a.readonly)
		o.remote_readonly = 1;
	o.timeout_ms = a.timeout_ms;
	avo_cache *c;
	int rc = avo_cache_open(&c, &o);
	if (rc < 0)
		return avo_cli_fail(rc);
	int ex;
	if (!strcmp(sub, "stats"))
		ex = cmd_stats(c, &a);
	else if (!strcmp(sub, "verify"))
		ex = cmd_verify(c, &a);
	else if (!strcmp(sub, "gc"))
		ex = cmd_gc(c, &a);
	else if (!strcmp(sub, "put"))
		ex = cmd_put(c, &a, 0);
	else if (!strcmp(sub, "put-object"))
		ex = cmd_put(c, &a, 1);
	else
		ex = cmd_get(c, &a);
	avo_cache_free(c);
	return ex;
}
