# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Helpers for the check-span lab tests (sourced inside the lab, busybox sh).
# Results are printed as "SPAN-TAP: ok NAME" / "SPAN-TAP: not ok NAME # why"
# (ok, nok, check, grep_check: tests/lib/lab.sh, the helpers shared with the
# nested tests, copied beside this file); scripts/run-span-tests turns them
# into build/results/span.tap.
export TAP_MARK=SPAN-TAP
# shellcheck source-path=SCRIPTDIR/../lib source=lab.sh
. /job/span/lab.sh
PATH=/span/bin:$PATH
T=/tmp/span
SOCK=$T/spand.sock
QEMU=qemu-system-x86_64
# Guests in the lab run without the TSC-deadline timer: with it, a guest
# whose vCPUs are all idle sometimes never gets its timer interrupt again,
# plain QEMU guests as much as span guests (the lab's KVM on TCG's nested
# SVM; scripts/idle-stall reproduces it, Documentation/qemu-span.rst).
GUEST_CPU=host,-tsc-deadline
mkdir -p "$T"
# A test stopped by its bound (run-span-tests' timeout sends SIGTERM) prints
# what its members and spand said so far, newest files first: a test prints
# its logs only at its end otherwise.
on_term() {
	echo "--- stopped by its bound; the last lines of its files:"
	stat -c '%Y %n' "$T"/c[0-9] "$T"/m[0-9].txt "$T"/q[0-9].log "$T"/qmp*.log \
		"$T/spand.log" 2>/dev/null | sort -rn | while read -r _ f; do
		echo "--- $f (tail)"; tail -n 25 "$f" | tr -d '\r' | cut -c1-300
	done
	exit 143
}
trap on_term TERM

# start_spand ARGS...: spand on $SOCK, log in $T/spand.log.
start_spand() {
	rm -f "$SOCK"
	spand --socket "$SOCK" "$@" 2> "$T/spand.log" &
	SPAND=$!
	i=0
	while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$SOCK" ]
}
stop_spand() { kill "$SPAND" 2>/dev/null; wait "$SPAND" 2>/dev/null; }

# mkinitrd JOB OUT: guest.cpio plus JOB as the guest's /job/run, and the
# programs named in GUEST_BINS (e.g. /span/bin/span-stress) in its /bin.
mkinitrd() {
	d=$(mktemp -d)
	mkdir -p "$d/job" "$d/bin" && cp "$1" "$d/job/run"
	for b in $GUEST_BINS; do cp "$b" "$d/bin/"; done
	(cd "$d" && find . | cpio -o -H newc 2>/dev/null) > "$d.cpio"
	cat /boot/guest.cpio "$d.cpio" > "$2"
	rm -rf "$d" "$d.cpio"
}

# member CONSOLE INITRD QEMU-ARGS...: run one QEMU (foreground) with a small
# guest (the lab kernel, guest.cpio and the job in INITRD); SMP, MEM,
# MEMBER_TIMEOUT and KERNEL override -smp 2, -m 256M, 120 s and /boot/vmlinux.
# Members run with -no-reboot (a guest reset stops the span VM) unless
# REBOOT=1 (a guest reset reboots the span VM).  KERNEL_ARGS is appended to
# the guest's command line (e.g. loglevel=7 to debug a test).  A member's
# stderr says why it stopped ("qemu_system_shutdown_request reason=N": 6 the
# guest or a peer shut down, 7 a guest reset with -no-reboot, 4 a signal).
member() {
	con=$1 rd=$2; shift 2
	noreboot=-no-reboot
	[ "${REBOOT:-0}" = 1 ] && noreboot=
	timeout -k 5 "${MEMBER_TIMEOUT:-120}" $QEMU -accel kvm -cpu "$GUEST_CPU" \
		-smp "${SMP:-2}" -m "${MEM:-256M}" -kernel "${KERNEL:-/boot/vmlinux}" -initrd "$rd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3 span.run=/job/run span.quiet=1${KERNEL_ARGS:+ $KERNEL_ARGS}" \
		-display none $noreboot -nodefaults -nic none -vga none \
		-trace qemu_system_shutdown_request \
		-serial "file:$con" "$@"
}

# not_timed_out STDERR...: no member was stopped by its timeout (a QEMU stopped
# by SIGTERM exits 0 too).
not_timed_out() { ! grep -q 'terminating on signal' "$@"; }

# qmp N ARGS...: one QMP command to member N's monitor (the pipe stays
# open in QEMU, so each write is read in turn); its answer lands in
# $T/qmpN.log.
qmp() {
	n=$1 cmd=$2 args=${3:-}
	printf '{"execute":"%s"%s}\n' "$cmd" "${args:+,\"arguments\":$args}" > "$T/qmp$n.in"
}
# wait_log FILE PATTERN SECONDS: until PATTERN is in FILE.
wait_log() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 5)) ]; do
		sleep 0.2; i=$((i + 1))
	done
	grep -q "$2" "$1" 2>/dev/null
}
# has FILE PATTERN PIECE...: a line of FILE matches PATTERN and holds each
# PIECE (QMP prints an object's keys in no fixed order).
has() {
	hl=$(grep -- "$2" "$1" 2>/dev/null)
	shift 2
	for w in "$@"; do hl=$(printf '%s\n' "$hl" | grep -F -- "$w"); done
	[ -n "$hl" ]
}
# wait_has SECONDS FILE PATTERN PIECE...: until has FILE PATTERN PIECE...
wait_has() {
	wt=$(($1 * 5))
	shift
	while ! has "$@" && [ $wt -gt 0 ]; do sleep 0.2; wt=$((wt - 1)); done
	has "$@"
}
# kill_member NAME: SIGKILL the QEMU of member NAME (not its shell).
kill_member() {
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q "^$QEMU .*member=$1,"; then
			kill -9 "${p#/proc/}"
		fi
	done
}
