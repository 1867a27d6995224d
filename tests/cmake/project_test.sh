#!/usr/bin/env bash
# Configure and build the fixture project (tests/cmake/project) that uses avo_tune(), and
# check what the build does with an empty cache, a tuned result, shipped files, no-op
# rebuilds and an edited kernel.
#
#   project_test.sh GENERATOR VIA AVO_BUILD_DIR AVO_SOURCE_DIR CACHE_PUT [FLOW]
#     VIA: package | subdir | fetch | none (AVO_MODE=OFF, no avo anywhere)
#     FLOW: full (default) | basic | tune-mode | examples (examples/ on the CPU kernel) |
#           examples-cuda (and the CUDA kernel, compiled with nvcc; run only with a GPU) |
#           remote (a tuned result published to a real nginx is used by a fresh build) |
#           tune-e2e (AVO_MODE=TUNE: the build tunes the kernel on the CPU, then builds the best)
# Extra arguments for every configure (tests only): $AVO_TEST_CMAKE_ARGS.
set -euo pipefail

gen=$1 via=$2 avo_build=$3 avo_src=$4 cache_put=$5 flow=${6:-full}
case $flow in full | basic | tune-mode | tune-e2e | examples | examples-cuda | remote) ;;
*) echo "unknown FLOW '$flow'" >&2; exit 2 ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/avo-cmake-test.XXXXXX")
nginx_pid=
cleanup() {
	if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
src=$tmp/src bld=$tmp/build
cp -r "$avo_src/tests/cmake/project" "$src"
export AVO_CACHE_DIR=$tmp/cache AVO_CACHE_REMOTE=""
unset AVO_CACHE_TOKEN
# shellcheck disable=SC2206
extra=(${AVO_TEST_CMAKE_ARGS:-})
step=0

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { step=$((step + 1)); echo "== $step. $*"; }

configure() {
	cmake -S "$src" -B "$bld" -G "$gen" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DAVO_FIXTURE_VIA="$via" -DAVO_SOURCE_DIR="$avo_src" "${extra[@]}" "$@" \
		>"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "configure"; }
}
build() { # build [target]: the log in $tmp/build.log
	cmake --build "$bld" -j2 ${1:+--target "$1"} >"$tmp/build.log" 2>&1 ||
		{ cat "$tmp/build.log"; fail "build"; }
}
expect_log() { grep -q -- "$1" "$tmp/build.log" || { cat "$tmp/build.log"; fail "build log lacks: $1"; }; }
expect_app() {
	local got
	got=$("$bld/app")
	[ "$got" = "$1" ] || fail "app printed '$got', expected '$1'"
}
# A no-op rebuild runs nothing: ninja says so itself; make must not run apply or compile.
expect_noop() {
	if [ "$gen" = Ninja ]; then
		(cd "$bld" && ninja -n -d explain) >"$tmp/explain.log" 2>&1
		grep -q "ninja: no work to do." "$tmp/explain.log" ||
			{ cat "$tmp/explain.log"; fail "no-op rebuild has work to do"; }
	else
		build
		if grep -qE "avo: |Building C object|Linking" "$tmp/build.log"; then
			cat "$tmp/build.log"
			fail "no-op rebuild ran something"
		fi
	fi
}
spec() { echo "$bld/avo/app/avo.json"; }
avo_cmd() {
	if [ "$via" = package ]; then echo "$tmp/prefix/bin/avo"; else echo "$bld/avo/avo"; fi
}

if [ "$via" = package ]; then
	note "install avo into a temporary prefix"
	cmake --install "$avo_build" --prefix "$tmp/prefix" >/dev/null
	extra+=("-DCMAKE_PREFIX_PATH=$tmp/prefix")
fi

if [ "$via" = none ]; then
	note "AVO_MODE=OFF builds the original with no avo on PATH or CMAKE_PREFIX_PATH"
	PATH=/usr/local/bin:/usr/bin:/bin configure -DAVO_MODE=OFF
	PATH=/usr/local/bin:/usr/bin:/bin build
	expect_app "kern 42"
	[ ! -e "$bld/avo" ] || fail "AVO_MODE=OFF wrote $bld/avo"
	! grep -q "avo" "$tmp/build.log" || { cat "$tmp/build.log"; fail "AVO_MODE=OFF ran avo"; }
	echo "PASS"
	exit 0
fi

if [ "$flow" = examples ] || [ "$flow" = examples-cuda ]; then
	kernels=${AVO_TEST_KERNELS_DIR:-$avo_src/kernels}
	[ -f "$kernels/cpu/attention.c" ] || { echo "SKIP: no $kernels/cpu/attention.c yet"; exit 77; }
	cuda=OFF
	if [ "$flow" = examples-cuda ]; then
		# Compiles the CUDA example (nvcc, no GPU needed); running it needs a GPU.
		[ -f "$kernels/attention/attention.cu" ] || { echo "SKIP: no $kernels/attention/attention.cu yet"; exit 77; }
		PATH=$PATH:/usr/local/cuda/bin
		command -v nvcc >/dev/null || { echo "SKIP: no nvcc"; exit 77; }
		cuda=ON
	fi
	note "the example project builds the attention kernels through avo_tune() (CUDA: $cuda)"
	cmake -S "$avo_src/examples" -B "$bld" -G "$gen" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DAVO_KERNELS_DIR="$kernels" -DAVO_EXAMPLES_CUDA=$cuda "${extra[@]}" \
		>"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "configure examples"; }
	build
	expect_log "avo: attention.c: no tuned variant for key"
	grep -q "^attention_cpu: checksum" <<<"$("$bld/attention_cpu")" || fail "attention_cpu did not run"
	if [ $cuda = ON ]; then
		expect_log "avo: attention.cu: no tuned variant for key"
		grep -q '"arch": "sm_90a"' "$bld/avo/attention_gpu/avo.json" || fail "the CUDA spec lacks arch sm_90a"
		grep -q '"compiler": ".*nvcc"' "$bld/avo/attention_gpu/avo.json" || fail "the CUDA spec does not name nvcc"
		[ -x "$bld/attention_gpu" ] || fail "attention_gpu was not built"
		if nvidia-smi -L >/dev/null 2>&1; then
			grep -q "^attention_gpu .*checksum" <<<"$("$bld/attention_gpu")" || fail "attention_gpu did not run"
		fi
	fi
	expect_noop
	echo "PASS"
	exit 0
fi

if [ "$flow" = remote ]; then
	nginx=$(command -v nginx || echo /usr/sbin/nginx)
	[ -x "$nginx" ] || { echo "SKIP: nginx is not installed"; exit 77; }
	note "start nginx (WebDAV PUT) on a loopback port as the remote cache"
	mkdir -p "$tmp/nginx/tmp" "$tmp/nginx/root"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	user=""; [ "$(id -u)" = 0 ] && user="user root;"
	cat >"$tmp/nginx/nginx.conf" <<-EOF
	worker_processes 1; daemon off; $user
	pid $tmp/nginx/nginx.pid; error_log $tmp/nginx/error.log;
	events { worker_connections 64; }
	http {
	  access_log $tmp/nginx/access.log;
	  client_body_temp_path $tmp/nginx/tmp/body; proxy_temp_path $tmp/nginx/tmp/proxy;
	  fastcgi_temp_path $tmp/nginx/tmp/fcgi; uwsgi_temp_path $tmp/nginx/tmp/uwsgi;
	  scgi_temp_path $tmp/nginx/tmp/scgi; client_max_body_size 0;
	  server {
	    listen 127.0.0.1:$port; root $tmp/nginx/root;
	    location / { dav_methods PUT; create_full_put_path on; dav_access user:rw all:r; }
	  }
	}
	EOF
	"$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
	nginx_pid=$!
	python3 - "$port" <<-'PY' || fail "nginx did not start: $(cat "$tmp/nginx/error.log")"
	import socket, sys, time
	for _ in range(100):
	    try:
	        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
	        sys.exit(0)
	    except OSError:
	        time.sleep(0.05)
	sys.exit(1)
	PY
	export AVO_CACHE_REMOTE=http://127.0.0.1:$port

	note "the tuning machine builds, then publishes a tuned result (local + remote)"
	configure
	build
	avo=$(avo_cmd)
	key=$("$avo" apply "$(spec)" -o "$tmp/probe.c" --json | sed -n 's/.*"tuning_key":"\([0-9a-f]*\)".*/\1/p')
	[ ${#key} = 32 ] || fail "no tuning key from apply --json"
	sed 's/#define SCALE 1 /#define SCALE 2 /' "$src/kernel/kern.c" >"$tmp/variant.c"
	"$cache_put" "$key" "$tmp/variant.c" 2.0 1.0 >/dev/null
	grep -q "PUT /tune/" "$tmp/nginx/access.log" || fail "the tuned result did not reach the remote"

	note "a CI build elsewhere, with an empty local cache, uses the remote's tuned variant"
	export AVO_CACHE_DIR=$tmp/ci-cache
	mv "$src" "$tmp/ci-src"
	src=$tmp/ci-src bld=$tmp/ci-build
	configure
	build
	expect_log "avo: kern.c: using tuned variant .* from remote cache"
	expect_app "kern 84"
	expect_noop

	note "--no-remote stays local"
	rm -rf "$AVO_CACHE_DIR"
	"$avo" apply "$(spec)" -o "$tmp/probe.c" --no-remote >"$tmp/apply.log"
	grep -q "no tuned variant for key" "$tmp/apply.log" || { cat "$tmp/apply.log"; fail "--no-remote asked the remote"; }
	echo "PASS"
	exit 0
fi

if [ "$flow" = tune-e2e ]; then
	avo=$(avo_cmd)
	if grep -q "not implemented" <<<"$("$avo" tune --help 2>&1 || true)"; then
		echo "SKIP: 'avo tune' is not in this build yet"
		exit 77
	fi
	note "AVO_MODE=TUNE: the first build tunes (knob search on the CPU), then uses the best"
	configure -DAVO_MODE=TUNE
	build
	expect_log "avo: tuning kern.c for app"
	expect_log "avo: kern.c: using tuned variant .* from local cache"
	expect_app "kern 126" # SCALE 3: the largest value is the fastest for this harness
	grep -q "#define SCALE 3 " "$bld/avo/app/kern.c" || fail "the generated source is not the best knob"

	note "a no-op rebuild neither tunes nor applies"
	expect_noop

	note "AVO_MODE=CACHED never tunes; the avo-tune-app target does, and the next build uses it"
	export AVO_CACHE_DIR=$tmp/cached-cache
	bld0=$bld bld=$tmp/build-explicit
	configure -DAVO_MODE=CACHED
	build
	! grep -q "avo: tuning" "$tmp/build.log" || { cat "$tmp/build.log"; fail "CACHED mode tuned"; }
	expect_log "avo: kern.c: no tuned variant for key"
	build avo-tune-app
	expect_log "avo: tuning kern.c for app"
	build
	expect_log "avo: kern.c: using tuned variant .* from local cache"
	expect_app "kern 126"
	expect_noop
	bld=$bld0

	note "avo export ships the tuned result; a fresh CACHED build elsewhere uses it"
	"$avo" export "$(spec)" >"$tmp/export.log" 2>&1 || { cat "$tmp/export.log"; fail "export"; }
	grep -q "#define SCALE 3 " "$src/tuned/cpu/kern.c" || fail "export did not write the best variant"
	export AVO_CACHE_DIR=$tmp/other-cache
	bld=$tmp/build-cached
	configure -DAVO_MODE=CACHED
	build
	expect_log "avo: kern.c: using shipped tuned file"
	expect_app "kern 126"
	echo "PASS"
	exit 0
fi

if [ "$flow" = tune-mode ]; then
	note "AVO_MODE=TUNE: a tuning step (pool avo_tune, depth 1) comes before apply"
	configure -DAVO_MODE=TUNE -DAVO_BUDGET=30s
	grep -q "depth = 1" <<<"$(grep -A1 "^pool avo_tune" "$bld/CMakeFiles/rules.ninja")" ||
		fail "no avo_tune pool of depth 1"
	grep -q "pool = avo_tune" <<<"$(grep -A3 "tune.stamp" "$bld/build.ninja")" ||
		fail "the tune step is not in the avo_tune pool"
	grep -q "tune .*avo.json --fresh-run --budget 30s" "$bld/build.ninja" || fail "the tune step does not pass --budget"
	# The generated kernel depends on the tuning stamp, so tuning runs before compiling.
	# (to files first: grep -q closing a pipe early would fail the pipeline under pipefail)
	(cd "$bld" && ninja -t query avo/app/kern.c) >"$tmp/query.log"
	(cd "$bld" && ninja -t targets all) >"$tmp/targets.log"
	grep -q "tune.stamp" "$tmp/query.log" || fail "apply does not wait for tuning"
	grep -q "^avo-tune-app:" "$tmp/targets.log" || fail "no avo-tune-app target"
	grep -q "^avo-tune:" "$tmp/targets.log" || fail "no avo-tune target"
	echo "PASS"
	exit 0
fi

note "first build with an empty cache uses the original"
configure
build
expect_log "avo: kern.c: no tuned variant for key"
expect_app "kern 42"
grep -q '"include_dirs": \[".*/src/include"\]' "$(spec)" || { cat "$(spec)"; fail "spec lacks the target's include dirs"; }
grep -q '"FIXTURE_BASE=40"' "$(spec)" || { cat "$(spec)"; fail "spec lacks the target's defines"; }
grep -q '"-lm"' "$(spec)" || { cat "$(spec)"; fail "spec lacks the target's link libraries"; }
grep -q '"name": "big", "args": \["--n", "64"\]' "$(spec)" || { cat "$(spec)"; fail "spec lacks config big"; }
grep -q '"budget": {"seconds": 120, "evaluations": 20}' "$(spec)" || { cat "$(spec)"; fail "spec lacks the budget"; }
python3 -c 'import json, sys; f = json.load(open(sys.argv[1]))["flags"]; sys.exit(f[:3] != ["-O2", "-DFIXTURE_NOTE=\"a,b>c\\d\"", "-Wl,-O1"])' "$(spec)" ||
	{ cat "$(spec)"; fail "spec does not carry FLAGS exactly"; }

if [ "$gen" = Ninja ] && [ -f "$avo_src/engine/spec.c" ]; then
	grep -q "avo-apply /.*/avo.json -o" "$bld/build.ninja" || fail "the build does not use avo-apply (no libclang)"
fi

note "a no-op rebuild runs nothing"
expect_noop

note "reconfiguring keeps the spec as it was (no rebuild)"
configure
expect_noop

[ "$flow" = basic ] && { echo "PASS"; exit 0; }

avo=$(avo_cmd)
note "the tuning key does not depend on where the project and its build live"
cp -r "$src" "$tmp/src2"
cmake -S "$tmp/src2" -B "$tmp/build2" -G "$gen" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DAVO_FIXTURE_VIA="$via" -DAVO_SOURCE_DIR="$avo_src" "${extra[@]}" >"$tmp/configure2.log" 2>&1 ||
	{ cat "$tmp/configure2.log"; fail "configure a second copy"; }
key=$("$avo" apply "$(spec)" -o "$tmp/probe.c" --json --no-remote | sed -n 's/.*"tuning_key":"\([0-9a-f]*\)".*/\1/p')
key2=$("$avo" apply "$tmp/build2/avo/app/avo.json" -o "$tmp/probe2.c" --json --no-remote | sed -n 's/.*"tuning_key":"\([0-9a-f]*\)".*/\1/p')
[ ${#key} = 32 ] || fail "no tuning key from apply --json"
[ "$key" = "$key2" ] || fail "the tuning key differs between two copies of the project ($key, $key2)"
rm -rf "$tmp/src2" "$tmp/build2"

note "a tuned result put in the cache is picked up by the next build"
sed 's/#define SCALE 1 /#define SCALE 2 /' "$src/kernel/kern.c" >"$tmp/variant.c"
"$cache_put" "$key" "$tmp/variant.c" 2.0 1.0 >/dev/null
build
expect_log "avo: kern.c: using tuned variant .* from local cache (0.5 ms geomean, 2.00x baseline)"
expect_app "kern 84"
cmp -s "$tmp/variant.c" "$bld/avo/app/kern.c" || fail "the generated source is not the variant"
expect_noop

note "avo export writes the variant and its manifest"
"$avo" export "$(spec)" >"$tmp/export.log" 2>&1 || { cat "$tmp/export.log"; fail "export"; }
cmp -s "$tmp/variant.c" "$src/tuned/cpu/kern.c" || fail "export did not write the variant"
m=$src/tuned/cpu/kern.c.avo.json
for field in '"tuning_key":\s*"'"$key"'"' '"original_hash":\s*"[0-9a-f]\{32\}"' \
	'"variant_hash":\s*"[0-9a-f]\{32\}"' '"fitness":\s*2' '"arch":\s*"cpu"' '"scores":\s*\[' \
	'"gpu":\s*"cpu"' '"date":\s*"20' '"avo_version":\s*"'; do
	grep -q "$field" "$m" || { cat "$m"; fail "manifest lacks $field"; }
done

note "a matching shipped file wins over the cache"
build
expect_log "avo: kern.c: using shipped tuned file .*tuned/cpu/kern.c"
expect_app "kern 84"
expect_noop

note "an edited kernel is regenerated; the stale shipped file warns and is ignored"
sed -i 's/#define SCALE 1 /#define SCALE 3 /' "$src/kernel/kern.c"
build
expect_log "warning: .*tuned/cpu/kern.c: ignoring the shipped file: it was tuned for another version of the kernel"
expect_log "avo: kern.c: no tuned variant for key"
expect_app "kern 126"
expect_noop

note "a shipped file edited after export warns and is ignored"
sed -i 's/#define SCALE 3 /#define SCALE 1 /' "$src/kernel/kern.c" # the original again
echo "/* edited */" >>"$src/tuned/cpu/kern.c"
build
expect_log "ignoring the shipped file: it was edited after export"
expect_log "avo: kern.c: using tuned variant .* from local cache"
expect_app "kern 84"

note "apply refuses to write over the kernel"
if "$avo" apply "$(spec)" -o "$src/kernel/kern.c" >"$tmp/refuse.log" 2>&1; then
	fail "apply wrote over the kernel"
fi
grep -q "refusing to write over" "$tmp/refuse.log" || { cat "$tmp/refuse.log"; fail "no refusal message"; }
grep -q "#define SCALE 1 " "$src/kernel/kern.c" || fail "the kernel changed"

note "export without a tuned result fails clearly"
rm -rf "$AVO_CACHE_DIR"
if "$avo" export "$(spec)" --dir "$tmp/ship2" >"$tmp/export2.log" 2>&1; then
	fail "export succeeded with no tuned result"
fi
grep -q "no tuned result for kern.c" "$tmp/export2.log" || { cat "$tmp/export2.log"; fail "unclear export error"; }
[ ! -e "$tmp/ship2" ] || fail "a failed export wrote files"

echo "PASS"
