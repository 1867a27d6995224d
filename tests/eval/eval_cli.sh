#!/usr/bin/env bash
# End-to-end tests of `avo eval` through the real CLI on the CPU example (kernels/cpu).
#   eval_cli.sh CASE AVO SOURCE_DIR WORK_DIR
# Every case starts from an empty WORK_DIR with its own cache. Exit 0 pass, 1 fail, 77 skip.
set -u
case_=$1 avo=$2 src=$3 work=$4
rm -rf "$work" && mkdir -p "$work" || exit 1
export AVO_CACHE_DIR=$work/cache AVO_CACHE_REMOTE= TMPDIR=$work/tmp
mkdir -p "$TMPDIR"
spec=$src/kernels/cpu/avo.json
variants=$src/tests/eval/variants
out=$work/stdout err=$work/stderr

fail() { echo "FAIL ($case_): $*"; echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"; exit 1; }
# run EXPECTED_EXIT avo-args...
run() {
	local want=$1; shift
	"$avo" "$@" >"$out" 2>"$err"
	local got=$?
	[ "$got" = "$want" ] || fail "avo $* exited $got, expected $want"
}
has() { grep -qF -- "$2" "$1" || fail "expected '$2' in $(basename "$1")"; }
lacks() { ! grep -qF -- "$2" "$1" || fail "did not expect '$2' in $(basename "$1")"; }
write_spec() { printf '%s\n' "$1" >"$work/avo.json"; }
# Every scratch directory ($TMPDIR/avo-<uid>/eval-*, harness-*) is gone after an evaluation.
no_scratch_left() {
	local left
	left=$(find "$TMPDIR" -mindepth 2 -maxdepth 2 -type d 2>/dev/null)
	[ -z "$left" ] || fail "scratch directories left behind: $left"
}

# A copy of the CPU spec with extra top-level fields (JSON text, without braces).
spec_with() {
	mkdir -p "$work/k" && cp "$src"/kernels/cpu/*.c "$src"/kernels/cpu/*.h "$work/k/" &&
	python3 - "$spec" "$work/k/avo.json" "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s.update(json.loads("{" + sys.argv[3] + "}"))
json.dump(s, open(sys.argv[2], "w"), indent=1)
PY
}

case $case_ in
cpu_example)
	before=$(cd "$src/kernels/cpu" && ls -la --time-style=+%s && sha256sum ./*)
	run 0 eval "$spec"
	has "$out" "verdict: correct"
	for c in s128-d64 s200-k333-d48-causal s256-d128; do has "$out" "$c"; done
	lacks "$out" "(cached result)"
	# The same evaluation again comes from the cache.
	run 0 eval "$spec" --json
	has "$out" '"from_cache":true'
	has "$out" '"status":"ok"'
	# Without the cache it is evaluated afresh.
	run 0 eval "$spec" --json --no-cache
	has "$out" '"from_cache":false'
	after=$(cd "$src/kernels/cpu" && ls -la --time-style=+%s && sha256sum ./*)
	[ "$before" = "$after" ] || fail "the kernel directory changed during evaluation"
	no_scratch_left
	;;
many)
	# Several variants at once (avo_eval_many, parallel compiles, NULL cache).
	run 1 eval "$spec" --no-cache --jobs 2 --json --variant "$variants/good.c" \
		--variant "$variants/wrong.c" --variant "$variants/nocompile.c" --variant "$src/kernels/cpu/attention.c"
	python3 - "$out" <<'PY' || fail "unexpected statuses"
import json, sys
r = json.load(open(sys.argv[1]))
got = [x["status"] for x in r]
print(got)
assert got == ["ok", "incorrect", "compile", "ok"], got
assert r[0]["fitness"] > 0 and r[1]["fitness"] == 0 and r[3]["correct"]
assert r[0]["variant_hash"] != r[3]["variant_hash"]
PY
	;;
loop)
	run 1 eval "$spec" --no-cache --timeout 1 --json --variant "$variants/loop.c"
	has "$out" '"status":"timeout"'
	has "$err" "timed out after 1.0 s"
	no_scratch_left
	;;
interrupt)
	# Killing `avo eval` (SIGTERM; ^C is SIGINT, the same path) takes the harness down with
	# it: the harness runs in its own process group and would otherwise outlive avo.
	command -v pgrep >/dev/null || { echo "SKIP: no pgrep"; exit 77; }
	"$avo" eval "$spec" --no-cache --timeout 600 --variant "$variants/loop.c" >"$out" 2>"$err" &
	pid=$!
	pat="^$TMPDIR/avo-[0-9]+/eval-[^ /]+/harness --sq"   # the harness itself, not the linker
	for _ in $(seq 600); do pgrep -f "$pat" >/dev/null && break; sleep 0.1; done
	pgrep -f "$pat" >/dev/null || { kill -KILL "$pid"; fail "the harness never started"; }
	kill -TERM "$pid"
	for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" $(pgrep -f "$pat")
		fail "avo did not exit on SIGTERM"
	fi
	wait "$pid"
	rc=$?
	[ "$rc" = 143 ] || fail "avo exited $rc after SIGTERM, expected 143"
	for _ in $(seq 100); do pgrep -f "$pat" >/dev/null || break; sleep 0.1; done
	if pgrep -f "$pat" >/dev/null; then
		kill -KILL $(pgrep -f "$pat")
		fail "the harness outlived avo"
	fi
	;;
segv)
	run 1 eval "$spec" --no-cache --variant "$variants/segv.c"
	has "$out" "crash"
	has "$err" "killed by SIGSEGV"
	;;
wrong)
	run 1 eval "$spec" --no-cache --json --variant "$variants/wrong.c"
	has "$out" '"status":"incorrect"'
	has "$out" '"fitness":0'
	has "$err" "max_rel_err"
	;;
nan)
	run 1 eval "$spec" --no-cache --json --variant "$variants/nan.c"
	has "$out" '"status":"incorrect"'
	has "$err" "NaN"
	;;
partial)
	run 1 eval "$spec" --no-cache --json --variant "$variants/partial.c"
	has "$out" '"status":"incorrect"'
	has "$err" "never written"
	;;
nocompile)
	run 1 eval "$spec" --json --variant "$variants/nocompile.c"
	has "$out" '"status":"compile"'
	has "$err" "undeclared_tile_size"
	has "$err" "attention.c:8:"
	lacks "$err" "$TMPDIR"   # messages name the kernel file, not the scratch copy
	;;
nocompile_avo_path)
	# A checkout whose path holds "/avo-" (a clone into avo-main/): the message names the
	# kernel there, never the scratch copy (issue 17 point 9).
	mkdir -p "$work/avo-main/k" && cp "$src"/kernels/cpu/*.c "$src"/kernels/cpu/*.h "$src"/kernels/cpu/avo.json "$work/avo-main/k/" || fail "copy"
	run 1 eval "$work/avo-main/k/avo.json" --json --variant "$variants/nocompile.c"
	has "$out" '"status":"compile"'
	has "$err" "attention.c:8:"
	lacks "$err" "$TMPDIR"
	;;
harness_usage)
	# A harness that exits 2 on arguments it does not take is a usage error of the config,
	# reported with its usage line, not a crash of the kernel (issue 17 point 9).
	spec_with '"configs": [{"name": "bad", "args": ["--bogus", "1"]}]' || fail "cannot write spec"
	run 1 eval "$work/k/avo.json" --no-cache
	has "$out" "protocol"
	lacks "$out" "crash"
	has "$err" "failed (exit 2)"
	has "$err" "usage: harness"
	;;
secrets)
	# The variant aborts when FOO_API_KEY reaches it, or when AVO_TEST_VISIBLE does not.
	FOO_API_KEY=sekrit AVO_TEST_VISIBLE=1 run 0 eval "$spec" --no-cache --variant "$variants/secrets.c"
	has "$out" "verdict: correct"
	# Control: the same variant does fail when the plain variable is missing.
	env -u AVO_TEST_VISIBLE FOO_API_KEY=sekrit "$avo" eval "$spec" --no-cache --variant "$variants/secrets.c" \
		>"$out" 2>"$err"
	[ $? = 1 ] || fail "control run should fail"
	has "$err" "SIGABRT"
	;;
spec_malformed)
	printf '{\n  "name": "x",\n  "kernel": oops\n}\n' >"$work/avo.json"
	run 3 eval "$work/avo.json"
	has "$err" "avo.json:3:13: parse error"
	;;
spec_missing)
	write_spec '{"name": "x", "kernel": "k.c", "harness": "k.c"}'
	touch "$work/k.c"
	run 3 eval "$work/avo.json"
	has "$err" 'avo.json: field "configs": missing'
	write_spec '{"kernel": "k.c", "harness": "k.c", "configs": [{"name": "a"}]}'
	run 3 eval "$work/avo.json"
	has "$err" 'avo.json: field "name": missing'
	write_spec '{"name": "x", "kernel": "nope.c", "harness": "k.c", "configs": [{"name": "a"}]}'
	run 3 eval "$work/avo.json"
	has "$err" 'field "kernel": cannot read'
	has "$err" "$work/nope.c"
	;;
spec_type)
	touch "$work/k.c"
	write_spec '{"name": "x", "kernel": "k.c", "harness": "k.c", "configs": [{"name": "a"}], "tolerance": "big"}'
	run 3 eval "$work/avo.json"
	has "$err" 'avo.json: field "tolerance": must be a number'
	write_spec '{"name": "x", "kernel": "k.c", "harness": "k.c", "configs": [{"name": "a", "args": [true]}]}'
	run 3 eval "$work/avo.json"
	has "$err" 'field "configs[0].args": element 0 must be a string or a number'
	write_spec '{"name": "x", "kernel": "k.c", "harness": "k.c", "configs": [{"name": "a"}], "objective": "speed"}'
	run 3 eval "$work/avo.json"
	has "$err" 'field "objective": must be "ms" or "tflops"'
	write_spec '{"name": "x", "kernel": "k.c", "harness": "k.c", "compiler": "nvcc", "arch": "hopper", "configs": [{"name": "a"}]}'
	run 3 eval "$work/avo.json"
	has "$err" 'field "arch"'
	;;
spec_unknown_field)
	# Unknown fields warn but do not fail the load; "_" fields are comments.
	spec_with '"flagz": ["-O3"], "_comment": "hi"' || fail "cannot write spec"
	run 1 eval "$work/k/avo.json" --no-cache --variant "$variants/nocompile.c"
	has "$err" 'warning: unknown field "flagz" ignored'
	lacks "$err" '_comment'
	has "$out" "compile"
	;;
cache_keys)
	# What invalidates a cached evaluation: a header next to the kernel, the tolerance; what
	# does not: a field the evaluation does not read (timeout).
	spec_with '"timeout": 30' || fail "cannot write spec"
	k=$work/k/avo.json
	from_cache() { run 0 eval "$k" --json; grep -qF '"from_cache":true' "$out"; }
	from_cache && fail "first evaluation came from the cache"
	from_cache || fail "second evaluation did not come from the cache"
	printf '/* edited */\n' >>"$work/k/attention.h"
	from_cache && fail "a header edit did not invalidate the cached evaluation"
	from_cache || fail "the re-evaluation was not cached"
	spec_with '"timeout": 31' && cp "$src"/kernels/cpu/attention.h "$work/k/" && printf '/* edited */\n' >>"$work/k/attention.h"
	from_cache || fail "the timeout should not be part of the evaluation key"
	spec_with '"tolerance": 2e-3' && printf '/* edited */\n' >>"$work/k/attention.h"
	from_cache && fail "a tolerance change did not invalidate the cached evaluation"
	# A variant equal to the kernel is the same evaluation.
	run 0 eval "$k" --json --variant "$work/k/attention.c"
	has "$out" '"from_cache":true'
	# The sandbox is part of the key: an unsandboxed result is never served sandboxed.
	run 0 eval "$k" --json --no-sandbox
	grep -qF '"from_cache":true' "$out" && fail "a sandboxed result served an unsandboxed evaluation"
	has "$out" '"unsandboxed":true'
	run 0 eval "$k" --json
	has "$out" '"from_cache":true'
	grep -qF '"unsandboxed"' "$out" && fail "the sandboxed result says unsandboxed"
	;;
proto)
	# The harness protocol and the judge, with variants that print the result line themselves.
	p=$src/tests/eval/proto
	expect() { # variant status
		"$avo" eval "$p/avo.json" --no-cache --json --trust-harness --variant "$p/$1.c" >"$out" 2>"$err"
		python3 - "$out" "$2" <<'PY' || fail "$1: expected status $2"
import json, sys
r = json.load(open(sys.argv[1]))
print(r["status"], r["fitness"], [c["status"] for c in r["configs"]])
assert r["status"] == sys.argv[2], r["status"]
if r["status"] == "ok":
    assert abs(r["fitness"] - 0.25) < 1e-12 and r["correct"]  # geomean(1/2, 1/8)
else:
    assert r["fitness"] == 0 and not r["correct"]
    assert [c["status"] for c in r["configs"]][1] == "skipped"  # stops at the first failure
PY
	}
	expect ok ok
	expect nan_token incorrect
	expect inf_ms incorrect
	expect over_tol incorrect
	has "$err" "exceeds the tolerance"
	expect said_incorrect incorrect
	expect no_json protocol
	has "$err" "no JSON result line"
	expect trailing_garbage protocol
	has "$err" "no JSON result line"
	expect negative_err protocol
	has "$err" "cannot be negative"
	expect missing_ms protocol
	expect bad_type protocol
	expect exit_nonzero crash
	has "$err" "teardown failed"
	expect samples ok
	python3 - "$out" <<'PY' || fail "samples not kept"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["harness_protocol"] == "legacy-trusted", r
assert r["configs"][0]["samples"] == [2, 2.5, 1.5], r["configs"][0]
PY
	expect bad_samples protocol
	has "$err" '"samples" must be an array'
	# Without --trust-harness a legacy spec does not run at all.
	run 3 eval "$p/avo.json" --no-cache
	has "$err" "pass --trust-harness"
	;;
liar)
	# The harness protocol checks reported times against the kernel's stamps of the PRE and
	# CALL records: a variant that replaces the library's clock (clock_gettime) is refused,
	# whether its clock runs slow (calls look shorter) or fast (longer than they took).
	l=$src/tests/eval/liar
	run 0 eval "$l/avo.json" --no-cache --json --variant "$l/honest.c"
	has "$out" '"harness_protocol":"avo-harness-1"'
	python3 - "$out" <<'PY' || fail "honest samples"
