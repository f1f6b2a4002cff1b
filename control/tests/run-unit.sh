#!/bin/bash
# Runs every control-plane GoogleTest binary and a bounded libFuzzer run,
# writing TAP (one line per test case, one for the fuzz run) to $2 and
# stdout.  Usage: run-unit.sh BUILD_DIR TAP_FILE   (env: FUZZ_SECONDS)
set -uo pipefail

bdir=$1
tap=$2
fuzz_seconds=${FUZZ_SECONDS:-30}
work=$(dirname "$tap")/unit
mkdir -p "$work"
rm -f "$work"/*.json
lines=()
failed=0

for t in span_unit_tests spand_tests; do
	json=$work/$t.json
	log=$work/$t.log
	"$bdir/$t" --gtest_output="json:$json" >"$log" 2>&1
	rc=$?
	if [ ! -s "$json" ]; then
		lines+=("not ok unit: $t (crashed, rc=$rc, see $log)")
		failed=1
		continue
	fi
	while IFS= read -r l; do
		lines+=("$l")
		case "$l" in "not ok"*) failed=1 ;; esac
	done < <(jq -r '.testsuites[] | .name as $s | .testsuite[] |
		(if ((.failures // []) | length) == 0 and .result != "SKIPPED"
		 then "ok" else "not ok" end) + " unit: " + $s + "." + .name' "$json")
	[ "$rc" = 0 ] || failed=1
done

# The C ABI compiled as C.
if "$bdir/capi_c_test" >"$work/capi_c_test.log" 2>&1; then
	lines+=("ok unit: CApi.CompilesAsC")
else
	lines+=("not ok unit: CApi.CompilesAsC")
	failed=1
fi

# The guest stress program (tests/span/07-shadow-stress.sh) on this host: it
# passes on coherent memory and catches a corruption injected on purpose.
if "$bdir/span-stress" --seconds 2 --threads 4 >"$work/span-stress.log" 2>&1 &&
	grep -q '^span-stress: ok ' "$work/span-stress.log"; then
	lines+=("ok unit: span-stress.passes-on-coherent-memory")
else
	lines+=("not ok unit: span-stress.passes-on-coherent-memory (see $work/span-stress.log)")
	failed=1
fi
"$bdir/span-stress" --seconds 2 --threads 4 --inject-fault >"$work/span-stress-fault.log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "^span-stress: FAIL: another CPU's buffer" "$work/span-stress-fault.log"; then
	lines+=("ok unit: span-stress.catches-an-injected-corruption")
else
	lines+=("not ok unit: span-stress.catches-an-injected-corruption (rc=$rc, see $work/span-stress-fault.log)")
	failed=1
fi

# The host-side harness (scripts/spanharness: benchmark summaries, TAP) on
# recorded fixtures: its unittests (tests/harness), one line each.
top=$(cd "$(dirname "$0")/../.." && pwd)
while IFS= read -r l; do
	lines+=("$l")
	case "$l" in "not ok"*) failed=1 ;; esac
done < <(python3 "$top/scripts/spanharness" unit-tap "$top/tests/harness" 2>"$work/harness.log")
grep -q '^OK' "$work/harness.log" || { lines+=("not ok unit: harness (see $work/harness.log)"); failed=1; }

if [ -x "$bdir/fuzz_validate" ]; then
	corpus=$work/fuzz-corpus
	mkdir -p "$corpus"
	if "$bdir/fuzz_validate" -max_total_time="$fuzz_seconds" -max_len=8192 \
		-print_final_stats=1 "$corpus" >"$work/fuzz.log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
		lines+=("ok unit: fuzz.validate (${fuzz_seconds}s, ${execs:-?} runs)")
	else
		lines+=("not ok unit: fuzz.validate (see $work/fuzz.log)")
		failed=1
	fi
else
	lines+=("not ok unit: fuzz.validate (fuzz_validate not built: clang++ missing?)")
	failed=1
fi

{
	echo "TAP version 13"
	echo "1..${#lines[@]}"
	n=0
	for l in "${lines[@]}"; do
		n=$((n + 1))
		case "$l" in
		"not ok "*) echo "not ok $n ${l#not ok }" ;;
		*) echo "ok $n ${l#ok }" ;;
		esac
	done
} >"$tap"
cat "$tap"
exit $failed
