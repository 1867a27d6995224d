#!/usr/bin/env bash
# The smaller points of issue 17 (point 9, and the language of headers), one case each.
#   macro_label      an error from a macro defined in the file is labelled with the file's own
#                    line, never "in a header included by"
#   language_header  a CUDA kernel in a .h: refused as C by default, with a reason; parsed
#                    with --language cuda; --json keeps its object on stdout on failure
#   readme_commands  the README's quick start lists two commands, main and test, and each
#                    script runs the set-up when something is missing
# usage: smaller.sh CASE AVO SOURCE_DIR
set -uo pipefail
case_=$1 avo=$2 src=$3
dir=$src/tests/realcode/smaller
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL ($case_): $*"; cat "$tmp/out" "$tmp/err" 2>/dev/null; exit 1; }
case $case_ in
macro_label)
	"$avo" regions "$dir/macro_error.cu" >"$tmp/out" 2>"$tmp/err"; rc=$?
	[ $rc = 3 ] || fail "exit $rc, want 3"
	grep -q "macro_error.cu:9:9: error: use of undeclared identifier 'undefined_scale'" "$tmp/err" || fail "location"
	! grep -q "included by" "$tmp/err" || fail "labelled as a header's error"
	;;
language_header)
	"$avo" regions "$dir/cuda_kernel.h" >"$tmp/out" 2>"$tmp/err" && fail "a CUDA .h parsed as C"
	grep -q "cuda_kernel.h:9:4: error: use of undeclared identifier 'blockIdx'.*(cuda_kernel.h was parsed as C by its extension; for a CUDA header pass --language cuda" \
		"$tmp/err" || fail "no reason for the C parse"
	"$avo" regions --json "$dir/cuda_kernel.h" >"$tmp/out" 2>"$tmp/err" && fail "json: parsed as C"
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["exit_code"] == 3 and "--language cuda" in j["error"], j' \
		"$tmp/out" || fail "--json printed no object on failure"
	"$avo" regions --language cuda "$dir/cuda_kernel.h" >"$tmp/out" 2>"$tmp/err" || fail "--language cuda"
	grep -q "1 region, 1 knob" "$tmp/out" || fail "regions with --language cuda"
	;;
readme_commands)
	n=$(sed -n '/^## Quick start/,/^## /p' "$src/README.md" | grep -c '^| run ')
	[ "$n" = 2 ] || fail "the quick start lists $n commands, want 2"
	grep -q '`bash scripts/main.sh`' "$src/README.md" && grep -q '`bash scripts/test.sh`' "$src/README.md" || fail "commands"
	for s in main test; do
		grep -q "scripts/setup.sh" "$src/scripts/$s.sh" || fail "scripts/$s.sh does not run the set-up"
	done
	;;
*) fail "unknown case" ;;
esac
echo "ok: $case_"
