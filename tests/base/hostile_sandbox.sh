#!/usr/bin/env bash
# A hostile variant through the real CLI (`avo eval --variant`): code that runs in the
# harness process (a constructor) tries what issue 14 lists, and the sandbox stops each:
# a setsid grandchild that would outlive the run and write a file later, a grandchild holding
# stdout open past the timeout, appending to the user's kernel, writing into the cache dir,
# connecting to a loopback server this test runs, reading avo's secrets (own environ and any
# /proc/*/environ). The variant aborts when it finds a secret, so "correct" means it did not.
# usage: hostile_sandbox.sh AVO SOURCE_DIR WORK_DIR
set -uo pipefail
avo=$1 src=$2 work=$3
bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc true 2>/dev/null ||
  { echo "SKIP: bubblewrap cannot start here"; exit 77; }
rm -rf "$work" && mkdir -p "$work" && cp -r "$src/kernels/cpu" "$work/cpu"
export AVO_CACHE_DIR=$work/cache AVO_CACHE_REMOTE= HOSTILE_API_KEY=sk-hostile-7319 DB_PASSWD=pw-hostile-7319
fail=0
python3 - "$work/port" "$work/conns" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(60)
try:
    while True:
        c, _ = s.accept(); open(sys.argv[2], "a").write("connected\n"); c.close()
except Exception:
    pass
PY
srv=$!
trap 'kill $srv 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
kernel=$work/cpu/attention.c
cp "$kernel" "$work/kernel.before"
mkdir -p "$AVO_CACHE_DIR"
{ cat "$kernel"; cat <<C; } > "$work/hostile.c"
#include <arpa/inet.h>
#include <stdlib.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static int hostile_has_secret(const char *path)
{
	char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0) close(fd);
	for (ssize_t i = 0; i + 7 < n; i++)
		if (!memcmp(buf + i, "hostile-7319", 12 < n - i ? 12 : (size_t)(n - i))) return 1;
	return 0;
}
__attribute__((constructor)) static void hostile(void)
{
	if (fork() == 0) { /* outlive the run, then write outside */
		setsid();
		if (fork() == 0) { sleep(3); int f = open("$work/late-marker", O_CREAT | O_WRONLY, 0644); if (f >= 0) close(f); _exit(0); }
		execlp("sleep", "sleep", "97.7319", (char *)0); /* holds stdout open */
		_exit(0);
	}
	int f = open("$kernel", O_WRONLY | O_APPEND); if (f >= 0) { (void)!write(f, "// pwned\n", 9); close(f); }
	f = open("$work/cache/planted", O_CREAT | O_WRONLY, 0644); if (f >= 0) close(f);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons($port); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0) { connect(s, (struct sockaddr *)&a, sizeof(a)); close(s); }
	if (hostile_has_secret("/proc/self/environ")) abort();
	DIR *d = opendir("/proc"); struct dirent *e; char p[300];
	while (d && (e = readdir(d))) { snprintf(p, sizeof(p), "/proc/%s/environ", e->d_name); if (hostile_has_secret(p)) abort(); }
	if (d) closedir(d);
}
C
t0=$(date +%s)
"$avo" eval "$work/cpu/avo.json" --variant "$work/hostile.c" --no-cache --timeout 10 > "$work/out.txt" 2> "$work/err.txt"
rc=$? t1=$(date +%s)
grep -q "verdict: correct" "$work/out.txt" || { echo "FAIL: not correct (a secret reached it, or it broke): rc $rc"; cat "$work/out.txt" "$work/err.txt"; fail=1; }
[ $((t1 - t0)) -lt 30 ] || { echo "FAIL: took $((t1 - t0)) s: a grandchild stretched the run"; fail=1; }
sleep 4 # past the grandchild's 3 s
[ -e "$work/late-marker" ] && { echo "FAIL: a setsid grandchild outlived the evaluation"; fail=1; }
pgrep -f "sleep 97.7319" >/dev/null && { echo "FAIL: the stdout holder is still alive"; pkill -f "sleep 97.7319"; fail=1; }
cmp -s "$kernel" "$work/kernel.before" || { echo "FAIL: the user's kernel was written"; fail=1; }
[ -e "$work/cache/planted" ] && { echo "FAIL: a file was planted in the cache dir"; fail=1; }
[ -s "$work/conns" ] && { echo "FAIL: the candidate reached the loopback server"; fail=1; }
# The same variant unsandboxed does reach them: the checks above can fail.
rm -f "$work/conns"
"$avo" eval "$work/cpu/avo.json" --variant "$work/hostile.c" --no-cache --timeout 10 --no-sandbox > "$work/out2.txt" 2>&1
sleep 0.5
[ -s "$work/conns" ] || { echo "FAIL: control: unsandboxed, the server saw no connection"; fail=1; }
cp "$work/kernel.before" "$kernel"
pkill -f "sleep 97.7319" 2>/dev/null; sleep 3.5; rm -f "$work/late-marker"
[ $fail = 0 ] && echo "ok: every escape stopped"
exit $fail
