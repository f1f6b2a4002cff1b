# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 300
# check-span: a member that does not own the devices runs no PIT of its
# own.  Its guest never programs that PIT (port accesses go to the owner),
# so from reset it would count in mode 3 at 18.2 Hz and wake the member's
# main loop twice a period for nothing (in an L1, each wake-up also takes
# the L1's CPU from the guest's vCPU).  A 4-vCPU guest split 2+1+1: m0 owns
# the devices, m1 (vCPU 2) runs with the default machine options, m2
# (vCPU 3) with -machine pit=on, the control: it shows that the
# measurement sees a running PIT.  While the guest sleeps, the wake-ups of
# each member's main thread (its context switches) are counted over the
# same seconds; QMP's qtree shows which members have a PIT at all.
. /job/span/lib.sh

SECS=10
cat > $T/quiet.sh <<'JOB'
echo "guest-online=$(cat /sys/devices/system/cpu/online)"
echo "quiet: sleeping"
sleep 25
echo "quiet: done"
JOB
mkinitrd $T/quiet.sh $T/quiet.rd
start_spand --create vm1:256M
rm -f $T/c0 $T/c1 $T/c2	# consoles of an earlier test must not satisfy the waits
export SMP=4 MEMBER_TIMEOUT=240
for m in 0 1 2; do
	rm -f $T/qmp$m.in $T/qmp$m.out && mkfifo $T/qmp$m.in $T/qmp$m.out
	cat $T/qmp$m.out > $T/qmp$m.log &
done
qmp() { echo "-chardev pipe,id=qmp,path=$T/qmp$1 -mon chardev=qmp,mode=control"; }
# shellcheck disable=SC2046
member $T/c0 $T/quiet.rd -span vm1,socket=$SOCK,member=m0,vcpus=0-1 \
	-machine kernel-irqchip=split $(qmp 0) > $T/m0.txt 2>&1 &
M0=$!
# shellcheck disable=SC2046
member $T/c1 $T/quiet.rd -span vm1,socket=$SOCK,member=m1,vcpus=2 \
	-machine kernel-irqchip=split $(qmp 1) > $T/m1.txt 2>&1 &
M1=$!
# shellcheck disable=SC2046
member $T/c2 $T/quiet.rd -span vm1,socket=$SOCK,member=m2,vcpus=3 \
	-machine kernel-irqchip=split,pit=on $(qmp 2) > $T/m2.txt 2>&1 &
M2=$!
# qemu_pid MEMBER: the pid of that member's QEMU (its main thread)
qemu_pid() {
	for p in /proc/[0-9]*; do
		case "$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" in
		"$QEMU "*"member=$1,"*) echo "${p#/proc/}"; return ;;
		esac
	done
}
# wakeups PID: context switches of the main thread so far
wakeups() { awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }' "/proc/$1/status" 2>/dev/null; }
i=0
while ! grep -q 'quiet: sleeping' $T/c0 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.2; i=$((i + 1)); done
grep_check "quiet: guest up on all 4 vCPUs" 'guest-online=0-3' $T/c0
sleep 2	# the guest's last console line and its interrupts are over
p1=$(qemu_pid m1) p2=$(qemu_pid m2)
if [ -n "$p1" ] && [ -n "$p2" ]; then
	a1=$(wakeups "$p1") a2=$(wakeups "$p2")
	sleep $SECS
	b1=$(wakeups "$p1") b2=$(wakeups "$p2")
	r1=$(((b1 - a1) / SECS)) r2=$(((b2 - a2) / SECS))
	echo "quiet: main-loop wake-ups per s over ${SECS} s: m1 (default) $r1, m2 (pit=on) $r2"
	# the PIT alone is 36.4 expiries a second
	check "quiet: the control member (pit=on) wakes with its PIT ($r2/s >= 25/s)" [ "$r2" -ge 25 ]
	check "quiet: the non-owner member is quiet without one ($r1/s <= 10/s)" [ "$r1" -le 10 ]
else
	nok "quiet: members m1 and m2 running # pids '$p1' '$p2'"
fi
for m in 0 1 2; do
	printf '{"execute":"qmp_capabilities"}\n{"execute":"human-monitor-command","arguments":{"command-line":"info qtree"}}\n' > $T/qmp$m.in &
done
sleep 3
check "quiet: the owner (m0) has its PIT" grep -q 'dev: isa-pit' $T/qmp0.log
check "quiet: the non-owner (m1) has none" sh -c "grep -q 'dev: isa-' $T/qmp1.log && ! grep -q 'dev: isa-pit' $T/qmp1.log"
check "quiet: a non-owner asked for one (pit=on, m2) has it" grep -q 'dev: isa-pit' $T/qmp2.log
wait $M0; r0=$?
wait $M1; rr1=$?
wait $M2; rr2=$?
cat $T/c0 $T/c1 $T/c2 > $T/console
check "quiet: members exit 0 when the guest powers off" [ $r0 = 0 -a $rr1 = 0 -a $rr2 = 0 ]
check "quiet: guest job succeeded" [ "$(guest_status $T/console)" = 0 ]
stop_spand
for f in m0 m1 m2; do echo "--- $f"; cat $T/$f.txt; done
echo "--- console"; cat $T/console; echo "--- spand"; cat $T/spand.log
