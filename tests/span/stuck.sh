# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# stuck.sh OUT: after a test overran its bound (run-span-tests), describe
# the QEMU members and spand it left behind: for every thread its state,
# wait channel and kernel stack go to OUT; a one-line summary
# ("name[pid] STATE wchan ...") goes to stdout for the TAP line.  A process
# in state D, or one that survives SIGKILL, is stuck in the lab's kernel.
# stuck.sh --none-left: exit 0 if no member or spand process is left
# (zombies do not count), 1 otherwise.
if [ "$1" = --none-left ]; then
	for p in $(pidof qemu-system-x86_64 spand 2>/dev/null); do
		st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$p/status" 2>/dev/null)
		[ -n "$st" ] && [ "$st" != Z ] && exit 1
	done
	exit 0
fi
out=${1:-/dev/null}
summary=
for p in $(pidof qemu-system-x86_64 spand 2>/dev/null); do
	[ -d "/proc/$p" ] || continue
	comm=$(cat "/proc/$p/comm" 2>/dev/null)
	st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$p/status" 2>/dev/null)
	# the threads that are not sleeping interruptibly say where it hangs
	odd=
	for t in /proc/"$p"/task/*; do
		tid=${t##*/}
		tst=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "$t/status" 2>/dev/null)
		wch=$(cat "$t/wchan" 2>/dev/null)
		{
			echo "stuck: ${comm}[$p] thread $tid ($(cat "$t/comm" 2>/dev/null)) state $tst wchan ${wch:-0}"
			sed 's/^/stuck:     /' "$t/stack" 2>/dev/null
		} >> "$out"
		case "$tst" in S|I) ;; *) odd="$odd $tid:$tst:${wch:-0}" ;; esac
	done
	summary="$summary ${comm}[$p] $st${odd:+ (threads$odd)};"
done
echo "${summary# }"
