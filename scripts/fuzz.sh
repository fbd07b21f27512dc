#!/bin/bash
# SPDX-License-Identifier: MIT
# The fuzz targets of tests/fuzz (docs/fuzzing.md), built by `make fuzz-build`.
#   scripts/fuzz.sh run TARGET...     fuzz each for $FUZZ_TIME s, one at a time, from the
#                                     committed corpus; new inputs go to build/fuzz/corpus/T;
#                                     writes build/fuzz/report.txt and report.json; exit 1 if
#                                     any target crashed
#   scripts/fuzz.sh replay TARGET...  run every committed input (corpus and regressions) once
set -u
BUILD=${BUILD:-build}
FUZZ_TIME=${FUZZ_TIME:-30}
mode=$1
shift
out=$BUILD/fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

inputs() { # committed inputs of target $1
	find "tests/fuzz/corpus/$1" "tests/fuzz/regressions/$1" -type f 2>/dev/null | sort
}

if [ "$mode" = replay ]; then
	failed=0
	for t in "$@"; do
		mapfile -t files < <(inputs "$t")
		[ ${#files[@]} -gt 0 ] || { echo "fuzz replay: $t has no committed inputs"; failed=1; continue; }
		log=$out/replay-$t.log
		if "$out/bin/$t" -close_fd_mask=3 "${files[@]}" >"$log" 2>&1; then
			echo "fuzz replay: $t: ${#files[@]} inputs OK"
		else
			echo "fuzz replay: $t FAILED (log: $log)"
			tail -40 "$log"
			failed=1
		fi
	done
	exit $failed
fi

[ "$mode" = run ] || { echo "usage: $0 run|replay TARGET..." >&2; exit 2; }
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- src tests/fuzz 2>/dev/null | grep -q . && echo "+changes" || true)
date=$(date -u +%Y-%m-%dT%H:%MZ)
txt=$out/report.txt
json=$out/report.json
crashed=0
{
	echo "make fuzz: $date, commit $commit$dirty, FUZZ_TIME=${FUZZ_TIME}s per target, $(nproc) cores"
	printf '%-16s %12s %9s %7s %7s %7s  %s\n' target executions exec/s cov ft corpus crash
} >"$txt"
echo "{\"date\": \"$date\", \"commit\": \"$commit$dirty\", \"fuzz_time_s\": $FUZZ_TIME, \"targets\": [" >"$json"
sep=
for t in "$@"; do
	mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
	log=$out/fuzz-$t.log
	dict=()
	[ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
	seeds=(tests/fuzz/corpus/$t)
	[ -d "tests/fuzz/regressions/$t" ] && seeds+=(tests/fuzz/regressions/$t)
	echo "== fuzz $t for ${FUZZ_TIME}s"
	"$out/bin/$t" "$out/corpus/$t" "${seeds[@]}" "${dict[@]}" -max_total_time="$FUZZ_TIME" \
		-print_final_stats=1 -close_fd_mask=3 -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="$out/artifacts/$t/" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
	art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | head -1)
	if [ $rc -ne 0 ]; then
		crashed=1
		[ -n "$art" ] || art="(none written; see $log)"
		echo "   CRASH: $art"
		grep -m3 -E 'ERROR|runtime error|fuzz:' "$log" | sed 's/^/   /'
	fi
	printf '%-16s %12s %9s %7s %7s %7s  %s\n' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" \
		"${ft:-?}" "${corp:-?}" "${art:--}" >>"$txt"
	printf '%s\n  {"target": "%s", "executions": %s, "exec_per_s": %s, "cov": %s, "ft": %s, "corpus": %s, "exit": %d, "crash": %s}' \
		"$sep" "$t" "${execs:-null}" "${eps:-null}" "${cov:-null}" "${ft:-null}" \
		"${corp:-null}" "$rc" "$([ $rc -ne 0 ] && echo "\"$art\"" || echo null)" >>"$json"
	sep=,
done
echo "]}" >>"$json"
cat "$txt"
exit $crashed
