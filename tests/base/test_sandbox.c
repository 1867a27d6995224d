/* Proves the sandbox's guarantees with real processes in bubblewrap: nothing outlives a run
 * (a setsid grandchild included), a grandchild holding stdout does not extend the timeout,
 * no network (a loopback server this test runs is unreachable), writes only in the write
 * dir, avo's /proc and environment out of reach, and secrets hidden from avo's own environ.
 * Skips (77) when bubblewrap cannot start here. Run with "connect PORT" or "write PATH",
 * it is also the program the sandbox runs. */
#include "avo_base.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

static char self[4096], wdir[4096], outside[4096];

static int child_mode(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "connect")) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {0};
		a.sin_family = AF_INET;
		a.sin_port = htons((unsigned short)atoi(argv[2]));
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			puts("connected");
			return 0;
		}
		printf("refused: %s\n", strerror(errno));
		return 3;
	}
	if (argc == 3 && !strcmp(argv[1], "write")) {
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0 && write(fd, "x\n", 2) == 2) {
			puts("wrote");
			return 0;
		}
		printf("denied: %s\n", strerror(errno));
		return 3;
	}
	return 2;
}

static void run(avo_proc_result *r, const char *const *argv, double timeout)
{
	avo_sandbox sb = {wdir, NULL, NULL, 1};
	avo_proc_options o = {0};
	o.argv = argv;
	o.sandbox = &sb;
	o.timeout_s = timeout;
	o.scrub_secrets = 1;
	CHECK(avo_proc_run(r, &o) == 0);
}

static void sh(avo_proc_result *r, const char *script, double timeout)
{
	run(r, (const char *const[]){"/bin/sh", "-c", script, NULL}, timeout);
}

/* Is a process whose command line contains `needle` alive anywhere on the host? */
static int alive(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int found = 0;
	while (d && !found && (de = readdir(d))) {
		char p[300];
		avo_buf b = AVO_BUF_INIT;
		snprintf(p, sizeof(p), "/proc/%s/cmdline", de->d_name);
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && avo_file_read(&b, p) == 0)
			for (size_t i = 0; i < b.size; i++)
				if (!strncmp(b.ptr + i, needle, strlen(needle)) && (found = 1))
					break;
		avo_buf_dispose(&b);
	}
	if (d)
		closedir(d);
	return found;
}

/* /proc/<pid>/environ holds NULs: search the whole captured output. */
static int has(const avo_buf *b, const char *needle)
{
	return b->ptr && memmem(b->ptr, b->size, needle, strlen(needle)) != NULL;
}