import json, sys
c = json.load(open(sys.argv[1]))["configs"][0]
assert len(c["samples"]) == 20 and all(s > 1.9 for s in c["samples"]), c
assert 1.9 < c["ms"] < 10, c  # the median; a loaded machine preempts a few calls
PY
	run 1 eval "$l/avo.json" --no-cache --json --variant "$l/clock_slow.c"
	has "$out" '"status":"protocol"'
	has "$err" "did work outside their timed span"
	run 1 eval "$l/avo.json" --no-cache --json --variant "$l/clock_fast.c"
	has "$out" '"status":"protocol"'
	has "$err" "but took"
	;;
cli)
	run 0 eval --help
	has "$out" "usage: avo eval SPEC"
	run 2 eval "$spec" --jobs zero
	run 2 eval "$spec" --bogus
	run 3 eval "$work/missing.json"
	touch "$work/k.c"
	write_spec '{"name": "x", "kernel": "k.c", "harness": "k.c", "compiler": "avo-no-such-compiler", "configs": [{"name": "a"}]}'
	run 4 eval "$work/avo.json"
	has "$err" 'compiler "avo-no-such-compiler" not found'
	;;
cuda)
	# The nvcc path on a tiny kernel of our own: -gencode from "arch", --gpu, the caches.
	command -v nvcc >/dev/null || export PATH=$PATH:/usr/local/cuda/bin
	command -v nvcc >/dev/null || { echo "SKIP: no nvcc"; exit 77; }
	command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 || { echo "SKIP: no GPU"; exit 77; }
	cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader -i 0 | head -1 | tr -d ' .')
	d=$src/tests/eval/cuda
	write_spec "{\"name\": \"axpy\", \"kernel\": \"$d/axpy.cu\", \"harness\": \"$d/harness.cu\",
	  \"arch\": \"sm_$cap\", \"flags\": [\"-std=c++17\"], \"tolerance\": 1e-5, \"objective\": \"tflops\",
	  \"timeout\": 60, \"configs\": [{\"name\": \"n1m\", \"args\": [\"--n\", 1048576]},
	                                {\"name\": \"odd\", \"args\": [\"--n\", 1000003]}]}"
	run 0 eval "$work/avo.json" --gpu 0 --verbose
	has "$out" "verdict: correct"
	has "$err" "-gencode=arch=compute_${cap},code=sm_${cap}"
	has "$err" "-O3"
	run 0 eval "$work/avo.json" --gpu 0 --json
	has "$out" '"from_cache":true'
	run 1 eval "$work/avo.json" --no-cache --json --variant "$d/bad_axpy.cu"
	has "$out" '"status":"incorrect"'
	;;
gpu)
	gspec=$src/kernels/attention/avo.json
	[ -f "$gspec" ] || { echo "SKIP: no $gspec"; exit 77; }
	command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 || { echo "SKIP: no GPU"; exit 77; }
	command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || { echo "SKIP: no nvcc"; exit 77; }
	export PATH=$PATH:/usr/local/cuda/bin
	run 0 eval "$gspec" --json
	has "$out" '"status":"ok"'
	;;
*)
	echo "unknown case $case_"; exit 1 ;;
esac
echo "PASS ($case_)"
