#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# summary-test.sh TOP OUT_DIR: scripts/bench-nested's summary (its awk)
# on a recorded run's raw lines (tests/nested/bench-fixture.txt, one round
# of V1 and V2 from 2026-12-04): prints TAP lines "ok|not ok unit:
# bench-nested.NAME" and exits non-zero if one failed. Each check compares
# a value of the JSON with one computed here from the raw lines, so a
# summary that drops or mixes up a field fails.
set -uo pipefail
top=$1 out=$2/bench-summary.json fx=$1/tests/nested/bench-fixture.txt
failed=0
# t NAME COMMAND...: one TAP line from COMMAND's status
t() { n=$1; shift; if "$@"; then echo "ok unit: bench-nested.$n"; else echo "not ok unit: bench-nested.$n"; failed=1; fi; }
# eq WANT GOT: WANT is not empty and GOT is WANT
eq() { [ -n "$1" ] && [ "$1" = "$2" ]; }
js() { jq -r "$1" "$out" 2>/dev/null; }
"$top/scripts/bench-nested" --summary "$fx" --out "$out" > /dev/null 2>&1
is_json() { jq -e . "$out" > /dev/null 2>&1; }
t summary-is-json is_json
# V2/V1: the medians of the repetitions' TSC ticks (3 each in the fixture)
med() { grep " who=$1 .*NBENCH cpu rep=" "$fx" | sed 's/.* tsc=\([0-9]*\).*/\1/' | sort -n | sed -n 2p; }
want=$(awk -v a="$(med v2-l2)" -v b="$(med v1-l2)" 'BEGIN { printf "%.3f", a / b }')
t v2-over-v1 eq "$want" "$(js .cpu.V2_over_V1)"
# the lab view: one entry per L1 VM, L1b's exits as in its raw line
l1b=$(sed -n 's/.*vm=V2-l1b l0-job-exits kvm_exits=\([0-9]*\).*/\1/p' "$fx")
t lab-view-of-l1b eq "$l1b" "$(js .l0_during_cpu_job.V2.l1b.exits)"
t lab-view-of-v1 eq 2 "$(js '.l0_during_cpu_job.V1.l1.qemu_thread_cpu_share | [.CPU_0_KVM, .CPU_1_KVM] | map(select(. > 0)) | length')"
# the guest's interrupts: one value per vCPU
t guest-interrupts eq 2 "$(js '.l2_interrupts_during_cpu_job.V2.LOC | length')"
ipis=$(sed -n 's/.*cpu-job-span.* span_ipis-sent=\([0-9]*\).*/\1/p' "$fx")
t span-traffic eq "$ipis" "$(js '.span_during_cpu_job.V2.L1a["ipis-sent"]')"
# the rounds: as many as the raw lines hold (the summary has no --rounds
# of the run; it once took its own default of 3 and left out rounds 4 on):
# the fixture's one round, and the fixture's round played as rounds 1-4
nr=$(grep -oE '(^| )round=[0-9]+' "$fx" | tr -d ' ' | sort -u | wc -l)
t rounds-from-lines eq "$nr" "$(js .rounds.rounds)"
fx4=$2/bench-fixture-4-rounds.txt
{ grep -vE '(^| )round=' "$fx"; for r in 1 2 3 4; do grep -E '(^| )round=1 ' "$fx" | sed "s/round=1 /round=$r /"; done; } > "$fx4"
"$top/scripts/bench-nested" --summary "$fx4" --out "$out" > /dev/null 2>&1
t four-rounds eq 4 "$(js '.rounds.V2_over_V1_per_round | length')"
exit $failed