static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return child_mode(argc, argv);
	if (!realpath(argv[0], self))
		return 1;
	if (avo_sandbox_check() < 0) {
		fprintf(stderr, "SKIP: %s\n", avo_error_last());
		return 77;
	}
	char *tmp = NULL;
	CHECK(avo_mkdtemp(&tmp, ".", "sandbox-test-") == 0);
	char *real = realpath(tmp, NULL);
	snprintf(wdir, sizeof(wdir), "%s/scratch", real);
	snprintf(outside, sizeof(outside), "%s/users-kernel.c", real);
	CHECK(avo_mkdir_p(wdir, 0700) == 0);
	CHECK(avo_file_write_atomic(outside, "int k;\n", 7, 0644) == 0);
	avo_proc_result r;

	/* Runs, in the write dir, and exit status and output come back. */
	sh(&r, "pwd; echo err >&2; exit 3", 10);
	CHECK(r.exited && r.exit_code == 3);
	CHECK(!strncmp(avo_buf_cstr(&r.out), wdir, strlen(wdir)));
	CHECK(!strcmp(avo_buf_cstr(&r.err), "err\n"));
	avo_proc_result_dispose(&r);

	/* A signal is reported as a signal (bwrap turns it into exit 128+N). */
	sh(&r, "kill -SEGV $$", 10);
	CHECK(!r.exited && r.signal == SIGSEGV);
	avo_proc_result_dispose(&r);

	/* A setsid grandchild dies with the run; it never writes its late file. */
	double t0 = avo_now();
	sh(&r, "setsid sh -c 'sleep 61.4242; touch late' </dev/null >/dev/null 2>&1 & sleep 0.2; echo done", 10);
	CHECK(r.exited && r.exit_code == 0 && strstr(avo_buf_cstr(&r.out), "done"));
	CHECK(avo_now() - t0 < 5);
	avo_proc_result_dispose(&r);
	usleep(200000);
	CHECK(!alive("61.4242"));

	/* A setsid grandchild holding stdout: the timeout still holds, and it is dead after. */
	t0 = avo_now();
	sh(&r, "setsid sh -c 'sleep 62.4242' & sleep 63.4242", 1);
	CHECK(r.timed_out);
	CHECK(avo_now() - t0 < 5);
	avo_proc_result_dispose(&r);
	usleep(200000);
	CHECK(!alive("62.4242") && !alive("63.4242"));

	/* ... and when the leader exits at once, the run does not wait for the holder. */
	t0 = avo_now();
	sh(&r, "setsid sh -c 'sleep 64.4242' & echo early", 30);
	CHECK(r.exited && r.exit_code == 0 && !r.timed_out);
	CHECK(avo_now() - t0 < 5);
	avo_proc_result_dispose(&r);
	usleep(200000);
	CHECK(!alive("64.4242"));

	/* No network: a server on the host's loopback is out of reach. */
	int port = 0, lfd = listen_loopback(&port);
	CHECK(lfd >= 0);
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	run(&r, (const char *const[]){self, "connect", ports, NULL}, 10);
	CHECK(r.exited && r.exit_code == 3 && strstr(avo_buf_cstr(&r.out), "refused"));
	avo_proc_result_dispose(&r);
	close(lfd);

	/* Writes: the write dir yes; the user's file, /usr, and the host's /tmp no. */
	char inside[4200];
	snprintf(inside, sizeof(inside), "%s/out.txt", wdir);
	run(&r, (const char *const[]){self, "write", inside, NULL}, 10);
	CHECK(r.exited && r.exit_code == 0);
	avo_proc_result_dispose(&r);
	CHECK(avo_path_exists(inside));
	run(&r, (const char *const[]){self, "write", outside, NULL}, 10);
	CHECK(r.exited && r.exit_code == 3);
	avo_proc_result_dispose(&r);
	avo_buf b = AVO_BUF_INIT;
	CHECK(avo_file_read(&b, outside) == 0 && !strcmp(avo_buf_cstr(&b), "int k;\n"));
	avo_buf_dispose(&b);
	sh(&r, "touch /usr/avo-sandbox-test 2>/dev/null; echo x > /tmp/avo-sandbox-test-4242 && echo tmp-ok", 10);
	CHECK(strstr(avo_buf_cstr(&r.out), "tmp-ok")); /* a private /tmp */
	avo_proc_result_dispose(&r);
	CHECK(!avo_path_exists("/usr/avo-sandbox-test"));
	CHECK(!avo_path_exists("/tmp/avo-sandbox-test-4242"));

	/* avo's secrets: hidden from its own environ, absent in the child, and avo's /proc
	 * (environ, memory) is not there to read. */
	setenv("FOO_API_KEY", "sk-sandbox-4242", 1);
	setenv("DB_PASSWD", "pw-sandbox-4242", 1);
	setenv("AVO_CACHE_REMOTE", "https://user:pw-remote-4242@cache.example", 1);
	setenv("AVO_TEST_VISIBLE", "yes", 1);
	avo_secrets_hide();
	CHECK(!getenv("FOO_API_KEY") && !getenv("DB_PASSWD") && !getenv("AVO_CACHE_REMOTE"));
	CHECK(avo_secret_get("FOO_API_KEY") && !strcmp(avo_secret_get("FOO_API_KEY"), "sk-sandbox-4242"));
	CHECK(avo_secret_get("AVO_TEST_VISIBLE") && !strcmp(avo_secret_get("AVO_TEST_VISIBLE"), "yes"));
	char script[512];
	snprintf(script, sizeof(script),
		 "env; cat /proc/%ld/environ /proc/%ld/maps 2>/dev/null; ls /proc | grep -c '^[0-9]'",
		 (long)getpid(), (long)getpid());
	sh(&r, script, 10);
	CHECK(has(&r.out, "AVO_TEST_VISIBLE=yes"));
	CHECK(!has(&r.out, "4242@") && !has(&r.out, "sk-sandbox") && !has(&r.out, "pw-sandbox"));
	CHECK(!has(&r.out, "[stack]")); /* no maps of avo */
	avo_proc_result_dispose(&r);

	/* Without the sandbox, the same script does see avo: the check above can fail. */
	avo_proc_options plain = {0};
	plain.argv = (const char *const[]){"/bin/sh", "-c", script, NULL};
	plain.timeout_s = 10;
	CHECK(avo_proc_run(&r, &plain) == 0 && has(&r.out, "[stack]"));
	avo_proc_result_dispose(&r);

	/* The GPU nodes the host has are passed through. */
	avo_strv a = AVO_STRV_INIT;
	avo_sandbox gsb = {wdir, NULL, NULL, 1};
	CHECK(avo_sandbox_argv(&a, &gsb, NULL, (const char *const[]){"true", NULL}) == 0);
	int has_nvidiactl = avo_path_exists("/dev/nvidiactl"), passes = 0;
	for (size_t i = 0; i + 1 < a.n; i++)
		passes |= !strcmp(a.v[i], "--dev-bind") && !strcmp(a.v[i + 1], "/dev/nvidiactl");
	CHECK(passes == has_nvidiactl);
	avo_strv_dispose(&a);

	avo_rm_rf(real);
	free(real);
	free(tmp);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
