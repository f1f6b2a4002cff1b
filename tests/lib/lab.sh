# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# The helpers every in-lab test shares (busybox sh): result lines, consoles,
# QMP pipes. tests/span/lib.sh and tests/nested/lib.sh set TAP_MARK (the
# prefix of their result lines, "SPAN-TAP" or "NESTED-TAP": the host script
# of the layer collects and numbers them) and source this file, which the
# host scripts put beside them in the lab's job folder (/job/span/lab.sh,
# /job/nested/lab.sh; nested L1s get it with the rest of /job/nested).

ok() { echo "$TAP_MARK: ok $*"; }
nok() { echo "$TAP_MARK: not ok $*"; }
# skip NAME REASON...: a test that did not run, and why.
skip() { n=$1; shift; echo "$TAP_MARK: ok $n # SKIP $*"; }
# check NAME COMMAND...: one result line from COMMAND's status.
check() { n=$1; shift; if "$@"; then ok "$n"; else nok "$n"; fi; }
# grep_check NAME PATTERN FILE: PATTERN is in FILE (a console: without its
# carriage returns); otherwise FILE's last lines say what it has instead.
grep_check() {
	if tr -d '\r' < "$3" | grep -q -e "$2"; then ok "$1"
	else nok "$1 # '$2' not in $(basename "$3"): $(tr -d '\r' < "$3" | tail -n 3 | tr '\n' ' ' | cut -c1-200)"; fi
}

# console_lines FILE PREFIX: the lines of a console starting with PREFIX.
console_lines() { tr -d '\r' < "$1" 2>/dev/null | grep "^$2" || true; }
# guest_status CONSOLE: the guest job's exit status reported by lab-init
# (empty if none).
guest_status() { tr -d '\r' < "$1" 2>/dev/null | sed -n 's/^SPAN-LAB-EXIT: \([0-9]*\)$/\1/p' | tail -n 1; }

# qmp_pipe PATH: the FIFOs PATH.in and PATH.out of a member's QMP monitor
# ("-chardev pipe,id=qmp,path=PATH -mon chardev=qmp,mode=control"), its
# answers copied to PATH.log in the background ($! is that copy).
qmp_pipe() {
	rm -f "$1.in" "$1.out" && mkfifo "$1.in" "$1.out" || return
	cat "$1.out" > "$1.log" &
}
# qmp_query_span PATH: ask that monitor for query-span, in the background
# (the write waits for QEMU to open its monitor).
qmp_query_span() { printf '{"execute":"qmp_capabilities"}\n{"execute":"query-span"}\n' > "$1.in" & }
# span_counter QMP-LOG NAME: counter NAME of the member's totals in its last
# query-span answer (the last "counters" object), empty if none.
span_counter() { grep -o '"counters": {[^}]*}' "$1" | tail -n 1 | grep -o "\"$2\": [0-9]*" | cut -d' ' -f2; }
